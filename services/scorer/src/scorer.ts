/**
 * The scorer's rules wired to its inputs: each fact event updates the graph, then only the
 * workspaces the event touches get their findings recomputed. A finding event is produced only
 * when a finding's state changes (opened, resolved, reopened) or an open one's severity or score
 * moves (rescored: shared `findingMoved`), so replays send nothing new.
 *
 * Several scorers may share the group (docs/adr/0002-several-scorers.md): a workspace's findings are
 * decided in ONE write transaction that first locks the Workspace node, then reads, computes and
 * writes them, each with its event in the Finding's outbox (`pendingEvents`). Two scorers deciding
 * for one workspace therefore run one after the other, and the second sees the first's findings:
 * one event per change. The events are sent after the commit and cleared from the outbox (under the
 * Finding's lock); a crash in between leaves them for whoever touches the workspace next, or for
 * the next start: repeated at worst (the notifier drops the repeat), never lost.
 */
import type { Producer } from 'kafkajs';
import type { ManagedTransaction } from 'neo4j-driver';
import {
  TOPICS,
  decodeEvent,
  EventValidationError,
  FormatError,
  isAffected,
  isSemVer,
  unaffectedIntervals,
  maintainerRisk,
  CRATES_IO_SOURCES,
  type Advisory,
  type FindingEvent,
  type MaintainerEvent,
  type MaintainerFacts,
  type PoolEvent,
  type VetReport,
  type WorkspaceEvent,
} from '@cratewatch/shared';
import { BadMessageError, type BatchPosition, type ConsumedMessage, type Logger } from '@cratewatch/runtime';
import { CRATES_IO_SOURCE, Graph, type LockedVersion, type StoredFinding } from './graph.js';
import { prepareWorkspace, storeOf, unvettedChanges, workspaceCoverage, type CoverageOptions, type PreparedWorkspace } from './coverage.js';
import { factsFromGraph, maintainerChanges, maintainerDecisionStamp } from './maintainer.js';
import { advisoryChanges } from './advisory.js';
import { decideDenyFindings, denyReportOf } from './deny-findings.js';
import { riskWrites } from './risk.js';
import { ResolutionCache, reportDigest, utcDay } from './resolution-cache.js';
import {
  CRITERIA_KEY,
  checkMaintainerKey,
  checkPoolKey,
  checkReleaseKey,
  criteriaSet,
  maintainerRow,
  parsePoolKey,
  poolCrateSet,
  releaseRow,
  type CriteriaSet,
  type MaintainerRow,
  type PoolCrateSet,
  type ReleaseRow,
} from './facts.js';

/** What one fact message writes: a crate's pool entries, a pool's criteria, owners, a release. */
type Fact =
  | { kind: 'pool'; key: string; set: PoolCrateSet }
  | { kind: 'criteria'; key: string; set: CriteriaSet }
  | { kind: 'maintainer'; key: string; row: MaintainerRow }
  | { kind: 'release'; row: ReleaseRow };

/** An unvetted version raises a finding from this score up (see shared `unvettedScore`). */
export const DEFAULT_MIN_UNVETTED_SCORE = 5;

/**
 * A locked version of a crate raises a maintainer finding from this maintainer-risk score up (see
 * shared `maintainerRisk`): no single signal reaches it, so it takes two independent reasons.
 */
export const DEFAULT_MIN_MAINTAINER_SCORE = 5;

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

export interface MaintainerOptions {
  /** 0–10: a crate's maintainer risk from which each workspace locking it gets a finding. */
  minScore: number;
}

/** Workspaces whose risk is read and written in one query each (`flushRisk`). */
const RISK_CHUNK = 100;
/** Findings whose outbox is sent in one transaction (at start, a crashed run may have left many). */
const OUTBOX_CHUNK = 500;
/** Workspaces whose advisory findings are decided in one transaction (an advisory reaching many). */
const FANOUT_CHUNK = 200;
/** Workspaces whose coverage is resolved in one transaction (a trusted pool's change reaching many). */
const COVERAGE_CHUNK = 25;
/** Chunks in flight at once: the resolver's CPU and Neo4j's round trips overlap (2 cores). */
const CHUNKS_AT_ONCE = 2;

/** What one workspace's coverage is resolved from (`coveragePlan`). */
interface CoveragePlan {
  workspace: PreparedWorkspace;
  hash: string;
  again?: { report: VetReport; crates: Set<string> };
}

/** `fn` over `ids` in chunks of `size`, at most `limit` at once; the results in chunk order. */
async function eachChunk<T>(ids: string[], size: number, limit: number, fn: (chunk: string[]) => Promise<T>): Promise<T[]> {
  const chunks: string[][] = [];
  for (let i = 0; i < ids.length; i += size) chunks.push(ids.slice(i, i + size));
  const out: T[] = new Array(chunks.length);
  let next = 0;
  const worker = async () => {
    while (next < chunks.length) {
      const i = next++;
      out[i] = await fn(chunks[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, chunks.length) }, worker));
  return out;
}
/** Workspaces whose last resolution is kept (`SCORER_RESOLUTIONS_KEPT`): about 0.5–2 MB each. */
export const DEFAULT_RESOLUTIONS_KEPT = 500;

export class Scorer {
  /**
   * Workspaces whose findings changed (or whose lockfile arrived) since their risk was last written.
   * Kept across a failed batch, so its retry, which finds the findings already written, still
   * writes their risk.
   */
  private readonly riskDue = new Set<string>();
  /**
   * Workspaces whose coverage a trusted pool's change moved, not recomputed yet (also marked
   * `coverageDue` in the graph, with the facts). A bulk load of a pool comes in many batches that
   * each touch most workspaces: recomputing once when the consumer has caught up, rather than after
   * every batch, is the difference between one coverage per workspace and one per batch.
   */
  private readonly coverageDue = new Set<string>();
  /**
   * Of `coverageDue`: the crates whose trusted audits changed since the workspace's coverage was
   * written (`all`: the pools' criteria did), so that a kept resolution is judged again for those
   * only. No entry (a mark a previous run left): a full resolve.
   */
  private readonly coverageDelta = new Map<string, Set<string> | 'all'>();
  /** Each workspace's last resolution, while it is the graph's (see resolution-cache.ts). */
  private readonly resolutions: ResolutionCache;
  /** When the oldest of `coverageDue` became due (ms), to bound the wait when the consumer never catches up. */
  private coverageDueSince = 0;
  /** When a pool change last made coverage due (ms): the burst is over once none came for `settleMs`. */
  private coverageLastMarkAt = 0;
  /** The flush a quiet tail of a burst waits for (no message would call it). */
  private coverageTimer: NodeJS.Timeout | undefined;
  /** Whether the due marks a previous run left in the graph were taken up. */
  private resumed = false;
  /** Handling (batches, messages) and the timer's flushes run one at a time, in order. */
  private turn: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly graph: Graph,
    private readonly producer: Producer,
    private readonly log: Logger,
    private readonly now: () => string = () => new Date().toISOString(),
    private readonly coverage: CoverageOptions = { trustedPools: [], minScore: DEFAULT_MIN_UNVETTED_SCORE },
    private readonly maintainer: MaintainerOptions = { minScore: DEFAULT_MIN_MAINTAINER_SCORE },
    private readonly timing: CoverageTiming = DEFAULT_COVERAGE_TIMING,
    resolutionsKept = DEFAULT_RESOLUTIONS_KEPT,
  ) {
    this.resolutions = new ResolutionCache(resolutionsKept);
  }

  /** Runs `fn` after whatever handling or flush is under way (never two at once). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
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

  /**
   * Takes up the work a previous run marked in the graph and did not finish (it stopped, or
   * crashed, between writing the facts or findings and the coverage or risk they call for).
   * Called at start; the first handled message calls it otherwise.
   */
  async resume(): Promise<void> {
    if (this.resumed) return;
    await this.exclusive(() => this.resumeNow());
  }

  private async resumeNow(): Promise<void> {
    if (this.resumed) return;
    const [coverage, risk, pending] = await this.graph.run('read', async (tx) => [
      await Graph.dueWorkspaces(tx, 'coverageDue'),
      await Graph.dueWorkspaces(tx, 'riskDue'),
      await Graph.pendingFindings(tx),
    ]);
    this.resumed = true;
    for (const id of coverage) this.coverageDue.add(id);
    for (const id of risk) this.riskDue.add(id);
    const sent = await this.sendPending(pending);
    if (coverage.length || risk.length || sent) {
      this.log.info('resuming work left by a previous run', { coverage: coverage.length, risk: risk.length, findingEvents: sent });
      if (coverage.length && this.coverageDueSince === 0)
        this.coverageDueSince = this.coverageLastMarkAt = Date.now() - this.timing.settleMs;
      await this.flushCoverage(true);
      await this.flushRisk();
    }
  }

  /** One message, then the coverage and the risk it calls for. */
  async handle(m: ConsumedMessage): Promise<void> {
    await this.resume();
    await this.exclusive(async () => {
      await this.dispatch(m);
      await this.flushCoverage(true);
      await this.flushRisk();
    });
  }

  private async dispatch(m: ConsumedMessage): Promise<void> {
    if (m.topic === TOPICS.advisories) {
      const ev = decodeEvent(TOPICS.advisories, m.message.value);
      if (ev === null) {
        if (!m.key) throw new BadMessageError('tombstone without a key');
        return this.onAdvisoryDeleted(m.key);
      }
      if (m.key !== null && m.key !== ev.advisory.id) {
        throw new BadMessageError(`key "${m.key}" is not the advisory id "${ev.advisory.id}"`);
      }
      return this.onAdvisory(ev.advisory);
    }
    if (m.topic === TOPICS.workspaces) {
      const ev = decodeEvent(TOPICS.workspaces, m.message.value);
      if (ev === null) return; // a removed workspace: findings stay until it is re-registered (noted in README)
      if (m.key !== null && m.key !== ev.id) throw new BadMessageError(`key "${m.key}" is not the workspace id "${ev.id}"`);
      return this.onWorkspace(ev);
    }
    const fact = this.factOf(m);
    if (fact) await this.applyFacts([fact]);
  }

  /**
   * The fact a message of `audits.pool`, `maintainers.signals` or `crates.releases` writes, validated
   * (key included); undefined for another topic. Throws EventValidationError / BadMessageError.
   */
  private factOf(m: ConsumedMessage): Fact | undefined {
    if (m.topic === TOPICS.audits) {
      let ev: PoolEvent | null = decodeEvent(TOPICS.audits, m.message.value);
      if (ev === null) {
        // Ingest sends an explicit empty event, but a tombstone on this compacted topic means the same.
        const { pool, crate } = parsePoolKey(m.key);
        ev = { v: 1, pool, url: '', crate, entries: {}, observedAt: new Date(0).toISOString() };
      } else checkPoolKey(m.key, ev);
      const key = `${ev.pool}/${ev.crate}`;
      if (ev.crate === CRITERIA_KEY) return { kind: 'criteria', key, set: criteriaSet(ev) };
      return { kind: 'pool', key, set: poolCrateSet(ev) };
    }
    if (m.topic === TOPICS.maintainers) {
      let ev: MaintainerEvent | null = decodeEvent(TOPICS.maintainers, m.message.value);
      if (ev === null) {
        if (!m.key) throw new BadMessageError('tombstone without a key');
        ev = { v: 1, crate: m.key, owners: [], signals: {}, observedAt: new Date(0).toISOString() };
        const row = maintainerRow(ev);
        // The source no longer reports on the crate: it says nothing (not "no repository, no owner").
        row.crateProps.maintainersObservedAt = null;
        return { kind: 'maintainer', key: ev.crate, row };
      }
      checkMaintainerKey(m.key, ev);
      return { kind: 'maintainer', key: ev.crate, row: maintainerRow(ev) };
    }
    if (m.topic === TOPICS.releases) {
      const ev = decodeEvent(TOPICS.releases, m.message.value);
      if (ev === null) throw new BadMessageError('a release event cannot be a tombstone');
      checkReleaseKey(m.key, ev);
      return { kind: 'release', row: releaseRow(ev) };
    }
    return undefined;
  }

  /**
   * Writes a run of facts in ONE transaction, set-based. Pool and maintainer events carry a key's
   * whole current state, so only the last one per key counts; releases are applied in order.
   * Versions a release or an audit creates get the AFFECTS edges of the advisories on their crate,
   * as if a workspace had locked them, so the graph does not depend on which came first. No
   * workspace locks such a new version, so no finding changes.
   */
  async applyFacts(facts: Fact[]): Promise<void> {
    if (facts.length === 0) return;
    const last = <T extends Fact>(kind: T['kind']) => [
      ...new Map(facts.filter((f): f is T => f.kind === kind).map((f) => ['key' in f ? f.key : '', f])).values(),
    ];
    const pools = last<Extract<Fact, { kind: 'pool' }>>('pool').map((f) => f.set);
    const criteria = last<Extract<Fact, { kind: 'criteria' }>>('criteria').map((f) => f.set);
    const maintainers = last<Extract<Fact, { kind: 'maintainer' }>>('maintainer').map((f) => f.row);
    const releases = facts.flatMap((f) => (f.kind === 'release' ? [f.row] : []));
    const created = [
      ...releases.map((r) => ({ crate: r.crate, version: r.version })),
      ...pools.flatMap((p) => p.audits.flatMap((a) => (a.certifies !== undefined ? [{ crate: p.crate, version: a.certifies }] : []))),
    ];
    // A trusted pool's audits changed: the coverage of the workspaces locking those crates may move
    // (all workspaces when its criteria definitions change). Marked due with the facts, in one
    // transaction, and recomputed when the consumer catches up (`flushCoverage`).
    const trusted = new Set(this.coverage.trustedPools);
    const allTouched = criteria.some((c) => trusted.has(c.pool));
    const crates = [...new Set(pools.filter((p) => trusted.has(p.pool)).map((p) => p.crate))];
    const due = await this.graph.run('write', async (tx) => {
      await Graph.upsertReleases(tx, releases);
      await Graph.replacePoolCrates(tx, pools);
      await Graph.replaceCriteria(tx, criteria);
      await Graph.replaceMaintainers(tx, maintainers);
      await this.linkAdvisories(tx, created);
      if (!allTouched && crates.length === 0) return [];
      const ws = await Graph.workspacesForPoolChange(tx, allTouched ? null : crates);
      await Graph.markDue(tx, 'coverageDue', ws);
      return ws;
    });
    if (due.length) {
      if (this.coverageDue.size === 0) this.coverageDueSince = Date.now();
      this.coverageLastMarkAt = Date.now();
    }
    for (const id of due) {
      this.coverageDue.add(id);
      const delta = this.coverageDelta.get(id);
      if (allTouched || delta === 'all') this.coverageDelta.set(id, 'all');
      else this.coverageDelta.set(id, new Set([...(delta ?? []), ...crates]));
    }
    // Owners, repository or releases of these crates changed: their maintainer risk may move, for
    // every workspace locking them (one pass over all of them).
    const riskCrates = [...new Set([...maintainers.map((m) => m.crate), ...releases.map((r) => r.crate)])];
    if (riskCrates.length) await this.recomputeMaintainerFindings({ crates: riskCrates });
    for (const a of pools.flatMap((p) => p.audits)) {
      if (a.props.versionProblem)
        this.log.warn('audit kept without a version it certifies', { audit: a.id, problem: a.props.versionProblem });
    }
    this.log.info('facts applied', {
      releases: releases.length,
      poolCrates: pools.length,
      audits: pools.reduce((n, p) => n + p.audits.length, 0),
      criteriaSets: criteria.length,
      maintainers: maintainers.length,
    });
  }

  /** AFFECTS edges from the advisories on these crates.io versions' crates (idempotent MERGE). */
  private async linkAdvisories(tx: ManagedTransaction, versions: { crate: string; version: string }[]): Promise<void> {
    if (versions.length === 0) return;
    const advisories = await Graph.advisoriesFor(tx, [...new Set(versions.map((v) => v.crate))]);
    const pairs: { advisory: string; version: string }[] = [];
    for (const a of advisories) {
      if (a.collection !== 'crates' || a.withdrawn) continue;
      const intervals = unaffectedIntervals(a);
      for (const v of versions) {
        if (v.crate !== a.package) continue;
        const lv: LockedVersion = { id: `${v.crate}@${v.version}`, crate: v.crate, version: v.version, source: CRATES_IO_SOURCE };
        // A version that is not SemVer is affected by nothing (shared `isAffected`), never an error.
        if (affects(a, lv, intervals)) pairs.push({ advisory: a.id, version: lv.id });
      }
    }
    await Graph.addAffects(tx, [...new Map(pairs.map((p) => [`${p.advisory}|${p.version}`, p])).values()]);
  }

  /**
   * A run of messages from one partition. Consecutive advisory upserts are applied together in one
   * transaction (a bulk load of the advisory-db is otherwise bound by one commit per advisory), and
   * so are consecutive pool, maintainer and release events (`applyFacts`); workspaces and advisory
   * tombstones go one by one. A refused message is left out of its run and does not stop it. Returns the offsets refused as bad input.
   * A run of releases alone is written beside the other turns (`handleReleases`).
   */
  async handleBatch(ms: ConsumedMessage[], at: BatchPosition = { caughtUp: true }): Promise<Map<string, Error>> {
    await this.resume();
    if (ms.every((m) => m.topic === TOPICS.releases)) return this.handleReleases(ms, at);
    return this.exclusive(() => this.handleBatchNow(ms, at));
  }

  /**
   * A run of releases, written beside whatever else is under way (another partition's run, a
   * workspace), as two scorers of the group would: MERGEs of Crate, Version and HAS_VERSION only,
   * and the read that tells whether the crates' maintainer risk moved. What must not race an
   * advisory — the AFFECTS edges of the new versions, read against the advisories committed — and
   * a maintainer fan-out come after, in a turn of their own. A sustained stream of releases
   * (crates.io publishes all day) so neither waits for nor holds up an advisory's alerts.
   */
  private async handleReleases(ms: ConsumedMessage[], at: BatchPosition): Promise<Map<string, Error>> {
    const refused = new Map<string, Error>();
    const rows: ReleaseRow[] = [];
    for (const m of ms) {
      try {
        const f = this.factOf(m);
        if (f?.kind === 'release') rows.push(f.row);
      } catch (err) {
        if (!(err instanceof EventValidationError || err instanceof BadMessageError)) throw err;
        refused.set(m.message.offset, err);
      }
    }
    if (rows.length) {
      await this.graph.run('write', (tx) => Graph.upsertReleases(tx, rows));
      const moved = await this.maintainerMoved([...new Set(rows.map((r) => r.crate))]);
      await this.exclusive(async () => {
        await this.graph.run('write', (tx) =>
          this.linkAdvisories(
            tx,
            rows.map((r) => ({ crate: r.crate, version: r.version })),
          ),
        );
        if (moved.length) await this.decideMaintainerFindings({ crates: moved });
        await this.flushRisk();
      });
      this.log.info('facts applied', {
        releases: rows.length,
        poolCrates: 0,
        audits: 0,
        criteriaSets: 0,
        maintainers: 0,
        maintainerRiskMoved: moved.length,
      });
    }
    await at.heartbeat?.();
    return refused;
  }

  private async handleBatchNow(ms: ConsumedMessage[], at: BatchPosition): Promise<Map<string, Error>> {
    const refused = new Map<string, Error>();
    let pending: { m: ConsumedMessage; advisory: Advisory }[] = [];
    let facts: Fact[] = [];
    const flush = async () => {
      if (pending.length) await this.onAdvisories(pending.map((p) => p.advisory));
      pending = [];
      await this.applyFacts(facts);
      facts = [];
    };
    for (const m of ms) {
      try {
        const a = m.topic === TOPICS.advisories ? this.advisoryUpsert(m) : undefined;
        if (a) {
          pending.push({ m, advisory: a });
          continue;
        }
        const fact = this.factOf(m);
        if (fact) {
          facts.push(fact);
          continue;
        }
        await flush();
        await this.dispatch(m);
        await at.heartbeat?.(); // a workspace can take seconds: a run of them must not outlast the session
      } catch (err) {
        if (!(err instanceof EventValidationError || err instanceof BadMessageError)) throw err;
        refused.set(m.message.offset, err);
      }
    }
    await flush();
    await at.heartbeat?.();
    await this.flushCoverage(at.caughtUp);
    await this.flushRisk();
    return refused;
  }

  /**
   * Recomputes the coverage a trusted pool's change made due, once the burst is over: the consumer
   * has caught up with the partition (`caughtUp`) and no pool change has come for `settleMs` (a
   * source sends a load over several seconds, catching up between its parts) — or once the oldest
   * has waited `maxDelayMs` (a stream that never pauses still gets its coverage). When it is not
   * time yet, a timer comes back then: the quiet tail of a burst brings no message to call this.
   */
  private async flushCoverage(caughtUp: boolean): Promise<void> {
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
    await this.recomputeCoverage(ids); // each one's mark cleared, also when it had no event to recompute from
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
    this.exclusive(() => this.flushRisk()).catch((err: unknown) =>
      this.log.error('risk flush failed; the marks stay for the next batch or start', { error: err }),
    );
  }

  /**
   * Risk (docs/ARCHITECTURE.md: "a risk score per crate-version and per workspace that shows each signal's
   * contribution"; the rule is shared `workspaceRisk`): for each workspace whose findings changed
   * since, recomputed from its open findings as stored and written on the Workspace and its LOCKS
   * edges (`risk.ts`). Once per workspace per handled batch (or message), after its findings are
   * written; one read and one write per chunk of workspaces; a workspace whose stored risk already
   * reads the same is not written. Sends nothing: risk is graph state for analysts, not an event.
   */
  async flushRisk(): Promise<void> {
    while (this.riskDue.size) {
      const ids = [...this.riskDue].slice(0, RISK_CHUNK);
      // Read, written and the mark cleared under the workspaces' lock: another scorer's findings
      // (and the `riskDue` they set) commit either before the read, so they count, or after the
      // clear, so the mark stays for that scorer. Reading outside the lock let a risk computed from
      // findings another scorer had since changed clear that scorer's mark.
      const rows = await this.graph.run('write', async (tx) => {
        await Graph.lockWorkspaces(tx, ids);
        const written = riskWrites(await Graph.riskInputs(tx, ids));
        await Graph.writeRisk(tx, written);
        await Graph.clearDue(tx, 'riskDue', ids);
        return written;
      });
      for (const id of ids) this.riskDue.delete(id);
      this.log.info('risk applied', {
        workspaces: ids.length,
        written: rows.length,
        ...(ids.length === 1 && rows[0] ? { workspace: rows[0].id, risk: rows[0].risk, severity: rows[0].severity } : {}),
      });
    }
  }

  /**
   * Decides findings for every kind, in one write transaction: locks the workspaces, then `decide`
   * reads what it needs and returns the finding events; they are written (`riskDue` marked, each
   * event in its Finding's outbox) before the commit. After it: the events are sent from the outbox,
   * with any a crashed scorer left on these workspaces, and their workspaces' risk is due (written at
   * the end of the batch). `decide` is given the workspaces locked and must decide for those only;
   * it may run again when Neo4j retries the transaction (a deadlock with another scorer), so it has
   * no effect outside the transaction.
   */
  private async publish<T extends { changes: FindingEvent[] }>(
    workspaces: (tx: ManagedTransaction) => Promise<string[]>,
    decide: (tx: ManagedTransaction, locked: Set<string>) => Promise<T | undefined>,
  ): Promise<T | undefined> {
    const done = await this.graph.run('write', async (tx) => {
      const ids = await workspaces(tx);
      await Graph.lockWorkspaces(tx, ids);
      const r = await decide(tx, new Set(ids));
      if (r) await Graph.writeFindings(tx, r.changes);
      return { r, owed: await Graph.owedWork(tx, ids) };
    });
    await this.sendPending(done.owed.pending);
    for (const id of done.owed.riskDue) this.riskDue.add(id);
    return done.r;
  }

  /**
   * Sends the events pending in these findings' outboxes, oldest first, and empties them, in one
   * transaction holding the findings' locks (`Graph.takePendingEvents`): of two scorers sending for
   * one finding, the second finds nothing left. A crash between the send and the commit sends them
   * again (at-least-once, as before). Returns how many were sent.
   */
  private async sendPending(ids: string[]): Promise<number> {
    let sent = 0;
    for (let i = 0; i < ids.length; i += OUTBOX_CHUNK) {
      const chunk = ids.slice(i, i + OUTBOX_CHUNK);
      sent += await this.graph.run('write', async (tx) => {
        const pending = await Graph.takePendingEvents(tx, chunk);
        const messages = pending.flatMap((p) => p.events.map((value) => ({ key: p.id, value })));
        if (messages.length === 0) return 0;
        await this.producer.send({ topic: TOPICS.findings, messages });
        await Graph.clearPendingEvents(
          tx,
          pending.map((p) => p.id),
        );
        return messages.length;
      });
    }
    return sent;
  }

  /** The advisory a message upserts, validated; undefined for a tombstone. Throws on bad input. */
  private advisoryUpsert(m: ConsumedMessage): Advisory | undefined {
    const ev = decodeEvent(TOPICS.advisories, m.message.value);
    if (ev === null) return undefined;
    if (m.key !== null && m.key !== ev.advisory.id) throw new BadMessageError(`key "${m.key}" is not the advisory id "${ev.advisory.id}"`);
    try {
      unaffectedIntervals(ev.advisory);
    } catch (err) {
      throw new BadMessageError(`advisory ${ev.advisory.id}: ${(err as Error).message}`);
    }
    return ev.advisory;
  }

  async onAdvisory(a: Advisory): Promise<void> {
    try {
      unaffectedIntervals(a);
    } catch (err) {
      throw new BadMessageError(`advisory ${a.id}: ${(err as Error).message}`);
    }
    await this.onAdvisories([a]);
  }

  /**
   * Advisories added or changed: one transaction writes them all and sets exactly which locked
   * versions each affects (set-based: a handful of queries however many advisories); then the
   * findings of the workspaces that lock those crates are recomputed, each once.
   */
  async onAdvisories(list: Advisory[]): Promise<void> {
    const latest = [...new Map(list.map((a) => [a.id, a])).values()]; // a later version of the same advisory wins
    const touched = await this.graph.run('write', async (tx) => {
      // Read before the edges move: an advisory whose new value names another crate (or none of
      // the versions it hit) leaves findings to resolve in workspaces that do not lock its new crate.
      const hitBefore = await Graph.workspacesAffectedBy(
        tx,
        latest.map((a) => a.id),
      );
      await Graph.upsertAdvisories(tx, latest);
      const crates = [...new Set(latest.map((a) => a.package))];
      const versions = await Graph.versionsOf(tx, crates);
      const byCrate = new Map<string, LockedVersion[]>();
      for (const v of versions) byCrate.set(v.crate, [...(byCrate.get(v.crate) ?? []), v]);
      await Graph.setAffects(
        tx,
        latest.map((a) => {
          const matchable = a.collection === 'crates' && !a.withdrawn;
          const intervals = unaffectedIntervals(a);
          const hit = matchable ? (byCrate.get(a.package) ?? []).filter((v) => affects(a, v, intervals)) : [];
          return { advisory: a.id, versions: hit.map((v) => v.id) };
        }),
      );
      const hitNow = await Graph.workspacesLocking(
        tx,
        crates.filter((c) => byCrate.has(c)),
      );
      return [...new Set([...hitBefore, ...hitNow])].sort();
    });
    this.log.info('advisories applied', { advisories: latest.length, workspaces: touched.length });
    await this.recomputeAdvisoryFindings(
      touched,
      latest.map((a) => a.id),
    );
  }

  async onAdvisoryDeleted(id: string): Promise<void> {
    const workspaces = await this.graph.run('write', (tx) => Graph.deleteAdvisory(tx, id));
    this.log.info('advisory deleted', { advisory: id, workspaces: workspaces.length });
    await this.recomputeAdvisoryFindings(workspaces, [id]);
  }

  /**
   * A workspace registered or changed: one transaction writes its packages and the AFFECTS edges of
   * the advisories on the crates it locks. Edges of versions it shares with other workspaces were
   * set when those advisories arrived, so only this workspace's versions are matched here.
   */
  async onWorkspace(ev: WorkspaceEvent): Promise<void> {
    // Ingest refuses such a Cargo.lock (shared LockedVersionError); an event from elsewhere is refused alike.
    const odd = ev.packages.findIndex((p) => !isSemVer(p.version));
    if (odd >= 0)
      throw new BadMessageError(`workspace ${ev.id}: packages.${odd}.version: ${JSON.stringify(ev.packages[odd]!.version)} is not SemVer`);
    try {
      storeOf(ev); // a store cargo-vet could not read refuses the event, naming file, table and key
    } catch (err) {
      if (err instanceof FormatError) throw new BadMessageError(`workspace ${ev.id}: ${err.message}`);
      throw err;
    }
    const deny = denyReportOf(ev); // a deny.toml that does not read refuses the event, as a bad store does
    const checked = await this.graph.run('write', async (tx) => {
      const locked = await Graph.upsertWorkspace(tx, ev);
      const byCrate = new Map<string, typeof locked>();
      for (const v of locked)
        if (v.source !== null && CRATES_IO_SOURCES.has(v.source)) byCrate.set(v.crate, [...(byCrate.get(v.crate) ?? []), v]);
      const advisories = await Graph.advisoriesFor(tx, [...byCrate.keys()]);
      const pairs: { advisory: string; version: string }[] = [];
      for (const a of advisories) {
        if (a.collection !== 'crates' || a.withdrawn) continue;
        const intervals = unaffectedIntervals(a);
        for (const v of byCrate.get(a.package) ?? []) if (affects(a, v, intervals)) pairs.push({ advisory: a.id, version: v.id });
      }
      await Graph.addAffects(tx, pairs);
      return advisories.length;
    });
    this.log.info('workspace applied', { workspace: ev.id, packages: ev.packages.length, advisoriesChecked: checked });
    // Its LOCKS edges may have changed even when no finding did (and a replay of the workspaces
    // fills in risk written by nothing yet): its risk is due whatever the findings do.
    this.riskDue.add(ev.id);
    await this.recomputeAdvisoryFindings(ev.id);
    await this.recomputeCoverage(ev.id);
    await this.recomputeMaintainerFindings({ workspace: ev.id });
    await this.publish(
      async () => [ev.id],
      (tx) => decideDenyFindings(tx, ev, deny, this.now()),
    );
  }

  /**
   * Maintainer-risk findings of a scope, opened, rescored or resolved to match the graph: one workspace (its
   * lockfile changed) or every workspace locking some crates (their maintainers or release facts
   * changed). A finding depends only on its crate's facts and on the workspace locking the version,
   * never on other workspaces or on arrival order, so a replay changes nothing.
   */
  async recomputeMaintainerFindings(scope: { workspace: string } | { crates: string[] }): Promise<FindingEvent[]> {
    if ('workspace' in scope) return this.decideMaintainerFindings(scope);
    const moved = await this.maintainerMoved(scope.crates);
    return moved.length ? this.decideMaintainerFindings({ crates: moved }) : [];
  }

  /** The decision itself, for a workspace or for crates already known to have moved (`maintainerMoved`). */
  private async decideMaintainerFindings(scope: { workspace: string } | { crates: string[] }): Promise<FindingEvent[]> {
    const fanOut = 'crates' in scope;
    const done = await this.publish(
      async (tx) => ('workspace' in scope ? [scope.workspace] : Graph.maintainerScope(tx, scope.crates)),
      async (tx, mine) => {
        // A workspace that came to lock the crates after the scope was read is not locked: its own
        // event, committed after these facts, decides it.
        const locked = (await Graph.lockedCrates(tx, scope, [...CRATES_IO_SOURCES])).filter((l) => mine.has(l.workspace.id));
        const rows = await Graph.crateFacts(tx, 'crates' in scope ? scope.crates : [...new Set(locked.map((l) => l.crate))]);
        const current = (await Graph.maintainerFindings(tx, scope)).filter((f) => mine.has(f.workspace.id));
        const input = { locked, facts: new Map(rows.map((r) => [r.crate, factsFromGraph(r)])), current };
        // Every workspace locking these crates is decided here: what it was decided from is kept.
        if (fanOut)
          await Graph.markMaintainerDecided(
            tx,
            rows.map((r) => ({ crate: r.crate, stamp: this.maintainerStampOf(input.facts.get(r.crate)!) })),
          );
        return { current: input.current, changes: maintainerChanges(input, this.maintainer.minScore, this.now()) };
      },
    );
    const changes = done?.changes ?? [];
    if (changes.length === 0) return [];
    this.log.info('maintainer findings changed', {
      ...('workspace' in scope ? { workspace: scope.workspace } : { crates: scope.crates.length }),
      ...changeCounts(changes, done!.current),
    });
    return changes;
  }

  /**
   * Of these crates, those whose maintainer findings may move: their score, severity or the
   * threshold differ from what every workspace locking them was last decided with (or nothing was
   * recorded). One read; a release of a crate whose risk it leaves alone costs no fan-out.
   */
  private async maintainerMoved(crates: string[]): Promise<string[]> {
    const rows = await this.graph.run('read', (tx) => Graph.crateFacts(tx, crates));
    const same = new Set(rows.filter((r) => r.decided === this.maintainerStampOf(factsFromGraph(r))).map((r) => r.crate));
    return crates.filter((c) => !same.has(c));
  }

  private maintainerStampOf(facts: MaintainerFacts): string {
    return maintainerDecisionStamp(maintainerRisk(facts), this.maintainer.minScore);
  }

  /**
   * Audit coverage of workspaces (each one's store + the trusted pools), written on their LOCKS edges,
   * and their unvetted findings opened, rescored or resolved to match. A workspace's coverage depends
   * only on its event and the trusted pools, never on other workspaces, so a replay changes nothing
   * whatever arrived between. A pool change reaching many workspaces is done a chunk per transaction:
   * the pools' entries read once for the chunk, every read and write one query for all of it.
   */
  async recomputeCoverage(workspaces: string | string[]): Promise<FindingEvent[]> {
    const ids = [...new Set(typeof workspaces === 'string' ? [workspaces] : workspaces)].sort();
    const all: FindingEvent[] = [];
    // Chunks are disjoint sets of workspaces (their locks never meet): one resolves while the next waits on Neo4j.
    for (const changes of await eachChunk(ids, COVERAGE_CHUNK, CHUNKS_AT_ONCE, (chunk) => this.recomputeCoverageChunk(chunk)))
      all.push(...changes);
    return all;
  }

  private async recomputeCoverageChunk(ids: string[]): Promise<FindingEvent[]> {
    // Coverage, its findings and the cleared marks in one locked transaction, as the other kinds.
    const done = await this.publish(
      async () => ids,
      async (tx) => {
        const plan = await this.coveragePlan(tx, ids);
        const crates = [...new Set(plan.flatMap((p) => [...(p.again?.crates ?? p.workspace.event.packages.map((x) => x.name))]))];
        const trusted = await Graph.trustedPoolEntries(tx, this.coverage.trustedPools, crates);
        const stored = await this.storedUnvetted(tx, plan);
        const at = this.now();
        const decided = plan.map((p) => {
          const ev = p.workspace.event;
          const mine = p.again?.crates ?? new Set(ev.packages.map((x) => x.name));
          const c = workspaceCoverage(
            p.workspace,
            { ...trusted, entries: trusted.entries.filter((e) => mine.has(e.crate)) },
            this.coverage,
            at,
            p.again,
          );
          // Again: the findings of the crates judged again, against theirs as stored (a full resolve:
          // every stored one, those of crates no longer locked included, to resolve them).
          const current = (stored.get(ev.id) ?? []).filter((f) => !p.again || mine.has(f.crate));
          const ws = { id: ev.id, org: ev.org, ...(ev.team ? { team: ev.team } : {}) };
          return { ...p, c, current, stamp: reportDigest(c.report), day: utcDay(), changes: unvettedChanges(ws, c.findings, current, at) };
        });
        await Graph.writeCoverage(
          tx,
          decided.map((d) => ({
            workspace: d.workspace.event.id,
            rows: d.c.rows,
            summary: d.c.summary,
            stamp: d.stamp,
            eventHash: d.hash,
          })),
        );
        await Graph.clearDue(tx, 'coverageDue', ids);
        return { decided, changes: decided.flatMap((d) => d.changes) };
      },
    );
    for (const id of ids) {
      this.coverageDue.delete(id);
      this.coverageDelta.delete(id);
      this.resolutions.delete(id);
    }
    for (const d of done?.decided ?? []) {
      const id = d.workspace.event.id;
      // A pool left out for an unreadable entry is left out whole: the next change resolves in full.
      if (d.c.poolErrors.size === 0)
        this.resolutions.set(id, { eventHash: d.hash, stamp: d.stamp, workspace: d.workspace, report: d.c.report, day: d.day });
      for (const [pool, error] of d.c.poolErrors) this.log.warn('trusted pool left out of coverage', { workspace: id, pool, error });
      const how = d.again ? { resolvedAgain: d.again.crates.size } : {};
      this.log.info('coverage applied', {
        workspace: id,
        conclusion: d.c.report.conclusion,
        ...d.c.report.summary,
        ...how,
        ...changeCounts(d.changes, d.current),
      });
    }
    return done?.changes ?? [];
  }

  /** The stored unvetted findings a chunk's plan compares with: every one for a full resolve, the changed crates' for the others. */
  private async storedUnvetted(tx: ManagedTransaction, plan: CoveragePlan[]): Promise<Map<string, StoredFinding[]>> {
    const full = plan.filter((p) => !p.again).map((p) => p.workspace.event.id);
    const again = plan.filter((p) => p.again);
    const crates = [...new Set(again.flatMap((p) => [...p.again!.crates]))];
    const a = full.length ? await Graph.unvettedFindings(tx, full) : new Map<string, StoredFinding[]>();
    const b = again.length
      ? await Graph.unvettedFindings(
          tx,
          again.map((p) => p.workspace.event.id),
          crates,
        )
      : new Map<string, StoredFinding[]>();
    return new Map([...a, ...b]);
  }

  /**
   * Per workspace of a chunk, what its coverage is resolved from: its kept resolution and the crates
   * whose trusted audits changed since, when the graph still has the event and the coverage it was
   * made from; else its event, read from the graph, for a full resolve.
   */
  private async coveragePlan(tx: ManagedTransaction, ids: string[]): Promise<CoveragePlan[]> {
    const stamps = await Graph.coverageStamps(tx, ids);
    const plan: CoveragePlan[] = [];
    const full: string[] = [];
    for (const id of ids) {
      const delta = this.coverageDelta.get(id);
      const s = stamps.get(id);
      const kept = delta instanceof Set && s ? this.resolutions.get(id, s.eventHash, s.stamp) : undefined;
      if (kept && delta instanceof Set)
        plan.push({ workspace: kept.workspace, hash: kept.eventHash, again: { report: kept.report, crates: delta } });
      else full.push(id);
    }
    for (const { event, hash } of (await Graph.workspaceEvents(tx, full)).values()) plan.push({ workspace: prepareWorkspace(event), hash });
    return plan;
  }

  /**
   * Opens, rescores, resolves or reopens the workspaces' advisory findings to match the graph and each
   * workspace's VEX statements (a hit a `not_affected` / `fixed` statement covers opens nothing, and
   * an open finding it comes to cover resolves; see `advisory.ts`). Depends only on the workspace's
   * lock, its VEX documents and the advisories, so a replay changes nothing. `advisories`: decide
   * the findings of these only (those that changed); none given: every advisory's (a workspace event).
   */
  async recomputeAdvisoryFindings(workspaces: string | string[], advisories?: string[]): Promise<FindingEvent[]> {
    const ids = [...new Set(typeof workspaces === 'string' ? [workspaces] : workspaces)].sort();
    const all: FindingEvent[] = [];
    // An advisory on a crate half the org locks: a chunk of workspaces per transaction, each chunk
    // read, decided and written in a constant number of queries, its events sent in one batch.
    for (let i = 0; i < ids.length; i += FANOUT_CHUNK) {
      const chunk = ids.slice(i, i + FANOUT_CHUNK);
      const done = await this.publish(
        async () => chunk,
        async (tx) => {
          const decided = [...(await Graph.advisoryFindingContexts(tx, chunk, advisories)).values()].map((ctx) => ({
            ctx,
            ...advisoryChanges(ctx, this.now()),
          }));
          return { decided, changes: decided.flatMap((d) => d.changes) };
        },
      );
      for (const d of done?.decided ?? []) {
        if (d.changes.length === 0) continue;
        this.log.info('findings changed', {
          workspace: d.ctx.workspace.id,
          ...changeCounts(d.changes, d.ctx.current),
          suppressedByVex: d.suppressed.size,
        });
      }
      all.push(...(done?.changes ?? []));
    }
    return all;
  }
}

/**
 * For the log lines: of the finding events sent, how many open a finding (or reopen it), re-send an
 * open one with a new severity or score (`rescored`; which ones to send is shared `findingMoved`'s
 * call, this only tells them apart by what was stored), and resolve one.
 */
export function changeCounts(
  changes: FindingEvent[],
  stored: { id: string; state: string }[],
): { opened: number; rescored: number; resolved: number } {
  const wasOpen = new Set(stored.filter((f) => f.state === 'open').map((f) => f.id));
  const open = changes.filter((f) => f.state === 'open');
  const rescored = open.filter((f) => wasOpen.has(f.id)).length;
  return { opened: open.length - rescored, rescored, resolved: changes.length - open.length };
}

/** Only crates.io versions are matched against RustSec (a git fork or path crate is another crate). */
function affects(a: Advisory, v: LockedVersion, intervals: ReturnType<typeof unaffectedIntervals>): boolean {
  return v.source !== null && CRATES_IO_SOURCES.has(v.source) && isAffected(a, v.version, intervals);
}
