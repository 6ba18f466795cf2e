/**
 * The exact count: what cargo-vet itself runs (storage.rs `diffstat_package`),
 * `git diff --ignore-cr-at-eol --no-index --numstat -z` between the two unpacked trees, parsed as
 * cargo-vet parses it. git's xdiff discards lines that repeat very often before it diffs, so on a
 * large rewrite it counts a few lines more than the minimal diff shared's `diffstat` finds
 * (bitflags 1.3.2 -> 2.6.0: 8,419 against 8,409). Used when git is installed; else `diffstat`.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseNumstat, type DiffStat, type SourceTree } from '@cratewatch/shared';

let available: boolean | undefined;
export function hasGit(): boolean {
  available ??= spawnSync('git', ['--version'], { stdio: 'ignore' }).status === 0;
  return available;
}

function writeTree(root: string, t: SourceTree): void {
  mkdirSync(root, { recursive: true });
  for (const [p, bytes] of t) {
    const file = path.join(root, p);
    // A .crate's paths were checked to lie under its folder (crate.ts); refuse anything else here too.
    if (!file.startsWith(root + path.sep)) throw new Error(`unsafe path in crate: ${p}`);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, bytes);
  }
}

/** git's output, whatever its exit code (1 just means "there are differences"). */
function runGit(cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'git',
      ['diff', '--ignore-cr-at-eol', '--no-index', '--numstat', '-z', 'from', 'to'],
      { cwd, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Async, so that several crates are diffed at once. */
export async function gitDiffstat(from: SourceTree | null, to: SourceTree, opts: { gitRevision?: boolean } = {}): Promise<DiffStat> {
  const dir = mkdtempSync(path.join(tmpdir(), 'cratewatch-diff-'));
  try {
    writeTree(path.join(dir, 'from'), from ?? new Map());
    writeTree(path.join(dir, 'to'), to);
    const r = await runGit(dir);
    // 0: no difference, 1: some; anything else is git failing.
    if (r.code !== 0 && r.code !== 1) throw new Error(`git diff failed (${r.code}): ${r.stderr.trim()}`);
    return parseNumstat(r.stdout, opts);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
