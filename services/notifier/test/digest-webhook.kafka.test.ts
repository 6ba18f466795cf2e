/**
 * Digests for bursts on real Kafka (KAFKA_BROKERS from the root
 * vitest globalSetup),  with Slack played by real HTTP servers on loopback.
 * Its own topic namespace (CRATEWATCH_TOPIC_PREFIX, set before @cratewatch/shared loads); within it
 * each test uses its own workspace ids (the finding key's prefix) and consumer groups.
 */
import { vi } from 'vitest';

vi.hoisted(() => {
  process.env.CRATEWATCH_TOPIC_PREFIX = `notifier-digest-test-${Date.now().toString(36)}.`;
});

import { describe, expect, it } from 'vitest';
import { INTERNAL_TOPICS } from '@cratewatch/runtime';
import { unvettedFinding, type FindingEvent, type PackageVerdict } from '@cratewatch/shared';
import { parseDeliveryRecord, readCompacted, type Route, type SlackMessage } from '../src/index.js';
import { captureLogger, settle, uniq, useKafka, waitFor, type RecordedRequest } from './helpers.js';

const env = useKafka('notifier-digest-test-');

function advisory(ws: string, n: number, o: { severity?: FindingEvent['severity']; score?: number; state?: FindingEvent['state']; at?: string; team?: string } = {}): FindingEvent {
  const id = `RUSTSEC-2025-${3000 + n}`;
  return {
    v: 1,
    id: `${ws}|crate${n}|1.${n}.0|advisory:${id}`,
    kind: 'advisory',
    state: o.state ?? 'open',
    severity: o.severity ?? 'high',
    score: o.score ?? 7.5,
    workspace: { id: ws, org: 'acme', team: o.team ?? 'core' },
    crate: `crate${n}`,
    version: `1.${n}.0`,
    why: [{ signal: 'advisory.vulnerability', contribution: o.score ?? 7.5, detail: `${id}: test` }],
    advisory: { id, title: `test advisory ${n}`, url: `https://rustsec.org/advisories/${id}.html`, patched: [], aliases: [] },
    observedAt: o.at ?? '2025-03-01T10:00:00.000Z',
  };
}

/** An unvetted finding as the scorer builds it (a delta audit suggested). */
function unvetted(ws: string, n: number, o: { state?: FindingEvent['state']; fanIn?: number; team?: string } = {}): FindingEvent {
  const v: PackageVerdict = {
    id: `dep${n} 0.${n}.1`,
    name: `dep${n}`,
    version: `0.${n}.1`,
    vetVersion: `0.${n}.1`,
    thirdParty: true,
    status: 'unvetted',
    required: ['safe-to-deploy'],
    requiredBy: [{ by: 'app@1.0.0', criteria: ['safe-to-deploy'], kind: 'normal', why: 'policy.criteria' }],
    missing: ['safe-to-deploy'],
    path: [],
    suggestion: { criteria: ['safe-to-deploy'], kind: 'delta', from: `0.${n}.0`, to: `0.${n}.1`, command: `cargo vet certify dep${n} 0.${n}.0 0.${n}.1 --criteria safe-to-deploy` },
  };
  return unvettedFinding({ id: ws, org: 'acme', team: o.team ?? 'core' }, v, { buildTime: true, direct: true, fanIn: o.fanIn ?? 2, orgWorkspaces: 1 }, o.state ?? 'open', '2025-03-01T10:00:00.000Z');
}

const isDigest = (r: RecordedRequest) => (r.json as SlackMessage).text.startsWith('Digest: ');
const forWs = (r: RecordedRequest, ws: string) => r.body.includes(ws);

/** Every delivery record written for keys containing `ws`, read from notifier.deliveries. */
async function deliveryRecords(ws: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const { consumer } = await readCompacted({
    kafka: env.kafka,
    topic: INTERNAL_TOPICS.deliveries,
    log: captureLogger(),
    groupPrefix: `notifier-digest-test-records-${uniq('g')}`,
    timeoutConsequence: 'test incomplete',
    onMessage: (m) => {
      const key = m.key?.toString();
      const rec = parseDeliveryRecord(m.value);
      if (key?.includes(`${ws}|`) && rec) out.set(key, rec.state);
    },
  });
  await consumer.disconnect();
  return out;
}

describe('digests for bursts (real Kafka)', () => {
  it('a burst of 20 is ONE digest (records for each), a small batch goes one by one, replays and a new group send nothing', async () => {
    const ws = uniq('nd');
    const h = await env.hook();
    const groupId = uniq('notifier-digest-test');
    const opts = { webhookUrl: h.url, groupId, digest: { threshold: 5, windowMs: 1500 } };
    const n = await env.notifier([ws], opts);
    expect(n.digest).toEqual({ threshold: 5, windowMs: 1500 });

    // 12 unvetted + 8 advisory findings, in two sends (as the scorer does per workspace and kind).
    const burst = [...Array.from({ length: 12 }, (_, i) => unvetted(ws, i + 1, { fanIn: i + 2 })), ...Array.from({ length: 8 }, (_, i) => advisory(ws, i + 1, { score: 5 + i / 10, severity: 'medium' }))];
    await env.produce(...burst.slice(0, 12));
    await env.produce(...burst.slice(12));
    await waitFor('the digest', () => n.stats.digests >= 1 && n.stats.delivered >= 20);
    await settle();
    const got = h.requests.filter((r) => forWs(r, ws));
    expect(got).toHaveLength(1);
    const digest = got[0]!.json as SlackMessage;
    expect(digest.text).toMatch(/^Digest: 20 finding state changes \(20 open, 0 resolved\); highest: \[HIGH\] unvetted: dep\d+ 0\.\d+\.1 in nd-/);
    expect(digest.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: 'Digest · 20 finding state changes (20 open, 0 resolved)', emoji: true } });
    expect(JSON.stringify(digest.blocks[1])).toContain('*By kind*\\n12 unvetted\\n8 advisory');
    expect(digest.blocks.at(-1)).toEqual({ type: 'context', elements: [{ type: 'mrkdwn', text: '…and 5 more (see the risk feed)' }] });
    expect(n.stats).toMatchObject({ digests: 1, delivered: 20, deadLettered: 0 });
    expect(n.log.entries.filter((e) => e.msg === 'sent in digest')).toHaveLength(20);
    // Every finding of the digest has its delivery record.
    const recs = await deliveryRecords(ws);
    expect([...recs.keys()].sort()).toEqual(burst.map((f) => f.id).sort());
    expect(new Set(recs.values())).toEqual(new Set(['open']));

    // A small batch (3 ≤ 5): one message each.
    const small = [advisory(ws, 21), unvetted(ws, 22), advisory(ws, 3, { severity: 'medium', score: 5.2, state: 'resolved', at: '2025-03-02T10:00:00.000Z' })];
    await env.produce(...small);
    await waitFor('3 single alerts', () => h.requests.filter((r) => forWs(r, ws)).length >= 4);
    await settle();
    const singles = h.requests.filter((r) => forWs(r, ws)).slice(1);
    expect(singles).toHaveLength(3);
    expect(singles.some(isDigest)).toBe(false);
    expect(singles.map((r) => (r.json as SlackMessage).text.split(' — ')[0]).sort()).toEqual([
      '[HIGH] RUSTSEC-2025-3021: test advisory 21',
      `[MEDIUM] unvetted: dep22 0.22.1 in ${ws} (team core)`,
      '[RESOLVED] RUSTSEC-2025-3003: test advisory 3',
    ]);

    // The burst again: nothing is sent.
    await env.produce(...burst);
    await waitFor('20 skips', () => n.stats.skipped >= 20); // advisory 3's old 'open' is older than its 'resolved'
    await settle();
    expect(h.requests.filter((r) => forWs(r, ws))).toHaveLength(4);
    await n.stop();

    // A new group reads all of it again (43 state changes, the stale 'open' of advisory 3 included): nothing is sent.
    const n2 = await env.notifier([ws], { ...opts, groupId: uniq('notifier-digest-test') });
    await waitFor('the replay handled', () => n2.stats.skipped >= 43);
    await settle();
    expect(n2.stats).toMatchObject({ delivered: 0, digests: 0 });
    expect(h.requests.filter((r) => forWs(r, ws))).toHaveLength(4);
  });

  it('a digest a route refuses: each of its findings goes to the DLQ naming that route; the other route gets its digest once', async () => {
    const ws = uniq('nd');
    const good = await env.hook();
    const bad = await env.hook({ fallback: { status: 400, body: 'invalid_blocks' } });
    const dlq = await env.dlqReader(`${ws}|`);
    const routes: Route[] = [
      { name: 'broken', webhookUrl: bad.url },
      { name: 'ok', webhookUrl: good.url },
    ];
    const opts = { routes, digest: { threshold: 5, windowMs: 1000 }, delivery: { attempts: 2, baseDelayMs: 20 } };
    const n = await env.notifier([ws], { ...opts, groupId: uniq('notifier-digest-test') });
    const burst = Array.from({ length: 8 }, (_, i) => unvetted(ws, i + 1));
    await env.produce(...burst);
    await waitFor('8 DLQ records', () => dlq.length >= 8);
    await settle();
    expect(bad.requests).toHaveLength(1); // one digest, refused (a 400 is not retried)
    expect(good.requests.filter(isDigest)).toHaveLength(1);
    expect(good.requests).toHaveLength(1);
    expect(dlq.map((r) => r.key).sort()).toEqual(burst.map((f) => f.id).sort());
    for (const r of dlq) {
      expect(r.error).toBe('not delivered to route broken (in a digest of 8): webhook refused the message: HTTP 400: invalid_blocks (not retried)');
      expect(r.error).not.toContain(bad.secretPath);
    }
    expect(n.stats).toMatchObject({ digests: 1, delivered: 8, deadLettered: 8 });
    const recs = await deliveryRecords(ws);
    expect([...recs.keys()].every((k) => k.startsWith('route:ok|'))).toBe(true);
    expect(recs.size).toBe(8);
    await n.stop();

    // Met again (a new group, as a re-drive would): only the broken route is tried, again as one digest.
    const n2 = await env.notifier([ws], { ...opts, groupId: uniq('notifier-digest-test') });
    await waitFor('dead-lettered again', () => dlq.length >= 16);
    await settle();
    expect(bad.requests).toHaveLength(2);
    expect(good.requests).toHaveLength(1);
    expect(n2.stats).toMatchObject({ delivered: 0, skipped: 8, deadLettered: 8 });
  });

  it('without a webhook a burst is printed as one digest block', async () => {
    const ws = uniq('nd');
    const printed: string[] = [];
    const n = await env.notifier([ws], { groupId: uniq('notifier-digest-test'), out: (t) => printed.push(t), digest: { threshold: 2, windowMs: 1000 } });
    await env.produce(advisory(ws, 1), advisory(ws, 2), unvetted(ws, 3));
    await waitFor('the digest', () => n.stats.digests >= 1);
    const blocks = printed.filter((t) => t.includes(ws));
    expect(blocks).toHaveLength(1);
    expect(blocks[0]).toMatch(/^== DIGEST · 3 finding state changes \(3 open, 0 resolved\)\n/);
    expect(blocks[0]!.match(/^ {3}- /gm)).toHaveLength(3);
  });
});

