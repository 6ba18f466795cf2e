/**
 * Audit-pool source: polls every cargo-vet `audits.toml` an org trusts (the public pools in
 * cargo-vet's own registry, plus any URL the config or CLI names), and turns what changed into
 * `audits.pool` events.
 *
 * - Fetched with conditional requests (ETag / Last-Modified): a 304 produces nothing.
 * - Chromium-style sources (`...?format=TEXT`, gitiles) serve base64; they are decoded.
 * - Parsed with the shared cargo-vet reader (`parseAuditsFile`), then diffed per crate against the
 *   hashes kept in the pool's checkpoint. Each crate whose entries changed gets ONE event keyed
 *   `pool/crate` holding that pool's COMPLETE current entries for the crate:
 *   `{ audits: [...], 'wildcard-audits': [...], trusted: [...] }` (cargo-vet's own key names; a
 *   violation is an `audits` entry with a `violation` field). So a new violation, or a dropped
 *   audit, changes the crate's entry set and shows as its own event.
 * - A crate whose entries all disappeared gets an explicit event with the three lists EMPTY (not a
 *   Kafka tombstone): "this pool records nothing for this crate now" is a fact the scorer must
 *   apply (delete the pool's audits of that crate), and a compacted topic keeps it as the latest
 *   value. Consistently, criteria definitions go under `pool/*criteria*` with
 *   `{ criteria: [{ name, description, 'description-url', implies, 'aggregated-from' }] }`.
 * - The checkpoint (one JSON file per pool) holds the HTTP validator and a hash per crate. It is
 *   advanced after each batch Kafka acknowledged, and the validator only once the whole pool is
 *   through, so stopping mid-poll and starting again re-fetches, finds the crates already sent
 *   unchanged, and sends the rest: no gap and no duplicate.
 * - A pool file that does not parse never stops the source: the error names the upstream (pool
 *   name and URL), the file and the field; it goes to the log and to `audits.pool.dlq`, the pool's
 *   previous entries stay the truth, and the other pools go on. The bad version is refused once.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Producer } from 'kafkajs';
import {
  CARGO_VET_REGISTRY,
  FormatError,
  TOPICS,
  dlqTopic,
  encodeEvent,
  parseAuditsFile,
  type AuditsFile,
  type PoolEvent,
} from '@cratewatch/shared';
import { Checkpoint, type Logger, upstreamDlqValue } from '@cratewatch/runtime';
import { safeUrl, type HttpClient, type Validator } from '../http.js';

/** cargo-vet's registry of public pools: one list, in shared (the CLI's `pools` reads it too). */
export { CARGO_VET_REGISTRY };

export const CRITERIA_KEY = '*criteria*';

export interface PoolRef {
  name: string;
  url: string;
}

export type PoolEntries = Record<string, Record<string, unknown>[]>;

export interface PoolState {
  url?: string;
  validator?: Validator;
  /** sha256 of the last body fully handled (sent, or refused). */
  bodyHash?: string;
  /** Crate (or `*criteria*`) -> hash of the entries last acknowledged by Kafka. */
  crates: Record<string, string>;
}

export interface PoolPollResult {
  pool: string;
  status: 'unchanged' | 'changed' | 'refused' | 'failed';
  /** Events produced (crates + criteria), of which `emptied` had no entries left. */
  produced: number;
  emptied: number;
  crates: number;
  error?: string;
}

const drop = <T extends Record<string, unknown>>(o: T): Record<string, unknown> => {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out;
};

/** One crate's entries in a pool, under cargo-vet's own key names (comments are not entries). */
export function crateEntries(file: AuditsFile, crate: string): PoolEntries {
  return {
    audits: (file.audits.get(crate) ?? []).map((a) =>
      drop({
        who: a.who,
        criteria: a.criteria,
        version: a.version,
        delta: a.delta ? `${a.delta.from} -> ${a.delta.to}` : undefined,
        violation: a.violation,
        importable: a.importable,
        notes: a.notes,
        'aggregated-from': a.aggregatedFrom.length ? a.aggregatedFrom : undefined,
      }),
    ),
    'wildcard-audits': (file.wildcardAudits.get(crate) ?? []).map((w) =>
      drop({
        who: w.who,
        criteria: w.criteria,
        'user-id': w.userId,
        'trusted-publisher': w.trustedPublisher,
        start: w.start,
        end: w.end,
        renew: w.renew,
        notes: w.notes,
        'aggregated-from': w.aggregatedFrom.length ? w.aggregatedFrom : undefined,
      }),
    ),
    trusted: (file.trusted.get(crate) ?? []).map((t) =>
      drop({
        criteria: t.criteria,
        'user-id': t.userId,
        'trusted-publisher': t.trustedPublisher,
        start: t.start,
        end: t.end,
        notes: t.notes,
        'aggregated-from': t.aggregatedFrom.length ? t.aggregatedFrom : undefined,
      }),
    ),
  };
}

export function criteriaEntries(file: AuditsFile): PoolEntries {
  return {
    criteria: [...file.criteria].map(([name, c]) =>
      drop({
        name,
        description: c.description,
        'description-url': c.descriptionUrl,
        implies: c.implies,
        'aggregated-from': c.aggregatedFrom.length ? c.aggregatedFrom : undefined,
      }),
    ),
  };
}

export const EMPTY_ENTRIES = (): PoolEntries => ({ audits: [], 'wildcard-audits': [], trusted: [] });

export const hashEntries = (e: PoolEntries): string => createHash('sha256').update(JSON.stringify(e)).digest('base64url').slice(0, 22);

export interface PoolChange {
  crate: string;
  entries: PoolEntries;
  hash: string;
}

/**
 * What changed in a pool since `prev` (crate -> entries hash): every crate whose entries differ,
 * every crate that disappeared (with empty entries), and the criteria if their definitions
 * changed. Sorted by crate so that a restarted poll walks the same order.
 */
export function diffPool(prev: Record<string, string>, file: AuditsFile): PoolChange[] {
  const names = new Set<string>([...file.audits.keys(), ...file.wildcardAudits.keys(), ...file.trusted.keys()]);
  const out: PoolChange[] = [];
  const crit = criteriaEntries(file);
  const critHash = hashEntries(crit);
  if (prev[CRITERIA_KEY] !== critHash && !(prev[CRITERIA_KEY] === undefined && crit.criteria!.length === 0)) {
    out.push({ crate: CRITERIA_KEY, entries: crit, hash: critHash });
  }
  for (const crate of [...names].sort()) {
    const entries = crateEntries(file, crate);
    const hash = hashEntries(entries);
    if (prev[crate] !== hash) out.push({ crate, entries, hash });
  }
  for (const crate of Object.keys(prev).sort()) {
    if (crate === CRITERIA_KEY || names.has(crate)) continue;
    out.push({ crate, entries: EMPTY_ENTRIES(), hash: '' });
  }
  return out;
}

/** Chromium/gitiles `?format=TEXT` serves the file base64-encoded. */
export function isBase64Source(url: string): boolean {
  try {
    return new URL(url).searchParams.get('format')?.toUpperCase() === 'TEXT';
  } catch {
    return false;
  }
}

export function decodePoolBody(url: string, body: Buffer): string {
  if (!isBase64Source(url)) return body.toString('utf8');
  const b64 = body.toString('latin1').replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) {
    throw new FormatError(safeUrl(url), 'a ?format=TEXT source must be base64, and this body is not', { field: '(body)' });
  }
  return Buffer.from(b64, 'base64').toString('utf8');
}

/** `NAME=URL` from the CLI. */
export function parsePoolArg(arg: string): PoolRef {
  const i = arg.indexOf('=');
  if (i <= 0 || i === arg.length - 1) throw new Error(`--url takes NAME=URL, got ${JSON.stringify(arg)}`);
  return { name: arg.slice(0, i), url: arg.slice(i + 1) };
}

export interface PoolsSourceOptions {
  /** Messages per Kafka batch (the checkpoint advances after each). */
  batch?: number;
  /** Largest raw file copied into a DLQ record (Kafka's default message limit is 1 MB). */
  maxDlqBytes?: number;
}

export class PoolsSource {
  private readonly batch: number;
  private readonly maxDlqBytes: number;

  constructor(
    readonly pools: PoolRef[],
    private readonly producer: Producer,
    private readonly http: HttpClient,
    /** Folder for the per-pool checkpoints (`<dir>/<pool>.json`). */
    private readonly dir: string,
    private readonly log: Logger,
    opts: PoolsSourceOptions = {},
  ) {
    this.batch = opts.batch ?? 500;
    this.maxDlqBytes = opts.maxDlqBytes ?? 512 * 1024;
    const seen = new Set<string>();
    for (const p of pools) {
      if (seen.has(p.name)) throw new Error(`pool "${p.name}" is named twice`);
      seen.add(p.name);
    }
  }

  checkpoint(pool: string): Checkpoint<PoolState> {
    return new Checkpoint<PoolState>(join(this.dir, `${encodeURIComponent(pool)}.json`), { crates: {} });
  }

  /** Polls every pool; one pool's failure is logged and the others go on. */
  async poll(signal?: AbortSignal): Promise<PoolPollResult[]> {
    const out: PoolPollResult[] = [];
    for (const p of this.pools) {
      signal?.throwIfAborted();
      try {
        out.push(await this.pollPool(p, signal));
      } catch (err) {
        if (signal?.aborted) throw err;
        const error = err instanceof Error ? err.message : String(err);
        this.log.error('pool poll failed; will retry next poll', { upstream: `pool ${p.name}`, url: safeUrl(p.url), error });
        out.push({ pool: p.name, status: 'failed', produced: 0, emptied: 0, crates: 0, error });
      }
    }
    return out;
  }

  async pollPool(pool: PoolRef, signal?: AbortSignal): Promise<PoolPollResult> {
    const cp = this.checkpoint(pool.name);
    const state = cp.load();
    // A changed URL for the same pool name: its validator belongs to the old URL.
    const validator = state.url === pool.url ? state.validator : undefined;
    const res = await this.http.get(pool.url, { validator, signal });
    const result: PoolPollResult = { pool: pool.name, status: 'unchanged', produced: 0, emptied: 0, crates: 0 };
    if (res.notModified) {
      this.log.debug('pool unchanged (304)', { pool: pool.name });
      return result;
    }
    const bodyHash = createHash('sha256').update(res.body).digest('hex');
    const shown = safeUrl(pool.url);
    const now = new Date().toISOString();
    if (state.bodyHash === bodyHash && state.url === pool.url) {
      // Same bytes as last time (a server without validators): nothing to do but remember them.
      cp.save({ ...state, validator: res.validator });
      return result;
    }

    let file: AuditsFile;
    try {
      file = parseAuditsFile(decodePoolBody(pool.url, res.body), shown);
    } catch (err) {
      if (!(err instanceof FormatError)) throw err;
      const reason = `upstream pool "${pool.name}" (${shown}): ${err.message}`;
      this.log.warn('refused pool file', {
        upstream: `pool ${pool.name}`,
        file: shown,
        field: err.where?.field,
        line: err.where?.line,
        reason,
      });
      const raw = res.body.subarray(0, this.maxDlqBytes).toString('utf8');
      await this.producer.send({
        topic: dlqTopic(TOPICS.audits),
        messages: [
          {
            key: `${pool.name}/*file*`,
            value: upstreamDlqValue({
              topic: TOPICS.audits,
              key: `${pool.name}/*file*`,
              value: raw,
              ...(res.body.length > this.maxDlqBytes ? { extra: { truncated: res.body.length } } : {}),
              error: reason,
              service: 'ingest/pools',
              at: now,
            }),
          },
        ],
      });
      // Refused once: the validator and hash are kept so the same bad bytes are not re-sent, while
      // the crates' hashes (the last good version) stay what consumers hold.
      cp.save({ ...state, url: pool.url, validator: res.validator, bodyHash });
      return { ...result, status: 'refused', error: reason };
    }

    const changes = diffPool(state.crates, file);
    result.status = 'changed';
    result.crates = new Set([...file.audits.keys(), ...file.wildcardAudits.keys(), ...file.trusted.keys()]).size;
    for (let i = 0; i < changes.length; i += this.batch) {
      signal?.throwIfAborted();
      const slice = changes.slice(i, i + this.batch);
      const messages = slice.map((c) => {
        const ev: PoolEvent = { v: 1, pool: pool.name, url: pool.url, crate: c.crate, entries: c.entries, observedAt: now };
        return { key: `${pool.name}/${c.crate}`, value: encodeEvent(TOPICS.audits, ev) };
      });
      await this.producer.send({ topic: TOPICS.audits, messages });
      for (const c of slice) {
        if (c.hash === '') delete state.crates[c.crate];
        else state.crates[c.crate] = c.hash;
        if (c.hash === '') result.emptied++;
      }
      result.produced += slice.length;
      state.url = pool.url;
      cp.save(state);
      this.log.info('pool progress', { pool: pool.name, sent: result.produced, of: changes.length });
    }
    cp.save({ ...state, url: pool.url, validator: res.validator, bodyHash });
    return result;
  }
}

/** The pools to poll: cargo-vet's registry (unless `registry` is false) plus `NAME=URL` args; a named arg replaces the registry's URL. */
export function poolRefs(args: string[], registry = true): PoolRef[] {
  const out = new Map<string, string>(registry ? Object.entries(CARGO_VET_REGISTRY) : []);
  for (const a of args) {
    const p = parsePoolArg(a);
    out.set(p.name, p.url);
  }
  return [...out].map(([name, url]) => ({ name, url }));
}
