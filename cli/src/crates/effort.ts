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

/** One crate's suggestions sized and chosen; its versions' trees are held only meanwhile. */
async function sizeCrate(
  crate: string,
  verdicts: Verdicts,
  get: (v: string) => Promise<SourceTree | undefined>,
  count: Count,
  cache: SizeCache,
): Promise<void> {
  const trees = new Map<string, SourceTree | undefined>();
  const tree = async (v: string) => {
    if (!trees.has(v)) trees.set(v, isGit(v) ? undefined : await get(v));
    return trees.get(v);
  };
  const sizes = new Map<string, DiffStat | undefined>();
  const key = (c: AuditCandidate) => `${c.from ?? ''}>${c.to}`;
  for (const v of verdicts) {
    for (const c of v.suggestion!.candidates ?? []) {
      if (sizes.has(key(c))) continue;
      let stat = isGit(c.to) ? undefined : cache.get(crate, c);
      if (!stat) {
        const to = await tree(c.to);
        const from = c.from === undefined ? null : await tree(c.from);
        stat = to && from !== undefined ? await count(from, to) : undefined;
        if (stat) cache.put(crate, c, stat);
      }
      sizes.set(key(c), stat);
    }
    v.suggestion = chooseSuggestion(crate, v.suggestion!, (c) => sizes.get(key(c)));
  }
}

export async function sizeSuggestions(
  report: VetReport,
  lockfile: Lockfile,
  sources: CrateSources,
  o: { count?: 'git' | 'minimal'; cacheDir?: string } = {},
): Promise<SizingResult> {
  const counter = o.count ?? (hasGit() ? 'git' : 'minimal');
  const count: Count = async (from, to) => (counter === 'git' ? gitDiffstat(from, to) : diffstat(from, to));
  const cache = new SizeCache(o.cacheDir ? path.join(o.cacheDir, 'diffstat', counter) : undefined);
  const checksums = new Map(lockfile.packages.filter((p) => p.checksum).map((p) => [`${p.name}@${p.version}`, p.checksum!]));
  const byCrate = new Map<string, Verdicts>();
  for (const p of report.packages) if (p.suggestion) byCrate.set(p.name, [...(byCrate.get(p.name) ?? []), p]);
  const queue = [...byCrate];
  const worker = async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const [crate, verdicts] = next;
      await sizeCrate(crate, verdicts, (v) => sources.tree(crate, v, checksums.get(`${crate}@${v}`)), count, cache);
    }
  };
  await Promise.all(Array.from({ length: PARALLEL_CRATES }, worker));
  const sized = report.packages.filter((p) => p.suggestion?.lines !== undefined).length;
  return { counter, sized, unsized: byCrate.size === 0 ? 0 : [...byCrate.values()].flat().length - sized };
}
