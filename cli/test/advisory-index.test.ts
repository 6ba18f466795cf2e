/**
 * `--advisory-db` parsed once per checkout commit into a cached index: a hit on the same commit, a
 * rebuild on a new one (and, outside git, on changed content), a damaged index rebuilt with a
 * warning — and the same scan report with or without the index.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRATES, cratewatch, ensureBuilt } from './helpers.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'cratewatch-adv-index-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
beforeAll(() => ensureBuilt());

const advisory = (id: string, pkg: string, patched: string) =>
  `\`\`\`toml\n[advisory]\nid = "${id}"\npackage = "${pkg}"\ndate = "2098-01-01"\n\n[versions]\npatched = ["${patched}"]\n\`\`\`\n\n# ${pkg}: a hole\n`;

function db(name: string, advisories: [string, string, string][]): string {
  const dir = path.join(tmp, name);
  for (const [id, pkg, patched] of advisories) {
    mkdirSync(path.join(dir, 'crates', pkg), { recursive: true });
    writeFileSync(path.join(dir, 'crates', pkg, `${id}.md`), advisory(id, pkg, patched));
  }
  return dir;
}

const ws = path.join(tmp, 'ws');
mkdirSync(ws);
writeFileSync(
  path.join(ws, 'Cargo.lock'),
  `version = 4\n\n[[package]]\nname = "app"\nversion = "0.1.0"\ndependencies = ["bar", "foo"]\n\n` +
    `[[package]]\nname = "bar"\nversion = "2.0.0"\nsource = "${CRATES}"\n\n[[package]]\nname = "foo"\nversion = "1.0.0"\nsource = "${CRATES}"\n`,
);

const git = (dir: string, ...args: string[]) =>
  spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd: dir, encoding: 'utf8' });
const hasGit = git(tmp, '--version').status === 0;

function scan(dbDir: string, cache: string) {
  const r = cratewatch(['scan', ws, '--advisory-db', dbDir, '--json'], { env: { CRATEWATCH_CACHE_DIR: cache } });
  const ids = (JSON.parse(r.stdout) as { advisories: { id: string }[] }).advisories.map((a) => a.id);
  return { ...r, ids };
}

describe('the advisory index', () => {
  it.skipIf(!hasGit)('a git checkout: a hit on the same commit, rebuilt on a new commit', () => {
    const dir = db('git-db', [['RUSTSEC-2098-0001', 'foo', '>= 1.1.0']]);
    git(dir, 'init', '-q');
    git(dir, 'add', '.');
    git(dir, 'commit', '-qm', 'one');
    const head1 = git(dir, 'rev-parse', 'HEAD').stdout.trim();
    const cache = path.join(tmp, 'cache-git');
    const first = scan(dir, cache);
    expect(first.stderr).toContain(`parsed 1 advisories of ${dir} (commit ${head1.slice(0, 12)}); index written`);
    expect(first.ids).toEqual(['RUSTSEC-2098-0001']);
    const second = scan(dir, cache);
    expect(second.stderr).toContain(`1 advisories from the index of ${dir} (commit ${head1.slice(0, 12)})`);
    expect(second.stdout).toBe(first.stdout);

    mkdirSync(path.join(dir, 'crates', 'bar'));
    writeFileSync(path.join(dir, 'crates', 'bar', 'RUSTSEC-2098-0002.md'), advisory('RUSTSEC-2098-0002', 'bar', '>= 9.0.0'));
    git(dir, 'add', '.');
    git(dir, 'commit', '-qm', 'two');
    const head2 = git(dir, 'rev-parse', 'HEAD').stdout.trim();
    const third = scan(dir, cache);
    expect(third.stderr).toContain(`parsed 2 advisories of ${dir} (commit ${head2.slice(0, 12)}); index written`);
    expect(third.ids.sort()).toEqual(['RUSTSEC-2098-0001', 'RUSTSEC-2098-0002']);
  });

  it('not a git checkout: keyed by content, so a changed advisory is read again', () => {
    const dir = db('plain-db', [['RUSTSEC-2098-0003', 'foo', '>= 1.1.0']]);
    const cache = path.join(tmp, 'cache-plain');
    expect(scan(dir, cache).stderr).toContain('(content hash); index written');
    expect(scan(dir, cache).stderr).toContain(`1 advisories from the index of ${dir} (content hash)`);
    writeFileSync(path.join(dir, 'crates', 'foo', 'RUSTSEC-2098-0003.md'), advisory('RUSTSEC-2098-0003', 'foo', '>= 0.1.0'));
    const after = scan(dir, cache);
    expect(after.stderr).toContain('(content hash); index written');
    expect(after.ids).toEqual([]); // foo 1.0.0 is patched now
  });

  it('a damaged index is said as a warning and rebuilt; the report is the one without an index', () => {
    const dir = db('damaged-db', [
      ['RUSTSEC-2098-0004', 'foo', '>= 1.1.0'],
      ['RUSTSEC-2098-0005', 'bar', '>= 2.0.0'],
    ]);
    const cache = path.join(tmp, 'cache-damaged');
    const first = scan(dir, cache);
    const index = path.join(cache, 'advisories', readdirSync(path.join(cache, 'advisories'))[0]!);
    writeFileSync(index, '{"format": 1, "key": "x", "advisories": [');
    const r = scan(dir, cache);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cratewatch: warning: advisory index ${index} is damaged (`);
    expect(r.stderr).toContain(`): rebuilding it from ${dir}\n`);
    expect(r.stdout).toBe(first.stdout);
    const again = scan(dir, cache);
    expect(again.stderr).not.toContain('warning');
    expect(again.stderr).toContain('2 advisories from the index');
    // no cache at all (a fresh folder each run): the same report
    expect(scan(dir, path.join(tmp, 'cache-fresh')).stdout).toBe(first.stdout);
  });
});
