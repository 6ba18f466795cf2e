/**
 * `scan --crate-cache` / `--fetch-crates` (issue 11, parts 1-2) as a process: every suggested audit
 * sized as `cargo vet suggest` sizes it, and chosen by size. The `.crate` files are real ones built
 * by the test and served by a loopback HTTP server of its own (never the network).
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crateChecksum } from '@cratewatch/shared';
import { buildCrate, crateFiles, lines } from '../../shared/test/vet/crates.js';
import { bin, CRATES, ensureBuilt } from './helpers.js';

/** The CLI as a child process without blocking this one (the server answers meanwhile). */
function run(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [bin, ...args], { env: { ...process.env, CRATEWATCH_QUIET: '', ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

// foo 1.1.0 is locked; 1.0.0 and 1.2.0 are audited. 1.2.0 differs from 1.1.0 by 2 lines, 1.0.0 by
// 300 (plus the manifests' version lines): cargo-vet picks the delta down from 1.2.0; without sizes we keep the one from below.
const versions: Record<string, string> = {
  '1.0.0': lines(100),
  '1.1.0': lines(400),
  '1.2.0': `${lines(400)}fn extra() {}\n`,
};
const crates = new Map<string, Buffer>();
const hits: string[] = [];
let server: Server;
let url = '';
let dir = '';
let ws = '';
let failFirst = new Set<string>();

beforeAll(async () => {
  ensureBuilt();
  for (const [v, src] of Object.entries(versions)) {
    // Cargo.toml.orig is counted, as cargo-vet counts it; .cargo_vcs_info.json is not.
    crates.set(`/foo/foo-${v}.crate`, await buildCrate('foo', v, crateFiles('foo', v, { 'src/lib.rs': src })));
  }
  server = createServer((req, res) => {
    hits.push(req.url!);
    if (failFirst.delete(req.url!)) return void res.writeHead(503).end('busy');
    const body = crates.get(req.url!);
    if (!body) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/gzip' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = mkdtempSync(path.join(tmpdir(), 'cratewatch-effort-'));
  ws = path.join(dir, 'ws');
  mkdirSync(path.join(ws, 'supply-chain'), { recursive: true });
  const sum = crateChecksum(crates.get('/foo/foo-1.1.0.crate')!);
  writeFileSync(
    path.join(ws, 'Cargo.lock'),
    `version = 4\n\n[[package]]\nname = "app"\nversion = "0.1.0"\ndependencies = ["foo"]\n\n[[package]]\nname = "foo"\nversion = "1.1.0"\nsource = "${CRATES}"\nchecksum = "${sum}"\n`,
  );
  writeFileSync(path.join(ws, 'supply-chain/config.toml'), '\n# cargo-vet config file\n\n[cargo-vet]\nversion = "0.10"\n');
  writeFileSync(
    path.join(ws, 'supply-chain/audits.toml'),
    '\n# cargo-vet audits file\n\n[[audits.foo]]\nwho = "A <a@example.com>"\ncriteria = "safe-to-deploy"\nversion = "1.0.0"\n\n[[audits.foo]]\nwho = "A <a@example.com>"\ncriteria = "safe-to-deploy"\nversion = "1.2.0"\n',
  );
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('scan sizes suggested audits as cargo vet suggest does', () => {
  it('without crate sources: no size, and the delta from below (never down)', async () => {
    const r = await run(['scan', ws, '-q'], {});
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('fix: cargo vet certify foo 1.0.0 1.1.0 --criteria safe-to-deploy\n');
    expect(r.stdout).not.toMatch(/lines\)/);
  });

  it('--fetch-crates: downloads each .crate once into the cache, sizes every candidate, picks the smallest and says why', async () => {
    const cache = path.join(dir, 'cache');
    hits.length = 0;
    const r = await run(['scan', ws, '--fetch-crates'], { CRATEWATCH_CRATES_URL: url, CRATEWATCH_CRATE_CACHE: cache });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toContain('fix: cargo vet certify foo 1.2.0 1.1.0 --criteria safe-to-deploy  (5 lines)');
    expect(r.stdout).toContain('why: delta from 1.2.0, the smallest of 2 candidates: 5 lines vs 1.0.0 -> 1.1.0 304');
    expect([...hits].sort()).toEqual(['/foo/foo-1.0.0.crate', '/foo/foo-1.1.0.crate', '/foo/foo-1.2.0.crate']);
    expect(readdirSync(path.join(cache, 'sha256')).sort()).toEqual([...crates.values()].map((b) => `${crateChecksum(b)}.crate`).sort());
    // Sizes are kept too, by counter, crate and from..to (a published version never changes).
    const counted = readdirSync(path.join(cache, 'diffstat'))[0]!;
    expect(readdirSync(path.join(cache, 'diffstat', counted, 'foo')).sort()).toEqual(['1.0.0..1.1.0.json', '1.2.0..1.1.0.json']);
    // A second scan reads the cache: nothing asked of the server.
    hits.length = 0;
    const again = await run(['scan', ws, '--fetch-crates', '--json', '-q'], { CRATEWATCH_CRATES_URL: url, CRATEWATCH_CRATE_CACHE: cache });
    expect(hits).toEqual([]);
    const foo = JSON.parse(again.stdout).unvetted.find((p: { name: string }) => p.name === 'foo');
    expect(foo.suggestion).toMatchObject({
      kind: 'delta',
      from: '1.2.0',
      to: '1.1.0',
      lines: 5,
      diffstat: { insertions: 2, deletions: 3, filesChanged: 3 },
    });
  });

  it('retries a server that is busy (503) once, then sizes', async () => {
    failFirst = new Set(['/foo/foo-1.0.0.crate']);
    hits.length = 0;
    const r = await run(['scan', ws, '--fetch-crates', '-q'], {
      CRATEWATCH_CRATES_URL: url,
      CRATEWATCH_CRATE_CACHE: path.join(dir, 'cache-retry'),
    });
    expect(hits.filter((h) => h === '/foo/foo-1.0.0.crate')).toHaveLength(2);
    expect(r.stdout).toContain('1.0.0 -> 1.1.0 304');
  });

  it('--crate-cache DIR of .crate files, offline: the same sizes', async () => {
    const local = path.join(dir, 'local');
    mkdirSync(local);
    for (const [p, b] of crates) writeFileSync(path.join(local, path.basename(p)), b);
    const r = await run(['scan', ws, '--crate-cache', local, '-q'], { CRATEWATCH_CRATES_URL: 'http://127.0.0.1:9' });
    expect(r.stdout).toContain('fix: cargo vet certify foo 1.2.0 1.1.0 --criteria safe-to-deploy  (5 lines)');
    expect(existsSync(path.join(local, 'sha256'))).toBe(false);
  });

  it('--crate-cache on a cargo vendor folder: the vendored files (less .cargo-checksum.json), checked against the lock', async () => {
    const vendor = path.join(dir, 'vendor');
    for (const [v, src] of Object.entries(versions)) {
      const d = path.join(vendor, `foo-${v}`);
      mkdirSync(path.join(d, 'src'), { recursive: true });
      for (const [p, c] of Object.entries(crateFiles('foo', v, { 'src/lib.rs': src }))) writeFileSync(path.join(d, p), c);
      writeFileSync(
        path.join(d, '.cargo-checksum.json'),
        JSON.stringify({ files: {}, package: crateChecksum(crates.get(`/foo/foo-${v}.crate`)!) }),
      );
    }
    const r = await run(['scan', ws, '--crate-cache', vendor, '-q'], {});
    expect(r.stdout).toContain('fix: cargo vet certify foo 1.2.0 1.1.0 --criteria safe-to-deploy  (5 lines)');
    writeFileSync(path.join(vendor, 'foo-1.1.0', '.cargo-checksum.json'), JSON.stringify({ files: {}, package: 'cd'.repeat(32) }));
    const bad = await run(['scan', ws, '--crate-cache', vendor, '-q'], {});
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`foo 1.1.0: checksum mismatch: Cargo.lock has ${crateChecksum(crates.get('/foo/foo-1.1.0.crate')!)}`);
    expect(bad.stderr).toContain(`has ${'cd'.repeat(32)}`);
  });

  it('a .crate whose sha256 is not the Cargo.lock checksum: exit 2, naming the crate and both sums', async () => {
    const bad = path.join(dir, 'bad');
    mkdirSync(bad);
    const wrong = await buildCrate('foo', '1.1.0', crateFiles('foo', '1.1.0', { 'src/lib.rs': 'tampered\n' }));
    writeFileSync(path.join(bad, 'foo-1.1.0.crate'), wrong);
    const r = await run(['scan', ws, '--crate-cache', bad, '-q'], {});
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `foo 1.1.0: checksum mismatch: Cargo.lock has ${crateChecksum(crates.get('/foo/foo-1.1.0.crate')!)}, the .crate file has ${crateChecksum(wrong)}`,
    );
  });
});
