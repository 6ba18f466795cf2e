/**
 * One advisory, end to end: real RustSec advisories and real lockfiles from ../shared/data go
 * through the real ingest, scorer and notifier processes, real Kafka and real Neo4j, to a Slack
 * webhook played by a real HTTP server on loopback. Needs ../shared/data; skips when absent.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import neo4j from 'neo4j-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matchLockfile, parseAdvisory, parseLockfile, type Advisory } from '@cratewatch/shared';
import {
  runIngest,
  sharedData,
  sleep,
  startService,
  tempDir,
  unique,
  waitFor,
  webhookRecorder,
  type ReceivedAlert,
  type Service,
} from './pipeline-harness.js';

const hasData = existsSync(join(sharedData, 'rustsec/crates')) && existsSync(join(sharedData, 'projects'));

/** Real advisories chosen to hit the real lockfiles in tricky ways, plus ones that must not alert. */
const ADVISORIES = [
  'crates/anyhow/RUSTSEC-2026-0190.md', // unsound (informational) — libprio-rs anyhow 1.0.100
  'crates/crossbeam-epoch/RUSTSEC-2026-0204.md', // vulnerability — libprio-rs crossbeam-epoch 0.9.18
  'crates/tokio/RUSTSEC-2021-0124.md', // patched in every locked tokio: no alert
  'crates/ring/RUSTSEC-2025-0007.md', // withdrawn: never an alert
  'crates/rustls-webpki/RUSTSEC-2026-0098.md', // pre-release patched bounds — spin 0.101.7 and 0.102.8
  'crates/rustls-webpki/RUSTSEC-2026-0049.md', // unaffected below 0.102.0-alpha.0 — spin 0.102.8 only
  'crates/tracing/RUSTSEC-2023-0078.md', // yanked-only fix; application-services 0.1.37 unaffected
  'crates/rand/RUSTSEC-2026-0097.md', // unsound, several locked versions
  'crates/wasmtime/RUSTSEC-2026-0006.md',
  'crates/time/RUSTSEC-2026-0009.md',
];

interface Alert {
  workspace: string;
  advisory: string;
  crate: string;
  version: string;
  state: string;
}

/** Reads what an alert says back out of the Block Kit message the notifier sent. */
function readAlert(a: ReceivedAlert): Alert {
  const blocks = (a.body.blocks ?? []) as { type: string; text?: { text: string }; fields?: { text: string }[] }[];
  const header = blocks.find((b) => b.type === 'header')?.text?.text ?? '';
  const field = (name: string) => readAlertField(a, name) ?? '';
  const [crate, version] = field('Crate').replace(/`/g, '').split(' ');
  return {
    workspace: field('Workspace').replace(/ \(team .*\)$/, ''),
    advisory: /RUSTSEC-\d{4}-\d{4}/.exec(header)?.[0] ?? '',
    crate: crate ?? '',
    version: version ?? '',
    state: field('State'),
  };
}

function readAlertField(a: ReceivedAlert, name: string): string | undefined {
  const blocks = (a.body.blocks ?? []) as { fields?: { text: string }[] }[];
  return blocks
    .flatMap((b) => b.fields ?? [])
    .map((f) => f.text)
    .find((t) => t.startsWith(`*${name}*\n`))
    ?.slice(name.length + 3);
}

const key = (a: { workspace: string; advisory: string; crate: string; version: string; state?: string }) =>
  `${a.workspace} ${a.advisory} ${a.crate}@${a.version}${a.state ? ` ${a.state}` : ''}`;

describe.skipIf(!hasData)('advisory pipeline end to end (needs ../shared/data)', () => {
  const db = tempDir('advisory-db');
  const advisories: Advisory[] = [];
  let hook: Awaited<ReturnType<typeof webhookRecorder>>;
  let scorer: Service;
  let notifier: Service;
  const run = unique('e2e');
  // Topics of this run only (other test files share the broker). The graph is shared too (one
  // Neo4j database for the whole run, and whatever else the servers were used for): nothing here
  // clears it, and every assertion reads only this test's workspaces (ids `${run}-…`) and findings
  // of the advisories it ingested (ADVISORIES). An advisory another test (or the demo) left in the
  // graph may raise findings on these workspaces too: those are not this test's and are ignored.
  const prefix = `${run}.`;
  const topic = (name: string) => `${prefix}${name}`;
  const env = {
    CRATEWATCH_TOPIC_PREFIX: prefix,
    KAFKA_SESSION_TIMEOUT_MS: '8000', // a crashed scorer's partitions move on sooner
    SCORER_GROUP: `${run}-scorer`,
    NOTIFIER_GROUP: `${run}-notifier`,
    CRATEWATCH_STATE_DIR: tempDir('state'),
    SLACK_WEBHOOK_URL: '',
    NOTIFIER_DIGEST_THRESHOLD: 'off', // one Slack message per finding: this test reads each alert
  };
  const kafka = new Kafka({ clientId: 'e2e-test', brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });
  const driver = neo4j.driver(
    process.env.NEO4J_URI!,
    process.env.NEO4J_PASSWORD ? neo4j.auth.basic('neo4j', process.env.NEO4J_PASSWORD) : undefined,
    { disableLosslessIntegers: true },
  );

  /** What the alerts must be: computed independently with the shared matcher, no services involved. */
  const expectedFor = (workspace: string, project: string): string[] => {
    const lock = parseLockfile(readFileSync(join(sharedData, 'projects', project, 'Cargo.lock'), 'utf8'));
    return matchLockfile(advisories, lock)
      .map((h) => key({ workspace, advisory: h.advisory.id, crate: h.package.name, version: h.package.version, state: 'open' }))
      .sort();
  };
  // Advisory alerts of this test's advisories only: libprio-rs and spin carry a cargo-vet store, so
  // the scorer also raises unvetted findings for them (test/scorer-coverage.test.ts is about those).
  const ours = (advisory: string) => advisories.some((a) => a.id === advisory);
  const advisoryAlerts = () => hook.received.map(readAlert).filter((a) => ours(a.advisory));
  const alertsFor = (workspace: string) =>
    advisoryAlerts()
      .filter((a) => a.workspace === workspace)
      .map(key)
      .sort();
  const ingestWorkspace = (id: string, project: string, stateDir = env.CRATEWATCH_STATE_DIR) =>
    runIngest(['workspace', '--lockfile', join(sharedData, 'projects', project), '--id', id, '--org', 'acme', '--team', 'platform'], {
      ...env,
      CRATEWATCH_STATE_DIR: stateDir,
    });

  beforeAll(async () => {
    for (const rel of ADVISORIES) {
      mkdirSync(join(db, dirname(rel)), { recursive: true });
      cpSync(join(sharedData, 'rustsec', rel), join(db, rel));
      advisories.push(parseAdvisory(readFileSync(join(db, rel), 'utf8'), rel));
    }
    hook = await webhookRecorder();
    env.SLACK_WEBHOOK_URL = hook.url;
    [scorer, notifier] = await Promise.all([startService('scorer', env), startService('notifier', env)]);
    await runIngest(['rustsec', '--db', db], env);
  });

  afterAll(async () => {
    await Promise.all([scorer?.stop(), notifier?.stop()]);
    await hook?.close();
    await driver.close();
    rmSync(db, { recursive: true, force: true });
  });

  it('turns a real advisory hitting a real lockfile into exactly the right Slack alerts', async () => {
    const ws = `${run}-libprio`;
    await ingestWorkspace(ws, 'libprio-rs');
    const expected = expectedFor(ws, 'libprio-rs');
    expect(expected).toEqual([`${ws} RUSTSEC-2026-0190 anyhow@1.0.100 open`, `${ws} RUSTSEC-2026-0204 crossbeam-epoch@0.9.18 open`]);
    await waitFor('libprio alerts', () => alertsFor(ws).length >= expected.length);
    await sleep(3000); // and nothing more arrives
    expect(alertsFor(ws)).toEqual(expected);

    const anyhow = hook.received.find((a) => readAlert(a).workspace === ws && readAlert(a).advisory === 'RUSTSEC-2026-0190')!;
    expect(anyhow.raw).toContain('informational (unsound)');
    expect(anyhow.raw).toContain('https://rustsec.org/advisories/RUSTSEC-2026-0190.html');
    expect(readAlertField(anyhow, 'Patched versions')).toBe('&gt;= 1.0.103'); // mrkdwn-escaped `>= 1.0.103`
    expect(anyhow.body.text).toEqual(expect.any(String));
  });

  it('alerts on pre-release bounds and informational kinds as the matcher says, never on withdrawn ones', async () => {
    const ws = `${run}-spin`;
    await ingestWorkspace(ws, 'spin');
    const expected = expectedFor(ws, 'spin');
    expect(expected).toContain(`${ws} RUSTSEC-2026-0098 rustls-webpki@0.101.7 open`);
    expect(expected).not.toContain(`${ws} RUSTSEC-2026-0049 rustls-webpki@0.101.7 open`);
    expect(expected.some((e) => e.includes('RUSTSEC-2025-0007'))).toBe(false);
    await waitFor('spin alerts', () => alertsFor(ws).length >= expected.length);
    await sleep(3000);
    expect(alertsFor(ws)).toEqual(expected);
  });

  /** Whether `groupId` has committed every message of `topics` (a partition it never read: when empty). */
  const caughtUp = async (groupId: string, topics: string[]): Promise<boolean> => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const lag = await admin.fetchOffsets({ groupId, topics });
      const ends = await Promise.all(topics.map((t) => admin.fetchTopicOffsets(t)));
      const endOf = new Map(ends.flatMap((e, i) => e.map((p) => [`${topics[i]}/${p.partition}`, p.high])));
      // A partition the group never read has no committed offset (-1): caught up when it is empty.
      return lag.every((t) =>
        t.partitions.every((p) => {
          const end = endOf.get(`${t.topic}/${p.partition}`);
          return p.offset === end || (p.offset === '-1' && end === '0');
        }),
      );
    } finally {
      await admin.disconnect();
    }
  };
  /** Until the scorer has handled every workspace and advisory, then the notifier every finding it sent. */
  const settled = async () => {
    await waitFor('scorer to catch up', () => caughtUp(env.SCORER_GROUP, [topic('org.workspaces'), topic('rustsec.advisories')]));
    await waitFor('notifier to catch up', () => caughtUp(env.NOTIFIER_GROUP, [topic('risk.findings')]));
  };

  it('changes nothing in Neo4j or the alerts when the same events are replayed', async () => {
    const ws = `${run}-libprio`;
    const ids = advisories.map((a) => a.id);
    const crates = [
      ...new Set(parseLockfile(readFileSync(join(sharedData, 'projects', 'libprio-rs', 'Cargo.lock'), 'utf8')).packages.map((p) => p.name)),
    ];
    const one = async (cypher: string) => (await driver.executeQuery(cypher, { ws, run, ids, crates })).records[0]!.toObject();
    /**
     * What the replay could touch, and only that: this run's workspaces and findings, the advisories
     * it ingested, the crates libprio-rs locks with all their versions, and the edges at them.
     * (Not the whole graph: whatever else is in the shared Neo4j is not this test's to count.)
     */
    const snapshot = async () => {
      const r = await one(
        `MATCH (w:Workspace {id: $ws})
         OPTIONAL MATCH (w)-[l:LOCKS]->(v:Version)
         WITH w, count(l) AS locks
         OPTIONAL MATCH (f:Finding)-[:IN]->(w) WHERE f.advisory IS NULL OR f.advisory IN $ids
         WITH w, locks, collect(f.id + '=' + f.state) AS findings
         OPTIONAL MATCH (w)-[:LOCKS]->(:Version)<-[af:AFFECTS]-(a:Advisory) WHERE a.id IN $ids
         RETURN locks, findings, count(af) AS affects`,
      );
      const nodes = await one(
        `CALL { MATCH (n:Workspace) WHERE n.id STARTS WITH $run RETURN count(n) AS workspaces }
         CALL { MATCH (n:Finding) WHERE n.workspace STARTS WITH $run AND (n.advisory IS NULL OR n.advisory IN $ids) RETURN count(n) AS findings }
         CALL { MATCH (n:Advisory) WHERE n.id IN $ids RETURN count(n) AS advisories }
         CALL { MATCH (n:Crate) WHERE n.name IN $crates RETURN count(n) AS crates }
         CALL { MATCH (n:Version) WHERE n.crate IN $crates RETURN count(n) AS versions }
         RETURN workspaces, findings, advisories, crates, versions`,
      );
      const rels = await one(
        `CALL { MATCH (:Workspace {id: $ws})-[r]-() RETURN count(r) AS atWorkspace }
         CALL { MATCH (a:Advisory)-[r]-() WHERE a.id IN $ids RETURN count(r) AS atAdvisories }
         CALL { MATCH (v:Version)-[r]-() WHERE v.crate IN $crates RETURN count(r) AS atVersions }
         RETURN atWorkspace, atAdvisories, atVersions`,
      );
      return { locks: r.locks, findings: (r.findings as string[]).sort(), affects: r.affects, nodes, rels };
    };
    // The earlier tests waited for their advisory alerts only: the scorer may still be writing (say,
    // the spin workspace's unvetted findings) and the notifier still delivering. Count once both
    // are through, else the replay gets the blame for their work.
    await settled();
    const before = await snapshot();
    const alertsBefore = hook.received.length; // this test's notifier reads this test's topics only
    expect(before.nodes.versions).toBeGreaterThan(0); // the scope holds what the replay could touch
    expect(before.rels.atWorkspace).toBeGreaterThan(0);
    expect(before.findings.filter((f) => f.includes('|advisory:'))).toHaveLength(2);
    expect(before.findings.filter((f) => f.endsWith('|unvetted=open')).length).toBeGreaterThan(0); // libprio-rs has a store
    // A fresh checkpoint makes ingest send every advisory and the workspace again.
    const freshState = tempDir('replay');
    await runIngest(['rustsec', '--db', db], { ...env, CRATEWATCH_STATE_DIR: freshState });
    await ingestWorkspace(ws, 'libprio-rs', freshState);
    await settled();
    await sleep(2000);
    expect(await snapshot()).toEqual(before);
    expect(hook.received.length).toBe(alertsBefore);
  });

  it('sends a message that fails validation to the topic .dlq with its reason, and goes on', async () => {
    const producer = kafka.producer();
    await producer.connect();
    const badKey = `${run}-bad`;
    await producer.send({
      topic: topic('org.workspaces'),
      messages: [
        { key: badKey, value: JSON.stringify({ v: 1, id: badKey, org: 'acme', packages: 'not-a-list' }) },
        { key: `${badKey}-json`, value: '{ this is not json' },
      ],
    });
    await producer.disconnect();
    const consumer = kafka.consumer({ groupId: unique('dlq-reader') });
    const dlq: { key: string; error: string; service: string }[] = [];
    await consumer.connect();
    await consumer.subscribe({ topic: topic('org.workspaces.dlq'), fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        const rec = JSON.parse(message.value!.toString());
        dlq.push({ key: rec.key, error: rec.error, service: rec.service });
      },
    });
    try {
      await waitFor('DLQ records', () => dlq.filter((d) => d.key.startsWith(badKey)).length === 2);
    } finally {
      await consumer.disconnect();
    }
    const mine = dlq.filter((d) => d.key.startsWith(badKey)).sort((a, b) => a.key.localeCompare(b.key));
    expect(mine[0]).toMatchObject({ key: badKey, service: 'scorer' });
    expect(mine[0]!.error).toMatch(/packages: Expected array/);
    expect(mine[0]!.error).toMatch(/edges: Required/);
    expect(mine[1]!.error).toMatch(/not JSON/);
    // The scorer went on: a valid workspace after the bad ones still alerts.
    const ws = `${run}-after-dlq`;
    await ingestWorkspace(ws, 'libprio-rs');
    await waitFor('alerts after the bad messages', () => alertsFor(ws).length >= 2);
    expect(alertsFor(ws)).toEqual(expectedFor(ws, 'libprio-rs'));
  });

  it('loses and repeats no alert when the scorer crashes and the notifier restarts mid-stream', async () => {
    const projects = ['application-services', 'ariel-os', 'libprio-rs', 'spin'];
    const ids = projects.map((p) => `${run}-restart-${p}`);
    const expected = ids.flatMap((id, i) => expectedFor(id, projects[i]!)).sort();
    const mine = () =>
      advisoryAlerts()
        .filter((a) => ids.includes(a.workspace))
        .map(key)
        .sort();
    // Workspaces keep arriving while the scorer crashes and the notifier restarts.
    const ingesting = (async () => {
      for (const [i, id] of ids.entries()) await ingestWorkspace(id, projects[i]!);
    })();
    // Crash the scorer as soon as the first of these alerts arrives, and restart the notifier too.
    await waitFor('first alert of the batch', () => mine().length > 0, 90_000, 20);
    await scorer.stop('SIGKILL');
    const atCrash = mine().length;
    await notifier.stop('SIGTERM');
    [scorer, notifier] = await Promise.all([startService('scorer', env), startService('notifier', env)]);
    await ingesting;
    await waitFor(`all ${expected.length} alerts`, () => mine().length >= expected.length, 120_000);
    await sleep(3000);
    expect(atCrash).toBeLessThan(expected.length); // the crash really was mid-stream
    expect(mine()).toEqual(expected);
  });
});
