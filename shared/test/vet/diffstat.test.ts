import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CrateFileError,
  crateChecksum,
  diffLines,
  diffstat,
  parseNumstat,
  unpackCrate,
  verifyCrate,
  type SourceTree,
} from '../../src/index.js';
import { buildCrate, crateFiles, lines, type Files } from './crates.js';

const tree = (files: Files): SourceTree => new Map(Object.entries(files).map(([p, c]) => [p, Buffer.from(c)]));

describe('diffstat: lines to review, counted as cargo vet suggest counts them', () => {
  it('a full audit is every line of every file, except the files cargo and cargo-vet add', () => {
    const to = tree({ ...crateFiles('foo', '1.0.0', { 'src/lib.rs': lines(10) }), 'Cargo.lock': lines(50), '.cargo-ok': 'ok' });
    // Cargo.toml (4 lines) + Cargo.toml.orig (3) + src/lib.rs (10); .cargo_vcs_info.json, Cargo.lock, .cargo-ok skipped
    expect(diffstat(null, to)).toEqual({ insertions: 17, deletions: 0, filesChanged: 3 });
    // Only the top-level files are cargo's: a nested Cargo.lock is the crate's own.
    expect(diffLines(diffstat(null, tree({ 'tests/Cargo.lock': lines(5) })))).toBe(5);
    // A git revision's Cargo.toml is not the published one: cargo-vet leaves it out.
    expect(diffstat(null, tree(crateFiles('foo', '1.0.0', {})), { gitRevision: true })).toEqual({
      insertions: 3,
      deletions: 0,
      filesChanged: 1,
    });
  });

  it('a delta counts insertions and deletions; CRs before a newline and a missing last newline are not changes', () => {
    const from = tree({ 'a.rs': 'one\ntwo\nthree\n', 'b.rs': 'x\ny', 'c.rs': 'same\n' });
    const to = tree({ 'a.rs': 'one\nTWO\nthree\nfour\n', 'b.rs': 'x\r\ny\n', 'c.rs': 'same\n' });
    expect(diffstat(from, to)).toEqual({ insertions: 2, deletions: 1, filesChanged: 1 });
    // A CR ending an incomplete last line is kept (git does not ignore it there).
    expect(diffstat(tree({ 'a.rs': 'x\ny\n' }), tree({ 'a.rs': 'x\ny\r' }))).toEqual({ insertions: 1, deletions: 1, filesChanged: 1 });
  });

  it('a binary file is a changed file with no lines; a moved file counts only what changed in it', () => {
    const bin = Buffer.from([1, 0, 2, 10, 3]);
    expect(diffstat(null, tree({ 'logo.png': bin }))).toEqual({ insertions: 0, deletions: 0, filesChanged: 1 });
    const moved = diffstat(tree({ 'src/old.rs': lines(40) }), tree({ 'src/new/mod.rs': `${lines(40)}extra\n` }));
    expect(moved).toEqual({ insertions: 1, deletions: 0, filesChanged: 1 });
    // Less than half of it left: not a rename, a deletion and an addition.
    const rewritten = diffstat(tree({ 'src/old.rs': lines(10) }), tree({ 'src/new.rs': `${lines(4)}${lines(20, 100)}` }));
    expect(rewritten).toEqual({ insertions: 24, deletions: 10, filesChanged: 2 });
  });
});

describe('unpackCrate and checksums', () => {
  it('unpacks a .crate into its files, without the <name>-<version>/ prefix', async () => {
    const bytes = await buildCrate('foo', '1.2.3', { 'Cargo.toml': 'x\n', 'src/lib.rs': 'fn a() {}\n' });
    const t = await unpackCrate('foo', '1.2.3', bytes);
    expect([...t.keys()].sort()).toEqual(['Cargo.toml', 'src/lib.rs']);
    expect(Buffer.from(t.get('src/lib.rs')!).toString()).toBe('fn a() {}\n');
  });

  it('refuses an entry outside the crate folder, and bytes that are not gzip, naming the crate', async () => {
    const evil = await buildCrate('foo', '1.2.3', { 'src/lib.rs': 'x' }, { 'bar-1.0.0/src/lib.rs': 'y' });
    await expect(unpackCrate('foo', '1.2.3', evil)).rejects.toThrow(
      /foo 1\.2\.3: \.crate entry bar-1\.0\.0\/src\/lib\.rs is outside foo-1\.2\.3\//,
    );
    await expect(unpackCrate('foo', '1.2.3', Buffer.from('not a crate'))).rejects.toThrow(CrateFileError);
  });

  it('a checksum mismatch names the crate and both sums', async () => {
    const bytes = await buildCrate('foo', '1.2.3', { 'src/lib.rs': 'x' });
    expect(() => verifyCrate('foo', '1.2.3', bytes, crateChecksum(bytes))).not.toThrow();
    const wrong = 'ab'.repeat(32);
    expect(() => verifyCrate('foo', '1.2.3', bytes, wrong)).toThrow(
      `foo 1.2.3: checksum mismatch: Cargo.lock has ${wrong}, the .crate file has ${crateChecksum(bytes)}`,
    );
  });
});

// The reference: what cargo-vet runs (storage.rs diffstat_package), on random trees.
const git = spawnSync('git', ['--version'], { encoding: 'utf8' });
describe.skipIf(git.status !== 0)('diffstat agrees with git diff --ignore-cr-at-eol --no-index --numstat', () => {
  function gitStat(from: SourceTree, to: SourceTree) {
    const dir = mkdtempSync(path.join(tmpdir(), 'cw-diffstat-'));
    try {
      const write = (root: string, t: SourceTree) => {
        mkdirSync(root, { recursive: true });
        for (const [p, b] of t) {
          mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
          writeFileSync(path.join(root, p), b);
        }
      };
      write(path.join(dir, 'a'), from);
      write(path.join(dir, 'b'), to);
      const r = spawnSync('git', ['diff', '--ignore-cr-at-eol', '--no-index', '--numstat', '-z', 'a', 'b'], {
        cwd: dir,
        encoding: 'utf8',
        env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' },
      });
      expect([0, 1]).toContain(r.status);
      return parseNumstat(r.stdout);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  let seed = 7;
  const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const words = ['fn', 'let', 'x', 'y', '}', '{', 'mod a;', 'use std::io;', '// note', ''];
  const text = (n: number) => {
    const ls = Array.from({ length: n }, () => `${words[rnd(words.length)]} ${words[rnd(words.length)]}`);
    const eol = rnd(4) === 0 ? '\r\n' : '\n';
    return ls.join(eol) + (rnd(5) === 0 ? '' : eol);
  };
  const mutate = (s: string) => {
    const ls = s.split('\n');
    for (let k = rnd(6); k > 0; k--) {
      const i = rnd(ls.length + 1);
      const op = rnd(3);
      if (op === 0) ls.splice(i, 0, `${words[rnd(words.length)]} new`);
      else if (op === 1) ls.splice(i, 1);
      else ls[i] = `${ls[i] ?? ''}\r`;
    }
    return ls.join('\n');
  };
  const names = [
    'src/lib.rs',
    'src/a.rs',
    'src/b/mod.rs',
    'README.md',
    'Cargo.toml',
    'Cargo.lock',
    '.cargo_vcs_info.json',
    'tests/t.rs',
    'src/moved.rs',
  ];

  it('on 150 random pairs of trees (edits, CRLF, missing last newlines, binaries, renames, skipped files)', () => {
    for (let round = 0; round < 150; round++) {
      const from: Record<string, Buffer> = {};
      const to: Record<string, Buffer> = {};
      for (const n of names) {
        const r = rnd(10);
        const body = rnd(12) === 0 ? Buffer.from([0, 1, 2, rnd(250)]) : Buffer.from(text(1 + rnd(30)));
        if (r < 6) {
          from[n] = body;
          to[n] = rnd(2) ? body : Buffer.from(mutate(body.toString('latin1')), 'latin1');
        } else if (r === 6) from[n] = body;
        else if (r === 7) to[n] = body;
        else if (r === 8) {
          from[n] = body;
          to[`${n}.new/moved.rs`] = Buffer.from(mutate(body.toString('latin1')), 'latin1');
        }
      }
      const a = tree(from);
      const b = tree(to);
      expect(diffstat(a, b), `round ${round}`).toEqual(gitStat(a, b));
    }
  });
});
