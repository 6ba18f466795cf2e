/**
 * Helpers for tests that talk to the real Kafka and Neo4j found or started by test/infra.ts
 * (vitest globalSetup). Values come from `inject(...)` (provided by the globalSetup) and fall back
 * to the environment variables it also sets (KAFKA_BROKERS, NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD),
 * so they work in any worker.
 *
 * Isolation: the servers are shared by the whole run (and, when KAFKA_BROKERS / NEO4J_URI or the
 * CRATEWATCH_* infra/local settings name them, maybe by others), so every test uses its own names:
 * `uniqueName('releases')` for topics and consumer groups, and for Neo4j a unique value in the
 * keys/labels it writes (Neo4j Community has a single user database, `neo4j`: `CREATE DATABASE` is
 * an Enterprise feature). A test counts and deletes only its own data; none clears the graph.
 */
import { randomBytes } from 'node:crypto';
import neo4j, { type AuthToken } from 'neo4j-driver';
import { inject } from 'vitest';

function injected<K extends 'kafkaBrokers' | 'neo4jUri' | 'neo4jUser' | 'neo4jPassword' | 'infraSource'>(key: K) {
  try {
    return inject(key);
  } catch {
    return undefined; // not inside a vitest worker
  }
}

/** Kafka bootstrap brokers, e.g. ['127.0.0.1:19092']. */
export function kafkaBrokers(): string[] {
  const fromSetup = injected('kafkaBrokers');
  const brokers = fromSetup?.length
    ? fromSetup
    : (process.env.KAFKA_BROKERS ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
  if (!brokers.length) {
    throw new Error(
      'No Kafka: KAFKA_BROKERS is not set and the vitest globalSetup (test/infra.ts) did not start one ' +
        '(CRATEWATCH_INFRA=none?). Run `infra/local/start` and export what it prints.',
    );
  }
  return brokers;
}

/** Neo4j Bolt URI, e.g. 'bolt://127.0.0.1:17687'. */
export function neo4jUri(): string {
  const uri = injected('neo4jUri') || process.env.NEO4J_URI;
  if (!uri) {
    throw new Error(
      'No Neo4j: NEO4J_URI is not set and the vitest globalSetup (test/infra.ts) did not start one ' +
        '(CRATEWATCH_INFRA=none?). Run `infra/local/start` and export what it prints.',
    );
  }
  return uri;
}

/** The auth token for neo4jUri(): basic auth when a password is configured, else none. */
export function neo4jAuth(): AuthToken {
  const password = injected('neo4jPassword') ?? process.env.NEO4J_PASSWORD ?? '';
  const user = injected('neo4jUser') || process.env.NEO4J_USER || 'neo4j';
  // auth.none() exists at runtime (neo4j-driver 5.x) but is missing from its type declarations.
  return password ? neo4j.auth.basic(user, password) : (neo4j.auth as unknown as { none(): AuthToken }).none();
}

/** Where the servers came from: 'env', 'docker', 'local' (infra/local), or a combination. */
export function infraSource(): string {
  return injected('infraSource') || process.env.CRATEWATCH_INFRA_SOURCE || 'env';
}

/**
 * A name unique to this call, valid as a Kafka topic, consumer group id or Neo4j property value
 * (quote it with backticks to use it in a label): `<prefix>-<time base36>-<random hex>`, lower
 * case, [a-z0-9._-] only.
 */
export function uniqueName(prefix: string): string {
  const clean = prefix
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 180);
  return `${clean || 't'}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

type KafkaAdmin = ReturnType<import('kafkajs').Kafka['admin']>;
type TopicSpec = Parameters<KafkaAdmin['createTopics']>[0]['topics'][number];

/**
 * Creates topics and waits until every partition has a leader in the broker's metadata.
 *
 * Do not rely on kafkajs' own `createTopics({ waitForLeaders: true })` against KRaft: it retries
 * only LEADER_NOT_AVAILABLE, but a KRaft broker may briefly answer UNKNOWN_TOPIC_OR_PARTITION
 * ("This server does not host this topic-partition") for a topic it just created, which kafkajs
 * then throws (seen here on a loaded machine; tulios/kafkajs#815, #1563). Returns false when all
 * topics already existed (like kafkajs).
 */
export async function createTopicsAndWait(admin: KafkaAdmin, topics: TopicSpec[], timeoutMs = 30_000): Promise<boolean> {
  const created = await admin.createTopics({ topics, waitForLeaders: false });
  const names = topics.map((t) => t.topic);
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const meta = await admin.fetchTopicMetadata({ topics: names });
      const ready = meta.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0));
      if (ready && meta.topics.length === names.length) return created;
      last = new Error('partitions without a leader yet');
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      throw new Error(`topics ${names.join(', ')} not ready after ${timeoutMs} ms: ${(last as Error)?.message ?? last}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * `producer.send`, retried for a while when the broker answers that it does not lead (or host) the
 * partition yet: on KRaft a topic another process just created can be in the metadata before its
 * partition is ready on the broker, and kafkajs' own retries may run out first (seen here).
 */
export async function sendWhenReady(
  producer: import('kafkajs').Producer,
  record: import('kafkajs').ProducerRecord,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await producer.send(record);
      return;
    } catch (e) {
      const transient =
        /not the leader|does not host this topic-partition|leader not available/i.test(String((e as Error).message)) ||
        (e as { retriable?: boolean }).retriable === true;
      if (!transient || Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}
