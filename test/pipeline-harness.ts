/**
 * Helpers for tests that run cratewatch's real services as processes against the real Kafka and
 * Neo4j of the test run, with the Slack webhook played by a real HTTP server on loopback.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';

export const repoRoot = resolve(__dirname, '..');
export const sharedData = resolve(repoRoot, '../shared/data');

export interface ReceivedAlert {
  at: number;
  body: { text?: string; blocks?: unknown[] } & Record<string, unknown>;
  raw: string;
}

/** A stand-in for Slack's incoming webhook: records every POST, answers 200 "ok". */
export async function webhookRecorder(): Promise<{ url: string; received: ReceivedAlert[]; close: () => Promise<void>; server: Server }> {
  const received: ReceivedAlert[] = [];
  const server = createServer((req, res) => {
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      try {
        received.push({ at: Date.now(), body: JSON.parse(raw), raw });
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      } catch {
        res.writeHead(400).end('invalid_payload');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/services/T000/B000/hook`,
    received,
    server,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

export interface Service {
  proc: ChildProcess;
  output: () => string;
  /** SIGTERM (clean stop) or SIGKILL (crash); resolves when the process has exited. */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

/** Starts `node services/<name>/dist/main.js args…` and resolves once it logs `ready`. */
export async function startService(name: 'scorer' | 'notifier', env: Record<string, string>, readyTimeoutMs = 90_000): Promise<Service> {
  const proc = spawn(process.execPath, [join(repoRoot, 'services', name, 'dist', 'main.js')], {
    // the notifier's risk feed on a free port, so no test depends on 8421 being free
    env: { ...process.env, NOTIFIER_FEED_LISTEN: '127.0.0.1:0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (c) => (out += c));
  proc.stderr!.on('data', (c) => (out += c));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  await new Promise<void>((resolveReady, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} not ready after ${readyTimeoutMs} ms:\n${out}`)), readyTimeoutMs);
    const check = () => {
      if (/"msg":"ready"/.test(out)) {
        clearTimeout(timer);
        resolveReady();
      }
    };
    proc.stderr!.on('data', check);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before ready:\n${out}`));
    });
  });
  return {
    proc,
    output: () => out,
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

/** Runs `node services/ingest/dist/main.js args…` to completion; throws with its output on failure. */
export async function runIngest(args: string[], env: Record<string, string>): Promise<string> {
  const proc = spawn(process.execPath, [join(repoRoot, 'services', 'ingest', 'dist', 'main.js'), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (c) => (out += c));
  proc.stderr!.on('data', (c) => (out += c));
  const code = await new Promise<number | null>((r) => proc.on('exit', r));
  if (code !== 0) throw new Error(`ingest ${args.join(' ')} exited ${code}:\n${out}`);
  return out;
}

export const tempDir = (prefix: string): string => mkdtempSync(join(tmpdir(), `cratewatch-${prefix}-`));

export async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 90_000, everyMs = 250): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const unique = (prefix: string): string => `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
