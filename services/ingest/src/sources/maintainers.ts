/**
 * Maintainers source: who owns a crate and how its repository is kept.
 *
 * Per crate, from crates.io (shared HTTP client: spacing, retries, Retry-After):
 *   - `GET {api}/api/v1/crates/{name}`         → `crate.repository`
 *   - `GET {api}/api/v1/crates/{name}/owners`  → `users[]` (kind `user` or `team`)
 * Per GitHub repository, through `@octokit/graphql` (baseUrl configurable), several repositories
 * per query under aliases, reading `rateLimit { remaining resetAt cost }` from every answer and
 * pausing until `resetAt` when `remaining` falls under a floor:
 *   - the default branch's last N commits' `signature { isValid }` → signed-commit ratio
 *   - releases and tags (dates) → cadence: count, last, median gap, longest gap before the last
 *   - commit authors since 12 months ago (up to 100 commits: an approximation) → contributors
 *   - `isArchived`, `isDisabled`, `pushedAt`
 *
 * One `maintainers.signals` event per crate (key: crate name) when anything but the observation
 * time changed since the checkpoint. Owners keep the time they were first seen; an ownership change
 * (owners added or removed since the last observation) is carried as the `ownershipChange` signal
 * with the time it was detected, until the next change replaces it.
 *
 * No repository on crates.io, a repository GitHub does not know (NOT_FOUND) → `repository: missing`.
 * A malformed upstream answer (wrong JSON shape) refuses that crate: the error names the upstream,
 * the URL and the field; it goes to the log and `maintainers.signals.dlq`; the other crates go on.
 *
 * The GitHub token is read from the environment variable named by `tokenEnv` (default
 * GITHUB_TOKEN) at request time. It is sent only in the Authorization header to the configured
 * GraphQL endpoint, and scrubbed from every upstream text this source logs or records.
 */
import { createHash } from 'node:crypto';
import type { Kafka, Producer } from 'kafkajs';
import { graphql as octokitGraphql, GraphqlResponseError } from '@octokit/graphql';
import { TOPICS, dlqTopic, encodeEvent, type MaintainerEvent } from '@cratewatch/shared';
import { Checkpoint, envSecret, retryBackoffMs, type Logger, type RetryOptions, upstreamDlqValue } from '@cratewatch/runtime';
import { HttpClient, HttpError, safeUrl } from '../http.js';

export interface MaintainersOptions {
  /** crates.io API base (default https://crates.io). */
  cratesApi?: string;
  /** GitHub GraphQL base URL, as octokit's `baseUrl` (default https://api.github.com; queries go to `{baseUrl}/graphql`). */
  githubApi?: string;
  /** Name of the env var holding the GitHub token (default GITHUB_TOKEN). */
  tokenEnv?: string;
  /** Commits of the default branch checked for signatures (default 50, max 100). */
  commits?: number;
  /** Repositories per GraphQL query (default 10). */
  batch?: number;
  /** Pause until resetAt when rateLimit.remaining falls below this (default 100). */
  minRemaining?: number;
  /** Longest pause for the rate limit; beyond it the poll stops and the next one goes on (default 15 min). */
  maxPauseMs?: number;
  /** Retries of a GraphQL request on 5xx / 429 / network errors (default: 5 attempts, from 1 s to 60 s). */
  retry?: Partial<RetryOptions>;
  now?: () => Date;
}

export interface OwnerState {
  login: string;
  kind: 'user' | 'team';
  firstSeen: string;
}
export interface CrateState {
  owners: OwnerState[];
  hash: string;
  ownershipChange?: { value: { added: string[]; removed: string[]; previous: string[] }; observedAt: string };
}
export interface MaintainersCheckpoint {
  crates: Record<string, CrateState>;
}

export interface MaintainersPollResult {
  produced: number;
  unchanged: number;
  refused: number;
  failed: number;
  rateLimitPauses: number;
}

/** A response that does not have the expected shape: names upstream, URL and field. */
export class UpstreamFormatError extends Error {
  constructor(
    readonly upstream: string,
    readonly url: string,
    readonly field: string,
    detail: string,
  ) {
    super(`${upstream} ${url}: field \`${field}\`: ${detail}`);
    this.name = 'UpstreamFormatError';
  }
  /** The upstream text that was refused, when there was one. */
  raw = '';
}

export interface RepoRef {
  owner: string;
  name: string;
  /** Canonical https URL. */
  url: string;
}

/** A GitHub repository in a crates.io `repository` URL (https, git+https, ssh, with /tree/... or .git). */
export function githubRepo(repository: string | undefined): RepoRef | undefined {
  if (!repository) return undefined;
  const m =
    /^(?:git\+)?(?:https?:\/\/|ssh:\/\/git@|git@|git:\/\/)(?:www\.)?github\.com[/:]([A-Za-z0-9-_.]+)\/([A-Za-z0-9-_.]+?)(?:\.git)?(?:[/#?].*)?$/.exec(
      repository.trim(),
    );
  if (!m) return undefined;
  const owner = m[1]!;
  const name = m[2]!;
  return { owner, name, url: `https://github.com/${owner}/${name}` };
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(new Error('aborted'));
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), reject(new Error('aborted'))), { once: true });
  });

// ---- shape checks that name the field --------------------------------------------------------

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

class Reader {
  constructor(
    private readonly upstream: string,
    private readonly url: string,
  ) {}
  fail(field: string, detail: string): never {
    throw new UpstreamFormatError(this.upstream, this.url, field, detail);
  }
  obj(v: unknown, field: string): Obj {
    return isObj(v) ? v : this.fail(field, `expected an object, got ${describeValue(v)}`);
  }
  arr(v: unknown, field: string): unknown[] {
    return Array.isArray(v) ? v : this.fail(field, `expected an array, got ${describeValue(v)}`);
  }
  str(v: unknown, field: string): string {
    return typeof v === 'string' ? v : this.fail(field, `expected a string, got ${describeValue(v)}`);
  }
  optStr(v: unknown, field: string): string | undefined {
    return v === null || v === undefined ? undefined : this.str(v, field);
  }
  bool(v: unknown, field: string): boolean {
    return typeof v === 'boolean' ? v : this.fail(field, `expected a boolean, got ${describeValue(v)}`);
  }
  num(v: unknown, field: string): number {
    return typeof v === 'number' && Number.isFinite(v) ? v : this.fail(field, `expected a number, got ${describeValue(v)}`);
  }
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v;
}

// ---- GitHub ----------------------------------------------------------------------------------

export interface RepoSignals {
  missing: boolean;
  archived?: boolean;
  disabled?: boolean;
  pushedAt?: string | null;
  defaultBranch?: string | null;
  signedCommits?: { signed: number; total: number; ratio: number | null };
  releases?: Cadence;
  tags?: Cadence;
  /** Distinct commit authors (login, else email) over the 12 months before the observation, from up to 100 commits (`sampled`). */
  contributors12m?: { authors: number; commits: number; sampled: number };
}

export interface Cadence {
  count: number;
  last: string | null;
  /** Newest first, up to 20. */
  recent: string[];
  medianGapDays: number | null;
  /** Days between the last and the one before it (a release after long dormancy shows here). */
  lastGapDays: number | null;
}

export function cadence(count: number, dates: string[]): Cadence {
  const sorted = [...dates].sort().reverse();
  const gaps: number[] = [];
  for (let i = 0; i + 1 < sorted.length; i++) gaps.push((Date.parse(sorted[i]!) - Date.parse(sorted[i + 1]!)) / 86_400_000);
  const g = [...gaps].sort((a, b) => a - b);
  const median = g.length === 0 ? null : g.length % 2 ? g[(g.length - 1) / 2]! : (g[g.length / 2 - 1]! + g[g.length / 2]!) / 2;
  const round = (x: number | null) => (x === null ? null : Math.round(x * 10) / 10);
  return { count, last: sorted[0] ?? null, recent: sorted, medianGapDays: round(median), lastGapDays: round(gaps[0] ?? null) };
}

const REPO_FIELDS = `
  nameWithOwner isArchived isDisabled pushedAt
  defaultBranchRef {
    name
    target {
      ... on Commit {
        recent: history(first: $commits) { nodes { committedDate signature { isValid } } }
        year: history(since: $since, first: 100) { totalCount nodes { author { email user { login } } } }
      }
    }
  }
  releases(first: 20, orderBy: { field: CREATED_AT, direction: DESC }) { totalCount nodes { publishedAt createdAt } }
  refs(refPrefix: "refs/tags/", first: 20, orderBy: { field: TAG_COMMIT_DATE, direction: DESC }) {
    totalCount
    nodes { target { __typename ... on Commit { committedDate } ... on Tag { tagger { date } target { ... on Commit { committedDate } } } } }
  }`;

/** One query for several repositories: `r0: repository(owner: $o0, name: $n0) { ... }`. */
export function batchQuery(count: number): string {
  const vars = ['$commits: Int!', '$since: GitTimestamp!'];
  const parts: string[] = [];
  for (let i = 0; i < count; i++) {
    vars.push(`$o${i}: String!`, `$n${i}: String!`);
    parts.push(`  r${i}: repository(owner: $o${i}, name: $n${i}) { ...Repo }`);
  }
  return `query (${vars.join(', ')}) {\n  rateLimit { remaining resetAt cost limit }\n${parts.join('\n')}\n}\nfragment Repo on Repository {${REPO_FIELDS}\n}`;
}

function readRepo(r: Reader, v: unknown, at: string): RepoSignals {
  const o = r.obj(v, at);
  const out: RepoSignals = {
    missing: false,
    archived: r.bool(o.isArchived, `${at}.isArchived`),
    disabled: r.bool(o.isDisabled, `${at}.isDisabled`),
    pushedAt: r.optStr(o.pushedAt, `${at}.pushedAt`) ?? null,
  };
  const ref = o.defaultBranchRef;
  if (ref !== null && ref !== undefined) {
    const refObj = r.obj(ref, `${at}.defaultBranchRef`);
    out.defaultBranch = r.str(refObj.name, `${at}.defaultBranchRef.name`);
    const target = r.obj(refObj.target, `${at}.defaultBranchRef.target`);
    const recentAt = `${at}.defaultBranchRef.target.recent`;
    const recent = r.arr(r.obj(target.recent, recentAt).nodes, `${recentAt}.nodes`);
    let signed = 0;
    recent.forEach((c, i) => {
      const sig = r.obj(c, `${recentAt}.nodes[${i}]`).signature;
      if (
        sig !== null &&
        sig !== undefined &&
        r.bool(r.obj(sig, `${recentAt}.nodes[${i}].signature`).isValid, `${recentAt}.nodes[${i}].signature.isValid`)
      )
        signed++;
    });
    out.signedCommits = { signed, total: recent.length, ratio: recent.length ? Math.round((signed / recent.length) * 1000) / 1000 : null };
    const yearAt = `${at}.defaultBranchRef.target.year`;
    const year = r.obj(target.year, yearAt);
    const authors = new Set<string>();
    const nodes = r.arr(year.nodes, `${yearAt}.nodes`);
    nodes.forEach((c, i) => {
      const a = r.obj(c, `${yearAt}.nodes[${i}]`).author;
      if (!isObj(a)) return;
      const login = isObj(a.user) ? r.optStr(a.user.login, `${yearAt}.nodes[${i}].author.user.login`) : undefined;
      const who = login ?? r.optStr(a.email, `${yearAt}.nodes[${i}].author.email`);
      if (who) authors.add(who.toLowerCase());
    });
    out.contributors12m = { authors: authors.size, commits: r.num(year.totalCount, `${yearAt}.totalCount`), sampled: nodes.length };
  } else {
    out.defaultBranch = null;
  }
  const rel = r.obj(o.releases, `${at}.releases`);
  const relDates = r.arr(rel.nodes, `${at}.releases.nodes`).map((n, i) => {
    const x = r.obj(n, `${at}.releases.nodes[${i}]`);
    return r.optStr(x.publishedAt, `${at}.releases.nodes[${i}].publishedAt`) ?? r.str(x.createdAt, `${at}.releases.nodes[${i}].createdAt`);
  });
  out.releases = cadence(r.num(rel.totalCount, `${at}.releases.totalCount`), relDates);
  const refs = r.obj(o.refs, `${at}.refs`);
  const tagDates: string[] = [];
  r.arr(refs.nodes, `${at}.refs.nodes`).forEach((n, i) => {
    const t = r.obj(r.obj(n, `${at}.refs.nodes[${i}]`).target, `${at}.refs.nodes[${i}].target`);
    const d = isObj(t.tagger) ? t.tagger.date : (t.committedDate ?? (isObj(t.target) ? t.target.committedDate : undefined));
    const s = r.optStr(d, `${at}.refs.nodes[${i}].target.date`);
    if (s) tagDates.push(s);
  });
  out.tags = cadence(r.num(refs.totalCount, `${at}.refs.totalCount`), tagDates);
  return out;
}

// ---- the source ------------------------------------------------------------------------------

interface CrateInfo {
  crate: string;
  repository?: string;
  owners: { login: string; kind: 'user' | 'team' }[];
}

export class MaintainersSource {
  private readonly o: Required<Omit<MaintainersOptions, 'now' | 'retry'>> & { now: () => Date; retry: RetryOptions };
  private readonly graphqlUrl: string;

  constructor(
    private readonly producer: Producer,
    private readonly http: HttpClient,
    private readonly checkpoint: Checkpoint<MaintainersCheckpoint>,
    private readonly log: Logger,
    opts: MaintainersOptions = {},
  ) {
    this.o = {
      cratesApi: (opts.cratesApi ?? 'https://crates.io').replace(/\/+$/, ''),
      githubApi: (opts.githubApi ?? 'https://api.github.com').replace(/\/+$/, ''),
      tokenEnv: opts.tokenEnv ?? 'GITHUB_TOKEN',
      commits: Math.min(100, Math.max(1, opts.commits ?? 50)),
      batch: Math.max(1, opts.batch ?? 10),
      minRemaining: opts.minRemaining ?? 100,
      maxPauseMs: opts.maxPauseMs ?? 15 * 60_000,
      retry: { attempts: 5, baseMs: 1000, maxMs: 60_000, ...opts.retry },
      now: opts.now ?? (() => new Date()),
    };
    this.graphqlUrl = `${safeUrl(this.o.githubApi).replace(/\/+$/, '')}/graphql`;
  }

  /** Removes the token from any upstream text before it is logged or recorded. */
  private scrub(text: string): string {
    const token = envSecret(process.env, this.o.tokenEnv)?.reveal();
    return token && token.length >= 4 ? text.split(token).join('[redacted]') : text;
  }

  private async dlq(crate: string, raw: string, error: string, at: string): Promise<void> {
    const value = upstreamDlqValue({
      topic: TOPICS.maintainers,
      key: crate,
      value: this.scrub(raw).slice(0, 64 * 1024),
      error: this.scrub(error),
      service: 'ingest/maintainers',
      at,
    });
    await this.producer.send({ topic: dlqTopic(TOPICS.maintainers), messages: [{ key: crate, value }] });
  }

  private async cratesIo(crate: string, signal?: AbortSignal): Promise<CrateInfo | 'not-found'> {
    const enc = encodeURIComponent(crate);
    const infoUrl = `${this.o.cratesApi}/api/v1/crates/${enc}`;
    const info = await this.http.get(infoUrl, { accept: [404], signal, headers: { accept: 'application/json' } });
    if (info.status === 404) return 'not-found';
    const r1 = new Reader('crates.io', safeUrl(infoUrl));
    const keepRaw = (body: Buffer) => (err: unknown) => {
      if (err instanceof UpstreamFormatError) err.raw = body.toString('utf8');
      throw err;
    };
    let repository: string | undefined;
    try {
      const c = r1.obj(r1.obj(parseJson(r1, info.body), '(root)').crate, 'crate');
      repository = r1.optStr(c.repository, 'crate.repository');
    } catch (e) {
      keepRaw(info.body)(e);
    }

    const ownersUrl = `${this.o.cratesApi}/api/v1/crates/${enc}/owners`;
    const owners = await this.http.get(ownersUrl, { signal, headers: { accept: 'application/json' } });
    const r2 = new Reader('crates.io', safeUrl(ownersUrl));
    try {
      return this.readOwners(r2, crate, repository, owners.body);
    } catch (e) {
      return keepRaw(owners.body)(e);
    }
  }

  private readOwners(r2: Reader, crate: string, repository: string | undefined, body: Buffer): CrateInfo {
    const users = r2.arr(r2.obj(parseJson(r2, body), '(root)').users, 'users');
    return {
      crate,
      ...(repository ? { repository } : {}),
      owners: users.map((u, i) => {
        const x = r2.obj(u, `users[${i}]`);
        const kind = r2.str(x.kind ?? 'user', `users[${i}].kind`);
        if (kind !== 'user' && kind !== 'team') r2.fail(`users[${i}].kind`, `expected "user" or "team", got ${JSON.stringify(kind)}`);
        return { login: r2.str(x.login, `users[${i}].login`), kind: kind as 'user' | 'team' };
      }),
    };
  }

  /**
   * Runs one GraphQL batch with retries on 5xx/429/network errors. Returns per-alias results
   * (signals, missing, or an error for that repository) and the rate limit it reported.
   */
  private async queryBatch(
    repos: RepoRef[],
    signal?: AbortSignal,
  ): Promise<{ results: (RepoSignals | Error)[]; rateLimit?: { remaining: number; resetAt: string; cost: number } }> {
    const token = envSecret(process.env, this.o.tokenEnv)?.reveal();
    const since = new Date(this.o.now().getTime() - 365 * 86_400_000).toISOString();
    const variables: Record<string, unknown> = { commits: this.o.commits, since };
    repos.forEach((r, i) => {
      variables[`o${i}`] = r.owner;
      variables[`n${i}`] = r.name;
    });
    const gql = octokitGraphql.defaults({
      baseUrl: this.o.githubApi,
      headers: { ...(token ? { authorization: `bearer ${token}` } : {}), 'user-agent': 'cratewatch-ingest/0.1' },
      request: { signal },
    });
    let data: unknown;
    let errors: { type?: string; path?: (string | number)[]; message?: string }[] = [];
    for (let attempt = 1; ; attempt++) {
      try {
        data = await gql(batchQuery(repos.length), variables);
        break;
      } catch (err) {
        if (err instanceof GraphqlResponseError) {
          data = err.data;
          errors = (err.errors ?? []) as typeof errors;
          break;
        }
        const e = err as { status?: number; message?: string; response?: { headers?: Record<string, string> } };
        const status = e.status;
        const retryable =
          status === undefined || status >= 500 || status === 429 || (status === 403 && !!e.response?.headers?.['retry-after']);
        if (!retryable || attempt >= this.o.retry.attempts || signal?.aborted) {
          throw new HttpError(
            this.graphqlUrl,
            this.scrub(`GitHub GraphQL failed${status ? ` (HTTP ${status})` : ''}: ${e.message ?? String(err)}`),
            status,
            retryable,
          );
        }
        const ra = Number(e.response?.headers?.['retry-after']);
        const delay = Number.isFinite(ra) && ra > 0 ? ra * 1000 : retryBackoffMs(this.o.retry, attempt);
        this.log.warn('retrying upstream', {
          upstream: 'github',
          url: this.graphqlUrl,
          attempt,
          delayMs: Math.round(delay),
          reason: this.scrub(`HTTP ${status ?? '-'}: ${e.message ?? ''}`),
        });
        await sleep(delay, signal);
      }
    }
    const r = new Reader('github', this.graphqlUrl);
    const d = r.obj(data, 'data');
    let rateLimit: { remaining: number; resetAt: string; cost: number } | undefined;
    if (d.rateLimit !== null && d.rateLimit !== undefined) {
      const rl = r.obj(d.rateLimit, 'data.rateLimit');
      rateLimit = {
        remaining: r.num(rl.remaining, 'data.rateLimit.remaining'),
        resetAt: r.str(rl.resetAt, 'data.rateLimit.resetAt'),
        cost: r.num(rl.cost, 'data.rateLimit.cost'),
      };
    }
    const results = repos.map((repo, i): RepoSignals | Error => {
      const alias = `r${i}`;
      const own = errors.filter((e) => e.path?.[0] === alias);
      const v = d[alias];
      if (v === null || v === undefined) {
        if (own.length === 0 || own.some((e) => e.type === 'NOT_FOUND')) return { missing: true };
        return new Error(
          this.scrub(`github ${this.graphqlUrl}: ${repo.owner}/${repo.name}: ${own.map((e) => e.message ?? e.type).join('; ')}`),
        );
      }
      try {
        return readRepo(new Reader('github', `${this.graphqlUrl} (${repo.owner}/${repo.name})`), v, `data.${alias}`);
      } catch (err) {
        return err as Error;
      }
    });
    return { results, ...(rateLimit ? { rateLimit } : {}) };
  }

  private queue: Promise<unknown> = Promise.resolve();

  /**
   * Refreshes the given crates; produces one event per crate whose signals changed. Polls run one
   * at a time (a scheduled refresh and a release-triggered one share the checkpoint).
   */
  poll(crates: string[], signal?: AbortSignal): Promise<MaintainersPollResult> {
    const run = this.queue.then(() => this.pollNow(crates, signal));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async pollNow(crates: string[], signal?: AbortSignal): Promise<MaintainersPollResult> {
    const result: MaintainersPollResult = { produced: 0, unchanged: 0, refused: 0, failed: 0, rateLimitPauses: 0 };
    const names = [...new Set(crates)].sort();
    const infos: CrateInfo[] = [];
    const at = () => this.o.now().toISOString();

    for (const crate of names) {
      if (signal?.aborted) break;
      try {
        const info = await this.cratesIo(crate, signal);
        if (info === 'not-found') {
          this.log.warn('crate not on crates.io; skipped', { upstream: 'crates.io', crate });
          result.failed++;
          continue;
        }
        infos.push(info);
      } catch (err) {
        if (err instanceof UpstreamFormatError) {
          this.log.warn('refused upstream answer', { upstream: err.upstream, url: err.url, crate, field: err.field, reason: err.message });
          await this.dlq(crate, err.raw, err.message, at());
          result.refused++;
        } else {
          if (signal?.aborted) break;
          this.log.error('crates.io failed for crate; next poll retries', {
            upstream: 'crates.io',
            crate,
            error: this.scrub((err as Error).message),
          });
          result.failed++;
        }
      }
    }

    // GitHub repositories, each asked once however many crates live there.
    const repos = new Map<string, RepoRef>();
    for (const i of infos) {
      const g = githubRepo(i.repository);
      if (g) repos.set(g.url.toLowerCase(), g);
    }
    const signals = new Map<string, RepoSignals | Error>();
    const token = envSecret(process.env, this.o.tokenEnv)?.reveal();
    if (repos.size && !token) {
      this.log.warn('GitHub token not set: GitHub signals skipped', { env: this.o.tokenEnv });
    } else {
      const list = [...repos.values()];
      for (let i = 0; i < list.length && !signal?.aborted; i += this.o.batch) {
        const chunk = list.slice(i, i + this.o.batch);
        try {
          const { results, rateLimit } = await this.queryBatch(chunk, signal);
          chunk.forEach((r, j) => signals.set(r.url.toLowerCase(), results[j]!));
          if (rateLimit && rateLimit.remaining < this.o.minRemaining && i + this.o.batch < list.length) {
            const wait = Math.max(0, Date.parse(rateLimit.resetAt) - Date.now());
            this.log.warn('GitHub rate limit low: pausing', {
              upstream: 'github',
              remaining: rateLimit.remaining,
              resetAt: rateLimit.resetAt,
              waitMs: wait,
            });
            if (wait > this.o.maxPauseMs) {
              this.log.warn('GitHub rate limit resets too late: the rest waits for the next poll', { upstream: 'github' });
              break;
            }
            result.rateLimitPauses++;
            await sleep(wait, signal);
          }
        } catch (err) {
          if (signal?.aborted) break;
          const e = err as Error;
          this.log.error('GitHub query failed; those repositories are retried next poll', {
            upstream: 'github',
            url: this.graphqlUrl,
            repositories: chunk.map((c) => `${c.owner}/${c.name}`),
            error: this.scrub(e.message),
          });
          chunk.forEach((r) =>
            signals.set(r.url.toLowerCase(), e instanceof UpstreamFormatError ? e : new HttpError(this.graphqlUrl, 'unavailable')),
          );
        }
      }
    }

    const state = this.checkpoint.load();
    for (const info of infos) {
      if (signal?.aborted) break;
      const now = at();
      const g = githubRepo(info.repository);
      const gs = g ? signals.get(g.url.toLowerCase()) : undefined;
      if (gs instanceof UpstreamFormatError) {
        this.log.warn('refused upstream answer', {
          upstream: gs.upstream,
          url: gs.url,
          crate: info.crate,
          field: gs.field,
          reason: gs.message,
        });
        await this.dlq(info.crate, '', gs.message, now);
        result.refused++;
        continue;
      }
      if (gs instanceof Error || (g && !gs && token)) {
        // GitHub unavailable for this repository: keep the last event rather than send a partial one.
        result.failed++;
        continue;
      }
      const prev = state.crates[info.crate];
      const ev = this.event(info, g, gs, prev, now);
      const { observedAt: _o, ...content } = ev.event;
      const hash = createHash('sha256')
        .update(JSON.stringify(content, (_k, v) => (isObj(v) && 'observedAt' in v && 'value' in v ? v.value : v)))
        .digest('hex');
      if (prev?.hash === hash) {
        result.unchanged++;
        continue;
      }
      await this.producer.send({
        topic: TOPICS.maintainers,
        messages: [{ key: info.crate, value: encodeEvent(TOPICS.maintainers, ev.event) }],
      });
      state.crates[info.crate] = { owners: ev.owners, hash, ...(ev.change ? { ownershipChange: ev.change } : {}) };
      this.checkpoint.save(state);
      result.produced++;
    }
    this.log.info('maintainers poll done', { ...result });
    return result;
  }

  private event(
    info: CrateInfo,
    g: RepoRef | undefined,
    gs: RepoSignals | undefined,
    prev: CrateState | undefined,
    now: string,
  ): { event: MaintainerEvent; owners: OwnerState[]; change?: CrateState['ownershipChange'] } {
    const firstSeen = new Map((prev?.owners ?? []).map((o) => [`${o.kind}:${o.login}`, o.firstSeen]));
    const owners: OwnerState[] = info.owners
      .map((o) => ({ login: o.login, kind: o.kind, firstSeen: firstSeen.get(`${o.kind}:${o.login}`) ?? now }))
      .sort((a, b) => a.login.localeCompare(b.login));
    let change = prev?.ownershipChange;
    if (prev) {
      const before = new Set(prev.owners.map((o) => o.login));
      const after = new Set(owners.map((o) => o.login));
      const added = [...after].filter((l) => !before.has(l)).sort();
      const removed = [...before].filter((l) => !after.has(l)).sort();
      if (added.length || removed.length) change = { value: { added, removed, previous: [...before].sort() }, observedAt: now };
    }
    const sig = (value: unknown) => ({ value, observedAt: now });
    const signals: MaintainerEvent['signals'] = {};
    if (!info.repository) signals.repository = sig('missing');
    else if (!g) signals.repository = sig({ url: info.repository, host: hostOf(info.repository) });
    else if (gs?.missing) signals.repository = sig('missing');
    else signals.repository = sig({ url: g.url, host: 'github.com' });
    signals.ownerCount = sig(owners.length);
    if (change) signals.ownershipChange = change;
    if (gs && !gs.missing) {
      signals.archived = sig(gs.archived);
      signals.disabled = sig(gs.disabled);
      signals.pushedAt = sig(gs.pushedAt);
      if (gs.signedCommits) signals.signedCommits = sig(gs.signedCommits);
      if (gs.releases) signals.releases = sig(gs.releases);
      if (gs.tags) signals.tags = sig(gs.tags);
      if (gs.contributors12m) signals.contributors12m = sig(gs.contributors12m);
    }
    const event: MaintainerEvent = {
      v: 1,
      crate: info.crate,
      owners: owners.map((o) => ({ login: o.login, kind: o.kind, observedAt: o.firstSeen })),
      ...(info.repository ? { repository: g?.url ?? info.repository } : {}),
      signals,
      observedAt: now,
    };
    return { event, owners, ...(change ? { change } : {}) };
  }
}

function parseJson(r: Reader, body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    return r.fail('(root)', `not JSON: ${(err as Error).message}`);
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url.replace(/^git\+/, '')).host;
  } catch {
    return 'unknown';
  }
}

/**
 * Refreshes a crate's maintainers when it gets a new release: follows `crates.releases` (from the
 * latest offset, consumer group `groupId`), collects the tracked crates that released, and polls
 * them together every `debounceMs`. Offsets are committed as read: a crash loses at most the
 * pending triggers, which the scheduled refresh covers.
 */
export async function refreshOnReleases(
  kafka: Kafka,
  source: MaintainersSource,
  tracked: () => Promise<Iterable<string>> | Iterable<string>,
  log: Logger,
  opts: { groupId?: string; debounceMs?: number } = {},
): Promise<{ stop: () => Promise<void> }> {
  const consumer = kafka.consumer({ groupId: opts.groupId ?? 'cratewatch-ingest-maintainers-on-release', allowAutoTopicCreation: false });
  await consumer.connect();
  await consumer.subscribe({ topics: [TOPICS.releases], fromBeginning: false });
  const joined = new Promise<void>((r) => consumer.on(consumer.events.GROUP_JOIN, () => r()));
  const pending = new Set<string>();
  let known = new Set<string>();
  let knownAt = 0;
  await consumer.run({
    eachMessage: async ({ message }) => {
      const crate = message.key?.toString();
      if (!crate) return;
      if (Date.now() - knownAt > 60_000) {
        known = new Set([...(await tracked())].map((c) => c.toLowerCase()));
        knownAt = Date.now();
      }
      if (known.has(crate.toLowerCase())) pending.add(crate);
    },
  });
  await joined;
  let busy: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    if (pending.size === 0) return;
    const crates = [...pending];
    pending.clear();
    log.info('maintainers: refreshing crates with new releases', { crates: crates.length });
    busy = source.poll(crates).catch((err) => log.error('release-triggered maintainers refresh failed', { error: err }));
  }, opts.debounceMs ?? 30_000);
  return {
    stop: async () => {
      clearInterval(timer);
      await consumer.disconnect();
      await busy;
    },
  };
}
