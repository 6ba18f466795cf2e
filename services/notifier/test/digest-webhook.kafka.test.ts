/**
 * Digests for bursts, and signed generic webhooks, on real Kafka (KAFKA_BROKERS from the root
 * vitest globalSetup), with Slack and the webhook receivers played by real HTTP servers on loopback.
 * Its own topic namespace (CRATEWATCH_TOPIC_PREFIX, set before @cratewatch/shared loads); within it
 * each test uses its own workspace ids (the finding key's prefix) and consumer groups.
 */
import { vi } from 'vitest';

vi.hoisted(() => {
  process.env.CRATEWATCH_TOPIC_PREFIX = `notifier-digest-test-${Date.now().toString(36)}.`;
});

import { spawn } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { INTERNAL_TOPICS } from '@cratewatch/runtime';
import { unvettedFinding, type FindingEvent, type PackageVerdict } from '@cratewatch/shared';
import { WebhookSigner, parseDeliveryRecord, readCompacted, type Route, type SlackMessage } from '../src/index.js';
import { captureLogger, settle, uniq, useKafka, waitFor, type RecordedRequest, type Reply } from './helpers.js';

const env = useKafka('notifier-digest-test-');

function advisory(
  ws: string,
  n: number,
  o: { severity?: FindingEvent['severity']; score?: number; state?: FindingEvent['state']; at?: string; team?: string } = {},
): FindingEvent {
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
    suggestion: {
      criteria: ['safe-to-deploy'],
      kind: 'delta',
      from: `0.${n}.0`,
      to: `0.${n}.1`,
      command: `cargo vet certify dep${n} 0.${n}.0 0.${n}.1 --criteria safe-to-deploy`,
    },
  };
  // A variable, not a literal at the call: the scorer's Impact may gain or lose fields without this breaking.
  const impact = { buildTime: true, direct: true, fanIn: o.fanIn ?? 2, orgWorkspaces: 1 };
  return unvettedFinding({ id: ws, org: 'acme', team: o.team ?? 'core' }, v, impact, o.state ?? 'open', '2025-03-01T10:00:00.000Z');
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
    const burst = [
      ...Array.from({ length: 12 }, (_, i) => unvetted(ws, i + 1, { fanIn: i + 2 })),
      ...Array.from({ length: 8 }, (_, i) => advisory(ws, i + 1, { score: 5 + i / 10, severity: 'medium' })),
    ];
    await env.produce(...burst.slice(0, 12));
    await env.produce(...burst.slice(12));
    await waitFor('the digest', () => n.stats.digests >= 1 && n.stats.delivered >= 20);
    await settle();
    const got = h.requests.filter((r) => forWs(r, ws));
    expect(got).toHaveLength(1);
    const digest = got[0]!.json as SlackMessage;
    expect(digest.text).toMatch(
      /^Digest: 20 finding state changes \(20 open, 0 resolved\); highest: \[HIGH\] unvetted: dep\d+ 0\.\d+\.1 in nd-/,
    );
    expect(digest.blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: 'Digest · 20 finding state changes (20 open, 0 resolved)', emoji: true },
    });
    expect(JSON.stringify(digest.blocks[1])).toContain('*By kind*\\n12 unvetted\\n8 advisory');
    expect(digest.blocks.at(-1)).toEqual({ type: 'context', elements: [{ type: 'mrkdwn', text: '…and 5 more (see the risk feed)' }] });
    expect(n.stats).toMatchObject({ digests: 1, delivered: 20, deadLettered: 0 });
    expect(n.log.entries.filter((e) => e.msg === 'sent in digest')).toHaveLength(20);
    // Every finding of the digest has its delivery record.
    const recs = await deliveryRecords(ws);
    expect([...recs.keys()].sort()).toEqual(burst.map((f) => f.id).sort());
    expect(new Set(recs.values())).toEqual(new Set(['open']));

    // A small batch (3 ≤ 5): one message each.
    const small = [
      advisory(ws, 21),
      unvetted(ws, 22),
      advisory(ws, 3, { severity: 'medium', score: 5.2, state: 'resolved', at: '2025-03-02T10:00:00.000Z' }),
    ];
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
    const opts = { routes, digest: { threshold: 5, windowMs: 1000 }, delivery: { attempts: 2, baseMs: 20 } };
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
      expect(r.error).toBe(
        'not delivered to route broken (in a digest of 8): webhook refused the message: HTTP 400: invalid_blocks (not retried)',
      );
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
    const n = await env.notifier([ws], {
      groupId: uniq('notifier-digest-test'),
      out: (t) => printed.push(t),
      digest: { threshold: 2, windowMs: 1000 },
    });
    await env.produce(advisory(ws, 1), advisory(ws, 2), unvetted(ws, 3));
    await waitFor('the digest', () => n.stats.digests >= 1);
    const blocks = printed.filter((t) => t.includes(ws));
    expect(blocks).toHaveLength(1);
    expect(blocks[0]).toMatch(/^== DIGEST · 3 finding state changes \(3 open, 0 resolved\)\n/);
    expect(blocks[0]!.match(/^ {3}- /gm)).toHaveLength(3);
  });
});

// ---------------------------------------------------------------------------------------------

const SECRET = 'whsec-test-0123456789abcdef';

/** What a receiver does, with node:crypto alone: HMAC over "<timestamp>.<raw body>", constant-time compare, recent timestamp. */
function verify(secret: string, r: RecordedRequest): boolean {
  const ts = r.headers['x-cratewatch-timestamp'];
  const sig = r.headers['x-cratewatch-signature'];
  if (typeof ts !== 'string' || typeof sig !== 'string' || !sig.startsWith('sha256=')) return false;
  if (Math.abs(Date.now() / 1000 - Number(ts)) > 300) return false;
  const expected = Buffer.from(createHmac('sha256', secret).update(`${ts}.${r.body}`).digest('hex'), 'hex');
  const given = Buffer.from(sig.slice('sha256='.length), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** A receiver that answers 200 to what verifies under `secret`, 401 otherwise. */
const verifying =
  (secret: string) =>
  (r: RecordedRequest): Reply =>
    verify(secret, r) ? { status: 200 } : { status: 401, body: 'bad signature' };

describe('signed generic webhooks (real Kafka)', () => {
  it('posts the finding JSON itself, signed; a burst as {digest: true, findings}; nothing twice', async () => {
    const ws = uniq('nw');
    const receiver = await env.hook({ fallback: verifying(SECRET) });
    const routes: Route[] = [{ name: 'siem', type: 'webhook', webhookUrl: receiver.url, signer: new WebhookSigner(SECRET) }];
    const opts = { routes, digest: { threshold: 3, windowMs: 1000 } };
    const n = await env.notifier([ws], { ...opts, groupId: uniq('notifier-digest-test') });
    const one = [unvetted(ws, 1), advisory(ws, 2)];
    await env.produce(...one);
    await waitFor('2 posts', () => n.stats.delivered >= 2);
    await settle(500);
    expect(receiver.requests).toHaveLength(2);
    for (const r of receiver.requests) {
      expect(r.headers['content-type']).toBe('application/json');
      expect(verify(SECRET, r)).toBe(true);
      expect(Math.abs(Number(r.headers['x-cratewatch-timestamp']) - Date.now() / 1000)).toBeLessThan(30);
    }
    // The body is the FindingEvent, exactly as it was on risk.findings.
    expect(receiver.requests.map((r) => r.json).sort((a, b) => ((a as FindingEvent).id < (b as FindingEvent).id ? -1 : 1))).toEqual(
      [...one].sort((a, b) => (a.id < b.id ? -1 : 1)),
    );

    // A burst (5 > 3): one signed digest.
    const burst = Array.from({ length: 5 }, (_, i) => advisory(ws, 10 + i));
    await env.produce(...burst);
    await waitFor('the digest', () => n.stats.digests >= 1);
    await settle(500);
    expect(receiver.requests).toHaveLength(3);
    const d = receiver.requests[2]!;
    expect(verify(SECRET, d)).toBe(true);
    // Every finding of the burst, as on risk.findings (in the order the window took them: per partition).
    const body = d.json as { digest: true; findings: FindingEvent[] };
    expect(Object.keys(body)).toEqual(['digest', 'findings']);
    expect(body.digest).toBe(true);
    expect([...body.findings].sort((a, b) => (a.id < b.id ? -1 : 1))).toEqual(burst);

    // Replayed: nothing.
    await env.produce(...one, ...burst);
    await waitFor('7 skips', () => n.stats.skipped >= 7);
    await settle();
    expect(receiver.requests).toHaveLength(3);
    expect(n.stats).toMatchObject({ delivered: 7, deadLettered: 0 });
  });

  it('a receiver expecting another secret rejects the signature: the finding goes to the DLQ (401, not retried)', async () => {
    const ws = uniq('nw');
    const receiver = await env.hook({ fallback: verifying(SECRET) });
    const dlq = await env.dlqReader(`${ws}|`);
    const routes: Route[] = [
      { name: 'siem', type: 'webhook', webhookUrl: receiver.url, signer: new WebhookSigner('another-secret-of-20-chars') },
    ];
    const n = await env.notifier([ws], { routes, groupId: uniq('notifier-digest-test'), delivery: { attempts: 3, baseMs: 20 } });
    await env.produce(advisory(ws, 1));
    await waitFor('the DLQ record', () => dlq.length >= 1);
    expect(receiver.requests).toHaveLength(1);
    expect(verify(SECRET, receiver.requests[0]!)).toBe(false);
    expect(verify('another-secret-of-20-chars', receiver.requests[0]!)).toBe(true);
    expect(dlq[0]!.error).toBe('not delivered to route siem: webhook refused the message: HTTP 401: bad signature (not retried)');
    expect(JSON.stringify(n.log.entries)).not.toContain('another-secret-of-20-chars');
  });

  it('runs as a program: a webhook route without its secret stops the start (naming route and variable); with it, signed posts and the secret never printed', async () => {
    const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'main.js');
    const run = (vars: Record<string, string>) => {
      const c = spawn(process.execPath, [main], {
        env: { ...process.env, KAFKA_BROKERS: env.brokers, NOTIFIER_FEED_LISTEN: 'off', ...vars },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const io = { stderr: '', stdout: '' };
      c.stderr.on('data', (b: Buffer) => (io.stderr += b.toString()));
      c.stdout.on('data', (b: Buffer) => (io.stdout += b.toString()));
      const exited = new Promise<number | null>((r) => c.on('exit', (code) => r(code)));
      env.cleanup(async () => {
        if (c.exitCode === null) c.kill('SIGKILL');
      });
      return { c, io, exited };
    };
    const receiver = await env.hook({ fallback: verifying(SECRET) });
    // A variable name the logger does not mask by itself: the secret must simply never be written.
    const routes = JSON.stringify([{ name: 'siem', type: 'webhook', webhookEnv: 'CW_TEST_SIEM_URL', secretEnv: 'CW_TEST_SIEM_SIGNING' }]);

    const missing = run({ NOTIFIER_ROUTES: routes, CW_TEST_SIEM_URL: receiver.url });
    expect(await missing.exited).toBe(1);
    expect(missing.io.stderr).toContain('route \\"siem\\": environment variable CW_TEST_SIEM_SIGNING is not set');

    const ws = uniq('nw');
    const ok = run({
      NOTIFIER_ROUTES: routes,
      CW_TEST_SIEM_URL: receiver.url,
      CW_TEST_SIEM_SIGNING: SECRET,
      NOTIFIER_GROUP: uniq('notifier-digest-test'),
      NOTIFIER_KEY_PREFIX: `${ws}|`,
      NOTIFIER_DIGEST_THRESHOLD: 'off',
    });
    await waitFor('"ready" on stderr', () => ok.io.stderr.includes('"msg":"ready"'), 60_000);
    expect(JSON.parse(ok.io.stderr.split('\n').find((l) => l.includes('"msg":"ready"'))!)).toMatchObject({
      routes: ['siem'],
      digest: 'off',
    });
    await env.produce(unvetted(ws, 1));
    await waitFor('the signed post', () => receiver.requests.length >= 1);
    await waitFor('the "sent" log line', () => ok.io.stderr.includes('"msg":"sent"'));
    expect(verify(SECRET, receiver.requests[0]!)).toBe(true);
    ok.c.kill('SIGTERM');
    expect(await ok.exited).toBe(0);
    const all = ok.io.stderr + ok.io.stdout + missing.io.stderr + missing.io.stdout;
    expect(all).not.toContain(SECRET);
    expect(all).not.toContain(receiver.secretPath);
    expect(ok.io.stderr).toContain('"channel":"webhook"');
  });
});
