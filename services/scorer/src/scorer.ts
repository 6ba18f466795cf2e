/**
 * The scorer's rules wired to its inputs: each message is decoded (`decode-message.ts`), its facts
 * written, and only the workspaces it touches get their findings recomputed (`recompute-*.ts`,
 * `apply-facts.ts`), decided and sent through the findings' outbox (`publish-findings.ts`). Coverage
 * moved by trusted pools and risk are deferred work (`deferred-work.ts`). A finding event is
 * produced only when a finding's state changes (opened, resolved, reopened) or an open one's
 * severity or score moves (rescored: shared `findingMoved`), so replays send nothing new.
 */
import type { Producer } from 'kafkajs';
import type { Advisory, FindingEvent, WorkspaceEvent } from '@cratewatch/shared';
import { eachRefusing, type BatchPosition, type ConsumedMessage, type Logger } from '@cratewatch/runtime';
import { coverageMoved, factRun, logFacts, maintainerRiskMoved, writeFacts } from './apply-facts.js';
import type { CoverageOptions } from './decide-coverage.js';
import { checkAdvisory, checkWorkspace, decodeMessage, isFact, type Fact, type ScorerEvent } from './decode-message.js';
import { DEFAULT_COVERAGE_TIMING, DeferredWork, writtenBeside, type CoverageTiming } from './deferred-work.js';
import type { ReleaseRow } from './fact-rows.js';
import {
  cratesIoVersion,
  dueWorkspaces,
  linkAdvisories,
  pendingFindings,
  upsertReleases,
  upsertWorkspace,
  type Graph,
} from './graph/index.js';
import { decideDenyFindings, denyReportOf } from './deny-findings.js';
import { FindingPublisher, type DecideContext } from './publish-findings.js';
import { applyAdvisories, applyAdvisoryDeleted, recomputeAdvisoryFindings } from './recompute-advisories.js';
import { CoverageRecompute, DEFAULT_MIN_UNVETTED_SCORE, DEFAULT_RESOLUTIONS_KEPT } from './recompute-coverage.js';
import { DEFAULT_MIN_MAINTAINER_SCORE, MaintainerRecompute, type MaintainerOptions, type MaintainerScope } from './recompute-maintainer.js';
import { flushRisk } from './recompute-risk.js';

export { DEFAULT_COVERAGE_TIMING, type CoverageTiming } from './deferred-work.js';
export { DEFAULT_MIN_UNVETTED_SCORE, DEFAULT_RESOLUTIONS_KEPT } from './recompute-coverage.js';
export { DEFAULT_MIN_MAINTAINER_SCORE, type MaintainerOptions } from './recompute-maintainer.js';
export { changeCounts } from './publish-findings.js';

export class Scorer {
  private readonly ctx: DecideContext;
  private readonly deferred: DeferredWork;
  private readonly coverageRules: CoverageRecompute;
  private readonly maintainerRules: MaintainerRecompute;
  /** Whether the due marks a previous run left in the graph were taken up. */
  private resumed = false;

  constructor(
    private readonly graph: Graph,
    producer: Producer,
    private readonly log: Logger,
    now: () => string = () => new Date().toISOString(),
    private readonly coverage: CoverageOptions = { trustedPools: [], minScore: DEFAULT_MIN_UNVETTED_SCORE },
    maintainer: MaintainerOptions = { minScore: DEFAULT_MIN_MAINTAINER_SCORE },
    timing: CoverageTiming = DEFAULT_COVERAGE_TIMING,
    resolutionsKept = DEFAULT_RESOLUTIONS_KEPT,
  ) {
    this.deferred = new DeferredWork(timing, log, { coverage: (ids) => this.recomputeCoverage(ids), risk: () => this.flushRisk() });
    this.ctx = { graph, publisher: new FindingPublisher(graph, producer, this.deferred.riskDue), log, now };
    this.coverageRules = new CoverageRecompute(this.ctx, coverage, this.deferred, resolutionsKept);
    this.maintainerRules = new MaintainerRecompute(this.ctx, maintainer);
  }

  /** No more timer flushes; waits for the one under way, if any. */
  stop(): Promise<void> {
    return this.deferred.stop();
  }

  /**
   * Takes up the work a previous run marked in the graph and did not finish (it stopped, or
   * crashed, between writing the facts or findings and the coverage or risk they call for).
   * Called at start; the first handled message calls it otherwise.
   */
  async resume(): Promise<void> {
    if (this.resumed) return;
    await this.deferred.exclusive(() => this.resumeNow());
  }

  private async resumeNow(): Promise<void> {
    if (this.resumed) return;
    const [coverage, risk, pending] = await this.graph.run('read', async (tx) => [
      await dueWorkspaces(tx, 'coverageDue'),
      await dueWorkspaces(tx, 'riskDue'),
      await pendingFindings(tx),
    ]);
    this.resumed = true;
    const sent = await this.ctx.publisher.sendPending(pending);
    this.deferred.resumeMarks(coverage, risk);
    if (coverage.length || risk.length || sent) {
      this.log.info('resuming work left by a previous run', { coverage: coverage.length, risk: risk.length, findingEvents: sent });
      await this.deferred.flushCoverage(true);
      await this.flushRisk();
    }
  }

  /** One message, then the coverage and the risk it calls for. */
  async handle(m: ConsumedMessage): Promise<void> {
    await this.resume();
    await this.deferred.exclusive(async () => {
      await this.apply(decodeMessage(m));
      await this.deferred.flushCoverage(true);
      await this.flushRisk();
    });
  }

  /** What one decoded message asks for, applied. */
  private async apply(e: ScorerEvent | undefined): Promise<void> {
    if (e === undefined || e.kind === 'workspace-removed') return; // a removed workspace: findings stay until it is re-registered (README)
    if (e.kind === 'advisory') return this.onAdvisory(e.advisory);
    if (e.kind === 'advisory-deleted') return this.onAdvisoryDeleted(e.id);
    if (e.kind === 'workspace') return this.onWorkspace(e.event);
    await this.applyFacts([e]);
  }

  /**
   * A run of messages from one partition. Consecutive advisory upserts are applied together in one
   * transaction (a bulk load of the advisory-db is otherwise bound by one commit per advisory), and
   * so are consecutive pool, maintainer and release events (`applyFacts`); workspaces and advisory
   * tombstones go one by one. A refused message is left out of its run and does not stop it.
   * Returns the offsets refused as bad input. A run of releases alone is written beside the other
   * turns (`handleReleases`).
   */
  async handleBatch(ms: ConsumedMessage[], at: BatchPosition = { caughtUp: true }): Promise<Map<string, Error>> {
    await this.resume();
    if (writtenBeside(ms)) return this.handleReleases(ms, at);
    return this.deferred.exclusive(() => this.handleBatchNow(ms, at));
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
    const rows: ReleaseRow[] = [];
    const refused = await eachRefusing(ms, async (m) => {
      const e = decodeMessage(m);
      if (e?.kind === 'release') rows.push(e.row);
    });
    if (rows.length) {
      await this.graph.run('write', (tx) => upsertReleases(tx, rows));
      const moved = await this.maintainerRules.moved([...new Set(rows.map((r) => r.crate))]);
      await this.deferred.exclusive(async () => {
        await this.graph.run('write', (tx) => linkAdvisories(tx, rows.map(cratesIoVersion)));
        if (moved.length) await this.maintainerRules.decide({ crates: moved });
        await this.flushRisk();
      });
      const none = { poolCrates: 0, audits: 0, criteriaSets: 0, maintainers: 0 };
      this.log.info('facts applied', { releases: rows.length, ...none, maintainerRiskMoved: moved.length });
    }
    await at.heartbeat?.();
    return refused;
  }

  private async handleBatchNow(ms: ConsumedMessage[], at: BatchPosition): Promise<Map<string, Error>> {
    let advisories: Advisory[] = [];
    let facts: Fact[] = [];
    const flush = async () => {
      if (advisories.length) await this.onAdvisories(advisories);
      advisories = [];
      await this.applyFacts(facts);
      facts = [];
    };
    const refused = await eachRefusing(ms, async (m) => {
      const e = decodeMessage(m);
      if (e?.kind === 'advisory') advisories.push(e.advisory);
      else if (e && isFact(e)) facts.push(e);
      else {
        await flush();
        await this.apply(e);
        await at.heartbeat?.(); // a workspace can take seconds: a run of them must not outlast the session
      }
    });
    await flush();
    await at.heartbeat?.();
    await this.deferred.flushCoverage(at.caughtUp);
    await this.flushRisk();
    return refused;
  }

  /**
   * Writes a run of facts in ONE transaction, set-based (`apply-facts.ts`). A trusted pool's audits
   * changed: the coverage of the workspaces locking those crates may move (all workspaces when its
   * criteria definitions change), marked due with the facts and recomputed when the consumer catches
   * up. Owners, repository or releases changed: the crates' maintainer risk may move, for every
   * workspace locking them (one pass over all of them).
   */
  async applyFacts(facts: Fact[]): Promise<void> {
    if (facts.length === 0) return;
    const run = factRun(facts);
    const moved = coverageMoved(run, this.coverage.trustedPools);
    const due = await this.graph.run('write', (tx) => writeFacts(tx, run, moved));
    this.deferred.markCoverage(due, moved);
    const riskCrates = maintainerRiskMoved(run);
    if (riskCrates.length) await this.recomputeMaintainerFindings({ crates: riskCrates });
    logFacts(this.log, run);
  }

  async onAdvisory(a: Advisory): Promise<void> {
    checkAdvisory(a);
    await this.onAdvisories([a]);
  }

  /** Advisories added or changed, applied set-based; the workspaces they touch decided once each. */
  onAdvisories(list: Advisory[]): Promise<void> {
    return applyAdvisories(this.ctx, list);
  }

  onAdvisoryDeleted(id: string): Promise<void> {
    return applyAdvisoryDeleted(this.ctx, id);
  }

  /**
   * A workspace registered or changed: one transaction writes its packages and the AFFECTS edges of
   * the advisories on the crates it locks. Edges of versions it shares with other workspaces were
   * set when those advisories arrived, so only this workspace's versions are matched here.
   */
  async onWorkspace(ev: WorkspaceEvent): Promise<void> {
    checkWorkspace(ev);
    const deny = denyReportOf(ev); // a deny.toml that does not read refuses the event, as a bad store does
    const checked = await this.graph.run('write', async (tx) => linkAdvisories(tx, await upsertWorkspace(tx, ev)));
    this.log.info('workspace applied', { workspace: ev.id, packages: ev.packages.length, advisoriesChecked: checked });
    // Its LOCKS edges may have changed even when no finding did (and a replay of the workspaces
    // fills in risk written by nothing yet): its risk is due whatever the findings do.
    this.deferred.riskDue.add(ev.id);
    await this.recomputeAdvisoryFindings(ev.id);
    await this.recomputeCoverage(ev.id);
    await this.recomputeMaintainerFindings({ workspace: ev.id });
    await this.ctx.publisher.publish(
      async () => [ev.id],
      (tx) => decideDenyFindings(tx, ev, deny, this.ctx.now()),
    );
  }

  /** Maintainer-risk findings of one workspace, or of every workspace locking crates whose risk moved. */
  recomputeMaintainerFindings(scope: MaintainerScope): Promise<FindingEvent[]> {
    return this.maintainerRules.recompute(scope);
  }

  /** Audit coverage of workspaces and their unvetted findings (`recompute-coverage.ts`). */
  recomputeCoverage(workspaces: string | string[]): Promise<FindingEvent[]> {
    return this.coverageRules.recompute(workspaces);
  }

  /** Advisory findings of workspaces, of these advisories only when given (`recompute-advisories.ts`). */
  recomputeAdvisoryFindings(workspaces: string | string[], advisories?: string[]): Promise<FindingEvent[]> {
    return recomputeAdvisoryFindings(this.ctx, workspaces, advisories);
  }

  /** The risk of every workspace whose findings changed since it was last written (`recompute-risk.ts`). */
  flushRisk(): Promise<void> {
    return flushRisk(this.graph, this.log, this.deferred.riskDue);
  }
}
