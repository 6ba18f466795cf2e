/**
 * ensureTopics on real Kafka: new topics get the design's configs, and topics an older version
 * created (crates.releases with 90 days, org.workspaces without a size) are upgraded in place, with
 * an operator's own overrides kept (kafkajs' AlterConfigs replaces a topic's whole override set).
 * Its own CRATEWATCH_TOPIC_PREFIX, set before the modules that read it are loaded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { kafkaBrokers, uniqueName } from './helpers.js';

const prefix = `${uniqueName('topics')}.`;

describe('ensureTopics: configs on create and on upgrade', () => {
  let admin: Admin;
  let runtime: typeof import('@cratewatch/runtime');
  const configs = async (topic: string) => {
    const res = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: 2, name: topic }] });
    return Object.fromEntries(res.resources[0]!.configEntries.map((e) => [e.configName, e.configValue]));
  };

  beforeAll(async () => {
    process.env.CRATEWATCH_TOPIC_PREFIX = prefix;
    runtime = await import('@cratewatch/runtime');
    admin = new Kafka({ clientId: 'topics-test', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    // As an older version created them, plus an override of the operator's own.
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        {
          topic: `${prefix}crates.releases`,
          numPartitions: 1,
          replicationFactor: -1,
          configEntries: [
            { name: 'retention.ms', value: String(90 * 24 * 3600 * 1000) },
            { name: 'segment.ms', value: '3600000' },
          ],
        },
        {
          topic: `${prefix}org.workspaces`,
          numPartitions: 1,
          replicationFactor: -1,
          configEntries: [{ name: 'cleanup.policy', value: 'compact' }],
        },
      ],
    });
  });
  afterAll(async () => {
    await admin?.disconnect();
    delete process.env.CRATEWATCH_TOPIC_PREFIX;
  });

  it('upgrades existing topics, keeps the operator overrides, creates the rest with the design configs', async () => {
    const { TOPICS } = await import('@cratewatch/shared');
    expect(TOPICS.releases).toBe(`${prefix}crates.releases`);
    await runtime.ensureTopics(admin, 1);
    const releases = await configs(`${prefix}crates.releases`);
    expect(releases).toMatchObject({ 'retention.ms': '-1', 'retention.bytes': '-1', 'segment.ms': '3600000', 'cleanup.policy': 'delete' });
    expect(await configs(`${prefix}org.workspaces`)).toMatchObject({
      'cleanup.policy': 'compact',
      'max.message.bytes': String(runtime.WORKSPACE_MAX_MESSAGE_BYTES),
    });
    expect(await configs(`${prefix}org.workspaces.dlq`)).toMatchObject({
      'max.message.bytes': String(2 * runtime.WORKSPACE_MAX_MESSAGE_BYTES + 64 * 1024),
      'retention.ms': String(90 * 24 * 3600 * 1000),
    });
    expect(await configs(`${prefix}risk.findings`)).toMatchObject({ 'cleanup.policy': 'compact' });
    expect(await configs(`${prefix}notifier.deliveries`)).toMatchObject({ 'cleanup.policy': 'compact' });
    // Again: nothing to change, nothing changed.
    await runtime.ensureTopics(admin, 1);
    expect(await configs(`${prefix}crates.releases`)).toEqual(releases);
  });
});
