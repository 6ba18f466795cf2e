/**
 * Several scorers in one consumer group (docs/adr/0002-several-scorers.md), as real processes on
 * real Kafka (topics of 3 partitions) and Neo4j, with the real RustSec advisories and lockfiles of
 * ../shared/data (skips when absent). The input is sent once, to this run's own topics; each phase
 * wipes the graph and reads it from the beginning under a group of its own:
 *   1. two scorers, the second joining while the first is in the middle of the load (a rebalance
 *      with a batch in flight), and the advisories sent again while the last workspaces arrive (an
 *      advisory's partition and a workspace's on different scorers, deciding the same findings);
 *   2. one scorer: the reference;
 *   3. two scorers, one killed with SIGKILL mid-load and a third joining.
 * Phases 1 and 2 must send exactly one event per finding and leave the same graph; phase 3 may
 * repeat an event the killed scorer had sent but not cleared (byte for byte, which the notifier
 * drops), must lose none and leave the same graph. Nothing waits on a clock: only on conditions.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FindingEvent } from '@cratewatch/shared';
import { createTopicsAndWait, kafkaBrokers } from './helpers.js';
import {
  runIngest,
  scorerProbe,
  sharedData,
  startService,
  tempDir,
  unique,
  waitFor,
  type ScorerProbe,
  type Service,
} from './pipeline-harness.js';

const hasData = existsSync(join(sharedData, 'rustsec/crates')) && existsSync(join(sharedData, 'projects'));
const PROJECTS = ['libprio-rs', 'spin', 'application-services', 'ariel-os'];
const LONG = 900_000;

const run = unique('several');
const prefix = `${run}.`;
const base = { CRATEWATCH_TOPIC_PREFIX: prefix, KAFKA_SESSION_TIMEOUT_MS: '8000', KAFKA_PARTITIONS: '3' };
const INPUT = ['rustsec.advisories', 'org.workspaces'];

describe.skipIf(!hasData)('several scorers in one group (needs ../shared/data)', () => {
  let probe: ScorerProbe;
  const started: Service[] = [];
  const kafka = new Kafka({ clientId: `${run}-test`, brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  /** Each phase's finding events and graph. */
  const phases: { events: FindingEvent[]; raw: string[]; graph: string[] }[] = [];

  const scorer = async (group: string) => {
    const s = await startService('scorer', { ...base, SCORER_GROUP: group }, 180_000);
    started.push(s);
    return s;
  };
  const ingest = (args: string[]) => runIngest(args, { ...base, CRATEWATCH_STATE_DIR: tempDir('several-state') });
  const advisories = () => ingest(['rustsec', '--db', join(sharedData, 'rustsec')]);
  const workspace = (n: number, project: string) =>
    ingest(['workspace', '--lockfile', join(sharedData, 'projects', project), '--id', `${run}/w${n}-${project}`, '--org', 'acme']);
  const handled = (s: Service) => /"msg":"(advisories|workspace) applied"/.test(s.output());

  /** Waits until `group` has committed every input message (every partition, empty ones too). */
  const drained = (group: string) =>
    waitFor(
      `${group} to consume the input`,
      async () => {
        for (const name of INPUT) {
          const ends = await admin.fetchTopicOffsets(prefix + name);
          const [committed] = await admin.fetchOffsets({ groupId: group, topics: [prefix + name] });
          for (const e of ends) {
            const p = committed!.partitions.find((x) => x.partition === e.partition);
            if ((p && p.offset !== '-1' ? BigInt(p.offset) : 0n) < BigInt(e.high)) return false;
          }
        }
        return true;
      },
      LONG,
      500,
    );

  /** Every node and relationship as a sorted list of lines; the scorer's clock (`Finding.observedAt`) left out. */
  const dump = async (): Promise<string[]> => {
    const key = `coalesce(n.id, n.name, n.login, n.url)`;
    const nodes = await probe.q<{ l: string[]; p: Record<string, unknown> }>(`MATCH (n) RETURN labels(n) AS l, properties(n) AS p`);
    const rels = await probe.q<{ line: unknown[] }>(
      `MATCH (a)-[r]->(b) RETURN [type(r), ${key.replace(/n\./g, 'a.')}, ${key.replace(/n\./g, 'b.')}, properties(r)] AS line`,
    );
    const canon = (p: Record<string, unknown>) =>
      JSON.stringify(Object.fromEntries(Object.entries(p).sort(([x], [y]) => (x < y ? -1 : 1))));
    const lines = [
      ...nodes.map(({ l, p }) => {
        if (l.includes('Finding')) delete p.observedAt;
        return `${l.sort().join(':')} ${canon(p)}`;
      }),
      ...rels.map(({ line }) => `${line[0]} ${line[1]} -> ${line[2]} ${canon(line[3] as Record<string, unknown>)}`),
    ];
    return lines.sort();
  };

  const wipe = async () => {
    await probe.q('MATCH (n) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS');
  };

  /** Runs `body`, then waits for `groups` to drain and the findings to settle, and records the phase. */
  const phase = async (group: string, body: () => Promise<void>) => {
    await wipe();
    const from = probe.findings.length;
    await body();
    await drained(group);
    await probe.findingsSettled();
    const events = probe.findings.slice(from);
    phases.push({ events, raw: events.map((e) => JSON.stringify(e)), graph: await dump() });
  };
  const stopAll = async () => {
    for (const s of started.splice(0)) await s.stop('SIGTERM');
  };

  beforeAll(async () => {
    await admin.connect();
    // The probe reads risk.findings from the start: it must exist before any scorer creates it.
    await createTopicsAndWait(admin, [{ topic: `${prefix}risk.findings`, numPartitions: 3 }]);
    probe = await scorerProbe({ prefix, scorerGroup: `${run}-unused` });
  }, LONG);

  afterAll(async () => {
    for (const s of started) await s.stop('SIGKILL');
    await probe?.close();
    await admin.disconnect();
  });

  const countsByKey = (events: FindingEvent[]) => {
    const m = new Map<string, number>();
    for (const e of events) m.set(`${e.id} ${e.state}`, (m.get(`${e.id} ${e.state}`) ?? 0) + 1);
    return m;
  };
  const openedAdvisories = (events: FindingEvent[]) => events.filter((e) => e.kind === 'advisory' && e.state === 'open');

  it(
    'two scorers, the second joining mid-load, send each finding once and write the graph one scorer writes',
    async () => {
      const group = `${run}-two`;
      await phase(group, async () => {
        const a = await scorer(group);
        const load = advisories();
        await workspace(1, PROJECTS[0]!);
        await waitFor('the first scorer to be handling the load', () => handled(a), LONG);
        const b = scorer(group); // joins while the first is working through the load: a rebalance
        for (const [i, p] of PROJECTS.slice(1).entries()) await workspace(i + 2, p);
        await load;
        await b;
        // The advisories again while more workspaces arrive: both scorers decide the same findings.
        await Promise.all([
          advisories(),
          (async () => {
            for (const [i, p] of PROJECTS.entries()) await workspace(i + 5, p);
          })(),
        ]);
        await drained(group);
        expect(started.map(handled)).toEqual([true, true]); // both took part
      });
      await stopAll();

      await phase(`${run}-one`, async () => {
        await scorer(`${run}-one`);
      });
      await stopAll();

      const [two, one] = phases;
      // The run is about something: every project gave advisory findings, for 8 workspaces.
      const perWorkspace = new Set(openedAdvisories(one!.events).map((e) => e.workspace.id));
      expect(perWorkspace.size).toBe(8);
      // One scorer sends each finding once (each input arrives once per finding, nothing resolves).
      const oneCounts = countsByKey(one!.events);
      expect([...oneCounts.values()].every((n) => n === 1)).toBe(true);
      // Two scorers: exactly the same events, each once — in particular one "opened" per (workspace, advisory).
      const twoCounts = countsByKey(two!.events);
      const duplicated = [...twoCounts].filter(([, n]) => n > 1).map(([k]) => k);
      expect(duplicated).toEqual([]);
      expect([...twoCounts.keys()].sort()).toEqual([...oneCounts.keys()].sort());
      const pairs = openedAdvisories(two!.events).map((e) => `${e.workspace.id} ${e.advisory!.id} ${e.version}`);
      expect(new Set(pairs).size).toBe(pairs.length);
      expectSameGraph(two!.graph, one!.graph);
    },
    LONG,
  );

  it(
    'a scorer killed mid-load loses nothing: the others finish its work, repeating at most what it had sent',
    async () => {
      expect(phases).toHaveLength(2); // needs the reference of the test above
      const group = `${run}-kill`;
      await phase(group, async () => {
        const [a] = await Promise.all([scorer(group), scorer(group)]);
        await waitFor('the first scorer to be handling the load', () => handled(a!), LONG);
        await a!.stop('SIGKILL');
        started.splice(started.indexOf(a!), 1);
        await scorer(group); // a third joins: another rebalance while the second is working
      });
      await stopAll();

      const [, one, killed] = phases;
      // Every finding event of the reference arrived; any event seen twice is a byte-identical
      // repeat from the outbox (the notifier drops it), never a second decision.
      expect([...new Set(killed!.events.map((e) => `${e.id} ${e.state}`))].sort()).toEqual([...countsByKey(one!.events).keys()].sort());
      const distinct = new Map<string, Set<string>>();
      killed!.events.forEach((e, i) =>
        distinct.set(`${e.id} ${e.state}`, (distinct.get(`${e.id} ${e.state}`) ?? new Set()).add(killed!.raw[i]!)),
      );
      expect([...distinct].filter(([, s]) => s.size > 1).map(([k]) => k)).toEqual([]);
      expectSameGraph(killed!.graph, one!.graph);
    },
    LONG,
  );
});

/** The two dumps hold the same lines (differences listed, not the whole graph, when they do not). */
function expectSameGraph(got: string[], want: string[]): void {
  const g = new Set(got);
  const w = new Set(want);
  expect({ extra: got.filter((l) => !w.has(l)).slice(0, 20), missing: want.filter((l) => !g.has(l)).slice(0, 20) }).toEqual({
    extra: [],
    missing: [],
  });
  expect(got.length).toBe(want.length);
}
