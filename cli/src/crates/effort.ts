/**
 * Sizes every suggested audit of a report as `cargo vet suggest` does, and lets the sizes choose:
 * each suggestion's candidates (shared `suggest.ts`) are diffed (`diffstat`) over the crates'
 * sources (`sources.ts`), and `chooseSuggestion` keeps the smallest. The scorer can call this too
 * (it needs only a `CrateSources`).
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  chooseSuggestion,
  diffstat,
  type AuditCandidate,
  type DiffStat,
  type Lockfile,
  type SourceTree,
  type VetReport,
} from '@cratewatch/shared';
import { gitDiffstat, hasGit } from './gitdiff.js';
import type { CrateSources } from './sources.js';

export interface SizingResult {
  /** How lines were counted: git (cargo-vet's way, exact) or shared's minimal diff. */
  counter: 'git' | 'minimal';
  /** Suggestions that got a size. */
  sized: number;
  /** Suggestions left as chosen without sizes (no sources for any candidate). */
  unsized: number;
}

/** Crates sized at once: each holds its versions' trees in memory while it is diffed. */
const PARALLEL_CRATES = 4;

const isGit = (v: string) => v.includes('@git:');

/**
 * `count` 'git' is cargo-vet's own count (git diff, exact); 'minimal' is shared's pure `diffstat`
 * (a minimal diff: on large rewrites a few lines under git's). Default: git when installed.
 */
/**
 * Sizes already computed, by counter, crate and `from..to` (a published version never changes, so
 * neither does its size): `<cache>/diffstat/<counter>/<crate>/<from or full>..<to>.json`.
 */
class SizeCache {
  constructor(private readonly dir: string | undefined) {}
  private file(crate: string, c: AuditCandidate) {
    return this.dir ? path.join(this.dir, encodeURIComponent(crate), `${c.from ?? 'full'}..${c.to}.json`) : undefined;
  }
  get(crate: string, c: AuditCandidate): DiffStat | undefined {
    const f = this.file(crate, c);
    return f && existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as DiffStat) : undefined;
  }
  put(crate: string, c: AuditCandidate, d: DiffStat): void {
    const f = this.file(crate, c);
    if (!f) return;
    mkdirSync(path.dirname(f), { recursive: true });
    writeFileSync(`${f}.${process.pid}.tmp`, JSON.stringify(d));
    renameSync(`${f}.${process.pid}.tmp`, f);
  }
}

type Count = (from: SourceTree | null, to: SourceTree) => Promise<DiffStat>;
type Verdicts = VetReport['packages'];

const sizeKey = (c: AuditCandidate) => `${c.from ?? ''}>${c.to}`;

/** One crate's candidates sized (from the size cache when there); its versions' trees are held only meanwhile. */
async function sizeCandidatesOf(
  crate: string,
  candidates: AuditCandidate[],
  get: (v: string) => Promise<SourceTree | undefined>,
  count: Count,
  cache: SizeCache,
): Promise<Map<string, DiffStat | undefined>> {
  const trees = new Map<string, SourceTree | undefined>();
  const tree = async (v: string) => {
    if (!trees.has(v)) trees.set(v, isGit(v) ? undefined : await get(v));
    return trees.get(v);
  };
  const sizes = new Map<string, DiffStat | undefined>();
  for (const c of candidates) {
    if (sizes.has(sizeKey(c))) continue;
    let stat = isGit(c.to) ? undefined : cache.get(crate, c);
    if (!stat) {
      const to = await tree(c.to);
      const from = c.from === undefined ? null : await tree(c.from);
      stat = to && from !== undefined ? await count(from, to) : undefined;
      if (stat) cache.put(crate, c, stat);
    }
    sizes.set(sizeKey(c), stat);
  }
  return sizes;
}

/** One crate's suggestions sized and chosen. */
async function sizeCrate(
  crate: string,
  verdicts: Verdicts,
  get: (v: string) => Promise<SourceTree | undefined>,
  count: Count,
  cache: SizeCache,
): Promise<void> {
  const sizes = await sizeCandidatesOf(
    crate,
    verdicts.flatMap((v) => v.suggestion!.candidates ?? []),
    get,
    count,
    cache,
  );
  for (const v of verdicts) v.suggestion = chooseSuggestion(crate, v.suggestion!, (c) => sizes.get(sizeKey(c)));
}

interface SizeOptions {
  count?: 'git' | 'minimal';
  cacheDir?: string;
}

function counterOf(o: SizeOptions) {
  const counter = o.count ?? (hasGit() ? 'git' : 'minimal');
  const count: Count = async (from, to) => (counter === 'git' ? gitDiffstat(from, to) : diffstat(from, to));
  const cache = new SizeCache(o.cacheDir ? path.join(o.cacheDir, 'diffstat', counter) : undefined);
  return { counter, count, cache };
}

/** Runs `job` for each crate, a few crates at once. */
async function eachCrate<T>(items: [string, T][], job: (crate: string, item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) await job(next[0], next[1]);
  };
  await Promise.all(Array.from({ length: PARALLEL_CRATES }, worker));
}

/**
 * Sizes audits given by crate (the planner's candidates): the lines of each, as cargo vet suggest
 * counts them, by `auditSizeKey(crate, candidate)`; undefined where a version has no sources.
 * `checksums`: `name@version` -> the Cargo.lock checksum, to verify each `.crate`.
 */
export async function sizeAudits(
  wanted: Map<string, AuditCandidate[]>,
  checksums: ReadonlyMap<string, string>,
  sources: CrateSources,
  o: SizeOptions = {},
): Promise<{ counter: 'git' | 'minimal'; sizes: Map<string, DiffStat | undefined> }> {
  const { counter, count, cache } = counterOf(o);
  const sizes = new Map<string, DiffStat | undefined>();
  await eachCrate([...wanted], async (crate, list) => {
    const got = await sizeCandidatesOf(crate, list, (v) => sources.tree(crate, v, checksums.get(`${crate}@${v}`)), count, cache);
    for (const [k, d] of got) sizes.set(`${crate}\u0000${k}`, d);
  });
  return { counter, sizes };
}

/** The key `sizeAudits` keeps a size under. */
export const auditSizeKey = (crate: string, c: AuditCandidate): string => `${crate}\u0000${sizeKey(c)}`;

export async function sizeSuggestions(
  report: VetReport,
  lockfile: Lockfile,
  sources: CrateSources,
  o: SizeOptions = {},
): Promise<SizingResult> {
  const { counter, count, cache } = counterOf(o);
  const checksums = new Map(lockfile.packages.filter((p) => p.checksum).map((p) => [`${p.name}@${p.version}`, p.checksum!]));
  const byCrate = new Map<string, Verdicts>();
  for (const p of report.packages) if (p.suggestion) byCrate.set(p.name, [...(byCrate.get(p.name) ?? []), p]);
  await eachCrate([...byCrate], (crate, verdicts) =>
    sizeCrate(crate, verdicts, (v) => sources.tree(crate, v, checksums.get(`${crate}@${v}`)), count, cache),
  );
  const sized = report.packages.filter((p) => p.suggestion?.lines !== undefined).length;
  return { counter, sized, unsized: byCrate.size === 0 ? 0 : [...byCrate.values()].flat().length - sized };
}
