/**
 * `cratewatch-scorer rebuild [--wipe]`: rebuilds the Neo4j graph from the Kafka topics alone.
 *
 *   1. refuses while the scorer's own group (SCORER_GROUP, default cratewatch-scorer) has members:
 *      a live scorer writing beside the rebuild would interleave two replays;
 *   2. refuses unless the graph is empty, or `--wipe` is given (then deletes every node, in batches
 *      of `--batch` nodes, default 10,000, so no transaction holds the whole graph);
 *   3. reads every input partition's end offset (admin.fetchTopicOffsets) at start, and runs the
 *      scorer in a fresh consumer group from the beginning until each partition is consumed up to
 *      that offset; then finishes the coverage and risk the replay left due, deletes the throwaway
 *      group and prints a JSON summary on stdout (messages per topic, refused, finding events sent,
 *      nodes and relationships now in the graph).
 *
 * Re-alerting: replaying into an empty graph opens every finding that is open, so the scorer sends
 * "open" finding events again. The notifier delivers each (route, finding) state once, by its delivery
 * log (`notifier.deliveries`, compacted): the same state again is skipped, so nothing is re-sent.
 * After the rebuild, restart the scorer with its usual group: its committed offsets are at or before
 * where the rebuild stopped, and what it reads again is idempotent.
 *
 * What is not rebuilt: the Finding nodes of findings resolved before the rebuild (the replay sees
 * only the facts of now, under which they never open); their last state stays in `risk.findings`.
 */
import { parseArgs } from 'node:util';
import neo4j from 'neo4j-driver';
import type { Admin, Kafka, Producer } from 'kafkajs';
import { TOPICS } from '@cratewatch/shared';
import {
  ensureTopics,
  kafkaClient,
  logger,
  neo4jDatabase,
  neo4jFromEnv,
  newProducer,
  runConsumer,
  type ConsumedMessage,
  type Logger,
} from '@cratewatch/runtime';
import { Graph } from './graph/index.js';
import { Scorer } from './scorer.js';
import { coverageFromEnv, maintainerFromEnv } from './main.js';

/** The topics the scorer reads, in the order `startScorer` subscribes them. */
export const SCORER_TOPICS = [TOPICS.advisories, TOPICS.workspaces, TOPICS.audits, TOPICS.maintainers, TOPICS.releases];

export class RebuildRefused extends Error {
  override name = 'RebuildRefused';
}

export interface RebuildOptions {
  kafka?: Kafka;
  log?: Logger;
  /** Delete what the graph holds first (else a non-empty graph is refused). */
  wipe?: boolean;
  /** Nodes deleted per transaction by `wipe` (default 10,000). */
  batch?: number;
  /** The live scorer's group, which must have no members (default SCORER_GROUP or cratewatch-scorer). */
  liveGroup?: string;
}

export interface RebuildReport {
  wiped: number;
  group: string;
  /** Messages consumed per topic (refused ones included). */
  messages: Record<string, number>;
  /** Messages refused as bad input (sent to the topic's DLQ, as the live scorer would). */
  refused: number;
  /** Finding events the replay sent to risk.findings (the notifier drops those it delivered already). */
  findingEvents: number;
  graph: { nodes: number; relationships: number };
  ms: number;
}

export async function rebuild(opts: RebuildOptions = {}): Promise<RebuildReport> {
  const t0 = Date.now();
  const log = opts.log ?? logger('scorer/rebuild');
  const kafka = opts.kafka ?? kafkaClient('cratewatch-scorer-rebuild');
  const liveGroup = opts.liveGroup ?? process.env.SCORER_GROUP ?? 'cratewatch-scorer';
  const driver = neo4jFromEnv();
  const admin = kafka.admin();
  await admin.connect();
  let producer: Producer | undefined;
  try {
    await driver.verifyConnectivity();
    const graph = new Graph(driver, neo4jDatabase());
    await refuseWhileLive(admin, liveGroup);
    const wiped = await wipeGraph(graph, opts, log);
    await graph.ensureSchema();
    await ensureTopics(admin);
    const remaining = await endOffsets(admin);
    const group = `${liveGroup}-rebuild-${Date.now().toString(36)}`;
    log.info('rebuilding', { group, partitions: remaining.size, wiped });

    producer = newProducer(kafka);
    await producer.connect();
    const { messages, refused, findingEvents } = await replay({ kafka, producer, graph, log, group, remaining });
    await admin.deleteGroups([group]).catch((err: unknown) => log.warn('could not delete the rebuild group', { group, error: err }));
    const report: RebuildReport = { wiped, group, messages, refused, findingEvents, graph: await graphSize(graph), ms: Date.now() - t0 };
    log.info('rebuilt', { ...report });
    return report;
  } finally {
    await producer?.disconnect();
    await admin.disconnect();
    await driver.close();
  }
}

/** Refuses while the live scorer's group has members: two writers would interleave two replays. */
async function refuseWhileLive(admin: Admin, liveGroup: string): Promise<void> {
  const [live] = (await admin.describeGroups([liveGroup])).groups;
  if (live && live.members.length > 0)
    throw new RebuildRefused(
      `the scorer group ${liveGroup} has ${live.members.length} running member(s): stop the scorer before a rebuild`,
    );
}

const count = async (graph: Graph, cypher: string) => Number((await graph.run('read', (tx) => tx.run(cypher))).records[0]!.get('n'));

const graphSize = async (graph: Graph): Promise<RebuildReport['graph']> => ({
  nodes: await count(graph, 'MATCH (n) RETURN count(n) AS n'),
  relationships: await count(graph, 'MATCH ()-[r]->() RETURN count(r) AS n'),
});

/** Refuses a graph that is not empty unless `wipe`; then deletes every node, `batch` per transaction. Returns how many. */
async function wipeGraph(graph: Graph, opts: RebuildOptions, log: Logger): Promise<number> {
  const nodes = await count(graph, 'MATCH (n) RETURN count(n) AS n');
  let wiped = 0;
  if (nodes > 0 && !opts.wipe)
    throw new RebuildRefused(
      `the graph is not empty (${nodes} nodes): rebuild writes into an empty graph; give --wipe to delete them first`,
    );
  if (nodes === 0) return 0;
  const batch = opts.batch ?? 10_000; // LIMIT takes an integer, not the float a JS number is sent as
  for (;;) {
    const r = await graph.run('write', (tx) =>
      tx.run('MATCH (n) WITH n LIMIT $batch DETACH DELETE n RETURN count(n) AS n', { batch: neo4j.int(batch) }),
    );
    const n = Number(r.records[0]!.get('n'));
    if (n === 0) return wiped;
    wiped += n;
    log.info('wiping the graph', { deleted: wiped, of: nodes });
  }
}

/**
 * Where "caught up" is: each input partition's end when the rebuild starts (partitions with
 * messages only). Messages arriving later may be read too; the scorer restarted afterwards reads
 * them again, idempotently.
 */
async function endOffsets(admin: Admin): Promise<Map<string, bigint>> {
  const remaining = new Map<string, bigint>();
  for (const topic of SCORER_TOPICS) {
    for (const p of await admin.fetchTopicOffsets(topic)) {
      if (BigInt(p.high) > BigInt(p.low)) remaining.set(`${topic}/${p.partition}`, BigInt(p.high));
    }
  }
  return remaining;
}

/** The producer given to the scorer: it counts the finding events sent (for the summary); everything else is the producer's. */
function countingFindings(real: Producer, onFindings: (n: number) => void): Producer {
  return Object.assign(Object.create(real) as Producer, {
    send: async (r: Parameters<Producer['send']>[0]) => {
      if (r.topic === TOPICS.findings) onFindings(r.messages.length);
      return real.send(r);
    },
  });
}

/**
 * Runs the scorer in the fresh group from the beginning until every partition is consumed up to
 * `remaining`, then finishes the coverage and risk left due, as a scorer starting after a crash
 * would.
 */
async function replay(o: { kafka: Kafka; producer: Producer; graph: Graph; log: Logger; group: string; remaining: Map<string, bigint> }) {
  const { remaining, log, graph } = o;
  let findingEvents = 0;
  const counting = countingFindings(o.producer, (n) => (findingEvents += n));
  // Coverage after every caught-up batch (settle 0): a rebuild has no live burst to wait out.
  const scorer = new Scorer(graph, counting, log, undefined, coverageFromEnv(), maintainerFromEnv(), { settleMs: 0, maxDelayMs: 30_000 });
  const messages: Record<string, number> = Object.fromEntries(SCORER_TOPICS.map((t) => [t, 0]));
  let refused = 0;
  let caughtUp!: () => void;
  const done = new Promise<void>((r) => (caughtUp = r));
  const seen = (ms: ConsumedMessage[]) => {
    const last = ms[ms.length - 1]!;
    messages[last.topic] = (messages[last.topic] ?? 0) + ms.length;
    const key = `${last.topic}/${last.partition}`;
    const end = remaining.get(key);
    if (end !== undefined && BigInt(last.message.offset) + 1n >= end) remaining.delete(key);
    if (remaining.size === 0) caughtUp();
  };
  if (remaining.size === 0) caughtUp();
  const loop = await runConsumer({
    kafka: o.kafka,
    producer: o.producer,
    groupId: o.group,
    topics: SCORER_TOPICS,
    service: 'scorer',
    log,
    fromBeginning: true,
    handle: async (m) => {
      await scorer.handle(m);
      seen([m]);
    },
    handleBatch: async (ms, at) => {
      const r = await scorer.handleBatch(ms, at);
      refused += r.size;
      seen(ms);
      return r;
    },
  });
  await done;
  // Stopping waits for the batch in flight (its DLQ sends included).
  await loop.stop();
  await scorer.stop();
  // Coverage or risk still marked due in the graph (a flush left for a timer): a fresh scorer takes
  // them up exactly as one starting after a crash would.
  await new Scorer(graph, counting, log, undefined, coverageFromEnv(), maintainerFromEnv(), { settleMs: 0, maxDelayMs: 0 }).resume();
  return { messages, refused, findingEvents };
}

/** The command line: `rebuild [--wipe] [--batch N]`; exit 0 with the summary on stdout, 2 when refused, 1 on failure. */
export async function rebuildMain(argv: string[]): Promise<number> {
  const log = logger('scorer/rebuild');
  let values: { wipe?: boolean; batch?: string };
  try {
    ({ values } = parseArgs({ args: argv, options: { wipe: { type: 'boolean' }, batch: { type: 'string' } }, strict: true }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\nusage: cratewatch-scorer rebuild [--wipe] [--batch N]\n`);
    return 2;
  }
  const batch = values.batch === undefined ? undefined : Number(values.batch);
  if (batch !== undefined && !(Number.isInteger(batch) && batch > 0)) {
    process.stderr.write(`--batch: "${values.batch}" is not a positive whole number\n`);
    return 2;
  }
  try {
    const report = await rebuild({ log, wipe: values.wipe ?? false, ...(batch ? { batch } : {}) });
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return 0;
  } catch (err) {
    if (err instanceof RebuildRefused) {
      log.error('rebuild refused', { reason: err.message });
      process.stderr.write(`rebuild refused: ${err.message}\n`);
      return 2;
    }
    log.error('rebuild failed', { error: err });
    return 1;
  }
}
