/**
 * The pure parts of the re-drive: which DLQ records it retries (the `undeliverable` mark, or an
 * older record's reason) and which it never retries, the interval setting and the backoff.
 */
import { describe, expect, it } from 'vitest';
import { DlqRecordSchema, TOPICS, type FindingEvent } from '@cratewatch/shared';
import { DEFAULT_REDRIVE, classifyDlqRecord, parseRedriveInterval, redriveBackoffMs, routesFromReason, undeliverableDlqValue } from '../src/index.js';

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
  advisory: { id: 'RUSTSEC-2025-0001', title: 'test', url: 'https://rustsec.org/advisories/RUSTSEC-2025-0001.html', patched: [], aliases: [] },
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
    const bytes = Buffer.concat([Buffer.from(JSON.stringify(finding).slice(0, -1)), Buffer.from(',"x":"'), Buffer.from([0xff]), Buffer.from('"}')]);
    const raw = undeliverableDlqValue({ ...source, value: bytes }, 'not delivered to Slack: HTTP 500', { routes: ['default'], attempts: 0, firstAt: at.toISOString() }, at);
    const obj = JSON.parse(raw) as { value: null; valueBase64: string };
    expect(obj.value).toBeNull();
    expect(Buffer.from(obj.valueBase64, 'base64').equals(bytes)).toBe(true);
    const c = classifyDlqRecord(raw);
    expect(c.kind).toBe('undeliverable');
    if (c.kind !== 'undeliverable') return;
    // What a failed re-drive attempt writes again keeps the very bytes.
    const again = JSON.parse(undeliverableDlqValue({ ...source, value: c.value }, 'x', { routes: ['default'], attempts: 1, firstAt: at.toISOString() }, at)) as { valueBase64: string };
    expect(Buffer.from(again.valueBase64, 'base64').equals(bytes)).toBe(true);
  });

  it('a record written before the mark existed is recognised by its reason', () => {
    const old = (error: string) => JSON.stringify({ v: 1, topic: TOPICS.findings, partition: 0, offset: '7', key: finding.id, value: JSON.stringify(finding), error, service: 'notifier', at: at.toISOString() });
    const c = classifyDlqRecord(old('not delivered to Slack: webhook failed after 6 attempts; last: HTTP 503'));
    expect(c).toMatchObject({ kind: 'undeliverable', legacy: true, mark: { routes: ['default'], attempts: 0, firstAt: at.toISOString() } });
    expect(classifyDlqRecord(old('not delivered to route ops (in a digest of 12): HTTP 400: x; not delivered to route siem: HTTP 401: bad signature (not retried)'))).toMatchObject({
      mark: { routes: ['ops', 'siem'] },
    });
  });

  it('never retried: refused messages (bad input), other topics and services, unreadable records', () => {
    const rec = (o: Record<string, unknown>) => JSON.stringify({ v: 1, topic: TOPICS.findings, partition: 0, offset: '7', key: 'k', value: '{oops', error: 'invalid risk.findings event: (root): not JSON', service: 'notifier', at: at.toISOString(), ...o });
    expect(classifyDlqRecord(rec({}))).toEqual({ kind: 'not retried', why: 'a refused message (bad input)' });
    expect(classifyDlqRecord(rec({ value: JSON.stringify({ ...finding, severity: 'urgent' }), error: 'invalid risk.findings event: severity: Invalid enum value' }))).toEqual({
      kind: 'not retried',
      why: 'a refused message (bad input)',
    });
    // A mark on a value that is not a finding (hand-made): still not retried.
    expect(classifyDlqRecord(rec({ undeliverable: { routes: ['default'], attempts: 0, firstAt: at.toISOString() } }))).toEqual({ kind: 'not retried', why: 'its value is not a valid finding' });
    expect(classifyDlqRecord(rec({ topic: TOPICS.workspaces, error: 'not delivered to Slack: x' })).kind).toBe('not retried');
    expect(classifyDlqRecord(rec({ service: 'scorer', error: 'not delivered to Slack: x' })).kind).toBe('not retried');
    expect(classifyDlqRecord('{oops').kind).toBe('not retried');
    expect(classifyDlqRecord(null).kind).toBe('not retried');
    expect(classifyDlqRecord(JSON.stringify({ hello: 'world' })).kind).toBe('not retried');
  });

  it('routesFromReason names the routes of the notifier\'s own reasons only', () => {
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
