/**
 * The consumer loop every service runs, with the poison-message policy (see README, "When a
 * handler fails"): a partition never stops on one message.
 *
 * - bad input → `<topic>.dlq` at once, with the reason;
 * - a server unavailable → the same message (or run) again after a capped exponential backoff, for
 *   as long as it takes; health shows the partition as retrying;
 * - any other error → retried up to `attempts` times, then dead-lettered with the error, the
 *   service and the attempts, and the partition goes on.
 * A run given to `handleBatch` that fails for any reason but an outage is applied again one message
 * at a time (`handle`), so one poison message costs only itself.
 *
 * Delivery is at-least-once: an offset is resolved only after its message was handled or
 * dead-lettered, so a restart repeats at most the messages in flight, and every handler is idempotent.
 */
import type { Consumer, Kafka, KafkaMessage, Producer } from 'kafkajs';
import { ConsumerHealth, type ConsumerObserver } from './consumer-health.js';
import { classifyFailure, describeError, type FailureKind } from './failure.js';
import { envDuration, envInt, type Env } from './env-config.js';
import { sendToDlq } from './kafka.js';
import type { Logger } from './log.js';
import { retryBackoffMs, sleep, type RetryOptions } from './retry.js';

export interface ConsumedMessage {
  topic: string;
  partition: number;
  message: KafkaMessage;
  key: string | null;
}

export interface BatchPosition {
  /** Its last message was the partition's last when fetched: nothing more is waiting (a lull). */
  caughtUp: boolean;
  /**
   * Keeps the group session alive: a handler whose run can outlast the session (a workspace with
   * its store takes seconds) calls it between messages. Never throws; a lost partition shows at commit.
   */
  heartbeat?: () => Promise<void>;
}

/**
 * `attempts`: what a message that keeps failing (not for an outage) gets before the DLQ (default 3);
 * the backoff after the n-th failure is base·2^(n-1) capped at max, jittered (`retryBackoffMs`).
 */
export type RetryPolicy = RetryOptions;

/** `CRATEWATCH_MAX_ATTEMPTS` (default 3) and `CRATEWATCH_RETRY_MAX_MS` (default 30000, the longest wait in an outage). */
export function retryPolicyFromEnv(env: Env = process.env): RetryPolicy {
  return {
    attempts: envInt(env, 'CRATEWATCH_MAX_ATTEMPTS', { min: 1, fallback: 3 }),
    baseMs: 200,
    maxMs: envDuration(env, 'CRATEWATCH_RETRY_MAX_MS', { unit: 'ms', min: 1, fallback: 30_000 }),
  };
}

export interface ConsumerLoopOptions {
  kafka: Kafka;
  producer: Producer;
  groupId: string;
  topics: string[];
  service: string;
  log: Logger;
  fromBeginning?: boolean;
  handle: (m: ConsumedMessage) => Promise<void>;
  /**
   * Optional: handles a run of messages from one partition at once (say, in one Neo4j transaction
   * instead of one per message, which is what bounds a bulk load). Returns the offsets it refused
   * as bad input with the reason (they go to the DLQ). If it throws, the run is retried (outage)
   * or applied again message by message through `handle` (anything else).
   */
  handleBatch?: (ms: ConsumedMessage[], at: BatchPosition) => Promise<Map<string, Error>>;
  /** Most messages given to `handleBatch` at once (default 200). */
  batchSize?: number;
  /** Most bytes one fetch takes per partition (`groupConsumer`; default kafkajs' 1 MiB). */
  fetchBytes?: number;
  /**
   * How many partitions' runs are handled at once (default 1). Each partition's runs still come
   * one after the other, in order; the handler decides what of two runs may overlap.
   */
  partitionsAtOnce?: number;
  policy?: RetryPolicy;
  /** Where the loop keeps its partitions' state (for /readyz); one is made when not given. */
  health?: ConsumerHealth;
  observer?: ConsumerObserver;
}

/**
 * The group session every consumer uses: a crashed member holds its partitions until its session
 * times out (KAFKA_SESSION_TIMEOUT_MS, default 30 s); heartbeats go at a tenth of it (a consumer
 * that handles a long window itself beats at this interval too).
 */
export function groupSession(env: Env = process.env): { sessionTimeout: number; heartbeatInterval: number } {
  const sessionTimeout = envDuration(env, 'KAFKA_SESSION_TIMEOUT_MS', { unit: 'ms', min: 1, fallback: 30_000 });
  return { sessionTimeout, heartbeatInterval: Math.max(500, Math.floor(sessionTimeout / 10)) };
}

/**
 * A consumer of a group with the settings every service uses (`groupSession`). `fetchBytes`: the
 * most bytes one fetch takes per partition (kafkajs' default 1 MiB; a larger message still comes
 * whole). kafkajs fetches again only once every batch of the last fetch is handled, so a message
 * on a quiet topic waits for the whole of a busy topic's fetch: a consumer whose messages cost
 * work keeps fetches small.
 */
export function groupConsumer(kafka: Kafka, groupId: string, fetchBytes?: number): Consumer {
  return kafka.consumer({
    groupId,
    allowAutoTopicCreation: false,
    ...groupSession(),
    // A short fetch wait: disconnecting waits for the fetch in flight (kafkajs' default is 5 s).
    maxWaitTimeInMs: 1000,
    retry: { retries: 1000 },
    // The whole fetch stays at kafkajs' 10 MiB unless many partitions of `fetchBytes` need more.
    ...(fetchBytes ? { maxBytesPerPartition: fetchBytes, maxBytes: Math.max(fetchBytes * 8, 10 << 20) } : {}),
  });
}

/** Runs `handle` on each message of a run, collecting bad input as refusals (for `handleBatch`). */
export async function eachRefusing(ms: ConsumedMessage[], handle: (m: ConsumedMessage) => Promise<void>): Promise<Map<string, Error>> {
  const refused = new Map<string, Error>();
  for (const m of ms) {
    try {
      await handle(m);
    } catch (err) {
      if (classifyFailure(err) !== 'bad-input') throw err;
      refused.set(m.message.offset, err as Error);
    }
  }
  return refused;
}

/** The partition being worked on: whether this member still owns it, and how to keep the session alive. */
interface Turn {
  live: () => boolean;
  heartbeat: () => Promise<void>;
  /** Commits what was resolved, when kafkajs' auto-commit settings say it is due. */
  commit: () => Promise<void>;
}

/** Raised inside a turn when the member lost its partition (stop, rebalance): nothing more is resolved. */
class TurnOver extends Error {
  override name = 'TurnOver';
}

/**
 * Runs a consumer group until `stop()`, under the poison-message policy above (`PoisonPolicy`): bad
 * input is dead-lettered at once, an outage retried until it ends, any other failure retried up to
 * the policy's attempts and then dead-lettered; offsets are resolved only once their message was
 * handled or dead-lettered.
 */
export async function runConsumer(
  opts: ConsumerLoopOptions,
): Promise<{ consumer: Consumer; stop: () => Promise<void>; health: ConsumerHealth }> {
  const consumer = groupConsumer(opts.kafka, opts.groupId, opts.fetchBytes);
  const health = opts.health ?? new ConsumerHealth(opts.groupId, opts.service);
  const policy = opts.policy ?? retryPolicyFromEnv();
  const loop = new PoisonPolicy(opts, policy, health);
  watchGroup(consumer, health);
  await consumer.connect();
  await consumer.subscribe({ topics: opts.topics, fromBeginning: opts.fromBeginning ?? true });
  const size = opts.batchSize ?? 200;
  await consumer.run({
    partitionsConsumedConcurrently: opts.partitionsAtOnce ?? 1,
    autoCommit: true,
    // Commit at least every 5 s as well as after each batch, so a long batch's progress is kept.
    autoCommitInterval: 5000,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat, commitOffsetsIfNecessary, isRunning, isStale }) => {
      const turn: Turn = { live: () => isRunning() && !isStale(), heartbeat, commit: () => commitOffsetsIfNecessary() };
      const all: ConsumedMessage[] = batch.messages.map((message) => ({
        topic: batch.topic,
        partition: batch.partition,
        message,
        key: message.key === null ? null : message.key.toString(),
      }));
      if (all.length === 0) return;
      health.fetched(batch.topic, batch.partition, batch.highWatermark, all[0]!.message.offset);
      opts.observer?.consumed?.(batch.topic, all.length);
      const state = health.stateOf(batch.topic, batch.partition); // looked up once a batch, not per message
      const resolve = (m: ConsumedMessage) => {
        resolveOffset(m.message.offset);
        state.offset = m.message.offset;
        state.retrying = undefined;
      };
      try {
        for (let i = 0; i < all.length && turn.live(); i += size) {
          const run = all.slice(i, i + size);
          // The high-watermark is the offset the next message will get: the run ends the partition when its last is just below.
          const caughtUp = BigInt(run[run.length - 1]!.message.offset) + 1n >= BigInt(batch.highWatermark);
          if (opts.handleBatch) await loop.applyRun(run, { caughtUp }, turn, resolve);
          else await loop.applyEach(run, turn, resolve);
          await heartbeat();
          await turn.commit();
        }
      } catch (err) {
        if (!(err instanceof TurnOver)) throw err;
      }
    },
  });
  return { consumer, health, stop: () => consumer.disconnect() };
}

/** Keeps `health` in step with the group: which partitions are ours, and whether the consumer crashed. */
function watchGroup(consumer: Consumer, health: ConsumerHealth): void {
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    health.joinedAt = Date.now();
    health.crashed = undefined;
    const mine = new Set(Object.entries(payload.memberAssignment).flatMap(([t, ps]) => ps.map((p) => `${t}/${p}`)));
    for (const s of health.partitions()) if (!mine.has(`${s.topic}/${s.partition}`)) health.revoked(s.topic, s.partition);
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    health.crashed = { at: Date.now(), error: describeError(payload.error) };
  });
}

/** The policy itself: how one run and one message are tried, retried and, at the end, dead-lettered. */
class PoisonPolicy {
  constructor(
    private readonly opts: ConsumerLoopOptions,
    private readonly policy: RetryPolicy,
    private readonly health: ConsumerHealth,
  ) {}

  /** A run through `handleBatch`: retried whole in an outage, message by message for anything else. */
  async applyRun(run: ConsumedMessage[], at: BatchPosition, turn: Turn, resolve: (m: ConsumedMessage) => void): Promise<void> {
    const first = run[0]!;
    for (let outage = 1; ; outage++) {
      const t0 = performance.now();
      try {
        const refused = await this.opts.handleBatch!(run, { ...at, heartbeat: () => turn.heartbeat().catch(() => undefined) });
        for (const m of run) {
          const err = refused.get(m.message.offset);
          if (err) await this.deadLetter(m, err, 'bad-input', 1, turn);
        }
        this.opts.observer?.handled?.(first.topic, (performance.now() - t0) / 1000, 'ok');
        resolve(run[run.length - 1]!);
        return;
      } catch (err) {
        if (err instanceof TurnOver) throw err;
        this.opts.observer?.handled?.(first.topic, (performance.now() - t0) / 1000, 'retry');
        if (classifyFailure(err) !== 'unavailable') {
          this.opts.log.warn('batch failed: applying its messages one by one', {
            topic: first.topic,
            partition: first.partition,
            from: first.message.offset,
            count: run.length,
            error: err,
          });
          return this.applyEach(run, turn, resolve);
        }
        await this.waitOut(first, 'unavailable', outage, err, turn);
      }
    }
  }

  /** Each message of a run on its own, in order. */
  async applyEach(run: ConsumedMessage[], turn: Turn, resolve: (m: ConsumedMessage) => void): Promise<void> {
    let beatAt = Date.now();
    for (const m of run) {
      await this.applyOne(m, turn);
      resolve(m);
      // One by one, a run can take longer than the session: beat and commit as we go (every
      // 500 ms, not per message: that would cost two awaits a message), or the group drops us and
      // the run starts over.
      if (Date.now() - beatAt >= 500) {
        beatAt = Date.now();
        await turn.heartbeat();
        await turn.commit();
      }
    }
  }

  /** One message until it is handled or dead-lettered; throws TurnOver when the partition is no longer ours. */
  private async applyOne(m: ConsumedMessage, turn: Turn): Promise<void> {
    let failures = 0;
    for (let outage = 1; ;) {
      if (!turn.live()) throw new TurnOver();
      const observer = this.opts.observer;
      const t0 = observer ? performance.now() : 0;
      try {
        await this.opts.handle(m);
        observer?.handled?.(m.topic, (performance.now() - t0) / 1000, 'ok');
        return;
      } catch (err) {
        const kind = classifyFailure(err);
        const last = kind === 'bad-input' || (kind === 'failed' && failures + 1 >= this.policy.attempts);
        observer?.handled?.(m.topic, (performance.now() - t0) / 1000, last ? 'dead-lettered' : 'retry');
        if (kind === 'bad-input') return this.deadLetter(m, err as Error, 'bad-input', 1, turn);
        if (kind === 'failed') {
          failures++;
          if (failures >= this.policy.attempts) return this.deadLetter(m, err, 'failed', failures, turn);
          await this.waitOut(m, 'failed', failures, err, turn);
        } else await this.waitOut(m, 'unavailable', outage++, err, turn);
      }
    }
  }

  /** Says the partition is retrying, then waits the n-th backoff while keeping the session alive. */
  private async waitOut(m: ConsumedMessage, kind: Exclude<FailureKind, 'bad-input'>, n: number, err: unknown, turn: Turn): Promise<void> {
    const wait = retryBackoffMs(this.policy, n);
    const error = describeError(err);
    this.health.retrying(m.topic, m.partition, { kind, offset: m.message.offset, attempts: n, since: Date.now(), error });
    this.opts.observer?.retried?.(m.topic, kind);
    const what =
      kind === 'unavailable' ? 'a server is unavailable; retrying' : `handler failed (attempt ${n} of ${this.policy.attempts}); retrying`;
    this.opts.log.warn(what, { topic: m.topic, partition: m.partition, offset: m.message.offset, key: m.key, inMs: wait, error: err });
    const until = Date.now() + wait;
    while (Date.now() < until) {
      if (!turn.live()) throw new TurnOver();
      await sleep(Math.min(1000, until - Date.now()));
      await turn.heartbeat();
    }
  }

  /** Writes the message to `<topic>.dlq` (retrying through an outage) so the partition can go past it. */
  private async deadLetter(
    m: ConsumedMessage,
    err: unknown,
    kind: Exclude<FailureKind, 'unavailable'>,
    attempts: number,
    turn: Turn,
  ): Promise<void> {
    // Bad input keeps the reason as written (it names the field); a failure says its class too.
    const reason = kind === 'bad-input' ? (err as Error).message : describeError(err);
    const raw = { topic: m.topic, partition: m.partition, offset: m.message.offset, key: m.message.key, value: m.message.value };
    if (kind === 'bad-input')
      this.opts.log.warn('refused message: sent to DLQ', {
        topic: m.topic,
        partition: m.partition,
        offset: m.message.offset,
        key: m.key,
        reason,
      });
    else
      this.opts.log.error('message failed every attempt: sent to DLQ', {
        topic: m.topic,
        partition: m.partition,
        offset: m.message.offset,
        key: m.key,
        attempts,
        error: err,
      });
    for (let outage = 1; ; outage++) {
      try {
        await sendToDlq(this.opts.producer, this.opts.service, raw, reason, { attempts, failure: kind });
        break;
      } catch (sendErr) {
        if (classifyFailure(sendErr) === 'unavailable') {
          await this.waitOut(m, 'unavailable', outage, sendErr, turn);
          continue;
        }
        // The DLQ itself refuses the record (say, a value over its size limit): keep the reason, drop the value.
        await sendToDlq(
          this.opts.producer,
          this.opts.service,
          { ...raw, value: null },
          `${reason} (value not kept: ${describeError(sendErr)})`,
          { attempts, failure: kind },
        );
        break;
      }
    }
    this.opts.observer?.deadLettered?.(m.topic, kind);
  }
}
