/**
 * Audit coverage recomputed for workspaces (the rule is `decide-coverage.ts`, cargo-vet's resolver
 * in shared): each one's store plus the trusted pools as the graph holds them, written on its LOCKS
 * edges, and its unvetted findings opened, rescored or resolved to match. A workspace whose last
 * resolution is still the graph's, and whose due mark names the crates that changed, is judged
 * again for those crates only (docs/adr/0004-org-scale.md).
 */
import type { ManagedTransaction } from 'neo4j-driver';
import type { FindingEvent, VetReport } from '@cratewatch/shared';
import { prepareWorkspace, unvettedChanges, workspaceCoverage, type CoverageOptions, type PreparedWorkspace } from './decide-coverage.js';
import {
  clearDue,
  coverageStamps,
  trustedPoolEntries,
  unvettedFindings,
  workspaceEvents,
  writeCoverage,
  type StoredFinding,
} from './graph/index.js';
import { changeCounts, type DecideContext } from './publish-findings.js';
import { ResolutionCache, reportDigest, utcDay } from './resolution-cache.js';

/** An unvetted version raises a finding from this score up (see shared `unvettedScore`). */
export const DEFAULT_MIN_UNVETTED_SCORE = 5;
/** Workspaces whose last resolution is kept (`SCORER_RESOLUTIONS_KEPT`): about 0.5–2 MB each. */
export const DEFAULT_RESOLUTIONS_KEPT = 500;
/** Workspaces whose coverage is resolved in one transaction (a trusted pool's change reaching many). */
const COVERAGE_CHUNK = 25;
/** Chunks in flight at once: the resolver's CPU and Neo4j's round trips overlap (2 cores). */
const CHUNKS_AT_ONCE = 2;

/** What one workspace's coverage is resolved from (`plan`). */
interface CoveragePlan {
  workspace: PreparedWorkspace;
  hash: string;
  again?: { report: VetReport; crates: Set<string> };
}

/** The due marks coverage reads (the crates each one's trusted audits changed) and clears. */
export interface CoverageMarks {
  readonly coverageDelta: ReadonlyMap<string, Set<string> | 'all'>;
  coverageDone(ids: string[]): void;
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

export class CoverageRecompute {
  /** Each workspace's last resolution, while it is the graph's (see resolution-cache.ts). */
  private readonly resolutions: ResolutionCache;

  constructor(
    private readonly ctx: DecideContext,
    private readonly options: CoverageOptions,
    private readonly marks: CoverageMarks,
    resolutionsKept: number,
  ) {
    this.resolutions = new ResolutionCache(resolutionsKept);
  }

  /**
   * Audit coverage of workspaces (each one's store + the trusted pools), written on their LOCKS edges,
   * and their unvetted findings opened, rescored or resolved to match. A workspace's coverage depends
   * only on its event and the trusted pools, never on other workspaces, so a replay changes nothing
   * whatever arrived between. A pool change reaching many workspaces is done a chunk per transaction:
   * the pools' entries read once for the chunk, every read and write one query for all of it.
   */
  async recompute(workspaces: string | string[]): Promise<FindingEvent[]> {
    const ids = [...new Set(typeof workspaces === 'string' ? [workspaces] : workspaces)].sort();
    const all: FindingEvent[] = [];
    // Chunks are disjoint sets of workspaces (their locks never meet): one resolves while the next waits on Neo4j.
    for (const changes of await eachChunk(ids, COVERAGE_CHUNK, CHUNKS_AT_ONCE, (chunk) => this.recomputeChunk(chunk))) all.push(...changes);
    return all;
  }

  private async recomputeChunk(ids: string[]): Promise<FindingEvent[]> {
    // Coverage, its findings and the cleared marks in one locked transaction, as the other kinds.
    const done = await this.ctx.publisher.publish(
      async () => ids,
      (tx) => this.decideChunk(tx, ids),
    );
    this.marks.coverageDone(ids);
    for (const id of ids) this.resolutions.delete(id);
    for (const d of done?.decided ?? []) {
      const id = d.workspace.event.id;
      // A pool left out for an unreadable entry is left out whole: the next change resolves in full.
      if (d.c.poolErrors.size === 0)
        this.resolutions.set(id, { eventHash: d.hash, stamp: d.stamp, workspace: d.workspace, report: d.c.report, day: d.day });
      for (const [pool, error] of d.c.poolErrors) this.ctx.log.warn('trusted pool left out of coverage', { workspace: id, pool, error });
      const how = d.again ? { resolvedAgain: d.again.crates.size } : {};
      this.ctx.log.info('coverage applied', {
        workspace: id,
        conclusion: d.c.report.conclusion,
        ...d.c.report.summary,
        ...how,
        ...changeCounts(d.changes, d.current),
      });
    }
    return done?.changes ?? [];
  }

  /** A chunk's coverage resolved, compared with its stored findings and written, its marks cleared (inside the transaction). */
  private async decideChunk(tx: ManagedTransaction, ids: string[]) {
    const plan = await this.plan(tx, ids);
    const crates = [...new Set(plan.flatMap((p) => [...(p.again?.crates ?? p.workspace.event.packages.map((x) => x.name))]))];
    const trusted = await trustedPoolEntries(tx, this.options.trustedPools, crates);
    const stored = await this.storedUnvetted(tx, plan);
    const at = this.ctx.now();
    const decided = plan.map((p) => {
      const ev = p.workspace.event;
      const mine = p.again?.crates ?? new Set(ev.packages.map((x) => x.name));
      const c = workspaceCoverage(
        p.workspace,
        { ...trusted, entries: trusted.entries.filter((e) => mine.has(e.crate)) },
        this.options,
        at,
        p.again,
      );
      // Again: the findings of the crates judged again, against theirs as stored (a full resolve:
      // every stored one, those of crates no longer locked included, to resolve them).
      const current = (stored.get(ev.id) ?? []).filter((f) => !p.again || mine.has(f.crate));
      const ws = { id: ev.id, org: ev.org, ...(ev.team ? { team: ev.team } : {}) };
      return { ...p, c, current, stamp: reportDigest(c.report), day: utcDay(), changes: unvettedChanges(ws, c.findings, current, at) };
    });
    await writeCoverage(
      tx,
      decided.map((d) => ({
        workspace: d.workspace.event.id,
        rows: d.c.rows,
        summary: d.c.summary,
        stamp: d.stamp,
        eventHash: d.hash,
      })),
    );
    await clearDue(tx, 'coverageDue', ids);
    return { decided, changes: decided.flatMap((d) => d.changes) };
  }

  /** The stored unvetted findings a chunk's plan compares with: every one for a full resolve, the changed crates' for the others. */
  private async storedUnvetted(tx: ManagedTransaction, plan: CoveragePlan[]): Promise<Map<string, StoredFinding[]>> {
    const full = plan.filter((p) => !p.again).map((p) => p.workspace.event.id);
    const again = plan.filter((p) => p.again);
    const crates = [...new Set(again.flatMap((p) => [...p.again!.crates]))];
    const a = full.length ? await unvettedFindings(tx, full) : new Map<string, StoredFinding[]>();
    const b = again.length
      ? await unvettedFindings(
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
  private async plan(tx: ManagedTransaction, ids: string[]): Promise<CoveragePlan[]> {
    const stamps = await coverageStamps(tx, ids);
    const plan: CoveragePlan[] = [];
    const full: string[] = [];
    for (const id of ids) {
      const delta = this.marks.coverageDelta.get(id);
      const s = stamps.get(id);
      const kept = delta instanceof Set && s ? this.resolutions.get(id, s.eventHash, s.stamp) : undefined;
      if (kept && delta instanceof Set)
        plan.push({ workspace: kept.workspace, hash: kept.eventHash, again: { report: kept.report, crates: delta } });
      else full.push(id);
    }
    for (const { event, hash } of (await workspaceEvents(tx, full)).values()) plan.push({ workspace: prepareWorkspace(event), hash });
    return plan;
  }
}
