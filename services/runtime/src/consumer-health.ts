/**
 * What a consumer knows about its own partitions, for `/readyz` and `/metrics`: where each one is
 * (last handled offset, the partition's end when last fetched, so its lag), and whether it is
 * stuck retrying a message — because a server is unavailable, or because the message keeps
 * failing and has attempts left. A consumer loop writes it; health and metrics only read it.
 */
import type { FailureKind } from './failure.js';

export interface PartitionState {
  topic: string;
  partition: number;
  /** The last offset handled (committed or about to be), as Kafka numbers it; undefined before the first. */
  offset?: string;
  /** The partition's high-watermark when last fetched: the offset its next message will get. */
  highWatermark?: string;
  /** Set while a message of this partition is being retried. */
  retrying?: { kind: Exclude<FailureKind, 'bad-input'>; offset: string; attempts: number; since: number; error: string };
}

/** Counters a consumer loop reports as it goes; metrics implement it, tests may count with it. */
export interface ConsumerObserver {
  consumed?(topic: string, count: number): void;
  handled?(topic: string, seconds: number, outcome: 'ok' | 'retry' | 'dead-lettered'): void;
  retried?(topic: string, kind: Exclude<FailureKind, 'bad-input'>): void;
  deadLettered?(topic: string, kind: Exclude<FailureKind, 'unavailable'>): void;
}

export class ConsumerHealth {
  private readonly parts = new Map<string, PartitionState>();
  /** Set when the group has (re)joined and partitions were assigned at least once. */
  joinedAt?: number;
  /** The last error that crashed the consumer (kafkajs restarts it); cleared when it rejoins. */
  crashed?: { at: number; error: string };

  constructor(
    readonly group: string,
    readonly service: string,
  ) {}

  /** The state of one partition, made when first asked for (the loop keeps it for a batch). */
  stateOf(topic: string, partition: number): PartitionState {
    return this.at(topic, partition);
  }

  private at(topic: string, partition: number): PartitionState {
    const k = `${topic}/${partition}`;
    let s = this.parts.get(k);
    if (!s) this.parts.set(k, (s = { topic, partition }));
    return s;
  }

  /** A batch was fetched: the partition's end, and (first time) where this member starts in it. */
  fetched(topic: string, partition: number, highWatermark: string, firstOffset: string): void {
    const s = this.at(topic, partition);
    s.highWatermark = highWatermark;
    if (s.offset === undefined) s.offset = (BigInt(firstOffset) - 1n).toString();
  }

  handled(topic: string, partition: number, offset: string): void {
    const s = this.at(topic, partition);
    s.offset = offset;
    s.retrying = undefined;
  }

  retrying(topic: string, partition: number, r: NonNullable<PartitionState['retrying']>): void {
    const s = this.at(topic, partition);
    s.retrying = s.retrying && s.retrying.offset === r.offset && s.retrying.kind === r.kind ? { ...r, since: s.retrying.since } : r;
  }

  /** A partition this member no longer owns (rebalance): its state is another member's now. */
  revoked(topic: string, partition: number): void {
    this.parts.delete(`${topic}/${partition}`);
  }

  partitions(): PartitionState[] {
    return [...this.parts.values()].sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
  }

  /** Messages behind the end of the partition as last fetched (0 when caught up or unknown). */
  static lag(s: PartitionState): number {
    if (s.highWatermark === undefined || s.offset === undefined) return 0;
    const next = BigInt(s.offset) + 1n;
    const lag = BigInt(s.highWatermark) - next;
    return lag > 0n ? Number(lag) : 0;
  }
}
