/**
 * Routes per team and severity, and the org-wide risk feed, on real Kafka (KAFKA_BROKERS from the
 * root vitest globalSetup) with webhooks played by real HTTP servers on loopback. Its own topic
 * namespace (CRATEWATCH_TOPIC_PREFIX, set before @cratewatch/shared loads); within it each test uses
 * its own workspace ids (the finding key's prefix) and consumer group.
 */
import { vi } from 'vitest';

vi.hoisted(() => {
  process.env.CRATEWATCH_TOPIC_PREFIX = `notifier-routes-test-${Date.now().toString(36)}.`;
});

import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { FindingEvent } from '@cratewatch/shared';
import type { Route } from '../src/index.js';
import { settle, uniq as unique, useKafka, waitFor, type Webhook } from './helpers.js';
import { child, children, parseXml } from './xml.js';

// /readyz (where the re-drive's state shows) asks for the ops token; spawned notifiers inherit it.
process.env.CRATEWATCH_OPS_TOKEN ??= 'ops-token-for-notifier-tests-0123';
// The feed asks for a reader's token (scoped to org acme here); spawned notifiers inherit it too.
const FEED_TOKEN = 'feed-token-for-notifier-tests-0123';
process.env.CRATEWATCH_FEED_TOKENS = JSON.stringify([{ name: 'tests', org: 'acme', token: FEED_TOKEN }]);
/** fetch with the feed token. */
const feedFetch = (url: string, init: { headers?: Record<string, string> } = {}) =>
  fetch(url, { headers: { authorization: `Bearer ${FEED_TOKEN}`, ...init.headers } });
const env = useKafka('notifier-routes-test-');
const { produce, hook, notifier, dlqReader } = env;
const uniq = () => unique('nr');

function finding(
  ws: string,
  n: number,
  o: { team?: string; severity?: FindingEvent['severity']; score?: number; state?: FindingEvent['state']; at?: string } = {},
): FindingEvent {
  const advisory = `RUSTSEC-2025-${String(2000 + n).padStart(4, '0')}`;
  return {
    v: 1,
    id: `${ws}|crate${n}|1.${n}.0|advisory:${advisory}`,
    kind: 'advisory',
    state: o.state ?? 'open',
    severity: o.severity ?? 'high',
    score: o.score ?? 7.5,
    workspace: { id: ws, org: 'acme', ...(o.team ? { team: o.team } : {}) },
    crate: `crate${n}`,
    version: `1.${n}.0`,
    why: [{ signal: 'advisory.vulnerability', contribution: o.score ?? 7.5, detail: `${advisory}: test` }],
    advisory: {
      id: advisory,
      title: `test advisory ${n}`,
      url: `https://rustsec.org/advisories/${advisory}.html`,
      patched: [],
      aliases: [],
    },
    observedAt: o.at ?? '2025-03-01T10:00:00.000Z',
  };
}

/** "open RUSTSEC-2025-2001" per message the hook received for these workspaces, in order. */
function received(h: Webhook, ws: string): string[] {
  return h.requests
    .map((r) => (r.json as { text: string }).text)
    .filter((t) => t.includes(` in ${ws} `))
    .map((t) => `${t.startsWith('[RESOLVED]') ? 'resolved' : 'open'} ${/RUSTSEC-\d{4}-\d{4}/.exec(t)?.[0]}`);
}

const adv = (n: number) => `RUSTSEC-2025-${2000 + n}`;

describe('routes per team and severity (real Kafka)', () => {
  it('two routes (team A ≥ high; everything critical) receive exactly the right alerts, once each', async () => {
    const ws = uniq();
    const [teamA, critical] = [await hook(), await hook()];
    const routes: Route[] = [
      { name: 'team-a', webhookUrl: teamA.url, teams: ['team-a'], minSeverity: 'high' },
      { name: 'critical', webhookUrl: critical.url, minSeverity: 'critical' },
    ];
    const groupId = `notifier-routes-test-${uniq()}`;
    const n = await notifier([ws], { routes, groupId });
    expect(n.routes).toEqual(['team-a', 'critical']);
    expect(n.channel).toBe('slack');
    await produce(
      finding(ws, 1, { team: 'team-a', severity: 'high' }), //       team-a
      finding(ws, 2, { team: 'team-a', severity: 'critical' }), //   team-a + critical
      finding(ws, 3, { team: 'team-a', severity: 'medium' }), //     nobody
      finding(ws, 4, { team: 'team-b', severity: 'critical' }), //   critical
      finding(ws, 5, { team: 'team-b', severity: 'high' }), //       nobody
      finding(ws, 6, { severity: 'critical' }), //                   critical (no team)
    );
    await waitFor('6 findings handled', () => n.stats.delivered + n.stats.unrouted >= 7);
    await settle();
    expect(received(teamA, ws).sort()).toEqual([`open ${adv(1)}`, `open ${adv(2)}`]);
    expect(received(critical, ws).sort()).toEqual([`open ${adv(2)}`, `open ${adv(4)}`, `open ${adv(6)}`]);
    expect(n.stats).toMatchObject({ delivered: 5, unrouted: 2, deadLettered: 0 });

    // A state change goes to the same routes; replays do not.
    await produce(
      finding(ws, 2, { team: 'team-a', severity: 'critical', state: 'resolved', at: '2025-03-02T10:00:00.000Z' }),
      finding(ws, 1, { team: 'team-a', severity: 'high' }),
    );
    await waitFor('the resolution on both routes', () => received(teamA, ws).length >= 3 && received(critical, ws).length >= 4);
    await settle();
    expect(received(teamA, ws)).toHaveLength(3);
    expect(received(teamA, ws)[2]).toBe(`resolved ${adv(2)}`);
    expect(received(critical, ws)).toHaveLength(4);
    expect(received(critical, ws)[3]).toBe(`resolved ${adv(2)}`);
    await n.stop();

    // A new group replays everything: the per-(route, finding) delivery log stops every repeat.
    const n2 = await notifier([ws], { routes, groupId: `notifier-routes-test-${uniq()}` });
    await waitFor('the replay handled', () => n2.stats.skipped >= 7 && n2.stats.unrouted >= 2);
    await settle();
    expect(n2.stats.delivered).toBe(0);
    expect(received(teamA, ws)).toHaveLength(3);
    expect(received(critical, ws)).toHaveLength(4);
  });

  it('a finding re-scored while open: an escalation once per rise, a route it rose into gets it as new, a drop is silent, the resolution reaches every route that had it open', async () => {
    const ws = uniq();
    const [all, urgent] = [await hook(), await hook()];
    const routes: Route[] = [
      { name: 'all', webhookUrl: all.url },
      { name: 'urgent', webhookUrl: urgent.url, minSeverity: 'high' },
    ];
    const told = (h: Webhook) =>
      h.requests
        .map((r) => (r.json as { text: string }).text)
        .filter((t) => t.includes(` in ${ws} `))
        .map((t) => /^\[([^\]]+)\]/.exec(t)![1]!);
    const day = (d: number) => `2025-03-0${d}T10:00:00.000Z`;
    const groupId = `notifier-routes-test-${uniq()}`;
    const n = await notifier([ws], { routes, groupId });
    await produce(finding(ws, 1, { severity: 'medium', score: 5, at: day(1) }));
    await waitFor('medium to all', () => told(all).length >= 1);
    // The scorer re-scores it (a CVSS added to the advisory): critical. The same finding, still open.
    await produce(finding(ws, 1, { severity: 'critical', score: 9.1, at: day(2) }));
    await waitFor('the escalation to all and the news to urgent', () => told(all).length >= 2 && told(urgent).length >= 1);
    // Down to high, then the same again (a replay): nothing; then resolved at low.
    await produce(
      finding(ws, 1, { severity: 'high', score: 7.5, at: day(3) }),
      finding(ws, 1, { severity: 'high', score: 7.5, at: day(3) }),
    );
    await produce(finding(ws, 1, { severity: 'low', score: 2, state: 'resolved', at: day(4) }));
    await waitFor('the resolution on both routes', () => told(all).length >= 3 && told(urgent).length >= 2);
    await settle();
    expect(told(all)).toEqual(['MEDIUM', 'CRITICAL ⬆ escalated from medium', 'RESOLVED']);
    // urgent (≥ high) never had it at medium: critical is new to it; the low resolution still reaches it.
    expect(told(urgent)).toEqual(['CRITICAL', 'RESOLVED']);
    expect(n.log.entries.filter((e) => e.msg === 'sent' && e.fields.escalatedFrom === 'medium').map((e) => e.fields.route)).toEqual([
      'all',
    ]);
    await n.stop();

    // A new group replays the topic: the delivery log (with the severity each was told at) stops every repeat.
    const n2 = await notifier([ws], { routes, groupId: `notifier-routes-test-${uniq()}` });
    await waitFor('the replay handled', () => n2.stats.skipped + n2.stats.unrouted >= 5);
    await settle();
    expect(n2.stats.delivered).toBe(0);
    expect(told(all)).toHaveLength(3);
    expect(told(urgent)).toHaveLength(2);
  });

  it('a failing route: the finding goes to the DLQ once, naming that route; the other route still gets it once', async () => {
    const ws = uniq();
    const good = await hook();
    const bad = await hook({ fallback: { status: 404, body: 'no_service' } });
    const dlq = await dlqReader(`${ws}|`);
    const routes: Route[] = [
      { name: 'broken', webhookUrl: bad.url },
      { name: 'ok', webhookUrl: good.url },
    ];
    const opts = { routes, delivery: { attempts: 2, baseMs: 20 } };
    const n = await notifier([ws], { ...opts, groupId: `notifier-routes-test-${uniq()}` });
    await produce(finding(ws, 1, { severity: 'critical' }));
    await waitFor('the DLQ record', () => dlq.length >= 1);
    expect(received(good, ws)).toEqual([`open ${adv(1)}`]);
    expect(bad.requests).toHaveLength(1); // a 404 is not retried
    expect(dlq).toHaveLength(1);
    expect(dlq[0]!.key).toBe(finding(ws, 1).id);
    expect(dlq[0]!.error).toBe('not delivered to route broken: webhook refused the message: HTTP 404: no_service (not retried)');
    expect(dlq[0]!.error).not.toContain(bad.secretPath);
    expect(dlq[0]!.undeliverable).toEqual({ routes: ['broken'], attempts: 0, firstAt: expect.any(String) });
    expect(JSON.stringify(n.log.entries)).not.toContain(bad.secretPath);
    expect(n.stats).toMatchObject({ delivered: 1, deadLettered: 1 });
    await n.stop();

    // The finding met again (a new group, as a re-drive would): only the broken route is tried again.
    const n2 = await notifier([ws], { ...opts, groupId: `notifier-routes-test-${uniq()}` });
    await waitFor('dead-lettered again', () => dlq.length >= 2);
    await settle();
    expect(received(good, ws)).toHaveLength(1);
    expect(bad.requests).toHaveLength(2);
    expect(n2.stats).toMatchObject({ delivered: 0, skipped: 1, deadLettered: 1 });
  });
});

describe('org-wide risk feed (real Kafka)', () => {
  it('reads risk.findings to its end at start, then follows it; serves /feed, /feed.atom and /healthz', async () => {
    const ws = uniq();
    const other = uniq();
    // Before start: history the feed must load (finding 3 opened then resolved).
    await produce(
      finding(ws, 1, { team: 'payments', severity: 'high', score: 7.5 }),
      finding(ws, 2, { team: 'payments', severity: 'critical', score: 9.8 }),
      finding(ws, 3, { team: 'search', severity: 'medium', score: 5 }),
      finding(ws, 3, { team: 'search', severity: 'medium', score: 5, state: 'resolved', at: '2025-03-01T11:00:00.000Z' }),
      finding(other, 9, { team: 'payments', severity: 'critical', score: 10 }),
    );
    const out: string[] = [];
    const n = await notifier([ws], {
      groupId: `notifier-routes-test-${uniq()}`,
      out: (t) => out.push(t),
      feed: { host: '127.0.0.1', port: 0 },
    });
    expect(n.feedUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(n.log.entries.find((e) => e.msg === 'findings loaded for the feed')?.fields.findings).toBe(3);

    // Loaded before 'ready': no waiting needed. Other workspaces (outside the key filter) are not in it.
    const feed = async (q = '') =>
      (await (await feedFetch(`${n.feedUrl}/feed${q}`)).json()) as { generatedAt: string; findings: FindingEvent[] };
    expect((await fetch(`${n.feedUrl}/feed`)).status).toBe(401);
    expect((await feed()).findings.map((f) => f.crate)).toEqual(['crate2', 'crate1']);
    expect((await feed('?team=payments&severity=critical')).findings.map((f) => f.crate)).toEqual(['crate2']);
    expect((await feed('?state=resolved')).findings.map((f) => f.crate)).toEqual(['crate3']);
    expect((await feed(`?workspace=${ws}&state=all`)).findings.map((f) => f.crate)).toEqual(['crate2', 'crate1', 'crate3']);
    expect(await (await fetch(`${n.feedUrl}/healthz`)).json()).toEqual({ status: 'alive' });
    const ready = await fetch(`${n.feedUrl}/readyz`, { headers: { authorization: `Bearer ${process.env.CRATEWATCH_OPS_TOKEN}` } });
    expect(await ready.json()).toMatchObject({
      checks: { kafka: { ok: true }, 'redrive-status': { ok: true, pending: 0, oldestSince: null, lastPassAt: null, passes: 0 } },
    });

    const first = await feedFetch(`${n.feedUrl}/feed`);
    const etag = first.headers.get('etag')!;
    await first.text();
    expect((await feedFetch(`${n.feedUrl}/feed`, { headers: { 'if-none-match': etag } })).status).toBe(304);

    // Followed after start: finding 1 resolved, finding 4 opened.
    await produce(
      finding(ws, 1, { team: 'payments', severity: 'high', score: 7.5, state: 'resolved', at: '2025-03-02T10:00:00.000Z' }),
      finding(ws, 4, { team: 'payments', severity: 'low', score: 2, at: '2025-03-02T11:00:00.000Z' }),
    );
    const followed = await waitForFeed(n.feedUrl!, (f) => f.findings.map((x) => x.crate).join() === 'crate2,crate4');
    expect(followed.findings.map((f) => f.crate)).toEqual(['crate2', 'crate4']);
    expect((await feedFetch(`${n.feedUrl}/feed`, { headers: { 'if-none-match': etag } })).status).toBe(200);

    const atom = parseXml(await (await feedFetch(`${n.feedUrl}/feed.atom`)).text());
    expect(atom.name).toBe('feed');
    expect(children(atom, 'entry').map((e) => child(e, 'title')!.text)).toEqual([
      `[LOW] crate4 1.4.0 in ${ws}: ${adv(4)}: test advisory 4`,
      `[RESOLVED] crate1 1.1.0 in ${ws}: ${adv(1)}: test advisory 1`,
      `[RESOLVED] crate3 1.3.0 in ${ws}: ${adv(3)}: test advisory 3`,
      `[HIGH] crate1 1.1.0 in ${ws}: ${adv(1)}: test advisory 1`,
      `[CRITICAL] crate2 1.2.0 in ${ws}: ${adv(2)}: test advisory 2`,
      `[MEDIUM] crate3 1.3.0 in ${ws}: ${adv(3)}: test advisory 3`,
    ]);
    await n.stop();
    await expect(fetch(`${n.feedUrl}/healthz`)).rejects.toThrow();
  });

  it('runs as a program: routes from NOTIFIER_ROUTES, the feed on NOTIFIER_FEED_LISTEN, no URL in logs; a route without its variable stops the start', async () => {
    const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'main.js');
    const run = (vars: Record<string, string>) => {
      const c = spawn(process.execPath, [main], {
        env: { ...process.env, KAFKA_BROKERS: env.brokers, ...vars },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const io = { stderr: '', stdout: '' };
      c.stderr.on('data', (d: Buffer) => (io.stderr += d.toString()));
      c.stdout.on('data', (d: Buffer) => (io.stdout += d.toString()));
      const exited = new Promise<number | null>((r) => c.on('exit', (code) => r(code)));
      env.cleanup(async () => {
        if (c.exitCode === null) c.kill('SIGKILL');
      });
      return { c, io, exited };
    };

    // A route naming a variable that is not set: exit 1, naming the route and the variable.
    const h = await hook();
    const missing = run({
      NOTIFIER_ROUTES: JSON.stringify([
        { name: 'sec', webhookEnv: 'CW_TEST_HOOK_SEC' },
        { name: 'pay', webhookEnv: 'CW_TEST_HOOK_PAY' },
      ]),
      CW_TEST_HOOK_SEC: h.url,
      NOTIFIER_FEED_LISTEN: 'off',
    });
    expect(await missing.exited).toBe(1);
    expect(missing.io.stderr).toContain('route \\"pay\\": environment variable CW_TEST_HOOK_PAY is not set');
    expect(missing.io.stderr).not.toContain(h.secretPath);

    const ws = uniq();
    const ok = run({
      NOTIFIER_ROUTES: JSON.stringify([{ name: 'pay', webhookEnv: 'CW_TEST_HOOK_PAY', teams: ['payments'] }]),
      CW_TEST_HOOK_PAY: h.url,
      NOTIFIER_FEED_LISTEN: '127.0.0.1:0',
      NOTIFIER_GROUP: `notifier-routes-test-${uniq()}`,
      NOTIFIER_KEY_PREFIX: `${ws}|`,
    });
    await waitFor('"ready" on stderr', () => ok.io.stderr.includes('"msg":"ready"'), 60_000);
    const ready = JSON.parse(ok.io.stderr.split('\n').find((l) => l.includes('"msg":"ready"'))!) as { feed: string; routes: string[] };
    expect(ready.routes).toEqual(['pay']);
    await produce(finding(ws, 1, { team: 'payments' }), finding(ws, 2, { team: 'search' }));
    await waitFor('the alert', () => received(h, ws).length >= 1);
    await waitForFeed(ready.feed, (f) => f.findings.length === 2);
    await settle(500);
    expect(received(h, ws)).toEqual([`open ${adv(1)}`]);
    ok.c.kill('SIGTERM');
    expect(await ok.exited).toBe(0);
    expect(ok.io.stderr + ok.io.stdout).not.toContain(h.secretPath);
    expect(ok.io.stderr).toContain('"msg":"risk feed listening"');
  });
});

async function waitForFeed(
  base: string,
  ok: (f: { findings: FindingEvent[] }) => boolean,
  timeoutMs = 30_000,
): Promise<{ findings: FindingEvent[] }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const f = (await (await feedFetch(`${base}/feed?state=open`)).json()) as { findings: FindingEvent[] };
    if (ok(f)) return f;
    if (Date.now() > deadline) throw new Error(`the feed never matched: ${JSON.stringify(f.findings.map((x) => x.id))}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
