/**
 * Two Scorers on one graph (docs/adr/0002-several-scorers.md), in process on real Neo4j and Kafka so
 * that the test decides the interleaving: a risk flush that meets a finding another scorer is
 * writing counts it (the `riskDue` race); finding events a crashed scorer left in the outbox are
 * sent once, by whoever comes first — a starting scorer's `resume`, or the replay of the message —
 * even when two race for them; a scorer deciding a finding another is writing waits and sends nothing. The waits are on conditions (Neo4j's own list of transactions), not
 * on a clock. Names are unique to this run.
 */
import { vi } from 'vitest';

vi.hoisted(() => {
  process.env.CRATEWATCH_TOPIC_PREFIX = `scorer-several-test-${Date.now().toString(36)}.`;
});

import { Kafka, logLevel, type Consumer, type Producer } from 'kafkajs';
import neo4j, { type Driver, type ManagedTransaction } from 'neo4j-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOPICS, advisoryFinding, type Advisory, type FindingEvent, type WorkspaceEvent } from '@cratewatch/shared';
import { ensureTopics, kafkaClient, newProducer, withAdmin, type Logger } from '@cratewatch/runtime';
import { Graph, Scorer } from '../src/index.js';
import { addAffects, lockWorkspaces, upsertAdvisories, writeFindings } from '../src/graph/index.js';
import { testAdvisory } from '../../../test/pipeline-harness.js';

const run = `sst${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
const CRATES = 'registry+https://github.com/rust-lang/crates.io-index';
const NOW = '2026-04-01T00:00:00.000Z';
const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} } as Logger;

let driver: Driver;
let graph: Graph;
let producer: Producer;
let reader: Consumer;
const sent: FindingEvent[] = [];

const scorer = () => new Scorer(graph, producer, quiet, () => NOW);

/** A workspace locking `${id}-dep@1.0.0` (no store: advisory findings only). */
function workspace(id: string): WorkspaceEvent {
  return {
    v: 1,
    id,
    org: 'acme',
    packages: [
      { id: `${id}-app@0.1.0`, name: `${id}-app`, version: '0.1.0' },
      { id: `${id}-dep@1.0.0`, name: `${id}-dep`, version: '1.0.0', source: CRATES },
    ],
    edges: [{ from: `${id}-app@0.1.0`, to: `${id}-dep@1.0.0`, kind: 'normal' }],
    members: [`${id}-app@0.1.0`],
    origin: { path: `${id}/Cargo.lock`, checksum: `sha256:${id}` },
    observedAt: NOW,
  };
}

let n = 0;
/** A crates.io vulnerability on `pkg` (patched >= 2.0.0), high by its CVSS, a new id each call. */
function advisory(pkg: string): Advisory {
  n++;
  return testAdvisory(`RUSTSEC-2097-${String(1000 + n)}`, pkg, NOW, {
    date: '2097-01-01',
    cvss: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N',
  }).advisory;
}

const q = async (cypher: string, params: Record<string, unknown> = {}) =>
  (await driver.executeQuery(cypher, params)).records.map((r) => r.toObject());
const sentFor = (ws: string) => sent.filter((f) => f.workspace.id === ws);

/** Everything produced to risk.findings so far has been read back. */
async function settled(): Promise<void> {
  const admin = new Kafka({ clientId: `${run}-admin`, brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const total = (await admin.fetchTopicOffsets(TOPICS.findings)).reduce((s, p) => s + Number(p.high) - Number(p.low), 0);
    await until(() => seen >= total);
  } finally {
    await admin.disconnect();
  }
}
let seen = 0;

async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  driver = neo4j.driver(
    process.env.NEO4J_URI!,
    process.env.NEO4J_PASSWORD ? neo4j.auth.basic(process.env.NEO4J_USER ?? 'neo4j', process.env.NEO4J_PASSWORD) : undefined,
    { disableLosslessIntegers: true },
  );
  graph = new Graph(driver, process.env.NEO4J_DATABASE || undefined);
  await graph.ensureSchema();
  const kafka = kafkaClient('scorer-several-test');
  await withAdmin(kafka, (a) => ensureTopics(a, 1));
  producer = newProducer(kafka);
  await producer.connect();
  reader = kafka.consumer({ groupId: `${run}-reader` });
  await reader.connect();
  await reader.subscribe({ topics: [TOPICS.findings], fromBeginning: true });
  await reader.run({
    eachMessage: async ({ message }) => {
      seen++;
      const f = JSON.parse(message.value!.toString()) as FindingEvent;
      if (f.workspace.id.startsWith(run)) sent.push(f);
    },
  });
});

afterAll(async () => {
  await driver?.executeQuery(
    'MATCH (n) WHERE n.id STARTS WITH $run OR n.name STARTS WITH $run OR n.workspace STARTS WITH $run DETACH DELETE n',
    { run },
  );
  await reader?.disconnect();
  await producer?.disconnect();
  await driver?.close();
});

describe('two scorers on one graph (real Neo4j and Kafka, Scorers in process)', () => {
  it('a risk flush that meets another scorer writing findings waits for them and counts them', async () => {
    const ws = `${run}-risk`;
    const a = scorer();
    await a.onWorkspace(workspace(ws));
    await a.flushRisk();
    expect(await q('MATCH (w:Workspace {id: $ws}) RETURN w.risk AS risk, w.riskDue AS due', { ws })).toEqual([{ risk: 0, due: null }]);

    // Scorer B is in the middle of writing a high finding for the workspace (its transaction holds
    // the workspace, as every deciding transaction does) when A's flush for the workspace begins.
    const adv = advisory(`${ws}-dep`);
    const finding = advisoryFinding({ id: ws, org: 'acme' }, adv, '1.0.0', 'open', NOW);
    const session = driver.session();
    const tx = session.beginTransaction();
    await lockWorkspaces(tx as unknown as ManagedTransaction, [ws]);
    await writeFindings(tx as unknown as ManagedTransaction, [finding]);
    (a as unknown as { deferred: { riskDue: Set<string> } }).deferred.riskDue.add(ws); // A owes the workspace its risk (say, its lockfile arrived)
    const flush = a.flushRisk();
    // A's flush is blocked on the workspace's lock (Neo4j lists it so), then B commits.
    await until(
      async () =>
        (
          await q(
            `SHOW TRANSACTIONS YIELD currentQuery, status WHERE status STARTS WITH 'Blocked' AND currentQuery CONTAINS '_lock' RETURN count(*) AS n`,
          )
        )[0]!.n > 0,
    );
    await tx.commit();
    await session.close();
    await flush;
    // The flush read B's finding: the risk counts it, and the mark B set is cleared only because it did.
    const [w] = await q('MATCH (w:Workspace {id: $ws}) RETURN w.risk AS risk, w.riskSeverity AS severity, w.riskDue AS due', { ws });
    expect(w).toEqual({ risk: expect.any(Number), severity: 'high', due: null });
    expect(w!.risk as number).toBeGreaterThanOrEqual(7.5);
  });

  it('events a crashed scorer left in the outbox: two scorers starting at once send them once', async () => {
    const ws = `${run}-crash`;
    await scorer().onWorkspace(workspace(ws));
    // A scorer decided two findings and committed them, then crashed before sending the events.
    const adv = [advisory(`${ws}-dep`), advisory(`${ws}-dep`)];
    const findings = adv.map((x) => advisoryFinding({ id: ws, org: 'acme' }, x, '1.0.0', 'open', NOW));
    await graph.run('write', async (tx) => {
      await lockWorkspaces(tx, [ws]);
      await writeFindings(tx, findings);
    });
    expect(await q('MATCH (f:Finding {workspace: $ws}) RETURN size(f.pendingEvents) AS n', { ws })).toEqual([{ n: 1 }, { n: 1 }]);
    await settled();
    expect(sentFor(ws)).toEqual([]);

    await Promise.all([scorer().resume(), scorer().resume()]);
    await settled();
    expect(
      sentFor(ws)
        .map((f) => f.id)
        .sort(),
    ).toEqual(findings.map((f) => f.id).sort());
    expect(await q('MATCH (f:Finding {workspace: $ws}) RETURN f.pendingEvents AS p', { ws })).toEqual([{ p: null }, { p: null }]);
  });

  it('the replay of the message a crashed scorer was handling sends what it left, once, and decides nothing again', async () => {
    const ws = `${run}-replay`;
    const s = scorer();
    await s.onWorkspace(workspace(ws));
    const adv = advisory(`${ws}-dep`);
    await s.onAdvisories([adv]);
    await settled();
    const first = sentFor(ws).length;
    expect(first).toBe(1);
    // Simulate the crash by putting the sent event back in the outbox, as if the send never happened.
    await q('MATCH (f:Finding {workspace: $ws}) SET f.pendingEvents = [$e]', { ws, e: JSON.stringify(sentFor(ws)[0]) });
    // Two scorers get the replayed advisory (a rebalance): one sends the left event, neither decides again.
    await Promise.all([scorer().onAdvisories([adv]), scorer().onAdvisories([adv])]);
    await settled();
    expect(sentFor(ws)).toHaveLength(2);
    expect(sentFor(ws)[1]).toEqual(sentFor(ws)[0]);
    expect(await q('MATCH (f:Finding {workspace: $ws}) RETURN f.pendingEvents AS p, f.state AS state', { ws })).toEqual([
      { p: null, state: 'open' },
    ]);
  });

  it('a scorer deciding while another is writing the same new finding waits, then sends nothing', async () => {
    const ws = `${run}-race`;
    await scorer().onWorkspace(workspace(ws));
    const adv = advisory(`${ws}-dep`);
    await graph.run('write', (tx) =>
      upsertAdvisories(tx, [adv]).then(() => addAffects(tx, [{ advisory: adv.id, version: `${ws}-dep@1.0.0` }])),
    );
    // Scorer B has decided "opened" for the hit (its transaction holds the workspace, its finding
    // written with the event in the outbox) when scorer A, handling the advisory on another
    // partition, recomputes the same workspace.
    const finding = advisoryFinding({ id: ws, org: 'acme' }, adv, '1.0.0', 'open', NOW);
    const session = driver.session();
    const tx = session.beginTransaction();
    await lockWorkspaces(tx as unknown as ManagedTransaction, [ws]);
    await writeFindings(tx as unknown as ManagedTransaction, [finding]);
    const a = scorer().recomputeAdvisoryFindings(ws);
    await until(
      async () =>
        (
          await q(
            `SHOW TRANSACTIONS YIELD currentQuery, status WHERE status STARTS WITH 'Blocked' AND currentQuery CONTAINS '_lock' RETURN count(*) AS n`,
          )
        )[0]!.n > 0,
    );
    await tx.commit();
    await session.close();
    expect(await a).toEqual([]); // A saw B's finding: nothing changed
    await scorer().resume(); // B's outbox, as B (or the replay of its message, or a start) sends it
    await settled();
    expect(sentFor(ws).map((f) => `${f.id} ${f.state}`)).toEqual([`${finding.id} open`]);
  });
});
