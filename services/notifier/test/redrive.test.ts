/**
 * The pure parts of the re-drive: which DLQ records it retries (the `undeliverable` mark, or an
 * older record's reason) and which it never retries, the interval setting and the backoff; and the
 * offsets a pass commits when the DLQ consumer reads a pass's own copy before the producer's answer
 * (a race real Kafka produced under load; redrive.kafka.test.ts covers the rest on a real broker).
 */
import type { Kafka, KafkaMessage, Producer } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { DlqRecordSchema, TOPICS, type FindingEvent } from '@cratewatch/shared';
import type { Logger } from '@cratewatch/runtime';
import {
  DEFAULT_REDRIVE,
  DEFAULT_ROUTE,
  Redriver,
  classifyDlqRecord,
  parseRedriveInterval,
  redriveBackoffMs,
  routesFromReason,
  undeliverableDlqValue,
  type DeliveryLog,
} from '../src/index.js';

const finding: FindingEvent = {
  v: 1,
  id: 'ws|serde|1.0.0|advisory:RUSTSEC-2025-0001',
  kind: 'advisory',
  state: 'open',
  severity: 'high',
  score: 7.5,
  workspace: { id: 'ws', org: 'acme' },
  crate: 'serde',
  version: '1.0.0',
  why: [{ signal: 'advisory.vulnerability', contribution: 7.5, detail: 'RUSTSEC-2025-0001: test' }],
  advisory: {
    id: 'RUSTSEC-2025-0001',
    title: 'test',
    url: 'https://rustsec.org/advisories/RUSTSEC-2025-0001.html',
    patched: [],
    aliases: [],
  },
  observedAt: '2025-03-01T10:00:00.000Z',
};
const source = { topic: TOPICS.findings, partition: 2, offset: '41', key: finding.id, value: Buffer.from(JSON.stringify(finding)) };
const at = new Date('2025-03-01T10:00:05.000Z');

describe('DLQ records the re-drive retries', () => {
  it('an undeliverable finding: the DLQ record of sendToDlq plus the mark; classified with its finding', () => {
    const mark = { routes: ['ops', 'siem'], attempts: 0, firstAt: at.toISOString() };
    const raw = undeliverableDlqValue(source, 'not delivered to route ops: HTTP 410; not delivered to route siem: HTTP 500', mark, at);
    const obj = JSON.parse(raw) as Record<string, unknown>;
    expect(DlqRecordSchema.parse(obj)).toEqual({
      v: 1,
      topic: TOPICS.findings,
      partition: 2,
      offset: '41',
      key: finding.id,
      value: JSON.stringify(finding),
      error: 'not delivered to route ops: HTTP 410; not delivered to route siem: HTTP 500',
      service: 'notifier',
      at: at.toISOString(),
    });
    expect(obj.undeliverable).toEqual(mark);
    const c = classifyDlqRecord(raw);
    expect(c.kind).toBe('undeliverable');
    if (c.kind !== 'undeliverable') return;
    expect(c.finding).toEqual(finding);
    expect(c.mark).toEqual(mark);
    expect(c.legacy).toBe(false);
  });

  it('a value that is not valid UTF-8 is kept as base64, and still classified', () => {
    const bytes = Buffer.concat([
      Buffer.from(JSON.stringify(finding).slice(0, -1)),
      Buffer.from(',"x":"'),
      Buffer.from([0xff]),
      Buffer.from('"}'),
    ]);
    const raw = undeliverableDlqValue(
      { ...source, value: bytes },
      'not delivered to Slack: HTTP 500',
      { routes: ['default'], attempts: 0, firstAt: at.toISOString() },
      at,
    );
    const obj = JSON.parse(raw) as { value: null; valueBase64: string };
    expect(obj.value).toBeNull();
    expect(Buffer.from(obj.valueBase64, 'base64').equals(bytes)).toBe(true);
    const c = classifyDlqRecord(raw);
    expect(c.kind).toBe('undeliverable');
    if (c.kind !== 'undeliverable') return;
    // What a failed re-drive attempt writes again keeps the very bytes.
    const again = JSON.parse(
      undeliverableDlqValue({ ...source, value: c.value }, 'x', { routes: ['default'], attempts: 1, firstAt: at.toISOString() }, at),
    ) as { valueBase64: string };
    expect(Buffer.from(again.valueBase64, 'base64').equals(bytes)).toBe(true);
  });

  it('a record written before the mark existed is recognised by its reason', () => {
    const old = (error: string) =>
      JSON.stringify({
        v: 1,
        topic: TOPICS.findings,
        partition: 0,
        offset: '7',
        key: finding.id,
        value: JSON.stringify(finding),
        error,
        service: 'notifier',
        at: at.toISOString(),
      });
    const c = classifyDlqRecord(old('not delivered to Slack: webhook failed after 6 attempts; last: HTTP 503'));
    expect(c).toMatchObject({ kind: 'undeliverable', legacy: true, mark: { routes: ['default'], attempts: 0, firstAt: at.toISOString() } });
    expect(
      classifyDlqRecord(
        old(
          'not delivered to route ops (in a digest of 12): HTTP 400: x; not delivered to route siem: HTTP 401: bad signature (not retried)',
        ),
      ),
    ).toMatchObject({
      mark: { routes: ['ops', 'siem'] },
    });
  });

  it('never retried: refused messages (bad input), other topics and services, unreadable records', () => {
    const rec = (o: Record<string, unknown>) =>
      JSON.stringify({
        v: 1,
        topic: TOPICS.findings,
        partition: 0,
        offset: '7',
        key: 'k',
        value: '{oops',
        error: 'invalid risk.findings event: (root): not JSON',
        service: 'notifier',
        at: at.toISOString(),
        ...o,
      });
    expect(classifyDlqRecord(rec({}))).toEqual({ kind: 'not retried', why: 'a refused message (bad input)' });
    expect(
      classifyDlqRecord(
        rec({
          value: JSON.stringify({ ...finding, severity: 'urgent' }),
          error: 'invalid risk.findings event: severity: Invalid enum value',
        }),
      ),
    ).toEqual({
      kind: 'not retried',
      why: 'a refused message (bad input)',
    });
    // A mark on a value that is not a finding (hand-made): still not retried.
    expect(classifyDlqRecord(rec({ undeliverable: { routes: ['default'], attempts: 0, firstAt: at.toISOString() } }))).toEqual({
      kind: 'not retried',
      why: 'its value is not a valid finding',
    });
    expect(classifyDlqRecord(rec({ topic: TOPICS.workspaces, error: 'not delivered to Slack: x' })).kind).toBe('not retried');
    expect(classifyDlqRecord(rec({ service: 'scorer', error: 'not delivered to Slack: x' })).kind).toBe('not retried');
    expect(classifyDlqRecord('{oops').kind).toBe('not retried');
    expect(classifyDlqRecord(null).kind).toBe('not retried');
    expect(classifyDlqRecord(JSON.stringify({ hello: 'world' })).kind).toBe('not retried');
  });

  it("routesFromReason names the routes of the notifier's own reasons only", () => {
    expect(routesFromReason('not delivered to Slack: HTTP 500')).toEqual(['default']);
    expect(routesFromReason('not delivered to route a.b_c-1: x; not delivered to route z (in a digest of 3): y')).toEqual(['a.b_c-1', 'z']);
    expect(routesFromReason('invalid risk.findings event: not delivered to route x: y')).toEqual([]);
    expect(routesFromReason('')).toEqual([]);
  });
});

describe('re-drive settings', () => {
  it('NOTIFIER_REDRIVE_INTERVAL_MS: default 5 minutes, off, a positive whole number', () => {
    expect(parseRedriveInterval(undefined)).toBe(300_000);
    expect(parseRedriveInterval('')).toBe(300_000);
    expect(parseRedriveInterval(' OFF ')).toBe('off');
    expect(parseRedriveInterval('250')).toBe(250);
    for (const bad of ['0', '-5', '1.5', '5m', 'no']) expect(() => parseRedriveInterval(bad)).toThrow(/NOTIFIER_REDRIVE_INTERVAL_MS/);
  });

  it('backoff: one interval after the first failed attempt, doubling, capped (6 h by default)', () => {
    const { intervalMs, maxBackoffMs } = DEFAULT_REDRIVE;
    expect([1, 2, 3, 4].map((n) => redriveBackoffMs(n, intervalMs, maxBackoffMs) / 60_000)).toEqual([5, 10, 20, 40]);
    expect(redriveBackoffMs(7, intervalMs, maxBackoffMs) / 60_000).toBe(320);
    expect(redriveBackoffMs(8, intervalMs, maxBackoffMs)).toBe(6 * 3600_000);
    expect(redriveBackoffMs(500, intervalMs, maxBackoffMs)).toBe(6 * 3600_000);
  });
});

/**
 * The DLQ as the Redriver's consumer sees it, in process, so that the test decides the order of two
 * things a real broker leaves to chance: the copy a failed attempt writes being fetched, and the
 * producer's acknowledgement of that write.
 */
function inProcessDlq() {
  const messages: KafkaMessage[] = [];
  let eachBatch:
    | ((p: { batch: { partition: number; messages: KafkaMessage[] }; isStale: () => boolean; isRunning: () => boolean }) => Promise<void>)
    | undefined;
  const commits: { partition: number; offset: string }[][] = [];
  const append = async (key: string, value: string) => {
    const m = {
      key: Buffer.from(key),
      value: Buffer.from(value),
      offset: String(messages.length),
      timestamp: '0',
      attributes: 0,
      headers: {},
    } as KafkaMessage;
    messages.push(m);
    await eachBatch!({ batch: { partition: 0, messages: [m] }, isStale: () => false, isRunning: () => true });
  };
  const consumer = {
    events: { GROUP_JOIN: 'group_join' },
    on: () => undefined,
    connect: async () => undefined,
    subscribe: async () => undefined,
    run: async (o: { eachBatch: typeof eachBatch }) => void (eachBatch = o.eachBatch),
    commitOffsets: async (offsets: { partition: number; offset: string }[]) =>
      void commits.push(offsets.map(({ partition, offset }) => ({ partition, offset }))),
    disconnect: async () => undefined,
  };
  return { kafka: { consumer: () => consumer } as unknown as Kafka, append, commits, messages };
}

describe('what a pass commits', () => {
  it('a copy the consumer reads before the producer answers keeps its place: the commit never passes a pending state', async () => {
    const dlq = inProcessDlq();
    // The producer writes the copy, and the consumer reads it, before send() resolves.
    const producer = {
      send: async (r: { messages: { key: string; value: string }[] }) => {
        for (const m of r.messages) await dlq.append(m.key, m.value);
        return [];
      },
    } as unknown as Producer;
    const silent: Logger = {
      debug: () => undefined,
      info: () => undefined,
      warn: () => undefined,
      error: () => undefined,
    } as unknown as Logger;
    const abort = new AbortController();
    const r = new Redriver({
      kafka: dlq.kafka,
      producer,
      log: silent,
      groupId: 'g',
      routes: [{ name: DEFAULT_ROUTE, webhookUrl: 'http://127.0.0.1:9/unused' }],
      keyFilter: undefined,
      deliveries: { last: () => undefined, record: async () => undefined } as unknown as DeliveryLog,
      unrecorded: new Map(),
      latest: () => undefined,
      exclusive: (fn) => fn(),
      deliver: async (_route, due) => ({ failed: due.map((d) => ({ d, reason: 'not delivered to Slack: HTTP 503' })), untried: [] }),
      signal: abort.signal,
      intervalMs: 3_600_000,
      maxBackoffMs: DEFAULT_REDRIVE.maxBackoffMs,
    });
    await r.start();
    const mark = { routes: [DEFAULT_ROUTE], attempts: 0, firstAt: at.toISOString() };
    await dlq.append(finding.id, undeliverableDlqValue(source, 'not delivered to Slack: HTTP 503', mark, at));

    const pass = await r.pass();
    expect(pass).toMatchObject({ tried: 1, delivered: 0, pending: 1 });
    // The copy (offset 1, attempts 1) is what now stands for the state: the commit stops at it, so a
    // restart reads it again. Committing offset 2 (everything read) lost the state on a restart.
    expect(
      dlq.messages.map((m) => (JSON.parse(m.value!.toString()) as { undeliverable: { attempts: number } }).undeliverable.attempts),
    ).toEqual([0, 1]);
    expect(dlq.commits.at(-1)).toEqual([{ partition: 0, offset: '1' }]);
    expect(r.status().pending).toBe(1);
    abort.abort();
    await r.stop();
  });
});
