#!/usr/bin/env node
/**
 * cratewatch scorer: consumes the fact topics, keeps Neo4j up to date and produces findings.
 * Env: KAFKA_BROKERS, NEO4J_URI (NEO4J_USER/NEO4J_PASSWORD/NEO4J_DATABASE), SCORER_GROUP,
 * SCORER_TRUSTED_POOLS, SCORER_UNVETTED_MIN_SCORE, SCORER_MAINTAINER_MIN_SCORE,
 * SCORER_COVERAGE_SETTLE_MS, SCORER_COVERAGE_MAX_DELAY_MS, SCORER_HTTP_LISTEN (default
 * 127.0.0.1:8422, or off: /healthz, /readyz, /metrics), SCORER_FETCH_BYTES, SCORER_PARTITIONS_AT_ONCE, CRATEWATCH_OPS_TOKEN (for /readyz and
 * /metrics), CRATEWATCH_READY_MAX_RETRY_S, CRATEWATCH_READY_MAX_LAG.
 * `main.js rebuild [--wipe]` rebuilds the graph from the topics instead (rebuild.ts, README).
 */
import { pathToFileURL } from 'node:url';
import type { Kafka } from 'kafkajs';
import { TOPICS } from '@cratewatch/shared';
import {
  ConsumerHealth,
  Metrics,
  consumerCheck,
  countProduced,
  ensureTopics,
  kafkaCheck,
  kafkaClient,
  logger,
  neo4jCheck,
  neo4jDatabase,
  neo4jFromEnv,
  newProducer,
  onShutdown,
  parseListen,
  readyLimitsFromEnv,
  runConsumer,
  startOpsServer,
  withAdmin,
  type Listen,
  type Logger,
  type OpsServer,
} from '@cratewatch/runtime';
import { Graph } from './graph/index.js';
import { ScorerMetrics } from './metrics.js';
import {
  DEFAULT_COVERAGE_TIMING,
  DEFAULT_MIN_MAINTAINER_SCORE,
  DEFAULT_MIN_UNVETTED_SCORE,
  DEFAULT_RESOLUTIONS_KEPT,
  Scorer,
  type CoverageTiming,
  type MaintainerOptions,
} from './scorer.js';
import type { CoverageOptions } from './decide-coverage.js';

/** `SCORER_TRUSTED_POOLS` (comma list of pool names) and `SCORER_UNVETTED_MIN_SCORE` (0–10). */
export function coverageFromEnv(env: NodeJS.ProcessEnv = process.env): CoverageOptions {
  const trustedPools = (env.SCORER_TRUSTED_POOLS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const p of trustedPools) if (!/^[A-Za-z0-9._-]+$/.test(p)) throw new Error(`SCORER_TRUSTED_POOLS: "${p}" is not a pool name`);
  return { trustedPools, minScore: scoreFromEnv(env, 'SCORER_UNVETTED_MIN_SCORE', DEFAULT_MIN_UNVETTED_SCORE) };
}

/** `SCORER_MAINTAINER_MIN_SCORE` (0–10). */
export function maintainerFromEnv(env: NodeJS.ProcessEnv = process.env): MaintainerOptions {
  return { minScore: scoreFromEnv(env, 'SCORER_MAINTAINER_MIN_SCORE', DEFAULT_MIN_MAINTAINER_SCORE) };
}

/**
 * When coverage moved by trusted pools' changes is recomputed: `SCORER_COVERAGE_SETTLE_MS` (no pool
 * change for this long, and the consumer caught up; default 500) and `SCORER_COVERAGE_MAX_DELAY_MS`
 * (at the latest this long after the first; default 30000; 0: after every batch). Whole ms.
 */
export function coverageTimingFromEnv(env: NodeJS.ProcessEnv = process.env): CoverageTiming {
  const ms = (name: string, fallback: number) => {
    const raw = env[name]?.trim();
    if (raw === undefined || raw === '') return fallback;
    if (!/^\d+$/.test(raw)) throw new Error(`${name}: "${env[name]}" is not a whole number of ms`);
    return Number(raw);
  };
  return {
    settleMs: ms('SCORER_COVERAGE_SETTLE_MS', DEFAULT_COVERAGE_TIMING.settleMs),
    maxDelayMs: ms('SCORER_COVERAGE_MAX_DELAY_MS', DEFAULT_COVERAGE_TIMING.maxDelayMs),
  };
}

function scoreFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  const score = raw === undefined || raw.trim() === '' ? fallback : Number(raw);
  if (!Number.isFinite(score) || score < 0 || score > 10) throw new Error(`${name}: "${raw}" is not a number from 0 to 10`);
  return score;
}

/** `SCORER_RESOLUTIONS_KEPT`: how many workspaces' last cargo-vet resolution is kept in memory (0: none). */
export function resolutionsKeptFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SCORER_RESOLUTIONS_KEPT?.trim();
  if (raw === undefined || raw === '') return DEFAULT_RESOLUTIONS_KEPT;
  if (!/^\d+$/.test(raw)) throw new Error(`SCORER_RESOLUTIONS_KEPT: "${env.SCORER_RESOLUTIONS_KEPT}" is not a whole number of workspaces`);
  return Number(raw);
}

/**
 * `SCORER_FETCH_BYTES`: the most bytes one fetch takes per partition (default 1 MiB, kafkajs'). A
 * probe advisory waits behind the fetch being handled (`groupConsumer`), so smaller fetches bring it
 * forward while the scorer is behind — but the broker returns a record batch larger than this only
 * for the first partition of the response that has data: a producer's batch bigger than the limit
 * on a later partition waits until the partitions before it are empty (kafkajs asks for them in a
 * fixed order). Lower it only where producers' batches are known to be smaller.
 */
export const DEFAULT_SCORER_FETCH_BYTES = 1024 * 1024;
export function fetchBytesFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SCORER_FETCH_BYTES?.trim();
  if (raw === undefined || raw === '') return DEFAULT_SCORER_FETCH_BYTES;
  if (!/^\d+$/.test(raw) || Number(raw) < 1024)
    throw new Error(`SCORER_FETCH_BYTES: "${env.SCORER_FETCH_BYTES}" is not a whole number of bytes (1024 or more)`);
  return Number(raw);
}

/**
 * `SCORER_PARTITIONS_AT_ONCE`: how many partitions' runs the consumer hands over at once (default
 * 3, the topics' partition count). Only runs of releases overlap (`Scorer.handleReleases`); every
 * other run still waits its turn.
 */
export const DEFAULT_SCORER_PARTITIONS_AT_ONCE = 3;
export function partitionsAtOnceFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.SCORER_PARTITIONS_AT_ONCE?.trim();
  if (raw === undefined || raw === '') return DEFAULT_SCORER_PARTITIONS_AT_ONCE;
  if (!/^\d+$/.test(raw) || Number(raw) < 1)
    throw new Error(`SCORER_PARTITIONS_AT_ONCE: "${env.SCORER_PARTITIONS_AT_ONCE}" is not a whole number from 1`);
  return Number(raw);
}

export const DEFAULT_SCORER_HTTP_LISTEN = '127.0.0.1:8422';

/** `SCORER_HTTP_LISTEN`: where /healthz, /readyz and /metrics are served (`off`: nowhere). */
export const httpListenFromEnv = (env: NodeJS.ProcessEnv = process.env): Listen | undefined =>
  parseListen('SCORER_HTTP_LISTEN', env.SCORER_HTTP_LISTEN, DEFAULT_SCORER_HTTP_LISTEN);

export interface ScorerHandle {
  stop(): Promise<void>;
  /** The base URL of /healthz, /readyz and /metrics, when served. */
  opsUrl?: string;
  metrics: ScorerMetrics;
  health: ConsumerHealth;
}

export async function startScorer(
  opts: { kafka?: Kafka; groupId?: string; log?: Logger; coverage?: CoverageOptions; maintainer?: MaintainerOptions; http?: Listen } = {},
): Promise<ScorerHandle> {
  const log = opts.log ?? logger('scorer');
  const coverage = opts.coverage ?? coverageFromEnv();
  const maintainer = opts.maintainer ?? maintainerFromEnv();
  const limits = readyLimitsFromEnv();
  const kafka = opts.kafka ?? kafkaClient('cratewatch-scorer');
  const driver = neo4jFromEnv();
  await driver.verifyConnectivity();
  const metrics = new ScorerMetrics(new Metrics('scorer'));
  const graph = new Graph(driver, neo4jDatabase(), metrics.onTx);
  await graph.ensureSchema();
  await withAdmin(kafka, (a) => ensureTopics(a));
  const producer = countProduced(newProducer(kafka), metrics.shared, metrics.onSent);
  await producer.connect();
  const scorer = new Scorer(graph, producer, log, undefined, coverage, maintainer, coverageTimingFromEnv(), resolutionsKeptFromEnv());
  // Work a previous run left marked in the graph (coverage, risk) is done before consuming.
  await scorer.resume();
  const topics = [TOPICS.advisories, TOPICS.workspaces, TOPICS.audits, TOPICS.maintainers, TOPICS.releases];
  const groupId = opts.groupId ?? process.env.SCORER_GROUP ?? 'cratewatch-scorer';
  const health = metrics.shared.watch(new ConsumerHealth(groupId, 'scorer'));
  const loop = await runConsumer({
    kafka,
    producer,
    groupId,
    health,
    observer: metrics.shared.observer(),
    topics,
    service: 'scorer',
    log,
    handle: (m) => scorer.handle(m),
    handleBatch: (ms, at) => scorer.handleBatch(ms, at),
    fetchBytes: fetchBytesFromEnv(),
    partitionsAtOnce: partitionsAtOnceFromEnv(),
  });
  const ops: OpsServer | undefined = opts.http
    ? await startOpsServer(opts.http, {
        metrics: metrics.shared,
        log,
        checks: [kafkaCheck(kafka), neo4jCheck(driver, neo4jDatabase()), consumerCheck('consumer', health, limits)],
      })
    : undefined;
  log.info('ready', {
    topics,
    trustedPools: coverage.trustedPools,
    unvettedMinScore: coverage.minScore,
    maintainerMinScore: maintainer.minScore,
    ...(ops ? { ops: ops.url } : {}),
  });
  return {
    metrics,
    health,
    ...(ops ? { opsUrl: ops.url } : {}),
    stop: async () => {
      await ops?.close();
      await loop.stop();
      await scorer.stop(); // a coverage flush the timer began finishes first
      await producer.disconnect();
      await driver.close();
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href && process.argv[2] === 'rebuild') {
  // `main.js rebuild [--wipe]`: rebuild Neo4j from the topics, then exit (rebuild.ts).
  void import('./rebuild.js').then(async (r) => process.exit(await r.rebuildMain(process.argv.slice(3))));
} else if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const log = logger('scorer');
  startScorer({ log, http: httpListenFromEnv() })
    .then((h) => onShutdown(log, h.stop))
    .catch((err) => {
      log.error('scorer failed to start', { error: err });
      process.exit(1);
    });
}
