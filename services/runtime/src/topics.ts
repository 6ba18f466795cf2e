/**
 * Topic creation with the design's configs, and the reconciliation of the configs this code relies
 * on for topics that already exist (an upgrade gets them without anyone running kafka-configs.sh).
 *
 * Retention:
 *   - compacted topics (COMPACTED_TOPICS and the notifier's deliveries) keep the latest value per key;
 *   - `crates.releases` keeps everything (retention.ms = retention.bytes = -1): it is keyed by crate
 *     name (one key, many versions), so compaction would keep one version per crate, and a rebuild of
 *     Neo4j from the topics (services/scorer `rebuild`) needs every release ever seen. See
 *     services/runtime/README.md;
 *   - the DLQs keep 90 days: they are for a person to look at, not for rebuilding.
 *
 * Size: `org.workspaces` takes messages up to WORKSPACE_MAX_MESSAGE_BYTES (a big workspace's event is
 * megabytes: a 6,000-package Cargo.lock is ~1.1 MB of text and ~3 MB of event), its DLQ twice that (a
 * refused event is quoted as a JSON string in the DLQ record, which at most doubles it). The limit is
 * the topic's own `max.message.bytes`, so no broker setting has to agree (managed clusters included).
 */
import type { Admin, ConfigResourceTypes } from 'kafkajs';
import { COMPACTED_TOPICS, TOPIC_PREFIX, TOPICS, dlqTopic } from '@cratewatch/shared';
import { logger } from './log.js';
import { envInt } from './env-config.js';

/** Topics the service's own bookkeeping needs besides the design's topics. */
export const INTERNAL_TOPICS = { deliveries: `${TOPIC_PREFIX}notifier.deliveries` } as const;

/** Largest `org.workspaces` message (the record batch as the broker counts it): 8 MiB. */
export const WORKSPACE_MAX_MESSAGE_BYTES = 8 * 1024 * 1024;

const DLQ_RETENTION_MS = String(90 * 24 * 3600 * 1000);

/**
 * ConfigResourceTypes.TOPIC. kafkajs is CommonJS and Node's ESM loader does not see this export
 * by name (it does see Kafka, logLevel), so the value is spelled here.
 */
const TOPIC_RESOURCE = 2 as ConfigResourceTypes;

export interface TopicSpec {
  topic: string;
  configEntries: { name: string; value: string }[];
}

/**
 * Every topic with its configs at creation. `reconcile` names the configs ensureTopics also sets on
 * a topic that exists with another value (the ones correctness depends on); other configs of an
 * existing topic are the operator's and left alone.
 */
export function topicSpecs(): (TopicSpec & { reconcile: string[] })[] {
  const specs: (TopicSpec & { reconcile: string[] })[] = [];
  const compacted = (topic: string): TopicSpec & { reconcile: string[] } => ({
    topic,
    configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
    reconcile: [],
  });
  const dlq = (topic: string, extra: { name: string; value: string }[] = []): TopicSpec & { reconcile: string[] } => ({
    topic,
    configEntries: [{ name: 'retention.ms', value: DLQ_RETENTION_MS }, ...extra],
    reconcile: extra.map((e) => e.name),
  });
  for (const t of Object.values(TOPICS)) {
    if (t === TOPICS.releases) {
      // Unlimited, not compacted: see the header (and a topic created by an older version with 90 days is changed).
      specs.push({
        topic: t,
        configEntries: [
          { name: 'cleanup.policy', value: 'delete' },
          { name: 'retention.ms', value: '-1' },
          { name: 'retention.bytes', value: '-1' },
        ],
        reconcile: ['retention.ms', 'retention.bytes'],
      });
      specs.push(dlq(dlqTopic(t)));
    } else if (t === TOPICS.workspaces) {
      const size = { name: 'max.message.bytes', value: String(WORKSPACE_MAX_MESSAGE_BYTES) };
      specs.push({ ...compacted(t), configEntries: [...compacted(t).configEntries, size], reconcile: [size.name] });
      specs.push(dlq(dlqTopic(t), [{ name: 'max.message.bytes', value: String(2 * WORKSPACE_MAX_MESSAGE_BYTES + 64 * 1024) }]));
    } else {
      specs.push(
        COMPACTED_TOPICS.includes(t)
          ? compacted(t)
          : { topic: t, configEntries: [{ name: 'retention.ms', value: DLQ_RETENTION_MS }], reconcile: [] },
      );
      specs.push(dlq(dlqTopic(t)));
    }
  }
  specs.push(compacted(INTERNAL_TOPICS.deliveries));
  return specs;
}

/**
 * Creates every design topic and its DLQ (idempotent), sets the reconciled configs (`topicSpecs`)
 * on topics that exist with other values, and waits until every partition has a leader.
 */
export async function ensureTopics(
  admin: Admin,
  partitions = envInt(process.env, 'KAFKA_PARTITIONS', { min: 1, fallback: 3 }),
): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const wanted = topicSpecs();
  const missing = wanted.filter((w) => !existing.has(w.topic));
  if (missing.length > 0) {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((w) => ({ topic: w.topic, numPartitions: partitions, replicationFactor: -1, configEntries: w.configEntries })),
    });
  }
  await reconcileConfigs(
    admin,
    wanted.filter((w) => existing.has(w.topic) && w.reconcile.length > 0),
  );
  // Another service may have created the topics a moment ago: wait until every partition has a
  // leader, or the first offset lookup or produce fails with "not the leader".
  const topics = wanted.map((w) => w.topic);
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const meta = await admin.fetchTopicMetadata({ topics });
      if (meta.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) throw new Error(`topics have no leader after 60 s: ${topics.join(', ')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Sets the `reconcile` configs of existing topics where they differ. kafkajs 2.2 has only the
 * legacy AlterConfigs, which REPLACES a topic's whole set of overrides: so the request carries the
 * topic's current overrides (config source TOPIC_CONFIG) with ours merged in, and an operator's own
 * overrides (say min.insync.replicas) survive.
 */
async function reconcileConfigs(admin: Admin, specs: (TopicSpec & { reconcile: string[] })[]): Promise<void> {
  if (specs.length === 0) return;
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    resources: specs.map((s) => ({ type: TOPIC_RESOURCE, name: s.topic })),
  });
  const log = logger('runtime/topics');
  const resources = [];
  for (const s of specs) {
    const res = described.resources.find((r) => r.resourceName === s.topic);
    if (!res || res.errorCode !== 0)
      throw new Error(`describing the configs of topic ${s.topic} failed: ${res?.errorMessage ?? 'no answer'}`);
    const current = new Map(res.configEntries.map((e) => [e.configName, e.configValue]));
    const changes = s.configEntries.filter((e) => s.reconcile.includes(e.name) && current.get(e.name) !== e.value);
    if (changes.length === 0) continue;
    // TOPIC_CONFIG (1): the topic's own overrides. Sensitive values come back null: none are on topics.
    const overrides = new Map(
      res.configEntries.filter((e) => e.configSource === 1 && e.configValue !== null).map((e) => [e.configName, e.configValue]),
    );
    for (const c of changes) overrides.set(c.name, c.value);
    log.info('topic config changed', {
      topic: s.topic,
      changes: Object.fromEntries(changes.map((c) => [c.name, { from: current.get(c.name) ?? null, to: c.value }])),
    });
    resources.push({ type: TOPIC_RESOURCE, name: s.topic, configEntries: [...overrides].map(([name, value]) => ({ name, value })) });
  }
  if (resources.length) await admin.alterConfigs({ validateOnly: false, resources });
}
