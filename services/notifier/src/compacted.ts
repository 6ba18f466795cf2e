/**
 * Reading a compacted topic as a table: every partition from the beginning up to the high-watermark
 * it had at start (then resolve), and following it afterwards. A throwaway consumer group that never
 * commits, so every start reads the whole topic. Used by the delivery log (`notifier.deliveries`)
 * and by the risk feed (`risk.findings`).
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from '@cratewatch/runtime';

/**
 * admin.fetchTopicOffsets, retried: just after a topic is created or a broker restarts, the
 * metadata kafkajs holds can name a stale leader (NOT_LEADER_OR_FOLLOWER), and kafkajs does not
 * retry that here.
 */
export async function fetchOffsetsWithRetry(kafka: Kafka, topic: string, log: Logger, deadlineMs = 60_000) {
  const end = Date.now() + deadlineMs;
  for (let attempt = 1; ; attempt++) {
    // A new admin each attempt: its metadata is fetched afresh.
    const admin: Admin = kafka.admin();
    try {
      await admin.connect();
      return await admin.fetchTopicOffsets(topic);
    } catch (err) {
      if (Date.now() > end) throw err;
      log.warn('could not read the topic offsets yet; retrying', { topic, attempt, error: err });
      await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}

export interface CompactedReaderOptions {
  kafka: Kafka;
  topic: string;
  log: Logger;
  /** Prefix of the throwaway group id (a random suffix is added). */
  groupPrefix: string;
  /** Called for every message, in partition order, while loading and afterwards. */
  onMessage: (message: KafkaMessage, partition: number) => void;
  /** Stop waiting for the end of the topic after this long, and go on with what was read (default 120 s). */
  loadTimeoutMs?: number;
  /** What the warning says when the end is not reached in time. */
  timeoutConsequence?: string;
}

/**
 * Reads `topic` up to the high-watermark every partition had when this was called, then resolves
 * with the consumer, which keeps following the topic (disconnect it to stop).
 */
export async function readCompacted(opts: CompactedReaderOptions): Promise<{ consumer: Consumer; partitions: number; complete: boolean }> {
  const { kafka, log, topic } = opts;
  const offsets = await fetchOffsetsWithRetry(kafka, topic, log);
  const targets = new Map(offsets.filter((p) => BigInt(p.high) > BigInt(p.low)).map((p) => [p.partition, BigInt(p.high)] as const));
  // position[p] = the next offset to read in partition p, as far as we have read.
  const position = new Map<number, bigint>();
  const pending = () => [...targets].filter(([p, high]) => (position.get(p) ?? -1n) < high).map(([p]) => p);

  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  const advance = (partition: number, lastOffset: string | null | undefined) => {
    if (lastOffset === null || lastOffset === undefined) return;
    const next = BigInt(lastOffset) + 1n;
    if (next > (position.get(partition) ?? -1n)) position.set(partition, next);
    if (pending().length === 0) resolveDone();
  };

  const consumer = kafka.consumer({
    groupId: `${opts.groupPrefix}.${randomUUID()}`,
    allowAutoTopicCreation: false,
    maxWaitTimeInMs: 1000,
    retry: { retries: 1000 },
  });
  // Batches made only of control records or compacted-away offsets advance the position too.
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
    if (e.payload.topic === topic) advance(e.payload.partition, e.payload.lastOffset);
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) opts.onMessage(m, batch.partition);
        advance(batch.partition, batch.lastOffset());
      },
    });
  } catch (err) {
    await consumer.disconnect().catch(() => undefined);
    throw err;
  }
  if (pending().length === 0) resolveDone();

  const timeoutMs = opts.loadTimeoutMs ?? 120_000;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
  const outcome = await Promise.race([done.then(() => 'done' as const), timedOut]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    log.warn(`${topic} not read to its end in time; going on${opts.timeoutConsequence ? ` (${opts.timeoutConsequence})` : ''}`, {
      topic,
      timeoutMs,
      partitionsBehind: pending(),
    });
  }
  return { consumer, partitions: targets.size, complete: outcome === 'done' };
}
