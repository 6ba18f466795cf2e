import { describe, expect, it } from 'vitest';
import type { FindingEvent } from '@cratewatch/shared';
import { DeliveryAbortedError, DeliveryError } from '../src/deliver.js';
import type { DeliveryRecord } from '../src/deliveries.js';
import { RouteDeliverer, deliveryRecord, digestOrOneByOne, failureReason, type Due } from '../src/route-delivery.js';
import type { Delivery, Send } from '../src/send.js';
import type { Route } from '../src/routes.js';
import { captureLogger } from './helpers.js';

const finding = (n: number, state: FindingEvent['state'] = 'open'): FindingEvent => ({
  v: 1,
  id: `ws-a|crate${n}|1.0.0|unvetted`,
  kind: 'unvetted',
  state,
  severity: 'medium',
  score: 6,
  workspace: { id: 'ws-a', org: 'acme' },
  crate: `crate${n}`,
  version: '1.0.0',
  why: [],
  observedAt: `2025-02-01T00:00:0${n}.000Z`,
});
const due = (n: number, o: Partial<Due> = {}): Due => ({
  f: finding(n),
  dkey: `route:ops|${finding(n).id}`,
  at: { finding: finding(n).id, route: 'ops' },
  ...o,
});
const ops: Route = { name: 'ops', webhookUrl: 'https://hooks.test/ops' };

/** The delivery log's writes, kept in memory (the Kafka-backed log is exercised by the Kafka tests). */
function memoryRecords() {
  const written: [string, DeliveryRecord][] = [];
  const calls: string[] = [];
  return {
    written,
    calls,
    record: async (k: string, r: DeliveryRecord) => void (calls.push('record'), written.push([k, r])),
    recordMany: async (recs: [string, DeliveryRecord][]) => void (calls.push(`recordMany ${recs.length}`), written.push(...recs)),
  };
}

/** A destination that refuses what `refuse` says and remembers what it was sent. */
function destination(refuse: (what: Delivery) => boolean = () => false) {
  const sent: Delivery[] = [];
  const send: Send = async (_route, what) => {
    sent.push(what);
    if (refuse(what)) throw new DeliveryError('HTTP 410', true, 1, 410);
    return 1;
  };
  return { sent, send };
}

function deliverer(send: Send, threshold: number, o: { signal?: AbortSignal; singleDefault?: boolean; webhookConcurrency?: number } = {}) {
  const records = memoryRecords();
  const stats = { delivered: 0, digests: 0 };
  const unrecorded = new Map<string, DeliveryRecord>();
  const log = captureLogger();
  const d = new RouteDeliverer({
    send,
    records,
    unrecorded,
    stats,
    log,
    signal: o.signal ?? new AbortController().signal,
    threshold,
    singleDefault: o.singleDefault ?? false,
    ...(o.webhookConcurrency ? { webhookConcurrency: o.webhookConcurrency } : {}),
  });
  return { d, records, stats, unrecorded, log };
}
const beat = async () => undefined;

describe('digestOrOneByOne', () => {
  it('a digest only above the threshold, never with threshold 0', () => {
    expect(digestOrOneByOne(5, 5)).toBe('one-by-one');
    expect(digestOrOneByOne(5, 6)).toBe('digest');
    expect(digestOrOneByOne(1, 2)).toBe('digest');
    expect(digestOrOneByOne(0, 1000)).toBe('one-by-one');
  });
});

describe('failureReason and deliveryRecord', () => {
  it('names Slack for the single default route, the route otherwise, and the digest size', () => {
    expect(failureReason({ name: 'default' }, 'HTTP 410', true)).toBe('not delivered to Slack: HTTP 410');
    expect(failureReason({ name: 'default' }, 'HTTP 410', false)).toBe('not delivered to route default: HTTP 410');
    expect(failureReason({ name: 'ops' }, 'HTTP 500', true, 8)).toBe('not delivered to route ops (in a digest of 8): HTTP 500');
  });
  it('keeps the state, when it was observed, the severity told, and a catch-up mark', () => {
    const f = finding(1);
    expect(deliveryRecord({ f }, 'T')).toEqual({ v: 1, state: 'open', at: 'T', observedAt: f.observedAt, severity: 'medium' });
    expect(deliveryRecord({ f, catchUp: true }, 'T')).toMatchObject({ catchUp: 'sent' });
  });
});

describe('RouteDeliverer', () => {
  it('sends a burst above the threshold as one digest and records every finding it carried', async () => {
    const dest = destination();
    const { d, records, stats, unrecorded } = deliverer(dest.send, 2);
    const list = [due(1), due(2), due(3)];
    expect(await d.deliver(ops, list, beat)).toEqual({ failed: [], untried: [] });
    expect(dest.sent).toEqual([{ digest: list.map((x) => x.f) }]);
    expect(records.calls).toEqual(['recordMany 3']);
    expect(records.written.map(([k, r]) => [k, r.state])).toEqual(list.map((x) => [x.dkey, 'open']));
    expect(stats).toEqual({ delivered: 3, digests: 1 });
    expect(unrecorded.size).toBe(0);
  });

  it('sends one by one up to the threshold, an escalation as such, one record each', async () => {
    const dest = destination();
    const { d, records, stats } = deliverer(dest.send, 2);
    await d.deliver(ops, [due(1, { escalatedFrom: 'low' }), due(2)], beat);
    expect(dest.sent).toEqual([
      { finding: finding(1), escalatedFrom: 'low' },
      { finding: finding(2), escalatedFrom: undefined },
    ]);
    expect(records.calls).toEqual(['record', 'record']);
    expect(stats).toEqual({ delivered: 2, digests: 0 });
  });

  it('a refused digest fails every finding it carried with the route named, and records none', async () => {
    const dest = destination(() => true);
    const { d, records, stats, log } = deliverer(dest.send, 1);
    const list = [due(1), due(2)];
    const res = await d.deliver(ops, list, beat);
    expect(res.failed).toEqual(list.map((x) => ({ d: x, reason: 'not delivered to route ops (in a digest of 2): HTTP 410' })));
    expect(records.written).toEqual([]);
    expect(stats).toEqual({ delivered: 0, digests: 0 });
    expect(log.entries.find((e) => e.msg === 'digest not delivered to route')?.fields).toMatchObject({
      route: 'ops',
      findings: 2,
      reason: 'HTTP 410',
    });
  });

  it('one by one, a failure leaves the others tried — or, with stopAtFailure (the re-drive), untried', async () => {
    const refuse2 = (w: Delivery) => 'finding' in w && w.finding.crate === 'crate2';
    const all = deliverer(destination(refuse2).send, 0);
    const res = await all.d.deliver(ops, [due(1), due(2), due(3)], beat);
    expect(res.failed.map((x) => x.d.f.crate)).toEqual(['crate2']);
    expect(res.untried).toEqual([]);
    expect(all.records.written.map(([k]) => k)).toEqual([due(1).dkey, due(3).dkey]);

    const stop = deliverer(destination(refuse2).send, 0);
    const res2 = await stop.d.deliver(ops, [due(1), due(2), due(3)], beat, true);
    expect(res2.failed.map((x) => x.d.f.crate)).toEqual(['crate2']);
    expect(res2.untried.map((x) => x.f.crate)).toEqual(['crate3']);
    expect(stop.records.written.map(([k]) => k)).toEqual([due(1).dkey]);
  });

  it('sends nothing once stopping', async () => {
    const ac = new AbortController();
    ac.abort();
    const dest = destination();
    const { d } = deliverer(dest.send, 5, { signal: ac.signal });
    await expect(d.deliver(ops, [due(1)], beat)).rejects.toBeInstanceOf(DeliveryAbortedError);
    expect(dest.sent).toEqual([]);
  });

  it('a record that cannot be written stays in `unrecorded` for the retry', async () => {
    const dest = destination();
    const { d, unrecorded, records } = deliverer(dest.send, 5);
    records.record = async () => {
      throw new Error('broker down');
    };
    await expect(d.deliver(ops, [due(1)], beat)).rejects.toThrow('broker down');
    expect([...unrecorded.keys()]).toEqual([due(1).dkey]);
  });
});

describe('a signed webhook route, several states at once', () => {
  /** A destination whose sends wait until the test lets them go: how many are in flight is seen, not timed. */
  function gated() {
    const inFlight = new Set<string>();
    let most = 0;
    const order: string[] = [];
    const waiting: (() => void)[] = [];
    const send: Send = async (_route, what) => {
      const f = 'finding' in what ? what.finding : undefined;
      const key = `${f?.id}:${f?.state}`;
      inFlight.add(key);
      most = Math.max(most, inFlight.size);
      await new Promise<void>((go) => waiting.push(go));
      inFlight.delete(key);
      order.push(key);
      return 1;
    };
    const release = async () => {
      // let every pending send go, over and over, until the delivery is done
      while (waiting.length) waiting.shift()!();
      await new Promise((r) => setImmediate(r));
    };
    return { send, order, most: () => most, release, waiting };
  }
  const hook: Route = { name: 'hook', type: 'webhook', webhookUrl: 'https://hooks.test/hook' };

  it("sends up to webhookConcurrency findings at once, each finding's states in order, and records each", async () => {
    const g = gated();
    const { d, records, stats } = deliverer(g.send, 0, { webhookConcurrency: 4 });
    const list: Due[] = [];
    for (let n = 0; n < 10; n++) list.push(due(n));
    list.push({ ...due(3), f: finding(3, 'resolved') }); // the same finding again, later: after its open
    const done = d.deliver(hook, list, beat);
    let settled = false;
    void done.then(() => (settled = true));
    while (!settled) await g.release();
    const res = await done;
    expect(res.failed).toEqual([]);
    expect(g.most()).toBe(4);
    expect(g.order.indexOf(`${finding(3).id}:open`)).toBeLessThan(g.order.indexOf(`${finding(3).id}:resolved`));
    expect(g.order).toHaveLength(11);
    expect(records.written).toHaveLength(11);
    expect(stats.delivered).toBe(11);
  });

  it('a Slack route, or the re-drive (stop at the first failure), still goes one at a time', async () => {
    for (const [route, stopAtFailure] of [
      [ops, false],
      [hook, true],
    ] as const) {
      const g = gated();
      const { d } = deliverer(g.send, 0, { webhookConcurrency: 4 });
      const done = d.deliver(route, [due(1), due(2), due(3)], beat, stopAtFailure);
      let settled = false;
      void done.then(() => (settled = true));
      while (!settled) await g.release();
      expect(g.most()).toBe(1);
      expect(g.order).toEqual([1, 2, 3].map((n) => `${finding(n).id}:open`));
    }
  });
});
