/**
 * The operations endpoints every service serves (see docs/adr/0001-health-and-metrics.md):
 *
 *   GET /healthz   200 {"status":"alive"}: the process runs and answers. Open (no token): it tells
 *                  nothing but that, so a liveness probe needs no secret.
 *   GET /readyz    200 {"status":"ready", checks} or 503 {"status":"not ready", failing, checks}
 *   GET /metrics   Prometheus text (prom-client)
 *
 * /readyz and /metrics ask for `Authorization: Bearer <CRATEWATCH_OPS_TOKEN>` (the project rule:
 * everything that serves HTTP asks for a token), compared in constant time. Without the variable
 * (or with one too short) they answer 401 with a hint naming it: the service still runs.
 *
 * `opsRoutes` answers those three paths inside any server (the notifier's feed mounts them);
 * `startOpsServer` is a server of only them.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EnvError, envString, type Env } from './env-config.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import { readiness, type ReadyCheck } from './readiness.js';

export const OPS_TOKEN_ENV = 'CRATEWATCH_OPS_TOKEN';
export const OPS_TOKEN_MIN = 16;
export const OPS_PATHS = ['/healthz', '/readyz', '/metrics'] as const;

export interface Listen {
  host: string;
  port: number;
}

/** `host:port`, `[v6]:port` or `off` (→ undefined); unset or empty: `fallback`. */
export function parseListen(name: string, raw: string | undefined, fallback: string): Listen | undefined {
  const v = raw?.trim() || fallback;
  if (v.toLowerCase() === 'off') return undefined;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new EnvError(name, 'host:port or off', v);
  return { host: (m[1] ?? m[2])!, port };
}

/** The listen address in variable `name` (`parseListen`'s rules). */
export const envListen = (env: Env, name: string, fallback: string): Listen | undefined => parseListen(name, env[name], fallback);

/** The token, or why there is none (said in the 401 answer; never the value). */
export type OpsToken = { token: Buffer } | { missing: string };

export function opsTokenFromEnv(env: NodeJS.ProcessEnv = process.env): OpsToken {
  const t = envString(env, OPS_TOKEN_ENV);
  if (!t)
    return {
      missing: `${OPS_TOKEN_ENV} is not set on the server: set it (${OPS_TOKEN_MIN}+ characters) and send it as "Authorization: Bearer <token>"`,
    };
  if (t.length < OPS_TOKEN_MIN) return { missing: `${OPS_TOKEN_ENV} is shorter than ${OPS_TOKEN_MIN} characters: set a longer one` };
  return { token: digest(t) };
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Hashing both sides gives equal lengths, so the comparison's time says nothing about the token. */
function authorized(req: IncomingMessage, expected: Buffer): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
  return timingSafeEqual(digest(m ? m[1]!.trim() : ''), expected) && !!m;
}

export interface OpsOptions {
  metrics: Metrics;
  checks: ReadyCheck[];
  log: Logger;
  /** Default: read from the environment once, now. */
  token?: OpsToken;
}

function sendJson(req: IncomingMessage, res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'content-length': String(Buffer.byteLength(text)),
  });
  res.end(req.method === 'HEAD' ? undefined : text);
}

/**
 * A handler for the three paths: resolves true when it answered the request, false when the path
 * is not one of them (the caller serves it). Never throws: a failing check is a 503, not a crash.
 */
export function opsRoutes(o: OpsOptions): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const token = o.token ?? opsTokenFromEnv();
  if ('missing' in token) o.log.warn('/readyz and /metrics will answer 401', { why: token.missing });
  return async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://ops.invalid').pathname;
    if (!(OPS_PATHS as readonly string[]).includes(path)) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      sendJson(req, res, 405, { error: 'method not allowed' });
      return true;
    }
    if (path === '/healthz') {
      sendJson(req, res, 200, { status: 'alive' });
      return true;
    }
    if ('missing' in token) {
      sendJson(req, res, 401, { error: 'unauthorized', hint: token.missing });
      return true;
    }
    if (!authorized(req, token.token)) {
      sendJson(req, res, 401, { error: 'unauthorized' });
      return true;
    }
    try {
      if (path === '/readyz') {
        const r = await readiness(o.checks);
        sendJson(
          req,
          res,
          r.ready ? 200 : 503,
          r.ready ? { status: 'ready', checks: r.checks } : { status: 'not ready', failing: r.failing, checks: r.checks },
        );
      } else {
        const text = await o.metrics.text();
        res.writeHead(200, { 'content-type': o.metrics.contentType, 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : text);
      }
    } catch (err) {
      o.log.error('ops request failed', { path, error: err });
      if (!res.headersSent) sendJson(req, res, 500, { error: 'internal error' });
    }
    return true;
  };
}

export interface OpsServer {
  /** http://host:port, the address actually bound. */
  url: string;
  close(): Promise<void>;
}

/** Serves only /healthz, /readyz and /metrics on `listen` (port 0: any free port). */
export async function startOpsServer(listen: Listen, o: OpsOptions): Promise<OpsServer> {
  const routes = opsRoutes(o);
  const server = createServer((req, res) => {
    void routes(req, res).then((done) => {
      if (!done) sendJson(req, res, 404, { error: 'not found', paths: OPS_PATHS });
    });
  });
  const { url, close } = await listenOn(server, listen);
  o.log.info('ops endpoints listening', { url, paths: OPS_PATHS });
  return { url, close };
}

/** Starts `server` on `listen` (port 0: any free port); `close` also ends kept-alive connections. */
export async function listenOn(server: Server, listen: Listen): Promise<{ url: string; close: () => Promise<void> }> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    url: serverUrl(server.address() as AddressInfo),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function serverUrl(addr: AddressInfo): string {
  return `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`;
}
