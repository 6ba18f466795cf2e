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
import type { Consumer, Kafka } from 'kafkajs';
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

export async function runWindowedConsumer(o: WindowedConsumerOptions): Promise<WindowedConsumer> {
  const { log, signal } = o;
  const maxMessages = o.maxMessages ?? 1000;
  const { heartbeatInterval } = groupSession();
  const consumer = groupConsumer(o.kafka, o.groupId);

  let buffer: ConsumedMessage[] = [];
  /** The last offset the open window holds, per partition. */
  let upTo = new Map<string, { topic: string; partition: number; offset: string }>();
  let timer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> | undefined;
  let generation = 0;
  let assigned = new Set<string>();
  let lastHeartbeat: (() => Promise<void>) | undefined;

  const heartbeat = async () => {
    try {
      await lastHeartbeat?.();
    } catch (err) {
      log.debug('heartbeat failed (a rebalance is handled by the consumer loop)', { error: err });
    }
  };

  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    generation++;
    assigned = new Set(Object.entries(e.payload.memberAssignment).flatMap(([t, ps]) => ps.map((p) => tp(t, p))));
    o.hooks?.assigned(e.payload.memberAssignment);
    if (buffer.length > 0) log.info('group re-joined: the open window is dropped and read again', { messages: buffer.length });
    buffer = [];
    upTo = new Map();
    clearTimeout(timer);
    timer = undefined;
  });

  consumer.on(consumer.events.CRASH, (e) => o.hooks?.crashed(e.payload.error));

  const commit = async (offsets: { topic: string; partition: number; offset: string }[], gen: number) => {
    // After a rebalance, only what this member still owns is committed (the rest is read again by its new owner).
    const mine = offsets.filter((x) => gen === generation || assigned.has(tp(x.topic, x.partition)));
    if (mine.length === 0) return;
    try {
      await consumer.commitOffsets(mine.map((x) => ({ topic: x.topic, partition: x.partition, offset: (BigInt(x.offset) + 1n).toString() })));
    } catch (err) {
      log.warn('offsets not committed: the window will be read again (and its deliveries skipped)', { error: err });
    }
  };

  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (flushing || buffer.length === 0) return;
    const ms = buffer;
    const offsets = [...upTo.values()];
    const gen = generation;
    buffer = [];
    upTo = new Map();
    flushing = (async () => {
      // Heartbeats while deliveries (with their retries and Retry-After waits) take their time.
      const beat = setInterval(() => void heartbeat(), heartbeatInterval);
      try {
        for (let attempt = 1; ; attempt++) {
          const t0 = performance.now();
          try {
            await o.handle(ms, { heartbeat, attempt });
            o.hooks?.handled(offsets, (performance.now() - t0) / 1000);
            break;
          } catch (err) {
            if (!signal.aborted) o.hooks?.failed(offsets, err, attempt, (performance.now() - t0) / 1000);
            if (signal.aborted) {
              log.info('window interrupted by stop: what was not handled is read again on the next start', { messages: ms.length });
              return;
            }
            const waitMs = backoffMs(attempt, o.retryBaseMs ?? 1000, 30_000);
            log.error('window handler failed; will retry', { messages: ms.length, attempt, waitMs, error: err });
            try {
              await sleep(waitMs, signal);
            } catch {
              return;
            }
          }
        }
        await commit(offsets, gen);
      } finally {
        clearInterval(beat);
      }
    })()
      .catch((err: unknown) => log.error('window handling failed; it will be read again', { messages: ms.length, error: err }))
      .finally(() => {
        flushing = undefined;
      });
  };

  await consumer.connect();
  await consumer.subscribe({ topics: [o.topic], fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat: hb, isRunning, isStale }) => {
      lastHeartbeat = hb;
      const gen = generation;
      // Backpressure: nothing new is taken while a window is being handled.
      while (flushing) await flushing;
      if (!isRunning() || isStale() || gen !== generation || signal.aborted || batch.messages.length === 0) return;
      o.hooks?.fetched(batch.topic, batch.partition, batch.highWatermark, batch.messages);
      for (const message of batch.messages) {
        buffer.push({ topic: batch.topic, partition: batch.partition, message, key: message.key === null ? null : message.key.toString() });
      }
      const last = batch.messages[batch.messages.length - 1]!.offset;
      upTo.set(tp(batch.topic, batch.partition), { topic: batch.topic, partition: batch.partition, offset: last });
      // Moves the fetch position on; nothing is committed until the window is handled.
      resolveOffset(last);
      if (buffer.length >= maxMessages) {
        flush();
        await flushing;
      } else if (!timer) {
        timer = setTimeout(flush, o.windowMs);
      }
      await hb();
    },
  });

  return {
    consumer,
    stop: async () => {
      clearTimeout(timer);
      timer = undefined;
      buffer = [];
      upTo = new Map();
      if (flushing) await flushing;
      await consumer.disconnect();
    },
  };
}
