/**
 * `--advisory-db DIR` parsed once per checkout: the advisories of a RustSec advisory-db, kept in
 * the cache (`advisories/`) as one JSON index keyed by the checkout's git HEAD (read from `.git`
 * without running git), or by a hash of every advisory file's path and text when DIR is not a git
 * checkout. The key also holds the index format and the text of shared's advisory parser, so a new
 * cratewatch never reads an index an older parser wrote. A damaged index is said as a warning and
 * rebuilt. (With a git key, edits not committed in the checkout are not seen: the db is a checkout
 * of the upstream, as cargo audit reads it.)
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Advisory } from '@cratewatch/shared';
import { cacheDir, readEntry, sha256, writeEntry } from './cache.js';

/** Bumped when the index's layout changes. */
const INDEX_FORMAT = 1;

interface Index {
  format: number;
  key: string;
  advisories: Advisory[];
}

/** Every advisory file of the db: `crates/<name>/*.md`, then `rust/<name>/*.md`, in listing order. */
export function advisoryFiles(dir: string): string[] {
  const out: string[] = [];
  for (const coll of ['crates', 'rust']) {
    const base = path.join(dir, coll);
    if (!existsSync(base)) continue;
    // File types from the listing itself: a stat per crate folder (~900) was a visible part of the key.
    for (const e of readdirSync(base, { withFileTypes: true })) {
      const sub = path.join(base, e.name);
      if (!(e.isDirectory() || (e.isSymbolicLink() && statSync(sub).isDirectory()))) continue;
      for (const f of readdirSync(sub)) if (f.endsWith('.md')) out.push(path.join(sub, f));
    }
  }
  return out;
}

const tryRead = (f: string): string | undefined => {
  try {
    return readFileSync(f, 'utf8').trim();
  } catch {
    return undefined;
  }
};

/** The commit a git checkout's HEAD names (a linked worktree's too), or undefined when DIR is not one or it cannot tell. */
export function gitHead(dir: string): string | undefined {
  let git = path.join(dir, '.git');
  if (!existsSync(git)) return undefined;
  if (statSync(git).isFile()) {
    const to = /^gitdir: (.+)$/m.exec(tryRead(git) ?? '')?.[1];
    if (!to) return undefined;
    git = path.resolve(dir, to);
  }
  const head = tryRead(path.join(git, 'HEAD'));
  if (head === undefined) return undefined;
  if (/^[0-9a-f]{40,64}$/.test(head)) return head;
  const ref = /^ref: (\S+)$/.exec(head)?.[1];
  if (!ref) return undefined;
  const common = existsSync(path.join(git, 'commondir')) ? path.resolve(git, tryRead(path.join(git, 'commondir'))!) : git;
  for (const d of [git, common]) {
    const loose = tryRead(path.join(d, ref));
    if (loose && /^[0-9a-f]{40,64}$/.test(loose)) return loose;
  }
  const packed = tryRead(path.join(common, 'packed-refs'))
    ?.split('\n')
    .find((l) => l.endsWith(` ${ref}`));
  return packed?.split(' ')[0];
}

/** The parser's own text: an index is only as good as the parser that wrote it. */
function parserText(): string {
  try {
    return readFileSync(new URL('./advisory.js', import.meta.resolve('@cratewatch/shared')), 'utf8');
  } catch {
    return String(Date.now()); // cannot tell which parser: never reuse an index
  }
}

/** What the index of `dir` is keyed by, and how to say it. */
function keyOf(dir: string, files: () => string[]): { key: string; what: string } {
  const head = gitHead(dir);
  const what = head ? `commit ${head.slice(0, 12)}` : 'content hash';
  const parts = head ? [`git:${head}`] : files().flatMap((f) => [path.relative(dir, f), readFileSync(f, 'utf8')]);
  return { key: sha256(String(INDEX_FORMAT), parserText(), ...parts), what };
}

/**
 * The advisories of `dir`: from its index when there is a valid one, else `parseAll()`'s, then
 * indexed. `say` gets the progress lines, `warn` the damaged-index warning.
 */
export function indexedAdvisories(
  dir: string,
  parseAll: (files: string[]) => Advisory[],
  say: (msg: string) => void,
  warn: (msg: string) => void,
): Advisory[] {
  let listed: string[] | undefined;
  const files = () => (listed ??= advisoryFiles(dir));
  const { key, what } = keyOf(dir, files);
  const file = path.join(cacheDir('advisories'), `${key}.json`);
  const text = readEntry(file);
  if (text !== undefined) {
    try {
      const index = JSON.parse(text) as Index;
      if (index.format !== INDEX_FORMAT || index.key !== key || !Array.isArray(index.advisories))
        throw new Error('not an index of this db');
      say(`${index.advisories.length} advisories from the index of ${dir} (${what})`);
      return index.advisories;
    } catch (err) {
      warn(`advisory index ${file} is damaged (${(err as Error).message.split('\n')[0]}): rebuilding it from ${dir}`);
    }
  }
  const advisories = parseAll(files());
  writeEntry(file, JSON.stringify({ format: INDEX_FORMAT, key, advisories } satisfies Index));
  say(`parsed ${advisories.length} advisories of ${dir} (${what}); index written`);
  return advisories;
}
