/**
 * `cratewatch plan --crate-cache` with real `.crate` files built by the test (never the network):
 * audits sized as cargo vet suggest sizes them and ordered by weight per line, `--budget` applied,
 * and, from a Cargo.lock alone, a proc-macro recognised from its crate's own Cargo.toml.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crateChecksum, type AuditPlan } from '@cratewatch/shared';
import { buildCrate, crateFiles, lines } from '../../shared/test/vet/crates.js';
import { bin, CRATES, ensureBuilt } from './helpers.js';

let dir = '';
const ws = () => path.join(dir, 'team-a', 'ws');
const cache = () => path.join(dir, 'crates');

beforeAll(async () => {
  ensureBuilt();
  dir = mkdtempSync(path.join(tmpdir(), 'cratewatch-plan-sized-'));
  mkdirSync(path.join(ws(), 'supply-chain'), { recursive: true });
  mkdirSync(cache());
  const crates: [string, string, Buffer][] = [
    ['foo', '1.0.0', await buildCrate('foo', '1.0.0', crateFiles('foo', '1.0.0', { 'src/lib.rs': lines(300) }))],
    ['foo', '1.1.0', await buildCrate('foo', '1.1.0', crateFiles('foo', '1.1.0', { 'src/lib.rs': lines(305) }))],
    [
      'mac',
      '1.0.0',
      await buildCrate('mac', '1.0.0', {
        ...crateFiles('mac', '1.0.0', { 'src/lib.rs': lines(200) }),
        'Cargo.toml': '[package]\nname = "mac"\nversion = "1.0.0"\n\n[lib]\nproc-macro = true\n',
      }),
    ],
  ];
  for (const [n, v, b] of crates) writeFileSync(path.join(cache(), `${n}-${v}.crate`), b);
  const sum = (n: string, v: string) => crateChecksum(crates.find((c) => c[0] === n && c[1] === v)![2]);
  writeFileSync(
    path.join(ws(), 'Cargo.lock'),
    [
      'version = 4',
      '',
      '[[package]]\nname = "app"\nversion = "0.1.0"\ndependencies = ["foo", "mac"]\n',
      `[[package]]\nname = "foo"\nversion = "1.1.0"\nsource = "${CRATES}"\nchecksum = "${sum('foo', '1.1.0')}"\n`,
      `[[package]]\nname = "mac"\nversion = "1.0.0"\nsource = "${CRATES}"\nchecksum = "${sum('mac', '1.0.0')}"\n`,
    ].join('\n'),
  );
  writeFileSync(path.join(ws(), 'supply-chain', 'config.toml'), '\n# cargo-vet config file\n\n[cargo-vet]\nversion = "0.10"\n');
  writeFileSync(
    path.join(ws(), 'supply-chain', 'audits.toml'),
    '\n# cargo-vet audits file\n\n[[audits.foo]]\nwho = "a"\ncriteria = "safe-to-deploy"\nversion = "1.0.0"\n',
  );
});
afterAll(() => dir && rmSync(dir, { recursive: true, force: true }));

const plan = (...args: string[]) => {
  const r = spawnSync(process.execPath, [bin, 'plan', ws(), '--crate-cache', cache(), '--json', ...args], {
    encoding: 'utf8',
    env: { ...process.env, CRATEWATCH_QUIET: '1', CRATEWATCH_CRATE_CACHE: path.join(dir, 'sizes') },
  });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as AuditPlan & { buildTime: Record<string, { from: string }> };
};

describe('cratewatch plan sized from .crate files', () => {
  it('the small delta first, then the proc-macro (read from its Cargo.toml) as a full audit, with lines', () => {
    const p = plan();
    expect(p.audits.map((a) => [a.crate, a.from ?? null, a.to, a.buildTime])).toEqual([
      ['foo', '1.0.0', '1.1.0', false],
      ['mac', null, '1.0.0', true],
    ]);
    // 5 lines of src/lib.rs, and the version line of Cargo.toml and Cargo.toml.orig (2 each)
    expect(p.audits[0]!.lines).toBe(9);
    expect(p.audits[1]!.lines).toBeGreaterThan(200);
    expect(p.lines).toBe(p.audits[0]!.lines! + p.audits[1]!.lines!);
    expect(p.summary).toMatch(/^these 2 audits, [\d,]+ lines, take the org from 0\.0% to 100\.0%/);
    expect(p.buildTime.ws!.from).toBe('crate sources');
    expect(p.teams).toEqual({
      'team-a': { workspaces: 1, before: { vetted: 0, thirdParty: 2, coverage: 0 }, after: { vetted: 2, thirdParty: 2, coverage: 1 } },
    });
  });

  it('--budget keeps what fits', () => {
    const p = plan('--budget', '50');
    expect(p.audits.map((a) => a.crate)).toEqual(['foo']);
    expect(p.after.vetted).toBe(1);
  });
});
