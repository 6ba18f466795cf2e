/**
 * crates.io updates feed: `GET {api}/api/v1/summary` (https://crates.io by default), whose
 * `just_updated` (crates with a new version, newest first) and `new_crates` lists say which crates
 * changed in the last minutes. The feed names crates and versions but carries no dependencies or
 * checksums, so it is a trigger: each listed crate that the org tracks (or every listed crate with
 * `all`) whose `updated_at` is newer than what the feed last said is re-read from the sparse index
 * right away (CratesIndexSource), which produces the `crates.releases` events. The feed does not
 * report yanks; those are caught by the periodic index poll of tracked crates (a yank rewrites the
 * crate's index file, so its conditional request returns 200).
 *
 * Checkpoint (`crates-feed.json`): crate -> the `updated_at` last handled (the newest 5,000 kept).
 */
import { Checkpoint, type Logger } from '@cratewatch/runtime';
import { safeUrl, type HttpClient } from '../http.js';
import type { CratesIndexSource, IndexPollResult } from './crates-io-index.js';

export const CRATES_IO_API = 'https://crates.io';

export interface FeedItem {
  name: string;
  version?: string;
  updatedAt: string;
}

export interface CratesFeedCheckpoint {
  seen: Record<string, string>;
}

/** Reads the summary's `just_updated` and `new_crates`; errors name the upstream and field. */
export function parseSummary(text: string, url: string): FeedItem[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error(`${url}: summary is not JSON`);
  }
  const out: FeedItem[] = [];
  for (const list of ['just_updated', 'new_crates'] as const) {
    const xs = (doc as Record<string, unknown>)?.[list];
    if (!Array.isArray(xs)) throw new Error(`${url}: field \`${list}\`: expected an array`);
    xs.forEach((x: Record<string, unknown>, i) => {
      const name = x?.name ?? x?.id;
      if (typeof name !== 'string' || name === '') throw new Error(`${url}: field \`${list}[${i}].name\`: expected a crate name`);
      const version = [x.newest_version, x.max_version, x.default_version].find((v) => typeof v === 'string') as string | undefined;
      const updatedAt = typeof x.updated_at === 'string' ? x.updated_at : '';
      out.push({ name, ...(version ? { version } : {}), updatedAt });
    });
  }
  return out;
}

export class CratesFeedSource {
  readonly api: string;

  constructor(
    private readonly index: CratesIndexSource,
    private readonly http: HttpClient,
    private readonly checkpoint: Checkpoint<CratesFeedCheckpoint>,
    private readonly log: Logger,
    api = CRATES_IO_API,
  ) {
    this.api = api.replace(/\/+$/, '');
  }

  /** One look at the feed; re-reads from the index each changed crate in `tracked` (or all). */
  async poll(
    tracked: Set<string> | 'all',
    signal?: AbortSignal,
  ): Promise<{ listed: number; triggered: string[]; index?: IndexPollResult }> {
    const url = `${this.api}/api/v1/summary`;
    const res = await this.http.get(url, { headers: { accept: 'application/json' }, signal });
    const items = parseSummary(res.body.toString('utf8'), safeUrl(url));
    const state = this.checkpoint.load();
    const changed = new Map<string, string>();
    for (const it of items) {
      const n = it.name.toLowerCase();
      if (tracked !== 'all' && !tracked.has(n)) continue;
      if (state.seen[n] === it.updatedAt && it.updatedAt !== '') continue;
      changed.set(n, it.updatedAt);
    }
    if (changed.size === 0) return { listed: items.length, triggered: [] };
    const index = await this.index.poll(changed.keys(), signal);
    for (const [n, t] of changed) state.seen[n] = t;
    const entries = Object.entries(state.seen)
      .sort((a, b) => (a[1] < b[1] ? 1 : -1))
      .slice(0, 5000);
    this.checkpoint.save({ seen: Object.fromEntries(entries) });
    this.log.info('feed triggered index reads', { triggered: [...changed.keys()], ...index });
    return { listed: items.length, triggered: [...changed.keys()], index };
  }
}
