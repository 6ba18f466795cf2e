/**
 * The workspace endpoint: CI jobs post their workspace, and it becomes an `org.workspaces` event.
 *
 *   POST /workspaces/{id}[?team=TEAM]
 *   Authorization: Bearer <the token in env CRATEWATCH_INGEST_TOKEN (name configurable)>
 *   body: the Cargo.lock text, or JSON {"lockfile": "...", "config"?, "audits"?, "importsLock"?, "metadata"?, "vex"?, "team"?}
 *         `vex`: {"vex.json" | "<name>.openvex.json": the OpenVEX document (object) or its text, ...}
 *
 *   202 {"workspace", "produced": true}    the event was produced (acknowledged by Kafka)
 *   200 {"workspace", "produced": false}   same content as last time: no new event
 *   400 {"error", "field"}                 the request is wrong and will be wrong again: `field` names what
 *                                          (`path`, `id`, `body`, `lockfile`, `config`, `metadata`, `vex.<file>`, …);
 *                                          `error` says how (the line or JSON path when known)
 *   401 {"error":"unauthorized"}           missing or wrong token (compared in constant time; nothing echoed)
 *   413 {"error", "reason", "limit"}       `body-too-large`: the body is over the body limit; `event-too-large`:
 *                                          the workspace's event would be over the topic's message limit
 *   500 {"error"}                          a bug or a refusal of the broker no retry changes (logged)
 *   503 {"error", "reason"}                only what a retry can fix (Kafka unreachable, no leader, timeout);
 *                                          with Retry-After
 *   GET /healthz → 200
 *
 * Clients (CI jobs) retry 503 and nothing else: every permanent problem has its own status, so a
 * retry loop never spins on a request that can never succeed.
 *
 * The token is read from the environment once at start; the server refuses to start without one.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  EventValidationError,
  FormatError,
  TOPICS,
  WORKSPACE_ID,
  encodeEvent,
  isVexFileName,
  parseLockfile,
  parseVexDocument,
  workspaceEvent,
  type VexDocument,
} from '@cratewatch/shared';
import { EnvError, WORKSPACE_MAX_MESSAGE_BYTES, envSecret, type Logger } from '@cratewatch/runtime';
import { METADATA_FILE, sortVex, workspaceChecksum, type WorkspaceFiles, type WorkspaceSource } from './sources/workspaces.js';

export interface EndpointOptions {
  host?: string;
  port?: number;
  /** Env var holding the bearer token (default CRATEWATCH_INGEST_TOKEN). */
  tokenEnv?: string;
  maxBodyBytes?: number;
  /**
   * Largest event the workspaces topic takes (its `max.message.bytes`, default the one ensureTopics
   * sets): a bigger one is a 413 before anything is sent.
   */
  maxEventBytes?: number;
  org: string;
  /** Team per known workspace id (from the config), used when the request names none. */
  teams?: Record<string, string>;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

class BodyTooLarge extends Error {}

/**
 * What the broker adds around a value in the record batch it checks against `max.message.bytes`
 * (batch header 61 bytes, the record's varints and attributes): a generous bound, so an event the
 * endpoint lets through is never refused by the broker for size.
 */
const BATCH_OVERHEAD = 512;

/** A send failure as the client should see it: a permanent problem, or one a retry can fix. */
export function classifyProduceError(err: unknown): { status: 413 | 500 | 503; reason: string } {
  // kafkajs wraps a broker refusal (KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded): look down the causes.
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const type = (e as { type?: unknown }).type;
    if (
      type === 'MESSAGE_TOO_LARGE' ||
      type === 'RECORD_LIST_TOO_LARGE' ||
      /larger than the max message size/.test(String((e as Error).message))
    )
      return { status: 413, reason: 'event-too-large' };
  }
  const chain: { name?: string; retriable?: boolean; type?: string }[] = [];
  for (let e: unknown = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++)
    chain.push(e as (typeof chain)[number]);
  const isKafka = chain.some((e) => typeof e.name === 'string' && e.name.startsWith('KafkaJS'));
  if (!isKafka) return { status: 500, reason: 'internal' };
  // The innermost kafkajs error says what happened; the outer ones only say that retries ran out.
  const root = chain.filter((e) => typeof e.name === 'string' && e.name.startsWith('KafkaJS')).at(-1)!;
  // A protocol error the broker calls permanent (authorization, invalid record, …) fails again on retry.
  if (root.name === 'KafkaJSProtocolError' && root.retriable === false)
    return { status: 500, reason: `broker refused: ${root.type ?? 'unknown'}` };
  // Connection refused/closed, request timeout, no leader, broker not found, retries exhausted on those.
  return { status: 503, reason: 'kafka-unavailable' };
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) return reject(new BodyTooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export class WorkspaceEndpoint {
  private server?: Server;
  private readonly expected: Buffer;

  constructor(
    private readonly workspaces: WorkspaceSource,
    private readonly log: Logger,
    private readonly opts: EndpointOptions,
  ) {
    const env = opts.tokenEnv ?? 'CRATEWATCH_INGEST_TOKEN';
    const token = envSecret(process.env, env, { minLength: 16 });
    if (!token) throw new EnvError(env, 'set to the bearer token of the workspace endpoint (16+ characters)', undefined);
    this.expected = digest(token.reveal());
  }

  private authorized(req: IncomingMessage): boolean {
    const h = req.headers.authorization ?? '';
    const m = /^Bearer\s+(.+)$/i.exec(h);
    // Hashing both sides gives equal-length buffers, so the comparison time says nothing about the token.
    return timingSafeEqual(digest(m ? m[1]!.trim() : ''), this.expected) && !!m;
  }

  async listen(): Promise<{ url: string; port: number }> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        // A throw from handle() is a bug (everything a request can get wrong is answered there):
        // a 500, which clients do not retry.
        this.log.error('endpoint failed', { error: err });
        if (!res.headersSent) send(res, 500, { error: 'internal error; see the ingest log' });
      });
    });
    this.server.requestTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.opts.port ?? 8420, this.opts.host ?? '127.0.0.1', resolve);
    });
    const a = this.server.address() as AddressInfo;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    this.log.info('workspace endpoint listening', { url: `http://${host}:${a.port}` });
    return { url: `http://${host}:${a.port}`, port: a.port };
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    await new Promise<void>((r) => {
      s.close(() => r());
      s.closeIdleConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://endpoint');
    } catch {
      req.resume();
      return bad(res, 'path', 'not a valid request path');
    }
    if (req.method === 'GET' && url.pathname === '/healthz') return send(res, 200, { ok: true });
    const m = /^\/workspaces\/(.+)$/.exec(url.pathname);
    if (!m) return send(res, 404, { error: 'not found: POST /workspaces/{id}' });
    if (req.method !== 'POST') return send(res, 405, { error: 'use POST' }, { allow: 'POST' });
    if (!this.authorized(req)) {
      req.resume();
      this.log.warn('endpoint: unauthorized request', { remote: req.socket.remoteAddress });
      return send(res, 401, { error: 'unauthorized' }, { 'www-authenticate': 'Bearer' });
    }
    const maxBody = this.opts.maxBodyBytes ?? 16 * 1024 * 1024;
    let body: Buffer;
    try {
      body = await readBody(req, maxBody);
    } catch (err) {
      if (err instanceof BodyTooLarge)
        return send(
          res,
          413,
          { error: `body larger than ${maxBody} bytes`, reason: 'body-too-large', limit: maxBody },
          { connection: 'close' },
        );
      // A broken upload (bad chunked encoding, the client aborting): the client's side, so a 400 if anyone is left to read it.
      this.log.warn('endpoint: reading the body failed', { error: err });
      return send(res, 400, { error: 'could not read the request body', field: 'body' });
    }
    let id: string;
    try {
      id = decodeURIComponent(m[1]!);
    } catch {
      // `%E0%A4%A`: a cut or invalid escape. The raw path is echoed (it is not secret), cut short.
      return bad(res, 'id', `workspace id "${m[1]!.slice(0, 100)}" is not valid percent-encoding (UTF-8)`);
    }
    if (!WORKSPACE_ID.test(id)) return bad(res, 'id', `workspace id "${id.slice(0, 100)}" must match ${WORKSPACE_ID}`);

    let lockText: string;
    let store: WorkspaceFiles['store'];
    let metadata: string | undefined;
    let vex: WorkspaceFiles['vex'];
    let team = url.searchParams.get('team') ?? undefined;
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type === 'application/json') {
      let doc: unknown;
      try {
        doc = JSON.parse(body.toString('utf8'));
      } catch (err) {
        return bad(res, 'body', `body is not JSON: ${(err as Error).message}`);
      }
      if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
        return bad(res, 'body', 'body: expected a JSON object {lockfile, config?, audits?, importsLock?, metadata?, vex?}');
      const o = doc as Record<string, unknown>;
      for (const k of Object.keys(o))
        if (!['lockfile', 'config', 'audits', 'importsLock', 'metadata', 'vex', 'team'].includes(k))
          return bad(
            res,
            k.slice(0, 100),
            `field \`${k.slice(0, 100)}\`: unknown (known: lockfile, config, audits, importsLock, metadata, vex, team)`,
          );
      if (typeof o.lockfile !== 'string') return bad(res, 'lockfile', 'field `lockfile`: required, the Cargo.lock text');
      lockText = o.lockfile;
      for (const k of ['config', 'audits', 'importsLock'] as const) {
        if (o[k] === undefined) continue;
        if (typeof o[k] !== 'string') return bad(res, k, `field \`${k}\`: expected the file's text`);
        (store ??= {})[k] = o[k] as string;
      }
      if (o.metadata !== undefined) {
        // `cargo metadata --format-version 1 --all-features` output, as the JSON object or as its text
        if (typeof o.metadata === 'string') {
          try {
            JSON.parse(o.metadata);
          } catch (err) {
            return bad(res, 'metadata', `field \`metadata\`: not JSON: ${(err as Error).message}`);
          }
          metadata = o.metadata;
        } else if (typeof o.metadata === 'object' && o.metadata !== null) metadata = JSON.stringify(o.metadata);
        else return bad(res, 'metadata', 'field `metadata`: expected cargo metadata JSON (object or text)');
      }
      if (o.vex !== undefined) {
        // The workspace's OpenVEX files by name, each the document (object) or its text; checked in
        // full below (a bad one is a 400 naming it and the JSON path, like a bad Cargo.lock line).
        if (typeof o.vex !== 'object' || o.vex === null || Array.isArray(o.vex))
          return bad(res, 'vex', 'field `vex`: expected an object {"vex.json" | "<name>.openvex.json": OpenVEX document (object or text)}');
        vex = [];
        for (const [name, d] of Object.entries(o.vex as Record<string, unknown>)) {
          if (!isVexFileName(name))
            return bad(
              res,
              `vex.${name.slice(0, 100)}`,
              `field \`vex.${name.slice(0, 100)}\`: a VEX file is named vex.json or <name>.openvex.json`,
            );
          if (typeof d === 'string') vex.push({ name, text: d });
          else if (typeof d === 'object' && d !== null) vex.push({ name, text: JSON.stringify(d) });
          else return bad(res, `vex.${name}`, `field \`vex.${name}\`: expected an OpenVEX document (object or text)`);
        }
      }
      if (o.team !== undefined) {
        if (typeof o.team !== 'string') return bad(res, 'team', 'field `team`: expected a string');
        team = o.team;
      }
    } else {
      lockText = body.toString('utf8');
    }
    team ??= this.opts.teams?.[id];
    const lockPath = `POST /workspaces/${id} Cargo.lock`;
    const checksum = workspaceChecksum(lockText, store, metadata, vex);
    // The event as the source will encode it (same inputs, same shared functions; only observedAt's
    // digits differ), built here so that whatever would make it fail is a 400 or 413 answered before
    // anything is sent: the file at fault, a metadata that does not fit the lockfile, or a size over
    // the topic's limit (which the broker would refuse with MESSAGE_TOO_LARGE).
    let size: number;
    try {
      const lock = parseLockfile(lockText, lockPath);
      const parsedVex: VexDocument[] = sortVex(vex ?? []).map((v) => parseVexDocument(v.text, `POST /workspaces/${id} ${v.name}`));
      const value = encodeEvent(
        TOPICS.workspaces,
        workspaceEvent({
          id,
          org: this.opts.org,
          ...(team ? { team } : {}),
          lock,
          ...(store ? { store } : {}),
          ...(metadata !== undefined
            ? { metadata: JSON.parse(metadata) as unknown, metadataFile: `POST /workspaces/${id} ${METADATA_FILE}` }
            : {}),
          ...(parsedVex.length ? { vex: parsedVex } : {}),
          origin: { path: lockPath, checksum },
          observedAt: new Date().toISOString(),
        }),
      );
      size = Buffer.byteLength(value) + Buffer.byteLength(id) + BATCH_OVERHEAD;
    } catch (err) {
      if (err instanceof FormatError) return bad(res, fieldOfFile(err.file, id), err.message);
      if (err instanceof EventValidationError) return bad(res, err.issues[0]?.split(':')[0] ?? 'body', err.message);
      throw err;
    }
    const maxEvent = this.opts.maxEventBytes ?? WORKSPACE_MAX_MESSAGE_BYTES;
    if (size > maxEvent) {
      this.log.warn('endpoint: workspace event too large', { workspace: id, bytes: size, limit: maxEvent });
      return send(res, 413, {
        error: `the workspace's event would be ${size} bytes, over the ${maxEvent} bytes the workspaces topic takes`,
        reason: 'event-too-large',
        limit: maxEvent,
      });
    }
    let produced: boolean;
    try {
      produced = await this.workspaces.submitFiles(
        { id, org: this.opts.org, ...(team ? { team } : {}) },
        {
          lockPath,
          lockText,
          ...(store ? { store } : {}),
          ...(metadata !== undefined ? { metadata } : {}),
          ...(vex?.length ? { vex } : {}),
          checksum,
        },
      );
    } catch (err) {
      const { status, reason } = classifyProduceError(err);
      this.log.error('endpoint: could not produce the workspace event', { workspace: id, status, reason, error: err });
      if (status === 413) {
        // The broker's limit is lower than ours (a topic created by hand, a broker setting): say so, do not retry.
        return send(res, 413, {
          error: `the broker refused the workspace's event (${size} bytes) as larger than its message limit`,
          reason,
          limit: maxEvent,
        });
      }
      if (status === 503)
        return send(
          res,
          503,
          { error: 'could not produce the workspace event: Kafka is unavailable; retry later', reason },
          { 'retry-after': '10' },
        );
      return send(res, 500, { error: `could not produce the workspace event (${reason}); see the ingest log`, reason });
    }
    this.log.info('endpoint: workspace received', { workspace: id, produced });
    return send(res, produced ? 202 : 200, { workspace: id, produced });
  }
}

/** The request field a FormatError's file stands for: a VEX file, the metadata, else the lockfile. */
function fieldOfFile(file: string, id: string): string {
  const name = file.startsWith(`POST /workspaces/${id} `) ? file.slice(`POST /workspaces/${id} `.length) : file;
  if (name === 'Cargo.lock') return 'lockfile';
  if (name === METADATA_FILE) return 'metadata';
  return isVexFileName(name) ? `vex.${name}` : 'body';
}

function bad(res: ServerResponse, field: string, error: string): void {
  send(res, 400, { error, field });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers }).end(JSON.stringify(body));
}
