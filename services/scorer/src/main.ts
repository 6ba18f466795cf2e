#!/usr/bin/env node
/**
 * cratewatch scorer: consumes the fact topics, keeps Neo4j up to date and produces findings.
 * Env: KAFKA_BROKERS, NEO4J_URI (NEO4J_USER/NEO4J_PASSWORD/NEO4J_DATABASE), SCORER_GROUP.
 */
import { pathToFileURL } from 'node:url';
import type { Kafka } from 'kafkajs';
import { TOPICS } from '@cratewatch/shared';
import { ensureTopics, kafkaClient, logger, neo4jDatabase, neo4jFromEnv, newProducer, onShutdown, runConsumer, withAdmin, type Logger } from '@cratewatch/runtime';
import { Graph } from './graph.js';
import { Scorer } from './scorer.js';

export interface ScorerHandle {
  stop(): Promise<void>;
}

export async function startScorer(opts: { kafka?: Kafka; groupId?: string; log?: Logger } = {}): Promise<ScorerHandle> {
  const log = opts.log ?? logger('scorer');
  const kafka = opts.kafka ?? kafkaClient('cratewatch-scorer');
  const driver = neo4jFromEnv();
  await driver.verifyConnectivity();
  const graph = new Graph(driver, neo4jDatabase());
  await graph.ensureSchema();
  await withAdmin(kafka, (a) => ensureTopics(a));
  const producer = newProducer(kafka);
  await producer.connect();
  const scorer = new Scorer(graph, producer, log);
  const topics = [TOPICS.advisories, TOPICS.workspaces, TOPICS.audits, TOPICS.maintainers, TOPICS.releases];
  const loop = await runConsumer({
    kafka,
    producer,
    groupId: opts.groupId ?? process.env.SCORER_GROUP ?? 'cratewatch-scorer',
    topics,
    service: 'scorer',
    log,
    handle: (m) => scorer.handle(m),
    handleBatch: (ms) => scorer.handleBatch(ms),
  });
  log.info('ready', { topics });
  return {
    stop: async () => {
      await loop.stop();
      await producer.disconnect();
      await driver.close();
    },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const log = logger('scorer');
  startScorer({ log })
    .then((h) => onShutdown(log, h.stop))
    .catch((err) => {
      log.error('scorer failed to start', { error: err });
      process.exit(1);
    });
}
