/**
 * Event-level fuzzing of the real scorer (issue 8, part 3): seeded random streams of schema-valid,
 * mutated events of every topic the scorer consumes, built from the real data in ../shared/data
 * (test/fuzz/events.ts), fed to the real scorer process on the run's real Kafka and Neo4j.
 *
 * Two runs per seed, each in a fresh scope (its own topic prefix and consumer group; the graph wiped
 * before it — Neo4j Community has one database, and the scorer keys nodes by crate name, version
 * id, … with no room for a scope, see services/scorer/src/graph.ts):
 *   A: the shuffled stream with duplicates, keys of all topics interleaved at random;
 *   B: the same distinct values in a canonical order (pools → releases → maintainers → advisories →
 *      workspaces, keys sorted), with the same last value per key.
 * Properties:
 *   1. The scorer never wedges: in each run, every partition's committed offset (the scorer group's)
 *      reaches the partition's end; each message it refuses is in `<topic>.dlq` with a reason; the
 *      messages the generator made to be refused are all there, and no other (a schema-valid event
 *      the scorer cannot apply is a bug it dead-letters rather than a wedge, reported as such).
 *   2. Order does not matter where it should not: the graph (every node by label + key with its
 *      properties, every relationship, sorted) and the set of open findings are the same after A and
 *      after B.
 *
 * Replay: the seed is printed; `FUZZ_SEED=<seed> npx vitest run test/fuzz-scorer.test.ts`.
 * `FUZZ_SCALE` (default 1) scales the event counts; `FUZZ_SHRINK=1` lets fast-check shrink a
 * failure (each attempt is two full scorer runs: minutes). Needs ../shared/data (skips without).
 */
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import neo4j, { type Driver } from 'neo4j-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { infraSource, kafkaBrokers, neo4jAuth, neo4jUri, sendWhenReady } from './helpers.js';
import { scorerProbe, startService, tempDir, unique, waitFor, type ScorerProbe, type Service } from './pipeline-harness.js';
import { FUZZ_TOPICS, fuzzStreams, hasFuzzData, loadCorpus, valueId, type FuzzStreams, type Msg, type MutationSwitches } from './fuzz/events.js';

/**
 * Mutations that hit known bugs other engineers are fixing. `false` = not generated, so the suite
 * stays green; flip to `true` once the fix is merged (each one fails property 1 and/or 2 today).
 */
const KNOWN_DEFAULTS: MutationSwitches = {
  // KNOWN: parseLockfile accepts non-SemVer versions; a crates.io package locked at one makes every
  // advisory on its crate throw in isAffected (onWorkspace / onAdvisories), so the workspace or the
  // advisory is dead-lettered after 3 attempts — which one depends on arrival order.
  lockedNonSemver: false,
  // KNOWN: a git audit (`x.y.z@git:<rev>`) creates a crates.io Version node `crate@x.y.z@git:<rev>`;
  // an advisory on that crate arriving later throws on it and is dead-lettered (arriving earlier, it
  // is applied: linkAdvisories skips versions it cannot parse).
  gitAudits: false,
  // KNOWN: same as gitAudits for an audit whose version is no SemVer at all (a pool's typo).
  nonSemverAudits: false,
  // KNOWN: same for a release whose version is no SemVer (the schema only asks for a non-empty string).
  nonSemverReleases: false,
};
/** `FUZZ_KNOWN=gitAudits,lockedNonSemver` (or `all`) turns known-failing mutations on for one run. */
const KNOWN: MutationSwitches = Object.fromEntries(
  Object.entries(KNOWN_DEFAULTS).map(([k, v]) => [k, v || (process.env.FUZZ_KNOWN ?? '').split(',').some((x) => x.trim() === k || x.trim() === 'all')]),
) as unknown as MutationSwitches;

const SCALE = Number(process.env.FUZZ_SCALE ?? 1);
const SIZES = {
  pools: Math.round(380 * SCALE),
  advisories: Math.round(180 * SCALE),
  workspaces: Math.max(2, Math.round(6 * SCALE)),
  maintainers: Math.round(170 * SCALE),
  releases: Math.round(170 * SCALE),
};
const MIN_EVENTS = Math.round(2000 * SCALE);
const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
/** The scorer trusts some of the generated pools, so pool changes move coverage and unvetted findings. */
const TRUSTED = 'google,mozilla,isrg';

let driver: Driver;
let kafka: Kafka;
let admin: Admin;
let producer: Producer;

beforeAll(async () => {
  driver = neo4j.driver(neo4jUri(), neo4jAuth(), { disableLosslessIntegers: true });
  kafka = new Kafka({ clientId: 'fuzz-scorer', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
  admin = kafka.admin();
  producer = kafka.producer();
  await Promise.all([admin.connect(), producer.connect()]);
});

afterAll(async () => {
  await producer?.disconnect();
  await admin?.disconnect();
  await driver?.close();
});

const q = async <T = Record<string, unknown>>(cypher: string, params: Record<string, unknown> = {}): Promise<T[]> => {
  const s = driver.session();
  try {
    return (await s.run(cypher, params)).records.map((r) => r.toObject() as T);
  } finally {
    await s.close();
  }
};

/** The test run's own servers (test/infra.ts): the tests clear the graph (see test/README.md). */
/** The run wipes the graph: only on servers this test run started itself (test/infra.ts), never on given ones. */
function ownServers(): boolean {
  const own = !infraSource().split('+').includes('env');
  if (!own) console.warn('fuzz-scorer skipped: it clears the graph, so it runs only on servers the test run started (unset KAFKA_BROKERS / NEO4J_URI)');
  return own;
}
const wipe = () => q('MATCH (n) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS');

interface RunResult {
  prefix: string;
  dump: string[];
  /** Open findings as the graph stores them: `id|kind|severity|score|why`. */
  openFindings: string[];
  /** Open findings as the findings topic last said them (latest event per id). */
  openOnTopic: string[];
  dlq: ScorerProbe['dlq'];
  ms: number;
  output: string;
}

/**
 * Properties the dump leaves out, because they legitimately differ between two runs of the same facts:
 * - `Finding.observedAt`: the scorer's clock when it opened or last changed the finding (`now()`),
 *   not a fact from the events; the other finding fields are compared.
 * Finding nodes that are not open (and their edges) are left out too: a finding that opened and
 * resolved again is history, and whether a transient state raised one depends on the arrival order
 * (a workspace's older lockfile meeting an advisory or not) — the open ones are the truth compared.
 */
const EXCLUDED: Record<string, string[]> = { Finding: ['observedAt'] };

/**
 * Residue left out too: nodes an intermediate state MERGEd that nothing refers to any more. Pool and
 * maintainer events carry a key's whole state, and the scorer applies only the last of a run per key
 * (`applyFacts`), so which intermediate states were ever applied depends on how the messages fell
 * into batches; and Version/Crate nodes are never deleted. So: a Version no workspace LOCKS, no audit
 * CERTIFIES, that no release wrote (`yanked` unset) and no open finding is ABOUT; a Crate left with
 * no version, owner, repository or maintainers observation. Everything else is compared.
 */
const residueVersion = (n: string) =>
  `(${n}.yanked IS NULL AND NOT EXISTS { (${n})<-[:LOCKS|CERTIFIES]-() } AND NOT EXISTS { (${n})<-[:ABOUT]-(:Finding {state: 'open'}) })`;
const leftOut = (n: string) =>
  `((${n}:Finding AND ${n}.state <> 'open') OR (${n}:Version AND ${residueVersion(n)}) OR ` +
  `(${n}:Crate AND ${n}.maintainersObservedAt IS NULL AND NOT EXISTS { (${n})-[:HOSTED_AT]->() } AND NOT EXISTS { (${n})<-[:OWNS]-() } ` +
  `AND NOT EXISTS { MATCH (${n})-[:HAS_VERSION]->(v:Version) WHERE NOT ${residueVersion('v')} }))`;

const keyOf = `coalesce(n.id, n.name, n.login, n.url)`;

async function dumpGraph(): Promise<string[]> {
  const nodes = await q<{ labels: string[]; key: string; props: Record<string, unknown> }>(
    `MATCH (n) WHERE NOT ${leftOut('n')} RETURN labels(n) AS labels, ${keyOf} AS key, properties(n) AS props`,
  );
  const rels = await q<{ a: string; ak: string; t: string; props: Record<string, unknown>; b: string; bk: string }>(
    `MATCH (x)-[r]->(y) WHERE NOT ${leftOut('x')} AND NOT ${leftOut('y')}
     WITH x, r, y, labels(x)[0] AS a, labels(y)[0] AS b
     RETURN a, coalesce(x.id, x.name, x.login, x.url) AS ak, type(r) AS t, properties(r) AS props, b, coalesce(y.id, y.name, y.login, y.url) AS bk`,
  );
  const canon = (label: string, props: Record<string, unknown>) =>
    JSON.stringify(
      Object.fromEntries(
        Object.keys(props)
          .filter((k) => !(EXCLUDED[label] ?? []).includes(k))
          .sort()
          .map((k) => [k, props[k]]),
      ),
    );
  return [
    ...nodes.map((n) => `node ${[...n.labels].sort().join(':')} ${n.key} ${canon(n.labels[0]!, n.props)}`),
    ...rels.map((r) => `rel ${r.a} ${r.ak} -[${r.t}]-> ${r.b} ${r.bk} ${canon(r.t, r.props)}`),
  ].sort();
}

async function runScope(name: string, msgs: Msg[]): Promise<RunResult> {
  const t0 = Date.now();
  const run = unique(`fuzz-${name}`);
  const prefix = `${run}.`;
  const group = `${run}-scorer`;
  await wipe();
  const scorer: Service = await startService('scorer', {
    CRATEWATCH_TOPIC_PREFIX: prefix,
    SCORER_GROUP: group,
    SCORER_TRUSTED_POOLS: TRUSTED,
    SCORER_COVERAGE_SETTLE_MS: '300',
    SCORER_COVERAGE_MAX_DELAY_MS: '5000',
    // The default session (30 s), not the 8–10 s other tests use: a run of messages that takes
    // longer than the session to handle is never committed (see test/README.md, fuzz-scorer).
    KAFKA_SESSION_TIMEOUT_MS: '30000',
    CRATEWATCH_RETRY_MAX_MS: '2000',
    CRATEWATCH_STATE_DIR: tempDir('fuzz-state'),
  }, 180_000);
  const probe = await scorerProbe({ prefix, scorerGroup: group, dlqTopics: FUZZ_TOPICS.map((t) => `${t}.dlq`) });
  try {
    // Produce everything (in order: one producer, chunks awaited in turn, so each key's values keep
    // their order in its partition), then wait for the scorer — no round trip per event.
    for (let i = 0; i < msgs.length; i += 250) {
      const chunk = msgs.slice(i, i + 250);
      for (const topic of FUZZ_TOPICS) {
        const ms = chunk.filter((m) => m.topic === topic);
        if (ms.length) await sendWhenReady(producer, { topic: `${prefix}${topic}`, messages: ms.map((m) => ({ key: m.key, value: m.value === null ? null : JSON.stringify(m.value) })) });
      }
    }
    // Property 1: the group's committed offsets reach every partition's end.
    await caughtUp(prefix, group, scorer);
    // Coverage moved by trusted pools is recomputed on a timer once caught up; risk after it. Both
    // are marked in the graph with the facts (coverageDue, riskDue) and cleared when done.
    await waitFor('coverage and risk marks to clear', async () => (await q<{ n: number }>(`MATCH (w:Workspace) WHERE w.coverageDue OR w.riskDue RETURN count(w) AS n`))[0]!.n === 0, 240_000, 500);
    await probe.findingsSettled();
    const dlqEnd = await endTotal(FUZZ_TOPICS.map((t) => `${prefix}${t}.dlq`));
    await waitFor('DLQ reader to catch up', () => probe.dlq.length >= dlqEnd, 30_000, 100);
    const dump = await dumpGraph();
    const openFindings = (
      await q<{ id: string; kind: string; severity: string; score: number; why: string }>(`MATCH (f:Finding {state: 'open'}) RETURN f.id AS id, f.kind AS kind, f.severity AS severity, f.score AS score, f.why AS why`)
    ).map((f) => `${f.id}|${f.kind}|${f.severity}|${f.score}|${f.why}`).sort();
    const latest = new Map(probe.findings.map((f) => [f.id, f]));
    const openOnTopic = [...latest.values()].filter((f) => f.state === 'open').map((f) => `${f.id}|${f.kind}|${f.severity}|${f.score}|${JSON.stringify(f.why)}`).sort();
    writeFileSync(join(tmpdir(), `fuzz-scorer-${SEED}-${name}.log`), scorer.output());
    return { prefix, dump, openFindings, openOnTopic, dlq: [...probe.dlq], ms: Date.now() - t0, output: scorer.output() };
  } finally {
    await probe.close();
    await scorer.stop();
  }
}

async function endTotal(topics: string[]): Promise<number> {
  let n = 0;
  for (const t of topics) for (const p of await admin.fetchTopicOffsets(t)) n += Number(p.high) - Number(p.low);
  return n;
}

/** Property 1: waits (up to 4 min) for the scorer group's committed offset to reach every partition's end. */
async function caughtUp(prefix: string, group: string, scorer: Service): Promise<void> {
  let lag: string[] = [];
  try {
    await waitFor(
      'the scorer group to reach the end of every partition',
      async () => {
        lag = [];
        for (const topic of FUZZ_TOPICS.map((t) => `${prefix}${t}`)) {
          const ends = await admin.fetchTopicOffsets(topic);
          const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
          for (const e of ends) {
            const c = committed!.partitions.find((x) => x.partition === e.partition);
            const at = c && c.offset !== '-1' ? BigInt(c.offset) : 0n;
            if (at < BigInt(e.high)) lag.push(`${topic}[${e.partition}] committed ${at} < end ${e.high}`);
          }
        }
        return lag.length === 0;
      },
      240_000,
      500,
    );
  } catch (err) {
    throw new Error(`property 1 (the scorer never wedges) failed: ${lag.join('; ')}\nscorer output (tail):\n${scorer.output().slice(-4000)}`, { cause: err });
  }
}

const setDiff = (x: string[], y: string[]) => {
  const ys = new Set(y);
  return x.filter((e) => !ys.has(e));
};
const clip = (s: string, n = 600) => (s.length > n ? `${s.slice(0, n)}… (${s.length} chars, sha ${createHash('sha256').update(s).digest('hex').slice(0, 12)})` : s);

/** Property 1's DLQ half: every refusal has a reason; exactly the messages made to be refused are refused. */
function checkDlq(r: RunResult, msgs: Msg[]): string[] {
  const problems: string[] = [];
  const refusedIds = new Set<string>();
  for (const d of r.dlq) {
    if (!d.error?.trim()) problems.push(`DLQ record without a reason: ${clip(JSON.stringify(d))}`);
    const topic = d.topic.slice(r.prefix.length);
    refusedIds.add(`${topic}\u0000${d.key}\u0000${d.value ?? 'null'}`);
  }
  const byId = new Map(msgs.map((m) => [valueId(m), m]));
  for (const m of byId.values()) {
    if (m.refuse && !refusedIds.has(valueId(m))) problems.push(`not dead-lettered although bad input (${m.refuse}): ${m.topic} ${m.key} [${m.mutation}]`);
  }
  for (const d of r.dlq) {
    const m = byId.get(`${d.topic.slice(r.prefix.length)}\u0000${d.key}\u0000${d.value ?? 'null'}`);
    if (m && !m.refuse) problems.push(`schema-valid event dead-lettered (${d.failure ?? '?'} after ${d.attempts ?? '?'} attempts): ${m.topic} key ${m.key} [${m.mutation ?? 'unmutated'}]: ${clip(d.error, 400)}`);
  }
  return problems;
}

describe.skipIf(!hasFuzzData() || !ownServers())('fuzzing the real scorer with real-data event streams (../shared/data)', () => {
  it(
    'never wedges, dead-letters exactly the bad input, and ends in the same graph and open findings whatever the order',
    async () => {
      const corpus = loadCorpus();
      const replay = `FUZZ_SEED=${SEED}${SCALE !== 1 ? ` FUZZ_SCALE=${SCALE}` : ''}${process.env.FUZZ_KNOWN ? ` FUZZ_KNOWN=${process.env.FUZZ_KNOWN}` : ''} npx vitest run test/fuzz-scorer.test.ts`;
      process.stderr.write(`[fuzz-scorer] seed ${SEED} (replay: ${replay})\n`);
      let last: { s: FuzzStreams; a: RunResult; b: RunResult } | undefined;
      const details = await fc.check(
        fc.asyncProperty(fuzzStreams(corpus, SIZES, KNOWN), async (s) => {
          expect(s.a.length).toBeGreaterThanOrEqual(MIN_EVENTS);
          const a = await runScope('a', s.a);
          const b = await runScope('b', s.b);
          last = { s, a, b };
          process.stderr.write(
            `[fuzz-scorer] seed ${SEED}: run A ${s.a.length} events in ${(a.ms / 1000).toFixed(1)}s, run B ${s.b.length} in ${(b.ms / 1000).toFixed(1)}s; ` +
              `graph ${a.dump.length} lines, ${a.openFindings.length} open findings, DLQ ${a.dlq.length}/${b.dlq.length}\n`,
          );
          const p1 = [...checkDlq(a, s.a).map((p) => `A: ${p}`), ...checkDlq(b, s.b).map((p) => `B: ${p}`)];
          const onlyA = setDiff(a.dump, b.dump);
          const onlyB = setDiff(b.dump, a.dump);
          const p2 = [
            ...onlyA.slice(0, 15).map((l) => `only after A: ${clip(l)}`),
            ...onlyB.slice(0, 15).map((l) => `only after B: ${clip(l)}`),
            ...setDiff(a.openFindings, b.openFindings).slice(0, 10).map((l) => `open only after A: ${clip(l, 300)}`),
            ...setDiff(b.openFindings, a.openFindings).slice(0, 10).map((l) => `open only after B: ${clip(l, 300)}`),
            ...setDiff(a.openFindings, a.openOnTopic).concat(setDiff(a.openOnTopic, a.openFindings)).slice(0, 5).map((l) => `A: graph and findings topic disagree: ${clip(l, 300)}`),
            ...setDiff(b.openFindings, b.openOnTopic).concat(setDiff(b.openOnTopic, b.openFindings)).slice(0, 5).map((l) => `B: graph and findings topic disagree: ${clip(l, 300)}`),
          ];
          if (p1.length || p2.length) {
            throw new Error(
              (p1.length ? `property 1 (DLQ holds exactly the bad input, with reasons):\n  ${p1.slice(0, 20).join('\n  ')}\n` : '') +
                (p2.length ? `property 2 (same graph and open findings whatever the order; ${onlyA.length}/${onlyB.length} lines differ):\n  ${p2.join('\n  ')}\n` : ''),
            );
          }
        }),
        { seed: SEED, numRuns: 1, endOnFailure: process.env.FUZZ_SHRINK !== '1', ...(process.env.FUZZ_PATH ? { path: process.env.FUZZ_PATH } : {}) },
      );
      if (details.failed) {
        // The counterexample is thousands of events: written to a file, not the log.
        const file = join(tmpdir(), `fuzz-scorer-${SEED}.json`);
        writeFileSync(file, JSON.stringify({ seed: SEED, path: details.counterexamplePath, streams: details.counterexample?.[0] }, null, 1));
        const err = details.errorInstance as Error | undefined;
        throw new Error(
          `fuzz-scorer failed with seed ${SEED} (path ${details.counterexamplePath}, shrunk ${details.numShrinks} times). ` +
            `Replay: ${replay}${details.counterexamplePath && details.counterexamplePath !== '0' ? ` FUZZ_PATH=${details.counterexamplePath}` : ''}\n` +
            `The streams (a: as sent in run A, b: run B, histories: per key): ${file}\n${err?.message ?? String(details.errorInstance)}`,
          { cause: err },
        );
      }
      expect(last?.a.dump.length).toBeGreaterThan(0);
    },
    900_000,
  );
});
