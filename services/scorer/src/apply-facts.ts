/**
 * What a run of fact events (audits, criteria, maintainers, releases) touches: the graph writes, in
 * ONE transaction, set-based; the workspaces whose coverage a trusted pool's change moves, marked
 * due with the facts; and the crates whose maintainer risk may move. Pool and maintainer events
 * carry a key's whole current state, so only the last one per key in the run counts; releases are
 * applied in order.
 */
import type { ManagedTransaction } from 'neo4j-driver';
import type { Logger } from '@cratewatch/runtime';
import type { Fact } from './decode-message.js';
import type { CriteriaSet, MaintainerRow, PoolCrateSet, ReleaseRow } from './fact-rows.js';
import {
  cratesIoVersion,
  linkAdvisories,
  markDue,
  replaceCriteria,
  replaceMaintainers,
  replacePoolCrates,
  upsertReleases,
  workspacesForPoolChange,
} from './graph/index.js';

export interface FactRun {
  pools: PoolCrateSet[];
  criteria: CriteriaSet[];
  maintainers: MaintainerRow[];
  releases: ReleaseRow[];
  /** The crates.io versions a release or an audit names (their Version nodes are MERGEd). */
  created: { crate: string; version: string }[];
}

/** A run of facts as what is written: the last event per key of the compacted topics, every release. */
export function factRun(facts: Fact[]): FactRun {
  const last = <T extends Fact>(kind: T['kind']) => [
    ...new Map(facts.filter((f): f is T => f.kind === kind).map((f) => ['key' in f ? f.key : '', f])).values(),
  ];
  const pools = last<Extract<Fact, { kind: 'pool' }>>('pool').map((f) => f.set);
  const releases = facts.flatMap((f) => (f.kind === 'release' ? [f.row] : []));
  return {
    pools,
    criteria: last<Extract<Fact, { kind: 'criteria' }>>('criteria').map((f) => f.set),
    maintainers: last<Extract<Fact, { kind: 'maintainer' }>>('maintainer').map((f) => f.row),
    releases,
    created: [
      ...releases.map((r) => ({ crate: r.crate, version: r.version })),
      ...pools.flatMap((p) => p.audits.flatMap((a) => (a.certifies !== undefined ? [{ crate: p.crate, version: a.certifies }] : []))),
    ],
  };
}

/**
 * The crates whose trusted audits the run changed, so the coverage of the workspaces locking them
 * may move; `all` when a trusted pool's criteria definitions changed (every workspace's may).
 */
export function coverageMoved(run: FactRun, trustedPools: string[]): string[] | 'all' {
  const trusted = new Set(trustedPools);
  if (run.criteria.some((c) => trusted.has(c.pool))) return 'all';
  return [...new Set(run.pools.filter((p) => trusted.has(p.pool)).map((p) => p.crate))];
}

/**
 * Writes the run and marks `coverageDue` the workspaces whose coverage it moved (returned). Versions
 * a release or an audit creates get the AFFECTS edges of the advisories on their crate, as if a
 * workspace had locked them, so the graph does not depend on which came first; no workspace locks
 * such a new version, so no finding changes.
 */
export async function writeFacts(tx: ManagedTransaction, run: FactRun, moved: string[] | 'all'): Promise<string[]> {
  await upsertReleases(tx, run.releases);
  await replacePoolCrates(tx, run.pools);
  await replaceCriteria(tx, run.criteria);
  await replaceMaintainers(tx, run.maintainers);
  await linkAdvisories(tx, run.created.map(cratesIoVersion));
  if (moved !== 'all' && moved.length === 0) return [];
  const ws = await workspacesForPoolChange(tx, moved === 'all' ? null : moved);
  await markDue(tx, 'coverageDue', ws);
  return ws;
}

/** Crates whose owners, repository or releases changed: their maintainer risk may move. */
export const maintainerRiskMoved = (run: FactRun): string[] => [
  ...new Set([...run.maintainers.map((m) => m.crate), ...run.releases.map((r) => r.crate)]),
];

/** The log lines of an applied run: audits kept without what they certify, and the counts. */
export function logFacts(log: Logger, run: FactRun): void {
  for (const a of run.pools.flatMap((p) => p.audits)) {
    if (a.props.versionProblem) log.warn('audit kept without a version it certifies', { audit: a.id, problem: a.props.versionProblem });
  }
  log.info('facts applied', {
    releases: run.releases.length,
    poolCrates: run.pools.length,
    audits: run.pools.reduce((n, p) => n + p.audits.length, 0),
    criteriaSets: run.criteria.length,
    maintainers: run.maintainers.length,
  });
}
