/**
 * The size of an audit, counted as `cargo vet suggest` counts it (cargo-vet 0.10.3, storage.rs
 * `diffstat_package`): `git diff --ignore-cr-at-eol --no-index --numstat` between the two unpacked
 * crates (a full audit diffs against an empty folder), every file but the top-level `Cargo.lock`,
 * `.cargo_vcs_info.json` and `.cargo-ok` (and `Cargo.toml` for a git revision), and the size is
 * insertions + deletions. Pure: the trees come in as bytes (`unpackCrate`, crate.ts).
 *
 * What git does and this mirrors: lines are git's records (split after `\n`; a last line without
 * one still counts); with `--ignore-cr-at-eol` two lines are equal when they differ only by a `\r`
 * before their `\n` or by a missing final newline; a file with a NUL byte in its first 8,000 bytes
 * is binary (changed, 0 lines); a file only on one side is first matched as a rename — identical
 * content, then a same-named file elsewhere, then any other — when at least half of it is
 * unchanged (git's `-M50%`, on by default, also with `--no-index`), and a rename counts only its
 * own diff. The line diff is a minimal one (the `diff` package, Myers). git's xdiff is not quite
 * minimal: before diffing it sets aside lines that repeat very often (blank lines, `}`), so on a
 * large rewrite it counts a few lines more (bitflags 1.3.2 -> 2.6.0: 8,419 against 8,409 here), and
 * its similarity estimate hashes 64-byte chunks where this counts common lines. Where git is
 * installed the CLI counts with git itself (`cli/src/crates/gitdiff.ts`), exactly as cargo-vet;
 * this is the count without it, equal to git's on small changes (checked on random trees).
 */
import { diffArrays } from 'diff';

/** A crate's files, by path inside the crate's folder (`src/lib.rs`), as bytes. */
export type SourceTree = ReadonlyMap<string, Uint8Array>;

export interface DiffStat {
  insertions: number;
  deletions: number;
  filesChanged: number;
}

/** cargo-vet's count: the lines a reviewer reads. */
export const diffLines = (d: DiffStat): number => d.insertions + d.deletions;

/** cargo-vet's DIFF_SKIP_PATHS (storage.rs:86): files cargo or cargo-vet add when unpacking. */
const SKIPPED = new Set(['Cargo.lock', '.cargo_vcs_info.json', '.cargo-ok']);

/** Whether cargo-vet leaves this path (relative to the crate's folder) out of a count; a git revision's `Cargo.toml` too. */
export const skippedByCargoVet = (p: string, opts: { gitRevision?: boolean } = {}): boolean =>
  SKIPPED.has(p) || (opts.gitRevision === true && p === 'Cargo.toml');

/**
 * `git diff --no-index --numstat -z OLD NEW` read as cargo-vet reads it (storage.rs
 * `diffstat_package`): "ins\tdel\t\0old\0new\0" per file, filtered on the path named (the new one,
 * or the old for a deletion) below its top folder; a binary file ("-") counts as changed, no lines.
 */
export function parseNumstat(stdout: string, opts: { gitRevision?: boolean } = {}): DiffStat {
  const out: DiffStat = { insertions: 0, deletions: 0, filesChanged: 0 };
  const chunks = stdout.split('\0');
  for (let i = 0; i + 2 < chunks.length; i += 3) {
    const named = chunks[i + 2] !== '/dev/null' ? chunks[i + 2]! : chunks[i + 1]!;
    if (skippedByCargoVet(named.slice(named.indexOf('/') + 1), opts)) continue;
    out.filesChanged++;
    const [ins, del] = chunks[i]!.trim().split('\t');
    if (ins !== '-') {
      out.insertions += Number(ins);
      out.deletions += Number(del);
    }
  }
  return out;
}
const BINARY_PROBE = 8000;
const RENAME_SCORE = 0.5;

const isBinary = (b: Uint8Array): boolean => b.subarray(0, BINARY_PROBE).includes(0);
const decoder = new TextDecoder('utf-8', { fatal: false });

/** git's records, normalised for `--ignore-cr-at-eol` (a `\r` before `\n`, a missing last `\n`). */
export function gitLines(b: Uint8Array): string[] {
  const text = decoder.decode(b);
  if (text === '') return [];
  const parts = text.split('\n');
  if (parts[parts.length - 1] === '') parts.pop();
  const last = text.endsWith('\n') ? parts.length : parts.length - 1;
  // Only complete lines lose their CR: git keeps a CR that ends an incomplete last line.
  return parts.map((l, i) => (i < last && l.endsWith('\r') ? l.slice(0, -1) : l));
}

/** Lines git counts for a file added or deleted whole (0 for a binary file). */
export const fileLines = (b: Uint8Array): number => (isBinary(b) ? 0 : gitLines(b).length);

const buf = (x: Uint8Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
const sameBytes = (a: Uint8Array, b: Uint8Array) => a.length === b.length && buf(a).equals(buf(b));

/** One file pair's numstat: null when git would print nothing (no change once CRs are ignored). */
function pairStat(a: Uint8Array, b: Uint8Array, renamed: boolean): { ins: number; del: number } | null {
  if (sameBytes(a, b)) return renamed ? { ins: 0, del: 0 } : null;
  if (isBinary(a) || isBinary(b)) return { ins: 0, del: 0 };
  let ins = 0;
  let del = 0;
  for (const part of diffArrays(gitLines(a), gitLines(b))) {
    if (part.added) ins += part.count ?? part.value.length;
    else if (part.removed) del += part.count ?? part.value.length;
  }
  return ins + del > 0 || renamed ? { ins, del } : null;
}

/** A file's lines (CRLF as LF) with their counts, for the similarity estimate; computed once per file. */
const chunkCounts = new WeakMap<Uint8Array, Map<string, number>>();
function chunksOf(x: Uint8Array): Map<string, number> {
  let m = chunkCounts.get(x);
  if (!m) {
    m = new Map();
    for (const l of decoder
      .decode(x)
      .replace(/\r\n/g, '\n')
      .split(/(?<=\n)/))
      m.set(l, (m.get(l) ?? 0) + 1);
    chunkCounts.set(x, m);
  }
  return m;
}

/** Share of the larger file left unchanged, in bytes of common lines (git's similarity index). */
function similarity(a: Uint8Array, b: Uint8Array): number {
  const max = Math.max(a.length, b.length);
  if (max === 0 || Math.min(a.length, b.length) < max * RENAME_SCORE) return 0;
  const ca = chunksOf(a);
  let common = 0;
  for (const [l, n] of chunksOf(b)) common += Math.min(n, ca.get(l) ?? 0) * Buffer.byteLength(l);
  return common / max;
}

const basename = (p: string) => p.slice(p.lastIndexOf('/') + 1);

/** git's rename detection on the files only one side has: [from, to] pairs. */
function renames(deleted: Map<string, Uint8Array>, added: Map<string, Uint8Array>): [string, string][] {
  const pairs: [string, string][] = [];
  const take = (f: string, t: string) => (pairs.push([f, t]), deleted.delete(f), added.delete(t));
  for (const [t, tb] of [...added]) {
    const same = [...deleted].filter(([, fb]) => sameBytes(fb, tb)).map(([f]) => f);
    const f = same.find((x) => basename(x) === basename(t)) ?? same[0];
    if (f !== undefined) take(f, t);
  }
  // Same basename, unique on both sides, similar enough (git >= 2.33 tries these first).
  const unique = (m: Map<string, Uint8Array>) => {
    const n = new Map<string, string[]>();
    for (const p of m.keys()) n.set(basename(p), [...(n.get(basename(p)) ?? []), p]);
    return new Map([...n].filter(([, ps]) => ps.length === 1).map(([b, ps]) => [b, ps[0]!]));
  };
  const ub = unique(added);
  for (const [b, f] of unique(deleted)) {
    const t = ub.get(b);
    if (t !== undefined && !isBinary(added.get(t)!) && similarity(deleted.get(f)!, added.get(t)!) >= RENAME_SCORE) take(f, t);
  }
  const scored: { f: string; t: string; s: number }[] = [];
  for (const [f, fb] of deleted) {
    for (const [t, tb] of added) {
      const s = similarity(fb, tb);
      if (s >= RENAME_SCORE) scored.push({ f, t, s });
    }
  }
  scored.sort((x, y) => y.s - x.s || (x.t < y.t ? -1 : x.t > y.t ? 1 : 0));
  for (const { f, t } of scored) if (deleted.has(f) && added.has(t)) take(f, t);
  return pairs;
}

/**
 * What `cargo vet suggest` shows for `from -> to` (`from` null: a full audit of `to`). `gitRevision`:
 * `to` is a git checkout, whose `Cargo.toml` cargo-vet leaves out (it differs from a published one).
 */
export function diffstat(from: SourceTree | null, to: SourceTree, opts: { gitRevision?: boolean } = {}): DiffStat {
  const a = from ?? new Map<string, Uint8Array>();
  const skipped = (p: string) => skippedByCargoVet(p, opts);
  const out: DiffStat = { insertions: 0, deletions: 0, filesChanged: 0 };
  const count = (s: { ins: number; del: number } | null) => {
    if (!s) return;
    out.filesChanged++;
    out.insertions += s.ins;
    out.deletions += s.del;
  };
  const deleted = new Map([...a].filter(([p]) => !to.has(p)));
  const added = new Map([...to].filter(([p]) => !a.has(p)));
  // cargo-vet filters on the path a numstat line names (the new one, or the old for a deletion).
  for (const [p, bytes] of to) if (a.has(p) && !skipped(p)) count(pairStat(a.get(p)!, bytes, false));
  for (const [f, t] of renames(deleted, added)) if (!skipped(t)) count(pairStat(a.get(f)!, to.get(t)!, true));
  for (const [p, bytes] of added) if (!skipped(p)) count({ ins: fileLines(bytes), del: 0 });
  for (const [p, bytes] of deleted) if (!skipped(p)) count({ ins: 0, del: fileLines(bytes) });
  return out;
}
