import { describe, expect, it } from 'vitest';
import type { KafkaMessage } from 'kafkajs';
import type { FindingEvent } from '@cratewatch/shared';
import type { ConsumedMessage } from '@cratewatch/runtime';
import type { DeliveryRecord } from '../src/deliveries.js';
import { WindowHandler, decodeWindow, skipLine, type WindowDue } from '../src/window-handler.js';
import { deliveryKey, type Route } from '../src/routes.js';
import { NotifierMetrics } from '../src/metrics.js';
import { captureLogger } from './helpers.js';

const finding = (o: Partial<FindingEvent> = {}): FindingEvent => ({
  v: 1,
  id: 'ws-a|aes|0.9.2|unvetted',
  kind: 'unvetted',
  state: 'open',
  severity: 'high',
  score: 8.2,
  workspace: { id: 'ws-a', org: 'acme' },
  crate: 'aes',
  version: '0.9.2',
  why: [],
  observedAt: '2025-02-01T00:00:00.000Z',
  ...o,
});
const msg = (key: string | null, value: string | null, offset: string): ConsumedMessage => ({
  topic: 'risk.findings',
  partition: 2,
  key,
  message: {
    key: key === null ? null : Buffer.from(key),
    value: value === null ? null : Buffer.from(value),
    offset,
    timestamp: '0',
    attributes: 0,
    headers: {},
  } as unknown as KafkaMessage,
});

describe('decodeWindow', () => {
  const ok = finding();
  const window = [
    msg(ok.id, JSON.stringify(ok), '10'),
    msg('ws-a|gone|1.0.0|unvetted', null, '11'),
    msg('ws-a|bad|1.0.0|unvetted', JSON.stringify({ ...ok, severity: 'dire' }), '12'),
    msg('other|x|1.0.0|unvetted', JSON.stringify(finding({ id: 'other|x|1.0.0|unvetted' })), '13'),
  ];

  it('sorts a window into findings (with where they were read), tombstones and refusals', () => {
    const d = decodeWindow(window);
    expect(d.items.map((i) => i.where)).toEqual([
      { finding: ok.id, state: 'open', partition: 2, offset: '10' },
      { finding: 'other|x|1.0.0|unvetted', state: 'open', partition: 2, offset: '13' },
    ]);
    expect(d.items[0]!.f).toEqual(ok);
    expect(d.items.every((i) => i.failures.length === 0)).toBe(true);
    expect(d.tombstones.map((m) => m.message.offset)).toEqual(['11']);
    expect(d.refused.map((r) => r.m.message.offset)).toEqual(['12']);
    expect(d.refused[0]!.reason).toContain('severity');
  });

  it('leaves out, entirely, what the key filter does not accept', () => {
    const d = decodeWindow(window, (k) => k?.startsWith('ws-a|') ?? false);
    expect(d.items.map((i) => i.where.offset)).toEqual(['10']);
    expect(d.tombstones).toHaveLength(1);
    expect(d.refused).toHaveLength(1);
    expect(decodeWindow(window, () => false)).toEqual({ items: [], tombstones: [], refused: [] });
  });
});

describe('skipLine', () => {
  const f = finding({ observedAt: '2025-02-01T00:00:00.000Z' });
  const rec = (o: Partial<DeliveryRecord> = {}): DeliveryRecord => ({
    v: 1,
    state: 'open',
    at: '2025-02-02T00:00:00.000Z',
    observedAt: '2025-02-01T00:00:00.000Z',
    ...o,
  });

  it('the same state, delivered before or earlier in this window', () => {
    expect(skipLine('already delivered', undefined, rec(), f)).toEqual([
      'skipped: already delivered',
      { deliveredAt: '2025-02-02T00:00:00.000Z' },
    ]);
    expect(skipLine('already delivered', { state: 'open', observedAt: f.observedAt }, rec(), f)).toEqual([
      'skipped: the same state earlier in this window',
      {},
    ]);
  });

  it('an older state than the one delivered says which', () => {
    expect(
      skipLine('older than the state already delivered', undefined, rec({ state: 'resolved', observedAt: '2025-03-01T00:00:00.000Z' }), f),
    ).toEqual([
      'skipped: older than the state already delivered',
      { delivered: 'resolved', deliveredObservedAt: '2025-03-01T00:00:00.000Z', observedAt: f.observedAt },
    ]);
  });

  it('a catch-up baseline: resolved before the route was added, never delivered', () => {
    const baseline = rec({ state: 'resolved', catchUp: 'baseline', observedAt: '2025-01-15T00:00:00.000Z' });
    expect(skipLine('older than the state already delivered', undefined, baseline, f)).toEqual([
      'skipped: resolved before the route was added',
      { resolvedObservedAt: '2025-01-15T00:00:00.000Z' },
    ]);
    // Decided earlier in this window: that decision, not the baseline, is why.
    expect(skipLine('already delivered', { state: 'open' }, baseline, f)[0]).toBe('skipped: the same state earlier in this window');
  });
});

describe('WindowHandler (no DLQ writes: every value valid, every route delivers)', () => {
  const routes: Route[] = [
    { name: 'payments', webhookUrl: 'https://hooks.test/p', teams: ['payments'] },
    { name: 'all', webhookUrl: 'https://hooks.test/a' },
  ];
  function handler(records = new Map<string, DeliveryRecord>(), only: Route[] = routes) {
    const handed: { route: string; due: WindowDue[] }[] = [];
    const written: string[] = [];
    const stats = { skipped: 0, deadLettered: 0, ignored: 0, unrouted: 0 };
    const unrecorded = new Map<string, DeliveryRecord>();
    const log = captureLogger();
    const h = new WindowHandler({
      routes: only,
      named: true,
      deliveries: { last: (k) => records.get(k), record: async (k, r) => void (written.push(k), records.set(k, r)) },
      unrecorded,
      deliverer: {
        deliver: async (route, list) => (
          handed.push({ route: route.name, due: list as unknown as WindowDue[] }),
          { failed: [], untried: [] }
        ),
      },
      stats,
      log,
      metrics: new NotifierMetrics(),
      producer: undefined as never, // nothing in these windows is dead-lettered
    });
    return { h, handed, written, stats, unrecorded, log, records };
  }
  const beat = async () => undefined;
  const a = finding({ id: 'ws-a|a|1.0.0|unvetted', workspace: { id: 'ws-a', org: 'acme', team: 'payments' } });
  const b = finding({ id: 'ws-b|b|1.0.0|unvetted', workspace: { id: 'ws-b', org: 'acme', team: 'search' } });

  it('hands each route what is due to it, once per state even when a window holds it twice', async () => {
    const { h, handed, stats, log } = handler();
    await h.handle(
      [msg(a.id, JSON.stringify(a), '1'), msg(b.id, JSON.stringify(b), '2'), msg(a.id, JSON.stringify(a), '3'), msg('x', null, '4')],
      { heartbeat: beat, attempt: 1 },
    );
    expect(handed.map((x) => [x.route, x.due.map((d) => d.item.where.offset)])).toEqual([
      ['payments', ['1']],
      ['all', ['1', '2']],
    ]);
    expect(handed[0]!.due[0]!.at).toEqual({ finding: a.id, state: 'open', partition: 2, offset: '1', route: 'payments' });
    expect(stats).toEqual({ skipped: 2, deadLettered: 0, ignored: 1, unrouted: 0 });
    expect(log.entries.filter((e) => e.msg === 'skipped: the same state earlier in this window')).toHaveLength(2);
  });

  it('skips what the delivery log has; an escalation is due as one; counts only on the first attempt', async () => {
    const records = new Map<string, DeliveryRecord>([
      [deliveryKey('all', a.id), { v: 1, state: 'open', at: 'T', observedAt: a.observedAt, severity: 'medium' }],
    ]);
    const { h, handed, stats } = handler(records);
    const window = [msg(a.id, JSON.stringify(a), '1'), msg('x', null, '2')];
    await h.handle(window, { heartbeat: beat, attempt: 1 });
    await h.handle(window, { heartbeat: beat, attempt: 2 });
    expect(handed.filter((x) => x.route === 'all').map((x) => x.due.map((d) => d.escalatedFrom))).toEqual([['medium'], ['medium']]);
    expect(stats.ignored).toBe(1);
  });

  it('a state delivered by an earlier try whose record was not written: the record is written now, nothing re-sent', async () => {
    const { h, handed, written, unrecorded, stats, log } = handler();
    const rec: DeliveryRecord = { v: 1, state: 'open', at: 'T', observedAt: b.observedAt, severity: b.severity };
    unrecorded.set(deliveryKey('all', b.id), rec);
    await h.handle([msg(b.id, JSON.stringify(b), '5')], { heartbeat: beat, attempt: 2 });
    expect(written).toEqual([deliveryKey('all', b.id)]);
    expect(unrecorded.size).toBe(0);
    expect(handed).toEqual([]);
    expect(stats.unrouted).toBe(0);
    expect(log.entries.map((e) => e.msg)).toEqual(['skipped: already delivered (delivery record written now)']);
  });

  it('a finding no route matches is counted unrouted', async () => {
    const { h, handed, stats } = handler(undefined, [routes[0]!]);
    await h.handle([msg(b.id, JSON.stringify(b), '7')], { heartbeat: beat, attempt: 1 });
    expect(handed).toEqual([]);
    expect(stats.unrouted).toBe(1);
  });
});
