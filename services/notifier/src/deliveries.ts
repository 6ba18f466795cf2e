/**
 * The delivery log: the compacted topic `notifier.deliveries`, keyed by finding id, whose value is
 * the last state of that finding the notifier delivered. It is what makes "each state change once"
 * survive restarts, replays and a new consumer group: before consuming findings the notifier reads
 * it to the end (the high-watermark of every partition at start), and it keeps following it so that
 * records written by other notifier instances of the same group are known too.
 */
import { randomUUID } from 'node:crypto';
import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';
import { INTERNAL_TOPICS, type Logger } from '@cratewatch/runtime';

export interface DeliveryRecord {
  v: 1;
  state: 'open' | 'resolved';
  /** When it was delivered (ISO time). */
  at: string;
  /** The finding's observedAt, to tell an old replayed state from a new one. */
  observedAt?: string;
}

export function parseDeliveryRecord(raw: Buffer | null): DeliveryRecord | null {
  if (raw === null) return null;
  try {
    const v = JSON.parse(raw.toString('utf8')) as Partial<DeliveryRecord>;
    if ((v.state === 'open' || v.state === 'resolved') && typeof v.at === 'string') {
      return { v: 1, state: v.state, at: v.at, ...(typeof v.observedAt === 'string' ? { observedAt: v.observedAt } : {}) };
    }
  } catch {
    /* unreadable: ignored below */
  }
  return null;
}

/**
 * admin.fetchTopicOffsets, retried: just after a topic is created or a broker restarts, the
 * metadata kafkajs holds can name a stale leader (NOT_LEADER_OR_FOLLOWER), and kafkajs does not
 * retry that here.
 */
async function fetchOffsetsWithRetry(kafka: Kafka, topic: string, log: Logger, deadlineMs = 60_000) {
  const end = Date.now() + deadlineMs;
  for (let attempt = 1; ; attempt++) {
    // A new admin each attempt: its metadata is fetched afresh.
    const admin: Admin = kafka.admin();
    try {
      await admin.connect();
      return await admin.fetchTopicOffsets(topic);
    } catch (err) {
      if (Date.now() > end) throw err;
      log.warn('could not read the delivery log offsets yet; retrying', { topic, attempt, error: err });
      await new Promise((r) => setTimeout(r, Math.min(2000, 100 * 2 ** attempt)));
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}

export interface DeliveryLogOptions {
  kafka: Kafka;
  producer: Producer;
  log: Logger;
  /** Used to name the throwaway group that reads the log (never commits). */
  groupId: string;
  /** Stop waiting for the end of the log after this long, and go on with what was read (default 120 s). */
  loadTimeoutMs?: number;
}

export class DeliveryLog {
  private readonly delivered = new Map<string, DeliveryRecord>();
  private consumer: Consumer | undefined;

  constructor(private readonly opts: DeliveryLogOptions) {}

  get size(): number {
    return this.delivered.size;
  }

  last(findingId: string): DeliveryRecord | undefined {
    return this.delivered.get(findingId);
  }

  /** Writes the record (acks from all in-sync replicas) and then remembers it. */
  async record(findingId: string, rec: DeliveryRecord): Promise<void> {
    await this.opts.producer.send({
      topic: INTERNAL_TOPICS.deliveries,
      acks: -1,
      messages: [{ key: findingId, value: JSON.stringify(rec) }],
    });
    this.remember(findingId, rec);
  }

  /** Keeps the newest record per id (a lagging echo of an older record must not win). */
  private remember(id: string, rec: DeliveryRecord | null): void {
    if (rec === null) {
      this.delivered.delete(id);
      return;
    }
    const cur = this.delivered.get(id);
    if (cur && cur.at > rec.at) return;
    this.delivered.set(id, rec);
  }

  /**
   * Reads the whole topic up to the high-watermark every partition had when this was called, then
   * resolves; the consumer keeps following the topic afterwards. A throwaway group id, and no
   * commits: every start reads from the beginning.
   */
  async load(): Promise<void> {
    const { kafka, log } = this.opts;
    const topic = INTERNAL_TOPICS.deliveries;
    const offsets = await fetchOffsetsWithRetry(kafka, topic, log);
    const targets = new Map(
      offsets
        .filter((p) => BigInt(p.high) > BigInt(p.low))
        .map((p) => [p.partition, BigInt(p.high)] as const),
    );
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
      groupId: `${this.opts.groupId}.deliveries-reader.${randomUUID()}`,
      allowAutoTopicCreation: false,
      retry: { retries: 1000 },
    });
    this.consumer = consumer;
    // Batches made only of control records or compacted-away offsets advance the position too.
    consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
      if (e.payload.topic === topic) advance(e.payload.partition, e.payload.lastOffset);
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          if (m.key === null) continue;
          this.remember(m.key.toString(), parseDeliveryRecord(m.value));
        }
        advance(batch.partition, batch.lastOffset());
      },
    });
    if (pending().length === 0) resolveDone();

    const timeoutMs = this.opts.loadTimeoutMs ?? 120_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
    const outcome = await Promise.race([done.then(() => 'done' as const), timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      // Going on is the lesser evil: the worst outcome is an alert sent again, never one lost.
      log.warn('delivery log not read to its end in time; going on (an alert may be repeated)', {
        topic,
        timeoutMs,
        partitionsBehind: pending(),
      });
    }
    log.info('delivery log loaded', { topic, findings: this.delivered.size, partitions: targets.size });
  }

  async stop(): Promise<void> {
    const c = this.consumer;
    this.consumer = undefined;
    if (c) await c.disconnect();
  }
}
