/**
 * Re-driving risk.findings.dlq on real Kafka (KAFKA_BROKERS from the root vitest globalSetup), with
 * Slack played by real HTTP servers on loopback whose answer the test switches (500, 410, then 200).
 * Its own topic namespace (CRATEWATCH_TOPIC_PREFIX, set before @cratewatch/shared loads); each test
 * its own workspace ids (the finding key's prefix) and consumer groups. Re-drive passes run every
 * few hundred ms here (the option NOTIFIER_REDRIVE_INTERVAL_MS sets).
 */
import { vi } from 'vitest';

vi.hoisted(() => {
  process.env.CRATEWATCH_TOPIC_PREFIX = `notifier-redrive-test-${Date.now().toString(36)}.`;
});

import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TOPICS, type FindingEvent } from '@cratewatch/shared';
import type { Route } from '../src/index.js';
import { settle, uniq as unique, useKafka, waitFor, type LogEntry, type RecordedRequest } from './helpers.js';

// /readyz (where the re-drive's state shows) asks for the ops token; spawned notifiers inherit it.
process.env.CRATEWATCH_OPS_TOKEN ??= 'ops-token-for-notifier-tests-0123';
const env = useKafka('notifier-redrive-test-');
const { produce, notifier, dlqReader } = env;
const uniq = () => unique('nrd');
const group = () => `notifier-redrive-test-${uniq()}`;
const FAST = { intervalMs: 300 };
const delivery = { attempts: 2, baseMs: 10 };

function finding(ws: string, n: number, o: { state?: FindingEvent['state']; at?: string; team?: string } = {}): FindingEvent {
  const advisory = `RUSTSEC-2025-${String(4000 + n).padStart(4, '0')}`;
  return {
    v: 1,
    id: `${ws}|crate${n}|1.${n}.0|advisory:${advisory}`,
    kind: 'advisory',
    state: o.state ?? 'open',
    severity: 'high',
    score: 7.5,
    workspace: { id: ws, org: 'acme', ...(o.team ? { team: o.team } : {}) },
    crate: `crate${n}`,
    version: `1.${n}.0`,
    why: [{ signal: 'advisory.vulnerability', contribution: 7.5, detail: `${advisory}: test` }],
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
const T2 = '2025-03-02T10:00:00.000Z';

/** A loopback webhook whose answer the test changes; `accepted` holds the requests it answered 200. */
async function switchable(status: number) {
  const ctl = { status, accepted: [] as RecordedRequest[], url: '', secretPath: '', requests: [] as RecordedRequest[] };
  const h = await env.hook({
    fallback: (req) => {
      if (ctl.status === 200) ctl.accepted.push(req);
      return { status: ctl.status, body: ctl.status === 200 ? 'ok' : ctl.status === 410 ? 'no_service' : 'internal_error' };
    },
  });
  return Object.assign(ctl, { url: h.url, secretPath: h.secretPath, requests: h.requests });
}

/** "open RUSTSEC-2025-4001" per Slack message for this workspace, in order (digests: "digest of N"). */
function alerts(reqs: RecordedRequest[], ws: string): string[] {
  return reqs
    .filter((r) => r.body.includes(ws))
    .map((r) => (r.json as { text: string }).text)
    .map((t) =>
      t.startsWith('Digest: ')
        ? `digest of ${/(\d+) finding state changes/.exec(t)?.[1]}`
        : `${t.startsWith('[RESOLVED]') ? 'resolved' : 'open'} ${/RUSTSEC-\d{4}-\d{4}/.exec(t)?.[0]}`,
    );
}

const passes = (log: { entries: LogEntry[] }) => log.entries.filter((e) => e.msg === 'redrive').map((e) => e.fields);
const entries = (log: { entries: LogEntry[] }, msg: string) => log.entries.filter((e) => e.msg === msg).map((e) => e.fields);
/** The re-drive's state as /readyz shows it (with the ops token set below), and whether the process is alive. */
const healthz = async (base: string) => {
  const alive = (await (await fetch(`${base}/healthz`)).json()) as { status: string };
  const ready = (await (
    await fetch(`${base}/readyz`, { headers: { authorization: `Bearer ${process.env.CRATEWATCH_OPS_TOKEN}` } })
  ).json()) as { checks: { 'redrive-status': { off?: true; pending: number; oldestSince: string | null; lastPassAt: string | null } } };
  const r = ready.checks['redrive-status'];
  return { status: alive.status, redrive: r.off ? ('off' as const) : r } as {
    status: string;
    redrive: { pending: number; oldestSince: string | null; lastPassAt: string | null };
  };
};

describe('re-driving risk.findings.dlq (real Kafka)', () => {
  it('a finding Slack answers 500 to: dead-lettered, retried each pass with backoff while it fails, delivered exactly once when Slack recovers', async () => {
    const ws = uniq();
    const slack = await switchable(500);
    const dlq = await dlqReader(`${ws}|`);
    const n = await notifier([ws], {
      webhookUrl: slack.url,
      groupId: group(),
      delivery,
      redrive: FAST,
      feed: { host: '127.0.0.1', port: 0 },
    });
    await produce(finding(ws, 1));

    await waitFor('the DLQ record', () => dlq.length >= 1);
    expect(dlq[0]!.error).toBe('not delivered to Slack: webhook delivery failed after 2 attempts; last: HTTP 500: internal_error');
    expect(dlq[0]!.undeliverable).toEqual({ routes: ['default'], attempts: 0, firstAt: expect.any(String) });
    // Re-driven while Slack still fails: written again with the attempt counted and the next attempt's time.
    await waitFor('two failed re-drive attempts', () => dlq.length >= 3, 30_000);
    expect(dlq[1]!.undeliverable).toMatchObject({ routes: ['default'], attempts: 1, firstAt: dlq[0]!.undeliverable!.firstAt });
    expect(dlq[2]!.undeliverable).toMatchObject({ attempts: 2 });
    // Backoff: the second retry waits two intervals after the first.
    const gap = Date.parse(dlq[2]!.undeliverable!.nextAt!) - Date.parse(dlq[1]!.undeliverable!.nextAt!);
    expect(gap).toBeGreaterThanOrEqual(2 * FAST.intervalMs);
    expect(dlq.every((r) => r.key === finding(ws, 1).id && JSON.parse(r.value!).id === finding(ws, 1).id)).toBe(true);
    const health = await healthz(n.feedUrl!);
    expect(health).toMatchObject({ status: 'alive', redrive: { pending: 1, oldestSince: dlq[0]!.undeliverable!.firstAt } });
    expect(passes(n.log).some((p) => p.tried === 1 && p.delivered === 0 && p.pending === 1)).toBe(true);
    expect(entries(n.log, 'redrive: still pending')[0]).toMatchObject({ finding: finding(ws, 1).id, routes: ['default'], attempts: 1 });

    slack.status = 200;
    await waitFor('delivered by the re-drive', () => slack.accepted.length >= 1, 30_000);
    await waitFor('the pass that delivered it', () => passes(n.log).some((p) => p.delivered === 1));
    await settle(2000); // several more passes
    expect(alerts(slack.accepted, ws)).toEqual([`open RUSTSEC-2025-4001`]);
    expect(passes(n.log).find((p) => p.delivered === 1)).toMatchObject({ tried: 1, delivered: 1, dropped: 0, pending: 0 });
    expect((await healthz(n.feedUrl!)).redrive).toMatchObject({ pending: 0, oldestSince: null });
    expect(n.stats).toMatchObject({ deadLettered: 1, redriven: 1, delivered: 1 });
    expect(entries(n.log, 'sent')).toEqual([expect.objectContaining({ finding: finding(ws, 1).id, redrive: true, channel: 'slack' })]);
    const written = dlq.length;
    await settle(1000);
    expect(dlq).toHaveLength(written); // nothing more dead-lettered once delivered
    expect(JSON.stringify(n.log.entries)).not.toContain(slack.secretPath);
    // The same story in /metrics: failed deliveries, one dead-lettered, then one delivered; no URL in a label.
    const text = await n.metrics.shared.text();
    expect(text).toMatch(/cratewatch_notifier_deliveries_total\{route="default",form="single",outcome="failed"[^}]*\} [1-9]/);
    expect(text).toMatch(/cratewatch_notifier_deliveries_total\{route="default",form="single",outcome="delivered"[^}]*\} 1\n/);
    expect(text).toMatch(/cratewatch_messages_dead_lettered_total\{topic="[^"]*risk\.findings",failure="undeliverable"[^}]*\} 1\n/);
    expect(text).not.toContain(slack.secretPath);
  });

  it('two routes, one revoked (410): the other gets it once; after the fix only the failed route is re-driven, once', async () => {
    const ws = uniq();
    const [ops, sec] = [await switchable(410), await switchable(200)];
    const dlq = await dlqReader(`${ws}|`);
    const routes: Route[] = [
      { name: 'ops', webhookUrl: ops.url },
      { name: 'sec', webhookUrl: sec.url },
    ];
    const n = await notifier([ws], { routes, groupId: group(), delivery, redrive: FAST });
    await produce(finding(ws, 1), finding(ws, 2));
    // The main consumer's records (attempts 0): a fast pass may already have added its copy (attempts 1).
    const first = () => dlq.filter((r) => r.undeliverable?.attempts === 0);
    await waitFor('2 DLQ records', () => first().length >= 2);
    expect(first().map((r) => r.error)).toEqual(
      Array(2).fill('not delivered to route ops: webhook refused the message: HTTP 410: no_service (not retried)'),
    );
    expect(first().map((r) => r.undeliverable?.routes)).toEqual([['ops'], ['ops']]);
    await waitFor('a failed re-drive pass', () => passes(n.log).some((p) => p.tried === 1 && p.pending === 2), 30_000);
    // After the first failure on a route, the pass leaves that route's other record for later.
    expect(passes(n.log).every((p) => (p.tried as number) <= 1)).toBe(true);

    ops.status = 200;
    await waitFor('both delivered to ops', () => ops.accepted.length >= 2, 30_000);
    await waitFor('nothing pending', () => passes(n.log).at(-1)?.pending === 0);
    await settle(1500);
    expect(alerts(ops.accepted, ws).sort()).toEqual(['open RUSTSEC-2025-4001', 'open RUSTSEC-2025-4002']);
    expect(alerts(sec.requests, ws).sort()).toEqual(['open RUSTSEC-2025-4001', 'open RUSTSEC-2025-4002']);
    expect(entries(n.log, 'sent').filter((e) => e.redrive)).toHaveLength(2);
    expect(
      entries(n.log, 'sent')
        .filter((e) => e.redrive)
        .every((e) => e.route === 'ops'),
    ).toBe(true);
    expect(n.stats).toMatchObject({ redriven: 2, delivered: 4, deadLettered: 2 });
  });

  it('a restart between failure and recovery loses nothing: the next notifier delivers it once, with its attempts kept; a third start has nothing left', async () => {
    const ws = uniq();
    const slack = await switchable(503);
    const dlq = await dlqReader(`${ws}|`);
    const groupId = group();
    const n1 = await notifier([ws], { webhookUrl: slack.url, groupId, delivery, redrive: FAST });
    await produce(finding(ws, 1), finding(ws, 2));
    await waitFor('both re-driven and failed once', () => dlq.filter((r) => r.undeliverable!.attempts === 1).length >= 2, 30_000);
    await n1.stop();

    slack.status = 200;
    const n2 = await notifier([ws], { webhookUrl: slack.url, groupId, delivery, redrive: FAST });
    await waitFor('both delivered after the restart', () => slack.accepted.length >= 2, 30_000);
    await waitFor('nothing pending', () => passes(n2.log).at(-1)?.pending === 0);
    await settle(1500);
    expect(alerts(slack.accepted, ws).sort()).toEqual(['open RUSTSEC-2025-4001', 'open RUSTSEC-2025-4002']);
    // n2's main consumer had nothing to do (n1 committed its window); the re-drive delivered both, as their 2nd attempt or later.
    expect(n2.stats).toMatchObject({ delivered: 2, redriven: 2, deadLettered: 0 });
    expect(entries(n2.log, 'sent').every((e) => e.redrive === true && (e.attempt as number) >= 2)).toBe(true);
    await n2.stop();

    // Everything was delivered and committed: a third start re-reads nothing and sends nothing.
    const n3 = await notifier([ws], { webhookUrl: slack.url, groupId, delivery, redrive: FAST });
    await waitFor('three passes', () => passes(n3.log).length >= 3);
    expect(passes(n3.log).every((p) => p.tried === 0 && p.pending === 0 && p.dropped === 0)).toBe(true);
    expect(slack.accepted).toHaveLength(2);
    expect(n3.stats.delivered).toBe(0);
  });

  it('an invalid message in the DLQ is never retried; a record an older notifier wrote is recognised by its reason and re-driven', async () => {
    const ws = uniq();
    const slack = await switchable(200);
    const dlq = await dlqReader(`${ws}|`);
    const n = await notifier([ws], { webhookUrl: slack.url, groupId: group(), delivery, redrive: FAST });
    const bad = { ...finding(ws, 1), severity: 'urgent' };
    await produce({ key: bad.id, value: JSON.stringify(bad) }, { key: `${ws}|not-json`, value: '{oops' });
    // Written the way the notifier did before the `undeliverable` mark: recognised by 'not delivered to Slack'.
    const legacy = finding(ws, 2);
    await env.produceDlq({
      key: legacy.id,
      value: JSON.stringify({
        v: 1,
        topic: TOPICS.findings,
        partition: 0,
        offset: '0',
        key: legacy.id,
        value: JSON.stringify(legacy),
        error: 'not delivered to Slack: webhook failed after 6 attempts; last: HTTP 503',
        service: 'notifier',
        at: new Date().toISOString(),
      }),
    });
    await waitFor('the legacy record re-driven', () => slack.accepted.length >= 1, 30_000);
    await waitFor('both invalid messages seen by the re-drive', () => entries(n.log, 'redrive: not retried').length >= 2);
    const notRetried = () => passes(n.log).reduce((s, p) => s + (p.notRetried as number), 0);
    await waitFor('the refusals counted by a pass', () => notRetried() >= 2);
    const seen = passes(n.log).length;
    await waitFor('three more passes', () => passes(n.log).length >= seen + 3);
    expect(alerts(slack.requests, ws)).toEqual(['open RUSTSEC-2025-4002']);
    expect(
      entries(n.log, 'redrive: not retried')
        .map((e) => [e.key, e.why])
        .sort(),
    ).toEqual(
      [
        [bad.id, 'a refused message (bad input)'],
        [`${ws}|not-json`, 'a refused message (bad input)'],
      ].sort(),
    );
    // Never re-produced: the DLQ holds the two refusals and the legacy record, nothing more.
    expect(dlq.map((r) => r.key).sort()).toEqual([bad.id, legacy.id, `${ws}|not-json`].sort());
    expect(notRetried()).toBe(2);
    expect(passes(n.log).every((p) => (p.tried as number) <= 1 && p.pending === 0)).toBe(true);
  });

  it('an escalation dead-lettered is re-driven as an escalation, once', async () => {
    const ws = uniq();
    const slack = await switchable(200);
    const dlq = await dlqReader(`${ws}|`);
    const n = await notifier([ws], { webhookUrl: slack.url, groupId: group(), delivery, redrive: FAST });
    const medium = { ...finding(ws, 1), severity: 'medium' as const, score: 5 };
    await produce(medium);
    await waitFor('the medium alert', () => slack.accepted.length >= 1);
    slack.status = 503;
    await produce({ ...finding(ws, 1, { at: T2 }), severity: 'critical', score: 9.1 });
    await waitFor('the escalation dead-lettered', () => dlq.length >= 1);
    slack.status = 200;
    await waitFor('the escalation re-driven', () => slack.accepted.length >= 2, 30_000);
    await settle(1000);
    const texts = slack.accepted.map((r) => (r.json as { text: string }).text);
    expect(texts).toHaveLength(2);
    expect(texts[1]).toMatch(/^\[CRITICAL ⬆ escalated from medium\] RUSTSEC-2025-4001/);
    expect(entries(n.log, 'sent').filter((e) => e.redrive)).toEqual([expect.objectContaining({ escalatedFrom: 'medium', attempt: 1 })]);
  });

  it('a finding resolved meanwhile is not re-sent as open: the resolved state is delivered once, whether it too was dead-lettered or delivered first', async () => {
    // (a) Open and then resolved, both dead-lettered: only the resolution goes out when Slack recovers.
    const ws = uniq();
    const slack = await switchable(500);
    const dlq = await dlqReader(`${ws}|`);
    const n = await notifier([ws], { webhookUrl: slack.url, groupId: group(), delivery, redrive: FAST });
    await produce(finding(ws, 1));
    await waitFor('the open state dead-lettered', () => dlq.length >= 1);
    await produce(finding(ws, 1, { state: 'resolved', at: T2 }));
    await waitFor('the resolution dead-lettered too', () => dlq.some((r) => (JSON.parse(r.value!) as FindingEvent).state === 'resolved'));
    await waitFor('the open state dropped in a pass', () => entries(n.log, 'redrive: dropped').some((e) => e.state === 'open'), 30_000);
    slack.status = 200;
    await waitFor('delivered', () => slack.accepted.length >= 1, 30_000);
    await waitFor('nothing pending', () => passes(n.log).at(-1)?.pending === 0);
    await settle(1500);
    expect(alerts(slack.accepted, ws)).toEqual(['resolved RUSTSEC-2025-4001']);
    expect(entries(n.log, 'sent')).toEqual([expect.objectContaining({ state: 'resolved', redrive: true })]);
    // Dropped as superseded (both records read) or as moved on (the resolution known on risk.findings first).
    expect(entries(n.log, 'redrive: dropped')).toEqual([
      expect.objectContaining({
        finding: finding(ws, 1).id,
        state: 'open',
        why: expect.stringMatching(/^(superseded by a newer state of the finding in the DLQ|the finding has moved on)$/),
      }),
    ]);
    await n.stop();

    // (b) Open dead-lettered; Slack recovers and the resolution is delivered before any re-drive pass:
    //     the restarted notifier's re-drive drops the open state, with a log line.
    const ws2 = uniq();
    const slack2 = await switchable(500);
    const dlq2 = await dlqReader(`${ws2}|`);
    const groupId = group();
    const m1 = await notifier([ws2], { webhookUrl: slack2.url, groupId, delivery, redrive: false });
    await produce(finding(ws2, 1));
    await waitFor('the open state dead-lettered', () => dlq2.length >= 1);
    slack2.status = 200;
    await produce(finding(ws2, 1, { state: 'resolved', at: T2 }));
    await waitFor('the resolution delivered', () => slack2.accepted.length >= 1);
    await m1.stop();
    const m2 = await notifier([ws2], { webhookUrl: slack2.url, groupId, delivery, redrive: FAST });
    await waitFor('the open state dropped', () => entries(m2.log, 'redrive: dropped').length >= 1, 30_000);
    await settle(1500);
    expect(alerts(slack2.accepted, ws2)).toEqual(['resolved RUSTSEC-2025-4001']);
    expect(entries(m2.log, 'redrive: dropped')).toEqual([
      expect.objectContaining({ finding: finding(ws2, 1).id, state: 'open', why: 'the finding has moved on', now: 'resolved' }),
    ]);
    expect(passes(m2.log).find((p) => p.dropped === 1)).toMatchObject({ tried: 0, delivered: 0, pending: 0 });
    expect(m2.stats.delivered).toBe(0);
  });

  it('many findings re-driven to one route at once go as one digest', async () => {
    const ws = uniq();
    const slack = await switchable(500);
    const dlq = await dlqReader(`${ws}|`);
    const n = await notifier([ws], {
      webhookUrl: slack.url,
      groupId: group(),
      delivery,
      digest: { threshold: 3, windowMs: 500 },
      redrive: { intervalMs: 1000 },
    });
    await produce(...Array.from({ length: 6 }, (_, i) => finding(ws, i + 1)));
    await waitFor('6 DLQ records', () => dlq.length >= 6);
    expect(dlq.slice(0, 6).every((r) => r.error.startsWith('not delivered to Slack (in a digest of 6): '))).toBe(true);
    slack.status = 200;
    await waitFor('delivered', () => slack.accepted.length >= 1, 30_000);
    await waitFor('nothing pending', () => passes(n.log).at(-1)?.pending === 0);
    await settle(1500);
    expect(alerts(slack.accepted, ws)).toEqual(['digest of 6']);
    expect(entries(n.log, 'sent digest').at(-1)).toMatchObject({ findings: 6, redrive: true });
    expect(n.stats).toMatchObject({ redriven: 6, digests: 1 });
  });

  it('runs as a program: NOTIFIER_REDRIVE_INTERVAL_MS sets the pass interval (default 5 minutes, off), shown in ready and /healthz', async () => {
    const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'main.js');
    const run = (vars: Record<string, string>) => {
      const c = spawn(process.execPath, [main], {
        env: {
          ...process.env,
          KAFKA_BROKERS: env.brokers,
          NOTIFIER_FEED_LISTEN: '127.0.0.1:0',
          NOTIFIER_GROUP: group(),
          NOTIFIER_KEY_PREFIX: `${uniq()}|`,
          ...vars,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const io = { stderr: '' };
      c.stderr.on('data', (d: Buffer) => (io.stderr += d.toString()));
      const exited = new Promise<number | null>((r) => c.on('exit', (code) => r(code)));
      env.cleanup(async () => {
        if (c.exitCode === null) c.kill('SIGKILL');
      });
      return { c, io, exited };
    };
    const ready = async (p: ReturnType<typeof run>) => {
      await waitFor('"ready" on stderr', () => p.io.stderr.includes('"msg":"ready"'), 60_000);
      return JSON.parse(p.io.stderr.split('\n').find((l) => l.includes('"msg":"ready"'))!) as { redrive: unknown; feed: string };
    };

    const bad = run({ NOTIFIER_REDRIVE_INTERVAL_MS: '5m' });
    expect(await bad.exited).toBe(1);
    expect(bad.io.stderr).toContain('NOTIFIER_REDRIVE_INTERVAL_MS must be a positive whole number of ms or off');

    const byDefault = run({});
    const r1 = await ready(byDefault);
    expect(r1.redrive).toMatchObject({ intervalMs: 300_000, maxBackoffMs: 21_600_000 });
    expect((await healthz(r1.feed)).redrive).toMatchObject({ pending: 0, lastPassAt: null });
    byDefault.c.kill('SIGTERM');
    expect(await byDefault.exited).toBe(0);

    const fast = run({ NOTIFIER_REDRIVE_INTERVAL_MS: '200' });
    const r2 = await ready(fast);
    expect(r2.redrive).toMatchObject({ intervalMs: 200 });
    await waitFor('a re-drive pass logged', () => fast.io.stderr.includes('"msg":"redrive"'), 30_000);
    expect((await healthz(r2.feed)).redrive.lastPassAt).not.toBeNull();
    fast.c.kill('SIGTERM');
    expect(await fast.exited).toBe(0);

    const off = run({ NOTIFIER_REDRIVE_INTERVAL_MS: 'off' });
    const r3 = await ready(off);
    expect(r3.redrive).toBe('off');
    expect(await healthz(r3.feed)).toMatchObject({ status: 'alive', redrive: 'off' });
    off.c.kill('SIGTERM');
    expect(await off.exited).toBe(0);
  });
});
