/**
 * A route configured later gets what is open then (catchup.ts), on real Kafka (KAFKA_BROKERS from the
 * root vitest globalSetup), with Slack played by real HTTP servers on loopback. Its own topic
 * namespace (CRATEWATCH_TOPIC_PREFIX, set before @cratewatch/shared loads); within it each test uses
 * its own workspace ids (the finding key's prefix, the notifier's scope) and consumer groups.
 */
import { vi } from 'vitest';

vi.hoisted(() => {
  process.env.CRATEWATCH_TOPIC_PREFIX = `notifier-newroute-test-${Date.now().toString(36)}.`;
});

import { describe, expect, it } from 'vitest';
import { INTERNAL_TOPICS } from '@cratewatch/runtime';
import type { FindingEvent } from '@cratewatch/shared';
import type { SlackMessage } from '../src/index.js';
import { uniq, useKafka, waitFor, type RecordedRequest } from './helpers.js';

const env = useKafka('notifier-newroute-test-');
const digest = { threshold: 5, windowMs: 500 };
const T0 = '2025-03-01T10:00:00.000Z';
const T1 = '2025-03-01T11:00:00.000Z';

const advisoryId = (n: number) => `RUSTSEC-2025-${3000 + n}`;
function advisory(ws: string, n: number, o: { state?: FindingEvent['state']; at?: string; team?: string } = {}): FindingEvent {
  const id = advisoryId(n);
  return {
    v: 1,
    id: `${ws}|crate${n}|1.${n}.0|advisory:${id}`,
    kind: 'advisory',
    state: o.state ?? 'open',
    severity: 'high',
    score: 7.5,
    workspace: { id: ws, org: 'acme', team: o.team ?? 'core' },
    crate: `crate${n}`,
    version: `1.${n}.0`,
    why: [{ signal: 'advisory.vulnerability', contribution: 7.5, detail: `${id}: test` }],
    advisory: { id, title: `test advisory ${n}`, url: `https://rustsec.org/advisories/${id}.html`, patched: [], aliases: [] },
    observedAt: o.at ?? T0,
  };
}
const resolved = (ws: string, n: number) => advisory(ws, n, { state: 'resolved', at: T1 });

const text = (r: RecordedRequest) => (r.json as SlackMessage).text;
const isDigest = (r: RecordedRequest) => text(r).startsWith('Digest: ');
/** The advisories (1…99) a request mentions. */
const advisoriesIn = (r: RecordedRequest) =>
  [...new Set([...r.body.matchAll(/RUSTSEC-2025-(3\d{3})/g)].map((m) => Number(m[1]) - 3000))].sort((a, b) => a - b);

describe('a route configured later (real Kafka)', () => {
  it('printed first, then a Slack webhook: Slack gets what is open as one digest, not what was resolved; a restart sends nothing', async () => {
    const ws = uniq('nr');
    // 1. No webhook: the printing route delivers 8 findings, then the resolution of two.
    const printed: string[] = [];
    const p = await env.notifier([ws], { groupId: uniq('notifier-newroute-test'), out: (t) => printed.push(t), digest });
    expect(p.routes).toEqual(['terminal']);
    expect(p.channel).toBe('stdout');
    await env.produce(...[1, 2, 3, 4, 5, 6, 7, 8].map((n) => advisory(ws, n)));
    await waitFor('8 findings printed', () => p.stats.delivered >= 8);
    await env.produce(resolved(ws, 1), resolved(ws, 2));
    await waitFor('2 resolutions printed', () => p.stats.delivered >= 10);
    expect(p.stats.delivered).toBe(10);
    await p.stop();
    expect(printed.join('').includes(advisoryId(8))).toBe(true);

    // 2. While nothing runs: #3 resolves, #9 opens.
    await env.produce(resolved(ws, 3), advisory(ws, 9));

    // 3. SLACK_WEBHOOK_URL configured, and a new group (it replays all 12 messages of the workspace).
    const h = await env.hook();
    const s = await env.notifier([ws], { groupId: uniq('notifier-newroute-test'), webhookUrl: h.url, digest });
    expect(s.routes).toEqual(['default']);
    // Caught up before 'ready': the 6 findings open now (4–9), as one digest; not 1–3, resolved before.
    expect(s.newRoutes).toEqual([{ route: 'default', sent: 6, baseline: 3, deadLettered: 0 }]);
    expect(h.requests).toHaveLength(1);
    expect(isDigest(h.requests[0]!)).toBe(true);
    expect(text(h.requests[0]!)).toMatch(/^Digest: 6 finding state changes/);
    expect(advisoriesIn(h.requests[0]!)).toEqual([4, 5, 6, 7, 8, 9]);
    expect(s.log.entries.find((e) => e.msg === 'ready')?.fields.newRoutes).toEqual(['default']);
    // The replay: every message skipped, none sent again.
    await waitFor('the 12 messages replayed and skipped', () => s.stats.skipped >= 12);
    const skips = (msg: string) => s.log.entries.filter((e) => e.msg === msg).length;
    expect(skips('skipped: resolved before the route was added')).toBe(6); // open and resolved of 1–3
    expect(skips('skipped: already delivered')).toBe(6); // 4–9, sent in the catch-up
    // From now on it is a route like any other: a new finding, and a resolution, each on its own.
    await env.produce(advisory(ws, 10), resolved(ws, 4));
    await waitFor('2 more messages, delivered and recorded', () => h.requests.length >= 3 && s.stats.delivered >= 8);
    expect(h.requests.slice(1).map(isDigest)).toEqual([false, false]);
    expect(
      h.requests
        .slice(1)
        .map((r) => advisoriesIn(r)[0])
        .sort(),
    ).toEqual([10, 4].sort());
    expect(s.stats).toMatchObject({ caughtUp: 6, delivered: 8, skipped: 12, deadLettered: 0 });
    await s.stop();

    // 4. A restart (yet another group: everything replayed): the route exists, nothing is posted.
    const again = await env.notifier([ws], { groupId: uniq('notifier-newroute-test'), webhookUrl: h.url, digest });
    expect(again.newRoutes).toEqual([]);
    await waitFor('the 14 messages replayed and skipped', () => again.stats.skipped >= 14);
    expect(again.stats).toMatchObject({ delivered: 0, caughtUp: 0, skipped: 14 });
    expect(h.requests).toHaveLength(3);
  });

  it('a route added next to an existing one: only the new route is caught up; the existing one still skips what it had', async () => {
    const ws = uniq('nr');
    const ops = await env.hook();
    const sec = await env.hook();
    const n1 = await env.notifier([ws], {
      groupId: uniq('notifier-newroute-test'),
      routes: [{ name: 'ops', webhookUrl: ops.url }],
      digest,
    });
    expect(n1.newRoutes).toEqual([{ route: 'ops', sent: 0, baseline: 0, deadLettered: 0 }]);
    await env.produce(advisory(ws, 1), advisory(ws, 2), advisory(ws, 3));
    await waitFor('3 alerts to ops', () => ops.requests.length >= 3);
    await env.produce(resolved(ws, 3));
    await waitFor('the resolution to ops, recorded', () => ops.requests.length >= 4 && n1.stats.delivered >= 4);
    await n1.stop();

    // Restarted with a second route, and a new group: all 4 messages replayed.
    const n2 = await env.notifier([ws], {
      groupId: uniq('notifier-newroute-test'),
      routes: [
        { name: 'ops', webhookUrl: ops.url },
        { name: 'sec', webhookUrl: sec.url },
      ],
      digest,
    });
    expect(n2.newRoutes).toEqual([{ route: 'sec', sent: 2, baseline: 1, deadLettered: 0 }]);
    // Two open findings: under the threshold, so one message each.
    expect(sec.requests.map((r) => [isDigest(r), advisoriesIn(r)])).toEqual([
      [false, [1]],
      [false, [2]],
    ]);
    await waitFor('4 messages × 2 routes skipped', () => n2.stats.skipped >= 8);
    // ops: 1, 2 and the resolution of 3 already delivered; the open of 3 older than its resolution.
    const opsSkips = n2.log.entries.filter((e) => e.fields.route === 'ops' && e.msg.startsWith('skipped:')).map((e) => e.msg);
    expect(opsSkips.sort()).toEqual([
      'skipped: already delivered',
      'skipped: already delivered',
      'skipped: already delivered',
      'skipped: older than the state already delivered',
    ]);
    expect(n2.stats).toMatchObject({ delivered: 2, caughtUp: 2, skipped: 8 });
    expect(ops.requests).toHaveLength(4);
    expect(sec.requests).toHaveLength(2);
  });

  it('a new route that refuses part of its catch-up: that finding is dead-lettered for it and re-driven, once', async () => {
    const ws = uniq('nr');
    await env.produce(advisory(ws, 1, { team: 'a' }), advisory(ws, 2, { team: 'a' }));
    const dlq = await env.dlqReader(`${ws}|`);
    const h = await env.hook({ script: [{ status: 400, body: 'invalid_payload' }] });
    const n = await env.notifier([ws], {
      groupId: uniq('notifier-newroute-test'),
      routes: [{ name: 'sec', webhookUrl: h.url }],
      digest,
      delivery: { attempts: 1 },
      redrive: { intervalMs: 300 },
    });
    expect(n.newRoutes).toEqual([{ route: 'sec', sent: 1, baseline: 0, deadLettered: 1 }]);
    await waitFor('the refused one in the DLQ, marked for sec', () => dlq.find((r) => r.undeliverable?.routes.includes('sec')));
    await waitFor('re-driven', () => n.stats.redriven >= 1);
    expect(advisoriesIn(h.requests[0]!)).toEqual(advisoriesIn(h.requests[2]!)); // the refused one, re-driven
    expect(h.requests.flatMap(advisoriesIn).sort()).toEqual([1, 1, 2]);
    expect(dlq.filter((r) => r.undeliverable)).toHaveLength(1);
    expect(n.stats).toMatchObject({ caughtUp: 1, redriven: 1, deadLettered: 1 });
  });

  it('a route that delivered before routes were recorded as added is not new: an upgrade sends nothing', async () => {
    const ws = uniq('nr');
    const f = advisory(ws, 1);
    await env.produce(f, advisory(ws, 2, { state: 'resolved' }));
    // The record an older notifier wrote for the default route: the plain finding id, no catchUp.
    const producer = env.kafka.producer();
    await producer.connect();
    await producer.send({
      topic: INTERNAL_TOPICS.deliveries,
      acks: -1,
      messages: [{ key: f.id, value: JSON.stringify({ v: 1, state: 'open', at: T1, observedAt: T0, severity: 'high' }) }],
    });
    await producer.disconnect();
    const h = await env.hook();
    const n = await env.notifier([ws], { groupId: uniq('notifier-newroute-test'), webhookUrl: h.url, digest });
    expect(n.newRoutes).toEqual([]);
    await waitFor('both messages handled', () => n.stats.skipped + n.stats.delivered >= 2);
    // #1 it had; #2's resolution it never had (and was never told #2 was open): the main consumer's usual rule sends it.
    expect(n.log.entries.filter((e) => e.msg === 'skipped: already delivered')).toHaveLength(1);
    expect(h.requests.map((r) => advisoriesIn(r))).toEqual([[2]]);
  });
});
