/**
 * The org-wide risk feed: the latest state of every finding (read from the compacted topic
 * `risk.findings`), served read-only over HTTP.
 *
 *   GET /feed       JSON {generatedAt, findings}: open findings by default, highest score first;
 *                   filters: team, workspace (comma lists), severity (minimum), state (open|resolved|all)
 *   GET /feed.atom  Atom 1.0: the latest state changes, newest first (at most 100); same filters,
 *                   state defaults to all
 *   GET /healthz    {status: "alive"}; /readyz and /metrics too when the notifier gives its ops
 *                   routes (runtime ops.ts: token-protected, the real checks)
 *
 * Both feeds ask for a bearer token (feed-access.ts: CRATEWATCH_FEED_TOKENS / _FILE), scoped to an
 * org and optionally teams, and show only that scope's findings; 401 without one or with a wrong one.
 *
 * Strong ETags over the representation (If-None-Match → 304). Findings carry no secret; the feed
 * never shows a webhook, a route or any configuration.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  SEVERITY_ORDER,
  TOPICS,
  FindingEventSchema,
  inScope,
  type AccessScope,
  type FindingEvent,
  type Severity,
} from '@cratewatch/shared';
import { accessTokensFromEnv, listenOn, parseListen, type AccessTokens, type Listen, type Logger } from '@cratewatch/runtime';
import { authorizeFeed } from './feed-access.js';
import { KIND_DEPENDENT_NOTE, latestReleaseLabel, lookalikeLabel, needsLabel, repositoryLabel, suggestionKind } from './slack.js';

/** One state change of a finding: its state as first seen, or a state different from the one before. */
export interface FindingChange {
  finding: FindingEvent;
  /** The finding's observedAt when it took this state. */
  at: string;
}

const HISTORY_KEEP = 1000;
export const ATOM_LIMIT = 100;

/** The latest state of every finding, and the recent state changes. Pure (fed messages by the caller). */
export class FindingStore {
  private readonly latest = new Map<string, FindingEvent>();
  private history: FindingChange[] = [];
  /** Bumped on every change: a cheap way to know the representations may differ. */
  version = 0;

  get size(): number {
    return this.latest.size;
  }

  /** The latest state of a finding, by id. */
  get(id: string): FindingEvent | undefined {
    return this.latest.get(id);
  }

  /** Applies one message of `risk.findings`: a value replaces the finding, a tombstone removes it, an invalid value is ignored. */
  apply(key: string | null, value: Buffer | string | null): boolean {
    if (key === null) return false;
    if (value === null) {
      const had = this.latest.delete(key);
      if (had) {
        this.history = this.history.filter((c) => c.finding.id !== key);
        this.version++;
      }
      return had;
    }
    let f: FindingEvent;
    try {
      const parsed = FindingEventSchema.safeParse(JSON.parse(value.toString()));
      if (!parsed.success) return false;
      f = parsed.data;
    } catch {
      return false;
    }
    const prev = this.latest.get(f.id);
    this.latest.set(f.id, f);
    if (!prev || prev.state !== f.state) {
      this.history.push({ finding: f, at: f.observedAt });
      if (this.history.length > 2 * HISTORY_KEEP) this.history = sortChanges(this.history).slice(0, HISTORY_KEEP);
    } else {
      // Same state, newer details (score, why): the change entry shows the latest details.
      for (let i = this.history.length - 1; i >= 0; i--) {
        if (this.history[i]!.finding.id === f.id) {
          this.history[i]!.finding = f;
          break;
        }
      }
    }
    this.version++;
    return true;
  }

  findings(q: FeedQuery): FindingEvent[] {
    return [...this.latest.values()].filter((f) => matches(f, q)).sort(byScore);
  }

  changes(q: FeedQuery, limit = ATOM_LIMIT): FindingChange[] {
    return sortChanges(this.history.filter((c) => matches(c.finding, q))).slice(0, limit);
  }
}

const rank = (s: Severity) => SEVERITY_ORDER.indexOf(s);

function byScore(a: FindingEvent, b: FindingEvent): number {
  return b.score - a.score || rank(b.severity) - rank(a.severity) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function sortChanges(cs: FindingChange[]): FindingChange[] {
  return [...cs].sort(
    (a, b) => Date.parse(b.at) - Date.parse(a.at) || (a.finding.id < b.finding.id ? -1 : a.finding.id > b.finding.id ? 1 : 0),
  );
}

export interface FeedQuery {
  teams?: string[];
  workspaces?: string[];
  minSeverity?: Severity;
  state: 'open' | 'resolved' | 'all';
  /** The reader's token scope: only its org's (and teams') findings. */
  scope?: AccessScope;
}

function matches(f: FindingEvent, q: FeedQuery): boolean {
  if (q.scope && !inScope(q.scope, f.workspace)) return false;
  if (q.state !== 'all' && f.state !== q.state) return false;
  if (q.teams && !(f.workspace.team !== undefined && q.teams.includes(f.workspace.team))) return false;
  if (q.workspaces && !q.workspaces.includes(f.workspace.id)) return false;
  if (q.minSeverity && rank(f.severity) < rank(q.minSeverity)) return false;
  return true;
}

export class BadQueryError extends Error {
  override name = 'BadQueryError';
}

/** The filters of a request; `defaultState` is 'open' for /feed and 'all' for /feed.atom. */
export function parseQuery(params: URLSearchParams, defaultState: FeedQuery['state']): FeedQuery {
  const list = (name: string) => {
    const vs = params
      .getAll(name)
      .flatMap((v) => v.split(','))
      .map((v) => v.trim())
      .filter(Boolean);
    return vs.length ? vs : undefined;
  };
  const q: FeedQuery = { state: defaultState };
  const teams = list('team');
  if (teams) q.teams = teams;
  const workspaces = list('workspace');
  if (workspaces) q.workspaces = workspaces;
  const sev = params.get('severity');
  if (sev !== null && sev !== '') {
    if (!SEVERITY_ORDER.includes(sev as Severity)) throw new BadQueryError(`severity must be one of ${SEVERITY_ORDER.join(', ')}`);
    q.minSeverity = sev as Severity;
  }
  const state = params.get('state');
  if (state !== null && state !== '') {
    if (state !== 'open' && state !== 'resolved' && state !== 'all') throw new BadQueryError('state must be open, resolved or all');
    q.state = state;
  }
  return q;
}

export function xmlEscape(s: string): string {
  // Characters XML 1.0 forbids are dropped; the five special ones escaped.
  return s
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/** What the finding is about, after "crate version in workspace: ". */
function entrySubject(f: FindingEvent): string {
  if (f.advisory) return `${f.advisory.id}: ${f.advisory.title}`;
  if (f.kind === 'unvetted') return f.vet ? `${f.vet.status}, needs ${needsLabel(f.vet)}` : 'unvetted';
  if (f.kind === 'maintainer') {
    // "maintainer risk, looks like rust_decimal (maintainer.single-owner, repository.missing, name.lookalike)"
    const look = f.maintainer?.lookalikeOf ? `, ${lookalikeLabel(f.maintainer.lookalikeOf)}` : '';
    const signals = f.why.length ? ` (${f.why.map((w) => w.signal).join(', ')})` : '';
    return `maintainer risk${look}${signals}`;
  }
  if (f.kind === 'deny') return f.deny ? `cargo-deny ${f.deny.check}/${f.deny.code}: ${f.deny.message}` : 'cargo-deny';
  return { advisory: 'advisory', unvetted: 'unvetted crate', maintainer: 'maintainer risk' }[f.kind];
}

function entryTitle(f: FindingEvent): string {
  const head = f.state === 'resolved' ? 'RESOLVED' : f.severity.toUpperCase();
  return `[${head}] ${f.crate} ${f.version} in ${f.workspace.id}: ${entrySubject(f)}`;
}

function entrySummary(f: FindingEvent): string {
  const lines = [
    `${f.state === 'resolved' ? 'Resolved' : 'Open'} ${f.kind} finding, severity ${f.severity} (score ${f.score}).`,
    `Crate ${f.crate} ${f.version} in workspace ${f.workspace.id}${f.workspace.team ? ` (team ${f.workspace.team})` : ''}, org ${f.workspace.org}.`,
  ];
  if (f.advisory) lines.push(`Patched: ${f.advisory.patched.length ? f.advisory.patched.join(', ') : 'no patched version'}.`);
  if (f.vet && !f.advisory) {
    lines.push(`Needs: ${needsLabel(f.vet)}.`);
    if (f.vet.requiredBy.length) lines.push(`Requested by: ${f.vet.requiredBy.join(', ')}.`);
    if (f.state !== 'resolved') {
      const s = f.vet.suggestion;
      lines.push(s ? `Suggested fix (${suggestionKind(s)}): ${s.command}` : 'No suggested fix.');
      if (f.vet.kindDependent) lines.push(`Note: ${KIND_DEPENDENT_NOTE}.`);
    }
  }
  const m = f.kind === 'maintainer' && !f.advisory ? f.maintainer : undefined;
  if (m) {
    if (m.owners) lines.push(`Owners (${m.owners.length}): ${m.owners.length ? m.owners.join(', ') : 'none listed'}.`);
    if (m.repository !== undefined) lines.push(`Repository: ${repositoryLabel(m.repository)}`);
    if (m.latestRelease) lines.push(`Latest release: ${latestReleaseLabel(m.latestRelease, f.version)}.`);
    if (m.lookalikeOf) lines.push(`Name: ${lookalikeLabel(m.lookalikeOf)}, a widely used crate.`);
  }
  for (const w of f.why) lines.push(`${w.signal} +${w.contribution}: ${w.detail}`);
  return lines.join('\n');
}

/** A tag: URI (RFC 4151) that is stable per (finding, state, time): a new state is a new entry. */
function entryId(c: FindingChange): string {
  return `tag:cratewatch,2025:finding/${encodeURIComponent(c.finding.id)}/${c.finding.state}/${encodeURIComponent(c.at)}`;
}

/** The Atom 1.0 document of the given changes (already sorted and limited). Deterministic. */
export function atomFeed(changes: FindingChange[], selfUrl: string): string {
  const updated = changes[0]?.at ?? '1970-01-01T00:00:00.000Z';
  const out = [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<feed xmlns="http://www.w3.org/2005/Atom">',
    '  <id>tag:cratewatch,2025:feed</id>',
    '  <title>cratewatch: risk findings</title>',
    "  <subtitle>The latest state changes of the organisation's supply-chain findings</subtitle>",
    `  <updated>${xmlEscape(updated)}</updated>`,
    `  <link rel="self" type="application/atom+xml" href="${xmlEscape(selfUrl)}"/>`,
    '  <author><name>cratewatch notifier</name></author>',
    '  <generator>cratewatch</generator>',
  ];
  for (const c of changes) {
    const f = c.finding;
    out.push(
      '  <entry>',
      `    <id>${xmlEscape(entryId(c))}</id>`,
      `    <title>${xmlEscape(entryTitle(f))}</title>`,
      `    <updated>${xmlEscape(c.at)}</updated>`,
      `    <category term="${xmlEscape(f.severity)}" label="severity"/>`,
      `    <category term="${xmlEscape(f.state)}" label="state"/>`,
      ...(f.workspace.team ? [`    <category term="${xmlEscape(f.workspace.team)}" label="team"/>`] : []),
    );
    if (f.advisory?.url && /^https?:\/\//.test(f.advisory.url)) out.push(`    <link rel="alternate" href="${xmlEscape(f.advisory.url)}"/>`);
    const repo = f.kind === 'maintainer' ? f.maintainer?.repository : undefined;
    if (repo && /^https?:\/\/\S+$/.test(repo)) out.push(`    <link rel="related" href="${xmlEscape(repo)}"/>`);
    out.push(`    <summary type="text">${xmlEscape(entrySummary(f))}</summary>`, '  </entry>');
  }
  out.push('</feed>', '');
  return out.join('\n');
}

export type FeedListen = Listen;

export const DEFAULT_FEED_LISTEN = '127.0.0.1:8421';

/** `host:port`, `[v6]:port` or `off` (→ undefined). */
export const parseFeedListen = (raw: string | undefined): FeedListen | undefined =>
  parseListen('NOTIFIER_FEED_LISTEN', raw, DEFAULT_FEED_LISTEN);

export interface FeedServer {
  /** http://host:port (the address actually bound). */
  url: string;
  close(): Promise<void>;
}

function etagOf(body: string): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
}

function notModified(req: IncomingMessage, etag: string): boolean {
  const inm = req.headers['if-none-match'];
  if (!inm) return false;
  return inm.split(',').some((t) => {
    const tag = t.trim();
    return tag === '*' || tag === etag || tag === `W/${etag}`;
  });
}

/** /healthz alone, for a feed served without the notifier's ops routes (tests). */
const aliveOnly = async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
  if (new URL(req.url ?? '/', 'http://feed.invalid').pathname !== '/healthz') return false;
  res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : '{"status":"alive"}\n');
  return true;
};

/** Answers `body` with the feed's headers; a 200 the reader already holds (`cache`, its ETag) becomes a 304. */
function send(req: IncomingMessage, res: ServerResponse, status: number, type: string, body: string, cache = true): void {
  const headers: Record<string, string> = {
    'content-type': type,
    'cache-control': 'no-cache',
    vary: 'authorization',
    'x-content-type-options': 'nosniff',
  };
  if (cache && status === 200) {
    const etag = etagOf(body);
    headers.etag = etag;
    if (notModified(req, etag)) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
  }
  headers['content-length'] = String(Buffer.byteLength(body));
  res.writeHead(status, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * Serves the feed of `store` until closed, and `ops` (runtime `opsRoutes`: /healthz, /readyz,
 * /metrics) beside it; without `ops`, /healthz only. `access`: the readers' tokens (default: read
 * from the environment once, now).
 */
export async function startFeedServer(
  store: FindingStore,
  listen: FeedListen,
  log: Logger,
  ops: (req: IncomingMessage, res: ServerResponse) => Promise<boolean> = aliveOnly,
  access: AccessTokens = accessTokensFromEnv(),
): Promise<FeedServer> {
  if ('missing' in access) log.warn('the risk feed will answer 401', { why: access.missing });
  const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';

  const server: Server = createServer((req, res) => {
    void ops(req, res).then((done) => done || serveFeed(req, res));
  });
  const serveFeed = (req: IncomingMessage, res: ServerResponse) => {
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('allow', 'GET, HEAD');
        return send(req, res, 405, 'application/json', json({ error: 'method not allowed' }), false);
      }
      const auth = authorizeFeed(req, access);
      if ('status' in auth) {
        res.setHeader('www-authenticate', 'Bearer realm="cratewatch risk feed"');
        return send(req, res, 401, 'application/json', json(auth.body), false);
      }
      const url = new URL(req.url ?? '/', 'http://feed.invalid');
      if (url.pathname === '/feed') {
        const q = { ...parseQuery(url.searchParams, 'open'), scope: auth.scope };
        const findings = store.findings(q);
        // The ETag covers the findings, not generatedAt: a poll that changes nothing gets a 304.
        const etag = etagOf(JSON.stringify(findings));
        if (notModified(req, etag)) {
          res.writeHead(304, { etag, 'cache-control': 'no-cache', vary: 'authorization' });
          return res.end();
        }
        const body = json({ generatedAt: new Date().toISOString(), findings });
        res.writeHead(200, {
          'content-type': 'application/json',
          'cache-control': 'no-cache',
          vary: 'authorization',
          'x-content-type-options': 'nosniff',
          etag,
          'content-length': String(Buffer.byteLength(body)),
        });
        return res.end(req.method === 'HEAD' ? undefined : body);
      }
      if (url.pathname === '/feed.atom') {
        const q = { ...parseQuery(url.searchParams, 'all'), scope: auth.scope };
        const host = req.headers.host && /^[A-Za-z0-9.:[\]-]+$/.test(req.headers.host) ? req.headers.host : `${listen.host}:${listen.port}`;
        return send(
          req,
          res,
          200,
          'application/atom+xml; charset=utf-8',
          atomFeed(store.changes(q), `http://${host}${url.pathname}${url.search}`),
        );
      }
      return send(
        req,
        res,
        404,
        'application/json',
        json({ error: 'not found', paths: ['/feed', '/feed.atom', '/healthz', ...(ops === aliveOnly ? [] : ['/readyz', '/metrics'])] }),
        false,
      );
    } catch (err) {
      if (err instanceof BadQueryError) return send(req, res, 400, 'application/json', json({ error: err.message }), false);
      log.error('feed request failed', { path: req.url, error: err });
      return send(req, res, 500, 'application/json', json({ error: 'internal error' }), false);
    }
  };
  const { url, close } = await listenOn(server, listen);
  log.info('risk feed listening', { url, topic: TOPICS.findings });
  return { url, close };
}
