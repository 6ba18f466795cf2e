/**
 * `scan` on a workspace with a Cargo.toml runs the real `cargo metadata` (as cargo vet does) and
 * keeps its output in the cache: a hit while the Cargo.lock and every manifest are unchanged, a
 * miss when one changes, and without cargo the saved cargo-metadata.json, said on stderr. The
 * workspace has path packages only, so cargo needs no registry (no network). A wrapper around the
 * real cargo counts its runs. Skips, saying so, when cargo is not installed.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cratewatch, ensureBuilt } from './helpers.js';

const realCargo = spawnSync('sh', ['-c', 'command -v cargo'], { encoding: 'utf8' }).stdout.trim();
if (!realCargo) console.warn('scan-cargo-metadata: cargo is not installed; the cargo metadata tests are skipped');

const tmp = mkdtempSync(path.join(tmpdir(), 'cratewatch-cargo-meta-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A workspace: app -> lib (normal), app -> tool (dev only); path packages, locked by the real cargo. */
function workspace(name: string): string {
  const ws = path.join(tmp, name);
  const write = (f: string, t: string) => {
    mkdirSync(path.dirname(path.join(ws, f)), { recursive: true });
    writeFileSync(path.join(ws, f), t);
  };
  write('Cargo.toml', '[workspace]\nmembers = ["app", "lib", "tool"]\nresolver = "2"\n');
  write(
    'app/Cargo.toml',
    '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n[dependencies]\nlib = { path = "../lib" }\n[dev-dependencies]\ntool = { path = "../tool" }\n',
  );
  for (const p of ['lib', 'tool']) write(`${p}/Cargo.toml`, `[package]\nname = "${p}"\nversion = "0.1.0"\nedition = "2021"\n`);
  for (const p of ['app', 'lib', 'tool']) write(`${p}/src/lib.rs`, '');
  const r = spawnSync(realCargo, ['generate-lockfile', '--offline'], { cwd: ws, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cargo generate-lockfile: ${r.stderr}`);
  return ws;
}

/** A `cargo` that logs each run to `count` and runs the real one. */
function countingCargo(): { bin: string; runs: () => number } {
  const dir = mkdtempSync(path.join(tmp, 'bin-'));
  const log = path.join(dir, 'runs');
  writeFileSync(log, '');
  const bin = path.join(dir, 'cargo');
  writeFileSync(bin, `#!/bin/sh\necho run >> '${log}'\nexec '${realCargo}' "$@"\n`);
  chmodSync(bin, 0o755);
  return {
    bin,
    runs: () => spawnSync('wc', ['-l', log], { encoding: 'utf8' }).stdout.trim().split(' ').map(Number)[0]!,
  };
}

interface ScanJson {
  metadata: string | null;
  kindsKnown: boolean;
  summary: Record<string, number>;
  unvetted: { id: string; required: string[] }[];
}

describe.skipIf(!realCargo)('scan runs cargo metadata, cached', () => {
  beforeAll(() => ensureBuilt());
  const cache = path.join(tmp, 'cache');
  const scan = (ws: string, cargo: string, extra: Record<string, string> = {}) => {
    const r = cratewatch(['scan', ws, '--json'], { env: { CRATEWATCH_CARGO: cargo, CRATEWATCH_CACHE_DIR: cache, ...extra } });
    return { ...r, json: JSON.parse(r.stdout) as ScanJson };
  };

  it('a hit while Cargo.lock and manifests are unchanged; a miss when a member manifest changes', () => {
    const ws = workspace('hit');
    const cargo = countingCargo();
    const first = scan(ws, cargo.bin);
    expect(first.code).toBe(0);
    expect(first.json.metadata).toBe(`${path.join(ws, 'Cargo.toml')} (cargo metadata)`);
    expect(first.json.kindsKnown).toBe(true); // tool is known to be dev-only: kinds came from cargo
    expect(cargo.runs()).toBe(1);
    expect(first.stderr).toContain('cratewatch: dependency kinds from cargo metadata\n');

    const second = scan(ws, cargo.bin);
    expect(cargo.runs()).toBe(1); // not run again
    expect(second.stderr).toContain('dependency kinds from cargo metadata (cached: Cargo.lock and manifests unchanged)');
    expect(second.stdout).toBe(first.stdout); // the same report from the cache

    // lib's manifest is read by cargo (a path package): a change there is a miss
    writeFileSync(path.join(ws, 'lib/Cargo.toml'), '[package]\nname = "lib"\nversion = "0.1.0"\nedition = "2021"\nlicense = "MIT"\n');
    const third = scan(ws, cargo.bin);
    expect(cargo.runs()).toBe(2);
    expect(third.stderr).toContain('cratewatch: dependency kinds from cargo metadata\n');
    scan(ws, cargo.bin);
    expect(cargo.runs()).toBe(2); // and the new entry is a hit again
  });

  it('a damaged cache entry is a miss: cargo runs again and the scan is the same', () => {
    const ws = workspace('damaged');
    const cargo = countingCargo();
    const before = new Set(readdirSync(path.join(cache, 'metadata')));
    const first = scan(ws, cargo.bin);
    const entry = readdirSync(path.join(cache, 'metadata')).find((f) => !before.has(f))!;
    writeFileSync(path.join(cache, 'metadata', entry), '{"format":1,"manifests":{}}\n{"packages": [');
    const again = scan(ws, cargo.bin);
    expect(cargo.runs()).toBe(2);
    expect(again.stdout).toBe(first.stdout);
  });

  it('without cargo: the cargo-metadata.json beside the Cargo.lock, and a message saying why', () => {
    const ws = workspace('no-cargo');
    const saved = spawnSync(realCargo, ['metadata', '--format-version', '1', '--all-features', '--offline'], { cwd: ws, encoding: 'utf8' });
    writeFileSync(path.join(ws, 'cargo-metadata.json'), saved.stdout);
    const missing = path.join(tmp, 'no-such-dir', 'cargo');
    const r = scan(ws, missing);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      `cratewatch: cargo metadata not run (${missing} is not on PATH): dependency kinds from ${path.join(ws, 'cargo-metadata.json')}\n`,
    );
    expect(r.json.metadata).toBe(path.join(ws, 'cargo-metadata.json'));
    // the verdicts are those of cargo's own run
    const withCargo = scan(ws, realCargo);
    expect(r.json.summary).toEqual(withCargo.json.summary);
    expect(r.json.unvetted).toEqual(withCargo.json.unvetted);
    expect(r.json.kindsKnown).toBe(true);
  });

  it('cargo refusing the workspace is a warning, and the scan goes on from the Cargo.lock', () => {
    const ws = workspace('broken');
    writeFileSync(path.join(ws, 'lib/Cargo.toml'), '[package]\nname = "lib"\n'); // no version: cargo refuses
    const r = scan(ws, realCargo, { CRATEWATCH_QUIET: '1' });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      new RegExp(
        `^cratewatch: warning: ${path.join(ws, 'Cargo.toml')}: cargo metadata failed: .+; dependency kinds from the Cargo.lock alone\\n$`,
      ),
    );
    expect(r.json.metadata).toBeNull();
    expect(r.json.kindsKnown).toBe(false);
  });

  it('never writes the cache inside the workspace', () => {
    const ws = workspace('inside');
    const cargo = countingCargo();
    scan(ws, cargo.bin, { CRATEWATCH_CACHE_DIR: path.join(ws, '.cache') });
    scan(ws, cargo.bin, { CRATEWATCH_CACHE_DIR: path.join(ws, '.cache') });
    expect(cargo.runs()).toBe(2);
    expect(readdirSync(ws)).not.toContain('.cache');
  });
});
