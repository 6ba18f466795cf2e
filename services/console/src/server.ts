/**
 * The console's HTTP server: `/healthz`, the login and logout forms' targets, the JSON API under
 * `/api/` (a token or a session required: 401 without), and the web UI for every other path.
 * Errors are one line naming what was wrong; a refused or timed-out query says so and nothing of
 * the server (no stack, no URI, no token).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { QueryRefusedError, QueryTimeoutError } from '@cratewatch/sandbox';
import type { Logger } from '@cratewatch/runtime';
import { answer, BadRequest, type ApiAnswer, type ApiContext } from './api.js';
import type { ConsoleAuth } from './auth.js';
import { ParamError } from './saved.js';
import { SECURITY_HEADERS, serveStatic } from './static.js';

export interface ConsoleServerOptions extends ApiContext {
  auth: ConsoleAuth;
  webRoot: string;
  log: Logger;
}

const LOGIN_BODY_MAX = 4096;

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    ...SECURITY_HEADERS,
    ...headers,
  });
  res.end(JSON.stringify(body));
}

async function readBody(req: IncomingMessage): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > LOGIN_BODY_MAX) throw new BadRequest(`the body is larger than ${LOGIN_BODY_MAX} bytes`);
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** POST /login: a form (token=…) → 303 to the app with the session cookie; JSON {token} → 200 / 401. */
async function login(o: ConsoleServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const form = !(req.headers['content-type'] ?? '').includes('application/json');
  const text = await readBody(req);
  let token: unknown;
  try {
    token = form ? new URLSearchParams(text).get('token') : (JSON.parse(text) as { token?: unknown }).token;
  } catch {
    throw new BadRequest('the body is not JSON: send {"token": "…"}');
  }
  const s = typeof token === 'string' ? o.auth.login(token.trim()) : undefined;
  if (s) o.log.info('console login', { name: s.caller.name });
  else o.log.warn('console login refused', {});
  if (form) {
    res.writeHead(303, { location: s ? '/' : '/login?failed=1', ...(s ? { 'set-cookie': s.cookie } : {}), ...SECURITY_HEADERS });
    res.end();
  } else if (s) send(res, 200, { name: s.caller.name, scope: s.caller.scope }, { 'set-cookie': s.cookie });
  else send(res, 401, { error: 'not a console token' });
}

function sendAnswer(res: ServerResponse, a: ApiAnswer): void {
  if ('csv' in a) {
    res.writeHead(200, {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="${a.filename}"`,
      'cache-control': 'no-store',
      ...SECURITY_HEADERS,
    });
    res.end(a.csv);
  } else send(res, a.status, a.json);
}

async function api(o: ConsoleServerOptions, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const who = o.auth.authorize(req);
  if ('status' in who) return send(res, 401, { error: 'unauthorized', hint: who.error }, { 'www-authenticate': 'Bearer' });
  if (req.method !== 'GET') return send(res, 405, { error: `${req.method} is not allowed here` }, { allow: 'GET' });
  const segments = url.pathname.slice('/api/'.length).split('/').filter(Boolean).map(decodeURIComponent);
  if (segments[0] === 'me') return send(res, 200, { name: who.name, scope: who.scope });
  sendAnswer(res, await answer(o, who.scope, segments, url.searchParams));
}

function failure(o: ConsoleServerOptions, res: ServerResponse, err: unknown): void {
  if (err instanceof BadRequest || err instanceof ParamError || err instanceof URIError)
    return send(res, 400, { error: (err as Error).message });
  if (err instanceof QueryRefusedError) return send(res, 400, { error: err.message });
  if (err instanceof QueryTimeoutError) return send(res, 504, { error: err.message });
  o.log.error('console request failed', { error: (err as Error).message });
  send(res, 500, { error: 'internal error (the console logged it)' });
}

async function handle(o: ConsoleServerOptions, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://console.invalid');
  const p = url.pathname;
  if (p === '/healthz') return send(res, 200, { status: 'alive' });
  if (p === '/login' && req.method === 'POST') return login(o, req, res);
  if (p === '/logout' && req.method === 'POST') {
    res.writeHead(303, { location: '/login', 'set-cookie': o.auth.logout(req), ...SECURITY_HEADERS });
    return void res.end();
  }
  if (p === '/api' || p.startsWith('/api/')) return api(o, req, res, url);
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: `${req.method} is not allowed here` });
  await serveStatic(o.webRoot, p, res);
}

export function consoleServer(o: ConsoleServerOptions): Server {
  return createServer((req, res) => {
    handle(o, req, res).catch((err: unknown) => failure(o, res, err));
  });
}
