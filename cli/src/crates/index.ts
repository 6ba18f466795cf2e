/**
 * The CLI's use of crate sources: `--crate-cache DIR` (read only) and `--fetch-crates` (the network,
 * into the cache `CRATEWATCH_CRATE_CACHE`, default `crates/` in the cache folder of `../cache.ts`:
 * `~/.cache/cratewatch/crates`), then every suggestion of the report sized and chosen by size.
 */
import { existsSync, statSync } from 'node:fs';
import type { Lockfile, VetReport } from '@cratewatch/shared';
import { cacheDir } from '../cache.js';
import { progress, UsageError } from '../io.js';
import { sizeSuggestions, type SizingResult } from './effort.js';
import { CrateSources } from './sources.js';

export { auditSizeKey, sizeAudits, sizeSuggestions } from './effort.js';
export { gitDiffstat, hasGit } from './gitdiff.js';
export { CrateSources } from './sources.js';

export function defaultCrateCache(): string {
  return process.env.CRATEWATCH_CRATE_CACHE || cacheDir('crates');
}

/** The crate sources of `--crate-cache DIR ...` and `--fetch-crates`; `close` ends the downloader's connections. */
export interface OpenedSources {
  sources: CrateSources;
  /** Where sizes are kept: beside fetched crates, or `CRATEWATCH_CRATE_CACHE` when set. */
  cacheDir: string | undefined;
  /** The places read, for progress lines. */
  from: string[];
  close(): Promise<void>;
}

export async function openSources(o: { localDirs: string[]; fetch: boolean }): Promise<OpenedSources> {
  for (const d of o.localDirs) {
    if (!existsSync(d) || !statSync(d).isDirectory()) throw new UsageError(`--crate-cache ${d}: not a folder`);
  }
  // undici is loaded only to fetch: a scan that does not download never starts its global agent.
  const downloader = o.fetch ? new (await import('./fetch.js')).CrateDownloader() : undefined;
  const sources = new CrateSources({ localDirs: o.localDirs, ...(o.fetch ? { cacheDir: defaultCrateCache(), downloader } : {}) });
  return {
    sources,
    cacheDir: o.fetch || process.env.CRATEWATCH_CRATE_CACHE ? defaultCrateCache() : undefined,
    from: [...o.localDirs, ...(downloader ? [`${downloader.baseUrl} (cached in ${defaultCrateCache()})`] : [])],
    close: async () => downloader?.close(),
  };
}

/** How lines were counted, for the progress line. */
export const counterNote = (counter: 'git' | 'minimal'): string =>
  counter === 'git'
    ? 'git diff, as cargo vet suggest counts'
    : 'a minimal diff: git is not installed, large rewrites may count a few lines under cargo-vet';

export async function sizeReportSuggestions(
  report: VetReport,
  lockfile: Lockfile,
  o: { localDirs: string[]; fetch: boolean },
): Promise<SizingResult> {
  const opened = await openSources(o);
  const { sources, cacheDir } = opened;
  const count = report.packages.filter((p) => p.suggestion).length;
  progress(`sizing ${count} suggested audits from ${opened.from.join(', ')}`);
  try {
    const r = await sizeSuggestions(report, lockfile, sources, cacheDir ? { cacheDir } : {});
    const missing = sources.missing.length
      ? `; no sources for ${sources.missing.slice(0, 5).join(', ')}${sources.missing.length > 5 ? `, … (${sources.missing.length})` : ''}`
      : '';
    progress(`sized ${r.sized} of ${count} suggestions (lines counted by ${counterNote(r.counter)})${missing}`);
    for (const w of sources.warnings) process.stderr.write(`cratewatch scan: warning: ${w}\n`);
    return r;
  } finally {
    await opened.close();
  }
}
