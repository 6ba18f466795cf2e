/**
 * Test helpers: a real Slack-webhook stand-in (node:http on 127.0.0.1) that records every request
 * and answers from a script, a logger that records log lines (and echoes them with DEBUG set), and
 * `useKafka`: the real-Kafka setup every Kafka test file of the notifier shares.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Kafka, Producer } from 'kafkajs';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { DlqRecordSchema, TOPICS, dlqTopic, type DlqRecord, type FindingEvent } from '@cratewatch/shared';
import { ensureTopics, kafkaClient, withAdmin, type Logger } from '@cratewatch/runtime';
import { startNotifier, type Notifier, type NotifierOptions, type UndeliverableMark } from '../src/index.js';

/** A DLQ record as read back, with the notifier's `undeliverable` mark when it has one. */
export type DlqEntry = DlqRecord & { undeliverable?: UndeliverableMark };

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
  const write =
    (level: string) =>
    (msg: string, fields: Record<string, unknown> = {}) => {
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

export interface KafkaTestEnv {
  /** KAFKA_BROKERS as given by the root vitest globalSetup. */
  readonly brokers: string;
  readonly kafka: Kafka;
  /** Registers something to undo after the current test (run in reverse order, errors ignored). */
  cleanup(fn: () => Promise<void>): void;
  /** Produces findings (keyed by id) or raw key/value pairs to risk.findings. */
  produce(...items: (FindingEvent | { key: string; value: string | null })[]): Promise<void>;
  /** A loopback webhook closed after the test. */
  hook(opts?: WebhookOptions): Promise<Webhook>;
  /**
   * A notifier that handles only the findings of the given workspaces (key prefix `ws|`), stopped
   * after the test; resolves once it logged 'ready'.
   */
  notifier(workspaces: string[], opts: NotifierOptions): Promise<Notifier & { log: ReturnType<typeof captureLogger> }>;
  /** Follows risk.findings.dlq from the beginning, keeping the records whose key starts with the prefix. */
  dlqReader(keyPrefix: string): Promise<DlqEntry[]>;
  /** Produces raw values to risk.findings.dlq (a record as an older notifier wrote it, say). */
  produceDlq(...items: { key: string; value: string }[]): Promise<void>;
}

/**
 * The real-Kafka setup of a test file: a client and producer (beforeAll), topics ensured, per-test
 * cleanups (afterEach). The file must set CRATEWATCH_TOPIC_PREFIX in `vi.hoisted` (before
 * @cratewatch/shared loads) to a namespace starting with `namespace`; this checks it.
 */
export function useKafka(namespace: string): KafkaTestEnv {
  const brokers = process.env.KAFKA_BROKERS;
  if (!brokers) throw new Error('KAFKA_BROKERS is not set: these tests need the Kafka the root vitest globalSetup starts');
  let kafka: Kafka | undefined;
  let producer: Producer | undefined;
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    expect(TOPICS.findings.startsWith(namespace)).toBe(true);
    kafka = kafkaClient(namespace.replace(/[^A-Za-z0-9-]/g, ''), brokers.split(','));
    await withAdmin(kafka, (a) => ensureTopics(a));
    producer = kafka.producer();
    await producer.connect();
  });
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  });
  afterAll(async () => {
    await producer?.disconnect();
  });

  const env: KafkaTestEnv = {
    brokers,
    get kafka() {
      if (!kafka) throw new Error('useKafka: the client exists only inside tests (after beforeAll)');
      return kafka;
    },
    cleanup: (fn) => void cleanups.push(fn),
    produce: async (...items) => {
      await producer!.send({
        topic: TOPICS.findings,
        messages: items.map((f) => ('key' in f ? f : { key: f.id, value: JSON.stringify(f) })),
      });
    },
    hook: async (opts) => {
      const h = await startWebhook(opts);
      cleanups.push(() => h.close());
      return h;
    },
    notifier: async (workspaces, opts) => {
      const log = captureLogger();
      const n = await startNotifier({
        kafka: env.kafka,
        log,
        keyFilter: (k) => workspaces.some((ws) => k?.startsWith(`${ws}|`) ?? false),
        scope: workspaces.map((ws) => `${ws}|`).join(','),
        ...opts,
      });
      cleanups.push(() => n.stop());
      expect(log.entries.some((e) => e.msg === 'ready')).toBe(true);
      return Object.assign(n, { log });
    },
    dlqReader: async (keyPrefix) => {
      const records: DlqEntry[] = [];
      const consumer = env.kafka.consumer({ groupId: `${namespace}dlq-${randomUUID()}` });
      await consumer.connect();
      await consumer.subscribe({ topics: [dlqTopic(TOPICS.findings)], fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          if (!message.key?.toString().startsWith(keyPrefix) || !message.value) return;
          const raw = JSON.parse(message.value.toString()) as { undeliverable?: UndeliverableMark };
          records.push({ ...DlqRecordSchema.parse(raw), ...(raw.undeliverable ? { undeliverable: raw.undeliverable } : {}) });
        },
      });
      cleanups.push(() => consumer.disconnect());
      return records;
    },
    produceDlq: async (...items) => {
      await producer!.send({ topic: dlqTopic(TOPICS.findings), messages: items });
    },
  };
  return env;
}

/** A unique id for a workspace or a consumer group. */
export const uniq = (prefix: string) => `${prefix}-${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;

export const settle = (ms = 1500) => new Promise((r) => setTimeout(r, ms));
