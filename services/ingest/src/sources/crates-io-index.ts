/**
 * crates.io releases from the sparse index protocol (https://index.crates.io by default).
 *
 * Reads `config.json` (to check the upstream is a sparse index), then for each tracked crate its
 * index file at `1/{name}`, `2/{name}`, `3/{c}/{name}` or `{ab}/{cd}/{name}` (lowercased), with a
 * conditional request (ETag / Last-Modified): a 304 costs nothing and emits nothing. The file has
 * one JSON object per version: `name, vers, deps[{name, req, features, optional, default_features,
 * target, kind, package}], cksum, features, features2, yanked, links, v, rust_version, pubtime`.
 *
 * Each version not seen before, and each version whose yanked flag flipped, becomes ONE
 * `crates.releases` event keyed by crate name (in the file's order, i.e. publish order).
 *
 * Tracked crates: the names given (CLI `--crate`, or every crates.io package of a Cargo.lock,
 * which already is the locked dependency closure), and, with `followDeps`, the normal and build
 * dependencies of each tracked crate's newest version, transitively.
 *
 * Checkpoint (`crates-index.json`): per crate, the validator and each version's yanked flag (and
 * the dependency names followed). It advances after each Kafka-acknowledged batch, crates' state
 * together with their events, so a stop mid-poll resumes without a gap or a duplicate.
 * A line that does not parse (or whose event does not validate) goes to `crates.releases.dlq`
 * with a reason naming the upstream, the file and the field; the crate's other versions go on.
 */
import type { Producer } from 'kafkajs';
import { TOPICS, dlqTopic, encodeEvent, EventValidationError, isCratesIo, parseLockfile, type ReleaseEvent } from '@cratewatch/shared';
import { Checkpoint, type Logger, upstreamDlqValue } from '@cratewatch/runtime';
import { safeUrl, type HttpClient, type Validator } from '../http.js';

export const CRATES_IO_SPARSE = 'https://index.crates.io';

/** The index path of a crate (the sparse protocol's layout; names are lowercased). */
export function indexPath(name: string): string {
  const n = name.toLowerCase();
  if (!/^[a-z0-9_-]+$/.test(n)) throw new Error(`not a crate name: ${JSON.stringify(name)}`);
  if (n.length === 1) return `1/${n}`;
  if (n.length === 2) return `2/${n}`;
  if (n.length === 3) return `3/${n[0]}/${n}`;
  return `${n.slice(0, 2)}/${n.slice(2, 4)}/${n}`;
}

export interface IndexDep {
  name: string;
  req: string;
  features?: string[];
  optional?: boolean;
  default_features?: boolean;
  target?: string | null;
  kind?: 'normal' | 'build' | 'dev' | null;
  registry?: string | null;
  package?: string | null;
}

export interface IndexLine {
  name: string;
  vers: string;
  deps: IndexDep[];
  cksum: string;
  features: Record<string, string[]>;
  features2?: Record<string, string[]>;
  yanked: boolean;
  links?: string | null;
  v?: number;
  rust_version?: string | null;
  pubtime?: string | null;
}

export class IndexLineError extends Error {
  constructor(
    readonly line: number,
    readonly field: string,
    detail: string,
  ) {
    super(`line ${line}, field \`${field}\`: ${detail}`);
  }
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** One line of an index file, checked field by field (errors name the line and field). */
export function parseIndexLine(text: string, line: number): IndexLine {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (err) {
    throw new IndexLineError(line, '(line)', `not JSON: ${(err as Error).message}`);
  }
  if (!isObj(o)) throw new IndexLineError(line, '(line)', 'expected a JSON object');
  const str = (k: string) => {
    if (typeof o[k] !== 'string' || o[k] === '')
      throw new IndexLineError(line, k, `expected a non-empty string, got ${JSON.stringify(o[k])}`);
    return o[k] as string;
  };
  str('name');
  str('vers');
  if (typeof o.yanked !== 'boolean') throw new IndexLineError(line, 'yanked', `expected true or false, got ${JSON.stringify(o.yanked)}`);
  if (typeof o.cksum !== 'string') throw new IndexLineError(line, 'cksum', 'expected a string');
  if (!Array.isArray(o.deps)) throw new IndexLineError(line, 'deps', 'expected an array');
  o.deps.forEach((d, i) => {
    if (!isObj(d) || typeof d.name !== 'string' || d.name === '')
      throw new IndexLineError(line, `deps[${i}].name`, 'expected a non-empty string');
    if (typeof d.req !== 'string' || d.req === '') throw new IndexLineError(line, `deps[${i}].req`, 'expected a non-empty string');
    if (d.kind != null && !['normal', 'build', 'dev'].includes(d.kind as string))
      throw new IndexLineError(line, `deps[${i}].kind`, `unknown kind ${JSON.stringify(d.kind)}`);
  });
  for (const k of ['features', 'features2'] as const) {
    if (o[k] === undefined && k === 'features2') continue;
    if (!isObj(o[k]) || !Object.values(o[k] as object).every((v) => Array.isArray(v) && v.every((s) => typeof s === 'string'))) {
      throw new IndexLineError(line, k, 'expected an object of string arrays');
    }
  }
  return o as unknown as IndexLine;
}

export interface ParsedIndexFile {
  lines: IndexLine[];
  errors: IndexLineError[];
}

export function parseIndexFile(text: string): ParsedIndexFile {
  const out: ParsedIndexFile = { lines: [], errors: [] };
  text.split('\n').forEach((l, i) => {
    if (l.trim() === '') return;
    try {
      out.lines.push(parseIndexLine(l, i + 1));
    } catch (err) {
      if (err instanceof IndexLineError) out.errors.push(err);
      else throw err;
    }
  });
  return out;
}

const iso = (t: string | null | undefined): string | undefined => {
  if (!t) return undefined;
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
};

/** The `crates.releases` event for one index line. */
export function releaseFromIndex(l: IndexLine, observedAt: string): ReleaseEvent {
  const publishedAt = iso(l.pubtime);
  return {
    v: 1,
    crate: l.name,
    version: l.vers,
    ...(l.cksum ? { checksum: l.cksum } : {}),
    yanked: l.yanked,
    features: { ...l.features, ...(l.features2 ?? {}) },
    dependencies: l.deps.map((d) => ({
      name: d.name,
      req: d.req,
      kind: d.kind ?? 'normal',
      optional: d.optional ?? false,
      ...(d.target ? { target: d.target } : {}),
      ...(d.package ? { package: d.package } : {}),
    })),
    ...(publishedAt ? { publishedAt } : {}),
    observedAt,
  };
}

interface CrateState {
  validator?: Validator;
  /** version -> yanked (1) or not (0), as last acknowledged by Kafka. */
  versions: Record<string, 0 | 1>;
  /** Normal and build dependencies (real package names) of the newest version, for followDeps. */
  deps?: string[];
  /** The crate's index file answered 404 last time. */
  missing?: boolean;
}

export interface CratesIndexCheckpoint {
  crates: Record<string, CrateState>;
}

export interface IndexPollResult {
  crates: number;
  fetched: number;
  notModified: number;
  missing: number;
  failed: number;
  published: number;
  yankFlips: number;
  refused: number;
}

/** Crate names of a Cargo.lock's crates.io packages. */
export function lockedCrates(lockfileText: string, file = 'Cargo.lock'): string[] {
  return [
    ...new Set(
      parseLockfile(lockfileText, file)
        .packages.filter(isCratesIo)
        .map((p) => p.name),
    ),
  ].sort();
}

export interface IndexSourceOptions {
  base?: string;
  followDeps?: boolean;
  /** Messages per Kafka batch (state is saved after each). */
  batch?: number;
}

export class CratesIndexSource {
  readonly base: string;
  private readonly followDeps: boolean;
  private readonly batch: number;

  constructor(
    private readonly producer: Producer,
    private readonly http: HttpClient,
    private readonly checkpoint: Checkpoint<CratesIndexCheckpoint>,
    private readonly log: Logger,
    opts: IndexSourceOptions = {},
  ) {
    this.base = (opts.base ?? CRATES_IO_SPARSE).replace(/\/+$/, '');
    this.followDeps = opts.followDeps ?? false;
    this.batch = opts.batch ?? 500;
  }

  /** Checks `config.json` is a sparse index's (has `dl`); throws naming the upstream otherwise. */
  async checkConfig(signal?: AbortSignal): Promise<{ dl: string; api?: string }> {
    const url = `${this.base}/config.json`;
    const res = await this.http.get(url, { signal });
    let cfg: unknown;
    try {
      cfg = JSON.parse(res.body.toString('utf8'));
    } catch {
      throw new Error(`${safeUrl(url)}: config.json is not JSON`);
    }
    if (!isObj(cfg) || typeof cfg.dl !== 'string')
      throw new Error(`${safeUrl(url)}: config.json, field \`dl\`: expected a string (is this a sparse index?)`);
    return { dl: cfg.dl, ...(typeof cfg.api === 'string' ? { api: cfg.api } : {}) };
  }

  /**
   * Polls the given crates (and, with followDeps, what they depend on). Returns what it did;
   * one crate's failure is logged and the others go on.
   */
  async poll(names: Iterable<string>, signal?: AbortSignal): Promise<IndexPollResult> {
    await this.checkConfig(signal);
    const state = this.checkpoint.load();
    const now = new Date().toISOString();
    const result: IndexPollResult = {
      crates: 0,
      fetched: 0,
      notModified: 0,
      missing: 0,
      failed: 0,
      published: 0,
      yankFlips: 0,
      refused: 0,
    };
    const queue = [...new Set([...names].map((n) => n.toLowerCase()))].sort();
    const seen = new Set(queue);
    let messages: { topic: string; key: string; value: string }[] = [];
    let updates: [string, CrateState][] = [];
    const flush = async () => {
      if (messages.length) {
        const byTopic = new Map<string, { key: string; value: string }[]>();
        for (const m of messages) byTopic.set(m.topic, [...(byTopic.get(m.topic) ?? []), { key: m.key, value: m.value }]);
        await this.producer.sendBatch({ topicMessages: [...byTopic].map(([topic, msgs]) => ({ topic, messages: msgs })) });
      }
      for (const [k, s] of updates) state.crates[k] = s;
      if (updates.length) this.checkpoint.save(state);
      messages = [];
      updates = [];
    };

    for (let i = 0; i < queue.length; i++) {
      signal?.throwIfAborted();
      const name = queue[i]!;
      result.crates++;
      const prev = state.crates[name] ?? { versions: {} };
      const url = `${this.base}/${indexPath(name)}`;
      let next: CrateState = prev;
      try {
        const res = await this.http.get(url, { validator: prev.validator, accept: [404, 410, 451], signal });
        if (res.notModified) {
          result.notModified++;
        } else if (res.status !== 200) {
          result.missing++;
          if (!prev.missing) this.log.warn('crate not in the index', { upstream: this.base, file: indexPath(name), status: res.status });
          next = { ...prev, missing: true };
          updates.push([name, next]);
        } else {
          result.fetched++;
          const parsed = parseIndexFile(res.body.toString('utf8'));
          next = { validator: res.validator, versions: { ...prev.versions } };
          for (const err of parsed.errors) {
            const reason = `upstream ${this.base}: file ${indexPath(name)}, ${err.message}`;
            this.log.warn('refused index line', { upstream: this.base, file: indexPath(name), field: err.field, line: err.line, reason });
            messages.push({
              topic: dlqTopic(TOPICS.releases),
              key: name,
              value: dlqRecord(name, res.body.toString('utf8').split('\n')[err.line - 1] ?? '', reason, now),
            });
            result.refused++;
          }
          for (const l of parsed.lines) {
            const was = prev.versions[l.vers];
            const is: 0 | 1 = l.yanked ? 1 : 0;
            if (was === is) continue;
            let value: string;
            try {
              value = encodeEvent(TOPICS.releases, releaseFromIndex(l, now));
            } catch (err) {
              if (!(err instanceof EventValidationError)) throw err;
              const reason = `upstream ${this.base}: file ${indexPath(name)}, version ${l.vers}: ${err.issues.join('; ')}`;
              this.log.warn('refused index line', { upstream: this.base, file: indexPath(name), reason });
              messages.push({ topic: dlqTopic(TOPICS.releases), key: name, value: dlqRecord(name, JSON.stringify(l), reason, now) });
              result.refused++;
              continue;
            }
            messages.push({ topic: TOPICS.releases, key: l.name, value });
            if (was === undefined) result.published++;
            else result.yankFlips++;
            next.versions[l.vers] = is;
          }
          const newest = [...parsed.lines].reverse().find((l) => !l.yanked) ?? parsed.lines[parsed.lines.length - 1];
          next.deps = newest
            ? [...new Set(newest.deps.filter((d) => d.kind !== 'dev').map((d) => (d.package ?? d.name).toLowerCase()))].sort()
            : [];
          updates.push([name, next]);
        }
      } catch (err) {
        if (signal?.aborted) throw err;
        result.failed++;
        this.log.error('index fetch failed; will retry next poll', {
          upstream: this.base,
          file: indexPath(name),
          error: (err as Error).message,
        });
      }
      if (this.followDeps) {
        for (const d of next.deps ?? []) {
          if (!seen.has(d)) {
            seen.add(d);
            queue.push(d);
          }
        }
      }
      if (messages.length >= this.batch) await flush();
    }
    await flush();
    return result;
  }
}

function dlqRecord(key: string, value: string, error: string, at: string): string {
  return upstreamDlqValue({ topic: TOPICS.releases, key, value, error, service: 'ingest/crates-index', at });
}
