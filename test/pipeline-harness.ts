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
import { Kafka, logLevel } from 'kafkajs';
import neo4j from 'neo4j-driver';
import type { Advisory, AdvisoryEvent, DlqRecord, FindingEvent } from '@cratewatch/shared';
import { kafkaBrokers, neo4jAuth, neo4jUri, sendWhenReady } from './helpers.js';

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
    // the notifier's risk feed and the scorer's ops endpoints on free ports, so no test depends on 8421/8422 being free
    env: { ...process.env, NOTIFIER_FEED_LISTEN: '127.0.0.1:0', SCORER_HTTP_LISTEN: '127.0.0.1:0', ...env },
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

export async function waitFor<T>(
  what: string,
  fn: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 90_000,
  everyMs = 250,
): Promise<T> {
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

/**
 * What a test of the scorer process sees of its run (topics under `prefix`): Cypher on the graph,
 * sends to the run's topics, whether the scorer has consumed them, and every finding and DLQ record
 * the run produced (read by a consumer of its own from the beginning).
 */
export interface ScorerProbe {
  /** Cypher on the run's Neo4j; integers come back as JS numbers. */
  q: <T = Record<string, unknown>>(cypher: string, params?: Record<string, unknown>) => Promise<T[]>;
  /** Sends to a topic of the run (name without the prefix); a value that is not a string is sent as JSON. */
  send: (name: string, messages: { key: string; value: unknown }[]) => Promise<void>;
  /** Waits until the scorer's group has committed every message of these topics (so it is idle). */
  drained: (names: string[], timeoutMs?: number) => Promise<void>;
  /** Waits until `findings` holds everything the run's risk.findings topic holds now. */
  findingsSettled: () => Promise<void>;
  /** The run's finding events, in the order read. */
  findings: FindingEvent[];
  /** The records of the run's DLQ topics given to `scorerProbe`. */
  dlq: DlqRecord[];
  close: () => Promise<void>;
}

export async function scorerProbe(opts: { prefix: string; scorerGroup: string; dlqTopics?: string[] }): Promise<ScorerProbe> {
  const topic = (name: string) => `${opts.prefix}${name}`;
  const kafka = new Kafka({ clientId: `probe-${opts.prefix}`, brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
  const driver = neo4j.driver(neo4jUri(), neo4jAuth(), { disableLosslessIntegers: true });
  const producer = kafka.producer();
  const admin = kafka.admin();
  const consumer = kafka.consumer({ groupId: `${opts.prefix}findings-reader` });
  await Promise.all([producer.connect(), admin.connect(), consumer.connect()]);
  const findings: FindingEvent[] = [];
  const dlq: DlqRecord[] = [];
  await consumer.subscribe({ topics: [topic('risk.findings'), ...(opts.dlqTopics ?? []).map(topic)], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ topic: t, message }) => {
      const v = JSON.parse(message.value!.toString());
      if (t === topic('risk.findings')) findings.push(v as FindingEvent);
      else dlq.push(v as DlqRecord);
    },
  });
  return {
    findings,
    dlq,
    q: async <T = Record<string, unknown>>(cypher: string, params: Record<string, unknown> = {}): Promise<T[]> => {
      const s = driver.session();
      try {
        return (await s.run(cypher, params)).records.map((r) => r.toObject() as T);
      } finally {
        await s.close();
      }
    },
    send: (name, messages) =>
      sendWhenReady(producer, {
        topic: topic(name),
        messages: messages.map((m) => ({ key: m.key, value: typeof m.value === 'string' ? m.value : JSON.stringify(m.value) })),
      }),
    drained: (names, timeoutMs = 90_000) =>
      waitFor(
        `scorer to consume ${names.join(', ')}`,
        async () => {
          for (const name of names) {
            const ends = await admin.fetchTopicOffsets(topic(name));
            const [committed] = await admin.fetchOffsets({ groupId: opts.scorerGroup, topics: [topic(name)] });
            for (const e of ends) {
              const p = committed!.partitions.find((x) => x.partition === e.partition);
              if ((p && p.offset !== '-1' ? BigInt(p.offset) : 0n) < BigInt(e.high)) return false;
            }
          }
          return true;
        },
        timeoutMs,
        300,
      ).then(() => undefined),
    // The scorer produces a finding before it commits the input offset, so after `drained` the
    // topic's end covers everything that input raised.
    findingsSettled: async () => {
      const ends = await admin.fetchTopicOffsets(topic('risk.findings'));
      const total = ends.reduce((n, e) => n + Number(e.high), 0);
      await waitFor('findings consumer to catch up', () => findings.length >= total, 30_000, 100);
    },
    close: async () => {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.disconnect();
      await driver.close();
    },
  };
}

/** An advisory event as ingest sends it: a crates.io vulnerability on `pkg` (patched `>= 2.0.0` unless `o` says otherwise). */
export function testAdvisory(id: string, pkg: string, observedAt: string, o: Partial<Advisory> = {}): AdvisoryEvent {
  return {
    v: 1,
    advisory: {
      id,
      package: pkg,
      collection: 'crates',
      title: `${pkg} has a hole`,
      description: 'A test advisory.',
      date: '2098-01-01',
      aliases: [],
      related: [],
      categories: ['memory-corruption'],
      keywords: [],
      references: [],
      affected: { arch: [], os: [], functions: {} },
      versions: { patched: ['>= 2.0.0'], unaffected: [] },
      ...o,
    },
    origin: { path: `crates/${pkg}/${id}.md` },
    observedAt,
  };
}
