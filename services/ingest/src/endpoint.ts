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
 *   400 {"error"}                          bad id, bad JSON (names the field), bad Cargo.lock (names the line/field) or bad VEX document (names the file and JSON path)
 *   401 {"error":"unauthorized"}           missing or wrong token (compared in constant time; nothing echoed)
 *   413 {"error"}                          body over the size limit
 *   GET /healthz → 200
 *
 * The token is read from the environment once at start; the server refuses to start without one.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FormatError, WORKSPACE_ID, isVexFileName, parseLockfile, parseVexDocument } from '@cratewatch/shared';
import type { Logger } from '@cratewatch/runtime';
import { workspaceChecksum, type WorkspaceFiles, type WorkspaceSource } from './sources/workspaces.js';

export interface EndpointOptions {
  host?: string;
  port?: number;
  /** Env var holding the bearer token (default CRATEWATCH_INGEST_TOKEN). */
  tokenEnv?: string;
  maxBodyBytes?: number;
  org: string;
  /** Team per known workspace id (from the config), used when the request names none. */
  teams?: Record<string, string>;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

class BodyTooLarge extends Error {}

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
    const token = process.env[env];
    if (!token || token.length < 16) throw new Error(`the workspace endpoint needs a bearer token of at least 16 characters in the environment variable ${env}`);
    this.expected = digest(token);
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
        this.log.error('endpoint failed', { error: err });
        if (!res.headersSent) send(res, 503, { error: 'could not produce the workspace event; retry later' });
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
    const url = new URL(req.url ?? '/', 'http://endpoint');
    if (req.method === 'GET' && url.pathname === '/healthz') return send(res, 200, { ok: true });
    const m = /^\/workspaces\/(.+)$/.exec(url.pathname);
    if (!m) return send(res, 404, { error: 'not found: POST /workspaces/{id}' });
    if (req.method !== 'POST') return send(res, 405, { error: 'use POST' }, { allow: 'POST' });
    if (!this.authorized(req)) {
      req.resume();
      this.log.warn('endpoint: unauthorized request', { remote: req.socket.remoteAddress });
      return send(res, 401, { error: 'unauthorized' }, { 'www-authenticate': 'Bearer' });
    }
    let body: Buffer;
    try {
      body = await readBody(req, this.opts.maxBodyBytes ?? 16 * 1024 * 1024);
    } catch (err) {
      if (err instanceof BodyTooLarge) return send(res, 413, { error: `body larger than ${this.opts.maxBodyBytes ?? 16 * 1024 * 1024} bytes` }, { connection: 'close' });
      throw err;
    }
    const id = decodeURIComponent(m[1]!);
    if (!WORKSPACE_ID.test(id)) return send(res, 400, { error: `workspace id "${id.slice(0, 100)}" must match ${WORKSPACE_ID}` });

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
        return send(res, 400, { error: `body is not JSON: ${(err as Error).message}` });
      }
      if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return send(res, 400, { error: 'body: expected a JSON object {lockfile, config?, audits?, importsLock?, metadata?, vex?}' });
      const o = doc as Record<string, unknown>;
      for (const k of Object.keys(o)) if (!['lockfile', 'config', 'audits', 'importsLock', 'metadata', 'vex', 'team'].includes(k)) return send(res, 400, { error: `field \`${k}\`: unknown (known: lockfile, config, audits, importsLock, metadata, vex, team)` });
      if (typeof o.lockfile !== 'string') return send(res, 400, { error: 'field `lockfile`: required, the Cargo.lock text' });
      lockText = o.lockfile;
      for (const k of ['config', 'audits', 'importsLock'] as const) {
        if (o[k] === undefined) continue;
        if (typeof o[k] !== 'string') return send(res, 400, { error: `field \`${k}\`: expected the file's text` });
        (store ??= {})[k] = o[k] as string;
      }
      if (o.metadata !== undefined) {
        // `cargo metadata --format-version 1 --all-features` output, as the JSON object or as its text
        if (typeof o.metadata === 'string') {
          try {
            JSON.parse(o.metadata);
          } catch (err) {
            return send(res, 400, { error: `field \`metadata\`: not JSON: ${(err as Error).message}` });
          }
          metadata = o.metadata;
        }
        else if (typeof o.metadata === 'object' && o.metadata !== null) metadata = JSON.stringify(o.metadata);
        else return send(res, 400, { error: 'field `metadata`: expected cargo metadata JSON (object or text)' });
      }
      if (o.vex !== undefined) {
        // The workspace's OpenVEX files by name, each the document (object) or its text; checked in
        // full below (a bad one is a 400 naming it and the JSON path, like a bad Cargo.lock line).
        if (typeof o.vex !== 'object' || o.vex === null || Array.isArray(o.vex)) return send(res, 400, { error: 'field `vex`: expected an object {"vex.json" | "<name>.openvex.json": OpenVEX document (object or text)}' });
        vex = [];
        for (const [name, d] of Object.entries(o.vex as Record<string, unknown>)) {
          if (!isVexFileName(name)) return send(res, 400, { error: `field \`vex.${name.slice(0, 100)}\`: a VEX file is named vex.json or <name>.openvex.json` });
          if (typeof d === 'string') vex.push({ name, text: d });
          else if (typeof d === 'object' && d !== null) vex.push({ name, text: JSON.stringify(d) });
          else return send(res, 400, { error: `field \`vex.${name}\`: expected an OpenVEX document (object or text)` });
        }
      }
      if (o.team !== undefined) {
        if (typeof o.team !== 'string') return send(res, 400, { error: 'field `team`: expected a string' });
        team = o.team;
      }
    } else {
      lockText = body.toString('utf8');
    }
    team ??= this.opts.teams?.[id];
    const lockPath = `POST /workspaces/${id} Cargo.lock`;
    try {
      parseLockfile(lockText, lockPath);
      for (const v of vex ?? []) parseVexDocument(v.text, `POST /workspaces/${id} ${v.name}`);
    } catch (err) {
      if (err instanceof FormatError) return send(res, 400, { error: err.message });
      throw err;
    }
    const produced = await this.workspaces.submitFiles(
      { id, org: this.opts.org, ...(team ? { team } : {}) },
      { lockPath, lockText, ...(store ? { store } : {}), ...(metadata !== undefined ? { metadata } : {}), ...(vex?.length ? { vex } : {}), checksum: workspaceChecksum(lockText, store, metadata, vex) },
    );
    this.log.info('endpoint: workspace received', { workspace: id, produced });
    return send(res, produced ? 202 : 200, { workspace: id, produced });
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers }).end(JSON.stringify(body));
}
