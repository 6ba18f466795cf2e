/**
 * Work the scorer owes to workspaces, on real Neo4j and real Kafka, with the Scorer in process so
 * that the test decides where each batch ends: a trusted pool loaded in many batches is applied to
 * coverage once per workspace when the consumer catches up, not once per batch; the marks kept in
 * the graph (`coverageDue`, `riskDue`) let a new scorer finish what a stopped one left; a maximum
 * delay of 0 recomputes after every batch (the behaviour before). Names are unique to this run.
 */
import { vi } from 'vitest';

vi.hoisted(() => {
  process.env.CRATEWATCH_TOPIC_PREFIX = `scorer-deferred-test-${Date.now().toString(36)}.`;
});

import type { KafkaMessage, Producer } from 'kafkajs';
import neo4j, { type Driver } from 'neo4j-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOPICS, encodeEvent, type PoolEvent, type ReleaseEvent, type WorkspaceEvent } from '@cratewatch/shared';
import { ensureTopics, kafkaClient, newProducer, withAdmin, type ConsumedMessage, type Logger } from '@cratewatch/runtime';
import { Graph, Scorer } from '../src/index.js';
import { testAdvisory } from '../../../test/pipeline-harness.js';

const run = `sdt${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
const pool = `${run}-pool`;
const CRATES = 'registry+https://github.com/rust-lang/crates.io-index';
const NOW = '2026-04-01T00:00:00.000Z';
/** Crate n of a test's own set (`tag`): the pool's audits of one test must not vet another's crates. */
const crate = (n: number, tag: string) => `${run}-${tag}${n}`;
const CRATE_COUNT = 6;

let driver: Driver;
let graph: Graph;
let producer: Producer;

/** A logger that keeps what it is told, for counting recomputes. */
function captured() {
  const entries: { msg: string; fields: Record<string, unknown> }[] = [];
  const at = (msg: string, fields: Record<string, unknown> = {}) => void entries.push({ msg, fields });
  return { log: { debug: at, info: at, warn: at, error: at } as Logger, entries };
}

let offset = 0;
function message(topic: string, key: string, value: string): ConsumedMessage {
  return {
    topic,
    partition: 0,
    key,
    message: {
      key: Buffer.from(key),
      value: Buffer.from(value),
      offset: String(offset++),
      timestamp: '0',
      attributes: 0,
      headers: {},
    } as KafkaMessage,
  };
}

/** app → six crates of its own (normal), none audited by its store; minScore 0 makes each a finding. */
function workspace(id: string, tag: string): WorkspaceEvent {
  const pkgs = Array.from({ length: CRATE_COUNT }, (_, i) => ({
    id: `${crate(i + 1, tag)}@1.0.0`,
    name: crate(i + 1, tag),
    version: '1.0.0',
    source: CRATES,
  }));
  return {
    v: 1,
    id,
    org: 'acme',
    packages: [{ id: `${id}-app@0.1.0`, name: `${id}-app`, version: '0.1.0' }, ...pkgs],
    edges: pkgs.map((p) => ({ from: `${id}-app@0.1.0`, to: p.id, kind: 'normal' as const })),
    members: [`${id}-app@0.1.0`],
    store: { config: '\n# cargo-vet config file\n\n[cargo-vet]\nversion = "0.10"\n' },
    origin: { path: `${id}/Cargo.lock`, checksum: `sha256:${id}` },
    observedAt: NOW,
  };
}

/** The trusted pool's full audit of crate n (one event per crate, as ingest writes them). */
const poolMessage = (n: number, tag: string) => {
  const ev: PoolEvent = {
    v: 1,
    pool,
    url: `https://example.test/${run}/audits.toml`,
    crate: crate(n, tag),
    entries: { audits: [{ who: 'p', criteria: 'safe-to-deploy', version: '1.0.0' }] },
    observedAt: NOW,
  } as PoolEvent;
  return message(TOPICS.audits, `${pool}/${crate(n, tag)}`, encodeEvent(TOPICS.audits, ev));
};

const scorer = (log: Logger, timing = { settleMs: 0, maxDelayMs: 60_000 }) =>
  new Scorer(graph, producer, log, () => NOW, { trustedPools: [pool], minScore: 0 }, { minScore: 5 }, timing);
const applied = (entries: { msg: string; fields: Record<string, unknown> }[], ws: string[]) =>
  entries.filter((e) => e.msg === 'coverage applied' && ws.includes(e.fields.workspace as string)).map((e) => e.fields.workspace);
const marks = async (ws: string[]) =>
  (
    await driver.executeQuery(
      'UNWIND $ws AS id MATCH (w:Workspace {id: id}) RETURN w.id AS id, w.coverageDue AS coverage, w.riskDue AS risk, w.vetVetted AS vetted ORDER BY id',
      { ws },
    )
  ).records.map((r) => r.toObject());

beforeAll(async () => {
  driver = neo4j.driver(
    process.env.NEO4J_URI!,
    process.env.NEO4J_PASSWORD ? neo4j.auth.basic(process.env.NEO4J_USER ?? 'neo4j', process.env.NEO4J_PASSWORD) : undefined,
  );
  graph = new Graph(driver, process.env.NEO4J_DATABASE || undefined);
  await graph.ensureSchema();
  const kafka = kafkaClient('scorer-deferred-test');
  await withAdmin(kafka, (a) => ensureTopics(a, 1));
  producer = newProducer(kafka);
  await producer.connect();
});

afterAll(async () => {
  await driver?.executeQuery(
    'MATCH (n) WHERE n.id STARTS WITH $run OR n.crate STARTS WITH $run OR n.name STARTS WITH $run OR n.workspace STARTS WITH $run DETACH DELETE n',
    { run },
  );
  await producer?.disconnect();
  await driver?.close();
});

describe('coverage owed after a trusted pool changes (real Neo4j and Kafka, Scorer in process)', () => {
  it('a pool loaded in six batches: no recompute while the consumer is behind, one per workspace when it catches up', async () => {
    const ws = [`${run}-a`, `${run}-b`];
    const { log, entries } = captured();
    const s = scorer(log);
    for (const id of ws) await s.handleBatch([message(TOPICS.workspaces, id, encodeEvent(TOPICS.workspaces, workspace(id, 'x')))]);
    expect(applied(entries, ws)).toEqual(ws); // a workspace event recomputes at once
    expect((await marks(ws)).map((m) => m.vetted)).toEqual([0, 0]);

    for (let n = 1; n <= 5; n++) await s.handleBatch([poolMessage(n, 'x')], { caughtUp: false });
    expect(applied(entries, ws)).toHaveLength(2); // nothing yet: the bulk is still coming
    expect((await marks(ws)).map((m) => m.coverage)).toEqual([true, true]);

    await s.handleBatch([poolMessage(6, 'x')], { caughtUp: true });
    expect(applied(entries, ws)).toEqual([...ws, ...ws]); // once each, with all six audits
    expect(await marks(ws)).toEqual(ws.map((id) => ({ id, coverage: null, risk: null, vetted: CRATE_COUNT })));
  });

  it('a scorer stopped while coverage and risk were owed: the next one finishes them at start, from the marks in the graph', async () => {
    const ws = [`${run}-c`];
    const first = captured();
    const s1 = scorer(first.log);
    // The workspace's findings are written but the scorer stops before writing its risk.
    await s1.onWorkspace(workspace(ws[0]!, 'y'));
    expect(await marks(ws)).toEqual([{ id: ws[0], coverage: null, risk: true, vetted: 0 }]);
    // A pool change comes in, the consumer is behind, and the scorer stops.
    await s1.handleBatch([poolMessage(1, 'y'), poolMessage(2, 'y')], { caughtUp: false });
    expect(await marks(ws)).toEqual([{ id: ws[0], coverage: true, risk: null, vetted: 0 }]);
    // (handleBatch wrote the risk the findings called for; the coverage still waits.)

    const second = captured();
    const s2 = scorer(second.log);
    await s2.resume();
    expect(second.entries.find((e) => e.msg === 'resuming work left by a previous run')?.fields).toMatchObject({ coverage: 1 });
    expect(applied(second.entries, ws)).toEqual(ws);
    expect(await marks(ws)).toEqual([{ id: ws[0], coverage: null, risk: null, vetted: 2 }]);
    const risk = await driver.executeQuery('MATCH (w:Workspace {id: $id}) RETURN w.risk AS risk', { id: ws[0] });
    expect(risk.records[0]!.get('risk')).not.toBeNull();
    // Nothing left: a third start has nothing to resume.
    const third = captured();
    await scorer(third.log).resume();
    expect(third.entries.filter((e) => e.msg === 'resuming work left by a previous run')).toEqual([]);
  });

  it('SCORER_COVERAGE_MAX_DELAY_MS 0: coverage after every batch, caught up or not', async () => {
    const ws = [`${run}-d`];
    const { log, entries } = captured();
    const s = scorer(log, { settleMs: 0, maxDelayMs: 0 });
    await s.handleBatch([message(TOPICS.workspaces, ws[0]!, encodeEvent(TOPICS.workspaces, workspace(ws[0]!, 'z')))]);
    for (let n = 1; n <= 3; n++) await s.handleBatch([poolMessage(n, 'z')], { caughtUp: false });
    expect(applied(entries, ws)).toHaveLength(4);
  });

  it('a source that sends its load in parts, the consumer catching up between them: one recompute once no pool change came for settleMs, by a timer', async () => {
    const ws = [`${run}-e`];
    const { log, entries } = captured();
    const s = scorer(log, { settleMs: 1500, maxDelayMs: 60_000 });
    await s.handleBatch([message(TOPICS.workspaces, ws[0]!, encodeEvent(TOPICS.workspaces, workspace(ws[0]!, 'w')))]);
    for (let n = 1; n <= 3; n++) {
      await s.handleBatch([poolMessage(n, 'w')], { caughtUp: true });
      await new Promise((r) => setTimeout(r, 100)); // the next part comes before the load settles
    }
    expect(applied(entries, ws)).toHaveLength(1); // the workspace event's only
    // The timer's turns: the coverage, then the risk the new coverage called for (a turn of its own).
    const settled = [{ id: ws[0], coverage: null, risk: null, vetted: 3 }];
    const t0 = Date.now();
    while (JSON.stringify(await marks(ws)) !== JSON.stringify(settled) && Date.now() - t0 < 15_000)
      await new Promise((r) => setTimeout(r, 20));
    expect(await marks(ws)).toEqual(settled);
    expect(applied(entries, ws)).toHaveLength(2);
    await s.stop();
    // Stopped: a change now is marked in the graph, but no timer comes to apply it (the next start will).
    const after = scorer(captured().log, { settleMs: 300, maxDelayMs: 60_000 });
    await after.handleBatch([poolMessage(4, 'w')], { caughtUp: true });
    await after.stop();
    await new Promise((r) => setTimeout(r, 600));
    expect(await marks(ws)).toEqual([{ id: ws[0], coverage: true, risk: null, vetted: 3 }]);
  });

  it('a run of releases is written while another turn holds the scorer; its AFFECTS edges come after that turn', async () => {
    const { log } = captured();
    const s = scorer(log);
    await s.resume(); // as at start (main.ts): a first batch would otherwise wait for it in the queue
    const name = crate(1, 'rel');
    const advisory = testAdvisory(`RUSTSEC-2097-${String(Date.now() % 10000).padStart(4, '0')}`, name, NOW).advisory;
    await s.onAdvisory(advisory); // no version patched: every version of the crate is affected
    const release = (v: string): ReleaseEvent => ({
      v: 1,
      crate: name,
      version: v,
      yanked: false,
      features: {},
      dependencies: [],
      publishedAt: NOW,
      observedAt: NOW,
    });
    const msgs = ['1.0.0', '1.0.1'].map((v) => message(TOPICS.releases, name, encodeEvent(TOPICS.releases, release(v))));
    // Hold the scorer's turn, as a long workspace or pool recompute would.
    let letGo!: () => void;
    const held = (s as unknown as { deferred: { exclusive: (fn: () => Promise<void>) => Promise<void> } }).deferred.exclusive(
      () => new Promise<void>((r) => (letGo = r)),
    );
    const handled = s.handleBatch(msgs);
    const versions = async () =>
      (
        await driver.executeQuery(
          'MATCH (:Crate {name: $name})-[:HAS_VERSION]->(v:Version) OPTIONAL MATCH (a:Advisory)-[:AFFECTS]->(v) RETURN v.version AS v, count(a) AS affects ORDER BY v',
          { name },
        )
      ).records.map((r) => [r.get('v'), Number(r.get('affects'))]);
    for (let i = 0; (await versions()).length < 2; i++) {
      if (i > 600) throw new Error('the releases were not written while the turn was held');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await versions()).toEqual([
      ['1.0.0', 0],
      ['1.0.1', 0],
    ]); // written beside the held turn, not linked yet
    letGo();
    await held;
    expect((await handled).size).toBe(0);
    expect(await versions()).toEqual([
      ['1.0.0', 1],
      ['1.0.1', 1],
    ]); // linked in a turn of their own, after it
  });
});
