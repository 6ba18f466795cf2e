/**
 * A consumer loop that hands the notifier its findings in **windows**: everything that arrives,
 * across every partition the member owns, from the first message of a window until `windowMs`
 * later (or until `maxMessages` are held). That is what lets a burst of findings become one digest:
 * the scorer writes a workspace's changes in one send, but the changes an advisory causes across
 * many workspaces come as many sends over a second or two, and each send's messages are spread
 * over the partitions by key — so neither one Kafka batch nor one fetch holds a burst.
 *
 * At-least-once, as the runtime's `runConsumer`: an offset is committed only after its window was
 * handled. The fetch position moves on while a window is open (kafkajs `resolveOffset`, with
 * auto-commit off), and the window's offsets are committed explicitly once its handler returned.
 * - The handler throws: the same window is retried after a backoff (nothing is committed, nothing
 *   newer is taken meanwhile), until it succeeds or the loop stops.
 * - While a window is being handled no new message is taken (the fetch waits): windows are handled
 *   one after another, so per-partition (per-finding) order holds.
 * - A rebalance (group re-joined): the open window is dropped; kafkajs fetches again from the
 *   committed offsets, so its messages come again in a later window.
 * - Stop: the window being handled finishes what is in flight (the handler sees the stop signal),
 *   the open window is dropped; what was not committed is read again on the next start.
 */
import type { Consumer, Kafka, KafkaMessage } from 'kafkajs';
import { backoffMs, groupConsumer, groupSession, sleep, type ConsumedMessage, type Logger } from '@cratewatch/runtime';
import type { ConsumerHooks } from './metrics.js';

export interface WindowContext {
  /** Tells the group coordinator this member is alive (errors are swallowed: a rebalance shows up in the loop). */
  heartbeat(): Promise<void>;
  /** 1 for the first time this window is handled, then 2, 3… on retries. */
  attempt: number;
}

export interface WindowedConsumerOptions {
  kafka: Kafka;
  groupId: string;
  topic: string;
  log: Logger;
  /** How long a window stays open after its first message; 0: it closes on the next timer tick. */
  windowMs: number;
  /** A window closes early once it holds this many messages (default 1000). */
  maxMessages?: number;
  /** Handles a window: messages of every partition, each partition's in offset order. Throwing retries it. */
  handle: (ms: ConsumedMessage[], ctx: WindowContext) => Promise<void>;
  /** Aborted when the notifier stops. */
  signal: AbortSignal;
  /** Backoff before a window is retried (default 1 s, doubling to 30 s). */
  retryBaseMs?: number;
  /** Told the assignment, fetches and windows handled or failed (health and metrics). */
  hooks?: ConsumerHooks;
}

export interface WindowedConsumer {
  consumer: Consumer;
  /** Waits for the window being handled (it stops at the next delivery once the signal is aborted), then leaves the group. */
  stop(): Promise<void>;
}

const tp = (topic: string, partition: number) => `${topic}|${partition}`;

type Position = { topic: string; partition: number; offset: string };

/** The window being collected and the one being handled: the state the consumer's callbacks share. */
class Windows {
  private buffer: ConsumedMessage[] = [];
  /** The last offset the open window holds, per partition. */
  private upTo = new Map<string, Position>();
  private timer: NodeJS.Timeout | undefined;
  flushing: Promise<void> | undefined;
  generation = 0;
  private assigned = new Set<string>();
  lastHeartbeat: (() => Promise<void>) | undefined;
  private readonly maxMessages: number;
  private readonly heartbeatInterval = groupSession().heartbeatInterval;

  constructor(
    private readonly o: WindowedConsumerOptions,
    private readonly consumer: Consumer,
  ) {
    this.maxMessages = o.maxMessages ?? 1000;
  }

  readonly heartbeat = async (): Promise<void> => {
    try {
      await this.lastHeartbeat?.();
    } catch (err) {
      this.o.log.debug('heartbeat failed (a rebalance is handled by the consumer loop)', { error: err });
    }
  };

  /** A (re-)join: the open window is dropped (kafkajs fetches it again from the committed offsets). */
  joined(assignment: Record<string, number[]>): void {
    this.generation++;
    this.assigned = new Set(Object.entries(assignment).flatMap(([t, ps]) => ps.map((p) => tp(t, p))));
    this.o.hooks?.assigned(assignment);
    if (this.buffer.length > 0)
      this.o.log.info('group re-joined: the open window is dropped and read again', { messages: this.buffer.length });
    this.drop();
  }

  /** Forgets the open window. */
  drop(): void {
    this.buffer = [];
    this.upTo = new Map();
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Adds a fetched batch to the open window; returns its last offset. */
  add(topic: string, partition: number, messages: KafkaMessage[]): string {
    for (const message of messages)
      this.buffer.push({ topic, partition, message, key: message.key === null ? null : message.key.toString() });
    const last = messages[messages.length - 1]!.offset;
    this.upTo.set(tp(topic, partition), { topic, partition, offset: last });
    return last;
  }

  /** A full window is handled now (resolves once it was); else the window closes `windowMs` after its first message. */
  async closeWhenDue(): Promise<void> {
    if (this.buffer.length >= this.maxMessages) {
      this.flush();
      await this.flushing;
    } else if (!this.timer) {
      this.timer = setTimeout(this.flush, this.o.windowMs);
    }
  }

  /** Closes the open window and hands it to the handler (one window at a time). */
  readonly flush = (): void => {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.flushing || this.buffer.length === 0) return;
    const ms = this.buffer;
    const offsets = [...this.upTo.values()];
    const gen = this.generation;
    this.buffer = [];
    this.upTo = new Map();
    this.flushing = this.handleAndCommit(ms, offsets, gen)
      .catch((err: unknown) => this.o.log.error('window handling failed; it will be read again', { messages: ms.length, error: err }))
      .finally(() => {
        this.flushing = undefined;
      });
  };

  private async handleAndCommit(ms: ConsumedMessage[], offsets: Position[], gen: number): Promise<void> {
    // Heartbeats while deliveries (with their retries and Retry-After waits) take their time.
    const beat = setInterval(() => void this.heartbeat(), this.heartbeatInterval);
    try {
      if (await this.handleUntilDone(ms, offsets)) await this.commit(offsets, gen);
    } finally {
      clearInterval(beat);
    }
  }

  /** The handler, again after a backoff until it succeeds; false when stopped first. */
  private async handleUntilDone(ms: ConsumedMessage[], offsets: Position[]): Promise<boolean> {
    const { o } = this;
    for (let attempt = 1; ; attempt++) {
      const t0 = performance.now();
      try {
        await o.handle(ms, { heartbeat: this.heartbeat, attempt });
        o.hooks?.handled(offsets, (performance.now() - t0) / 1000);
        return true;
      } catch (err) {
        if (!o.signal.aborted) o.hooks?.failed(offsets, err, attempt, (performance.now() - t0) / 1000);
        if (o.signal.aborted) {
          o.log.info('window interrupted by stop: what was not handled is read again on the next start', { messages: ms.length });
          return false;
        }
        const waitMs = backoffMs(attempt, o.retryBaseMs ?? 1000, 30_000);
        o.log.error('window handler failed; will retry', { messages: ms.length, attempt, waitMs, error: err });
        try {
          await sleep(waitMs, o.signal);
        } catch {
          return false;
        }
      }
    }
  }

  private async commit(offsets: Position[], gen: number): Promise<void> {
    // After a rebalance, only what this member still owns is committed (the rest is read again by its new owner).
    const mine = offsets.filter((x) => gen === this.generation || this.assigned.has(tp(x.topic, x.partition)));
    if (mine.length === 0) return;
    try {
      await this.consumer.commitOffsets(
        mine.map((x) => ({ topic: x.topic, partition: x.partition, offset: (BigInt(x.offset) + 1n).toString() })),
      );
    } catch (err) {
      this.o.log.warn('offsets not committed: the window will be read again (and its deliveries skipped)', { error: err });
    }
  }
}

export async function runWindowedConsumer(o: WindowedConsumerOptions): Promise<WindowedConsumer> {
  const consumer = groupConsumer(o.kafka, o.groupId);
  const w = new Windows(o, consumer);
  consumer.on(consumer.events.GROUP_JOIN, (e) => w.joined(e.payload.memberAssignment));
  consumer.on(consumer.events.CRASH, (e) => o.hooks?.crashed(e.payload.error));
  await consumer.connect();
  await consumer.subscribe({ topics: [o.topic], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat: hb, isRunning, isStale }) => {
      w.lastHeartbeat = hb;
      const gen = w.generation;
      // Backpressure: nothing new is taken while a window is being handled.
      while (w.flushing) await w.flushing;
      if (!isRunning() || isStale() || gen !== w.generation || o.signal.aborted || batch.messages.length === 0) return;
      o.hooks?.fetched(batch.topic, batch.partition, batch.highWatermark, batch.messages);
      // Moves the fetch position on; nothing is committed until the window is handled.
      resolveOffset(w.add(batch.topic, batch.partition, batch.messages));
      await w.closeWhenDue();
      await hb();
    },
  });
  return {
    consumer,
    stop: async () => {
      w.drop();
      if (w.flushing) await w.flushing;
      await consumer.disconnect();
    },
  };
}
