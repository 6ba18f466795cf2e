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

export { sizeSuggestions } from './effort.js';
export { gitDiffstat, hasGit } from './gitdiff.js';
export { CrateSources } from './sources.js';

export function defaultCrateCache(): string {
  return process.env.CRATEWATCH_CRATE_CACHE || cacheDir('crates');
}

export async function sizeReportSuggestions(
  report: VetReport,
  lockfile: Lockfile,
  o: { localDirs: string[]; fetch: boolean },
): Promise<SizingResult> {
  for (const d of o.localDirs) {
    if (!existsSync(d) || !statSync(d).isDirectory()) throw new UsageError(`--crate-cache ${d}: not a folder`);
  }
  // undici is loaded only to fetch: a scan that does not download never starts its global agent.
  const downloader = o.fetch ? new (await import('./fetch.js')).CrateDownloader() : undefined;
  const sources = new CrateSources({ localDirs: o.localDirs, ...(o.fetch ? { cacheDir: defaultCrateCache(), downloader } : {}) });
  const count = report.packages.filter((p) => p.suggestion).length;
  progress(
    `sizing ${count} suggested audits from ${[...o.localDirs, ...(downloader ? [`${downloader.baseUrl} (cached in ${defaultCrateCache()})`] : [])].join(', ')}`,
  );
  try {
    // Sizes are kept beside the fetched crates; with --crate-cache alone, only where asked to.
    const cacheDir = o.fetch || process.env.CRATEWATCH_CRATE_CACHE ? defaultCrateCache() : undefined;
    const r = await sizeSuggestions(report, lockfile, sources, cacheDir ? { cacheDir } : {});
    const missing = sources.missing.length
      ? `; no sources for ${sources.missing.slice(0, 5).join(', ')}${sources.missing.length > 5 ? `, … (${sources.missing.length})` : ''}`
      : '';
    progress(
      `sized ${r.sized} of ${count} suggestions (lines counted by ${r.counter === 'git' ? 'git diff, as cargo vet suggest counts' : 'a minimal diff: git is not installed, large rewrites may count a few lines under cargo-vet'})${missing}`,
    );
    for (const w of sources.warnings) process.stderr.write(`cratewatch scan: warning: ${w}\n`);
    return r;
  } finally {
    await downloader?.close();
  }
}
