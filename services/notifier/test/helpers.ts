/**
 * Test helpers: a real Slack-webhook stand-in (node:http on 127.0.0.1) that records every request
 * and answers from a script, and a logger that records log lines (and echoes them with DEBUG set).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '@cratewatch/runtime';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  json: unknown;
  at: number;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface WebhookOptions {
  /** Replies for the first requests, in order; then `fallback`. */
  script?: Reply[];
  /** Reply once the script is used up, or computed per request (default 200 "ok"). */
  fallback?: Reply | ((req: RecordedRequest) => Reply);
  /** Delay before each answer, in ms. */
  delayMs?: number;
}

export interface Webhook {
  /** The URL to post to; its path plays the secret part of a Slack webhook URL. */
  url: string;
  secretPath: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export async function startWebhook(opts: WebhookOptions = {}): Promise<Webhook> {
  const script = [...(opts.script ?? [])];
  const requests: RecordedRequest[] = [];
  const secretPath = `/services/T0TEST/B0TEST/${Math.random().toString(36).slice(2)}secret`;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      const rec: RecordedRequest = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, json, at: Date.now() };
      requests.push(rec);
      const fb = opts.fallback ?? { status: 200, body: 'ok' };
      const reply = script.shift() ?? (typeof fb === 'function' ? fb(rec) : fb);
      const answer = () => {
        res.writeHead(reply.status, { 'content-type': 'text/plain', ...reply.headers });
        res.end(reply.body ?? (reply.status === 200 ? 'ok' : 'error'));
      };
      if (opts.delayMs) setTimeout(answer, opts.delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${secretPath}`,
    secretPath,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface LogEntry {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

export function captureLogger(): Logger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const write = (level: string) => (msg: string, fields: Record<string, unknown> = {}) => {
    entries.push({ level, msg, fields });
    if (process.env.DEBUG) process.stderr.write(`${JSON.stringify({ t: new Date().toISOString(), level, msg, ...fields })}\n`);
  };
  return { entries, debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

export async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 60_000, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
