/**
 * When the scorer does the work it defers: handling (batches, messages) and flushes take turns,
 * one at a time and in order; coverage a trusted pool's change made due waits for the burst to end
 * (the consumer caught up and no pool change for `settleMs`, or at the latest `maxDelayMs`), with a
 * timer for the quiet tail of a burst, which brings no message; risk is due once per workspace whose
 * findings changed. What is due is also marked in the graph (`coverageDue`, `riskDue`) with the facts
 * or findings it follows from, so a crash leaves it for the next start (`Scorer.resume`).
 *
 * A run of releases alone is the one run that does not wait for its turn (`writtenBeside`): with
 * `SCORER_PARTITIONS_AT_ONCE` partitions handed over at once, a stream of releases neither waits
 * for nor holds up an advisory.
 */
import { TOPICS } from '@cratewatch/shared';
import type { ConsumedMessage, Logger } from '@cratewatch/runtime';

/**
 * When coverage moved by trusted pools' changes is recomputed (ms): once no pool change came for
 * `settleMs` and the consumer has caught up, or at the latest `maxDelayMs` after the first.
 */
export interface CoverageTiming {
  settleMs: number;
  maxDelayMs: number;
}

// The settle was 2 s while a pool change re-resolved whole workspaces; judged again incrementally, a
// part of a load that arrives after a flush costs only its own crates (bench/README.md "Org scale").
export const DEFAULT_COVERAGE_TIMING: CoverageTiming = { settleMs: 500, maxDelayMs: 30_000 };

/** A run written beside the other turns: releases only MERGE Crate, Version and HAS_VERSION. */
export const writtenBeside = (ms: ConsumedMessage[]): boolean => ms.every((m) => m.topic === TOPICS.releases);

/** What the deferred work runs when it is time: the due coverage, then the due risk. */
export interface DeferredRuns {
  coverage: (ids: string[]) => Promise<unknown>;
  risk: () => Promise<void>;
}

export class DeferredWork {
  /**
   * Workspaces whose findings changed (or whose lockfile arrived) since their risk was last written.
   * Kept across a failed batch, so its retry, which finds the findings already written, still
   * writes their risk.
   */
  readonly riskDue = new Set<string>();
  /**
   * Workspaces whose coverage a trusted pool's change moved, not recomputed yet (also marked
   * `coverageDue` in the graph, with the facts). A bulk load of a pool comes in many batches that
   * each touch most workspaces: recomputing once when the consumer has caught up, rather than after
   * every batch, is the difference between one coverage per workspace and one per batch.
   */
  readonly coverageDue = new Set<string>();
  /**
   * Of `coverageDue`: the crates whose trusted audits changed since the workspace's coverage was
   * written (`all`: the pools' criteria did), so that a kept resolution is judged again for those
   * only. No entry (a mark a previous run left): a full resolve.
   */
  readonly coverageDelta = new Map<string, Set<string> | 'all'>();
  /** When the oldest of `coverageDue` became due (ms), to bound the wait when the consumer never catches up. */
  private coverageDueSince = 0;
  /** When a pool change last made coverage due (ms): the burst is over once none came for `settleMs`. */
  private coverageLastMarkAt = 0;
  /** The flush a quiet tail of a burst waits for (no message would call it). */
  private coverageTimer: NodeJS.Timeout | undefined;
  /** Handling (batches, messages) and the timer's flushes run one at a time, in order. */
  private turn: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly timing: CoverageTiming,
    private readonly log: Logger,
    private readonly runs: DeferredRuns,
  ) {}

  /** Runs `fn` after whatever handling or flush is under way (never two at once). */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.turn.then(fn);
    this.turn = run.catch(() => undefined);
    return run;
  }

  /** No more timer flushes; waits for the one under way, if any. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.coverageTimer);
    this.coverageTimer = undefined;
    await this.turn;
  }

  /** Coverage made due by a trusted pool's change to these crates (`all`: its criteria). */
  markCoverage(ids: string[], crates: string[] | 'all'): void {
    if (ids.length) {
      if (this.coverageDue.size === 0) this.coverageDueSince = Date.now();
      this.coverageLastMarkAt = Date.now();
    }
    for (const id of ids) {
      this.coverageDue.add(id);
      const delta = this.coverageDelta.get(id);
      if (crates === 'all' || delta === 'all') this.coverageDelta.set(id, 'all');
      else this.coverageDelta.set(id, new Set([...(delta ?? []), ...crates]));
    }
  }

  /** The marks a previous run left in the graph: due at once (their burst is long over), in full. */
  resumeMarks(coverage: string[], risk: string[]): void {
    for (const id of coverage) this.coverageDue.add(id);
    for (const id of risk) this.riskDue.add(id);
    if (coverage.length && this.coverageDueSince === 0) this.coverageDueSince = this.coverageLastMarkAt = Date.now() - this.timing.settleMs;
  }

  /** These workspaces' coverage was written: their marks go. */
  coverageDone(ids: string[]): void {
    for (const id of ids) {
      this.coverageDue.delete(id);
      this.coverageDelta.delete(id);
    }
  }

  /**
   * Recomputes the coverage a trusted pool's change made due, once the burst is over: the consumer
   * has caught up with the partition (`caughtUp`) and no pool change has come for `settleMs` (a
   * source sends a load over several seconds, catching up between its parts) — or once the oldest
   * has waited `maxDelayMs` (a stream that never pauses still gets its coverage). When it is not
   * time yet, a timer comes back then: the quiet tail of a burst brings no message to call this.
   */
  async flushCoverage(caughtUp: boolean): Promise<void> {
    if (this.coverageDue.size === 0) return;
    const now = Date.now();
    const overdueAt = this.coverageDueSince + this.timing.maxDelayMs;
    const settledAt = this.coverageLastMarkAt + this.timing.settleMs;
    if (now < overdueAt && !(caughtUp && now >= settledAt)) {
      // Behind: more is coming, and its batches will ask again; only the maximum delay is kept.
      this.flushLater((caughtUp ? Math.min(overdueAt, settledAt) : overdueAt) - now);
      return;
    }
    clearTimeout(this.coverageTimer);
    this.coverageTimer = undefined;
    const ids = [...this.coverageDue].sort();
    const t0 = Date.now();
    await this.runs.coverage(ids); // each one's mark cleared, also when it had no event to recompute from
    this.log.info('pool changes applied to coverage', {
      workspaces: ids.length,
      waitedMs: t0 - this.coverageDueSince,
      ms: Date.now() - t0,
    });
    if (this.coverageDue.size === 0) this.coverageDueSince = 0;
  }

  /** A flush in `ms` (replacing the one set before), as a turn of its own; a failure leaves the marks for the next. */
  private flushLater(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.coverageTimer);
    this.coverageTimer = setTimeout(
      () => {
        this.coverageTimer = undefined;
        // Fired after `settleMs` without a pool change (or at the maximum delay): the burst is over.
        this.exclusive(async () => {
          if (!this.stopped) await this.flushCoverage(true);
        }).then(
          () => this.flushRiskLater(),
          (err: unknown) => this.log.error('coverage flush failed; the marks stay for the next batch or start', { error: err }),
        );
      },
      Math.max(0, ms),
    );
    this.coverageTimer.unref();
  }

  /** The risk the timer's coverage called for, as a turn of its own. */
  private flushRiskLater(): void {
    if (this.stopped || this.riskDue.size === 0) return;
    this.exclusive(() => this.runs.risk()).catch((err: unknown) =>
      this.log.error('risk flush failed; the marks stay for the next batch or start', { error: err }),
    );
  }
}
