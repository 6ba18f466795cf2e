/**
 * Audit coverage of one workspace, with cargo-vet's rules (the one resolver in `shared`): its own
 * store (what `cargo vet --locked` reads) plus the pools the org trusts, read back from the graph.
 * Pure: the scorer reads the inputs from Neo4j and writes the result.
 */
import {
  auditsFileFromPoolEntries,
  failures,
  findingChanges,
  graphFromWorkspaceEvent,
  readStore,
  resolveVet,
  resolveVetAgain,
  unvettedFinding,
  workspaceImpact,
  type AuditRef,
  type AuditsFile,
  type DepGraph,
  type FindingEvent,
  type VetReport,
  type VetStore,
  type WorkspaceEvent,
} from '@cratewatch/shared';
import type { StoredFinding } from './graph/records.js';
import { versionNodeId } from './graph/workspace-locks.js';
import type { Prop } from './fact-rows.js';

export interface TrustedPoolData {
  entries: { pool: string; crate: string; table: string; entry: string }[];
  criteria: { pool: string; name: string; description: string | null; descriptionUrl: string | null; implies: string[] }[];
}

export interface CoverageOptions {
  /** Pools (by name, as ingest names them) whose audits the org trusts beside each workspace's own store. */
  trustedPools: string[];
  /** An unvetted version raises a finding only from this score up (0–10): "unvetted and high-impact". */
  minScore: number;
}

export interface Coverage {
  report: VetReport;
  /** Per locked version node: the verdict, the criteria needed, the audit entries that vet it. */
  rows: { id: string; vetted: string; needs: string[]; via: string[] }[];
  summary: Record<string, Prop>;
  /** The unvetted findings that should be open now (empty when the workspace has nothing to trust; after `again`, those of its crates). */
  findings: FindingEvent[];
  /** Trusted pools left out because an entry could not be read (pool → error). */
  poolErrors: Map<string, string>;
}

/** The workspace's store, parsed; a FormatError names the file, table and key. */
export function storeOf(ev: WorkspaceEvent): VetStore | undefined {
  return ev.store ? readStore(ev.store, `${ev.id}/supply-chain`) : undefined;
}

/** The trusted pools as audits files, from what the graph holds of them. */
export function poolsFrom(data: TrustedPoolData, trusted: string[]): { pools: Map<string, AuditsFile>; errors: Map<string, string> } {
  const pools = new Map<string, AuditsFile>();
  const errors = new Map<string, string>();
  for (const pool of trusted) {
    const byCrate = new Map<string, Record<string, Record<string, unknown>[]>>();
    for (const e of data.entries) {
      if (e.pool !== pool) continue;
      const tables = byCrate.get(e.crate) ?? {};
      (tables[e.table] ??= []).push(JSON.parse(e.entry) as Record<string, unknown>);
      byCrate.set(e.crate, tables);
    }
    const criteria = data.criteria
      .filter((c) => c.pool === pool)
      .map((c) => ({
        name: c.name,
        ...(c.description !== null ? { description: c.description } : {}),
        ...(c.descriptionUrl !== null ? { 'description-url': c.descriptionUrl } : {}),
        ...(c.implies.length ? { implies: c.implies } : {}),
      }));
    try {
      pools.set(
        pool,
        auditsFileFromPoolEntries(
          [...byCrate].map(([crate, entries]) => ({ crate, entries })),
          criteria,
          `pool ${pool}`,
        ),
      );
    } catch (err) {
      errors.set(pool, (err as Error).message);
    }
  }
  return { pools, errors };
}

/** `import mozilla audits.aes[2]`, `local exemptions.cfg-if[0]`, `pool google wildcard-audits.x[0]`. */
export const describeRef = (r: AuditRef): string => `${r.source}${r.from ? ` ${r.from}` : ''} ${r.table}.${r.crate}[${r.index}]`;

/** A workspace event read for resolving: its store parsed and its dependency graph (kept with a resolution). */
export interface PreparedWorkspace {
  event: WorkspaceEvent;
  store: VetStore | undefined;
  graph: DepGraph;
  /** What each locked version weighs (`workspaceImpact`), worked out when first needed. */
  impact?: ReturnType<typeof workspaceImpact>;
}

export const prepareWorkspace = (event: WorkspaceEvent): PreparedWorkspace => ({
  event,
  store: storeOf(event),
  graph: graphFromWorkspaceEvent(event),
});

/**
 * The workspace's coverage. With `again` (its previous report, and the crates whose audits changed
 * since: `trusted` then need hold only theirs), only those crates' packages are judged again (shared
 * `resolveVetAgain`, equal to a full resolve) and `rows` and `findings` hold only theirs: the others
 * are as written before.
 */
export function workspaceCoverage(
  w: PreparedWorkspace,
  trusted: TrustedPoolData,
  opts: CoverageOptions,
  at: string,
  again?: { report: VetReport; crates: ReadonlySet<string> },
): Coverage {
  const { event: ev, store, graph } = w;
  const { pools, errors } = poolsFrom(trusted, opts.trustedPools);
  // The same event and day: its store checks stand (resolution-cache.ts keeps a report for its day only).
  const report = again
    ? resolveVetAgain(again.report, again.crates, { graph, store }, { pools, sameStore: true })
    : resolveVet({ graph, store }, { pools });
  const pkg = new Map(ev.packages.map((p) => [p.id, p]));
  const rows = report.packages
    .filter((v) => !again || again.crates.has(v.name))
    .map((v) => ({
      id: versionNodeId(ev.id, pkg.get(v.id)!),
      vetted: v.status,
      needs: v.required,
      via: v.path.map(describeRef),
    }));
  const s = report.summary;
  const summary: Record<string, Prop> = {
    vetConclusion: report.conclusion,
    vetKindsKnown: report.kindsKnown,
    vetStore: store !== undefined,
    vetTrustedPools: [...pools.keys()],
    vetThirdParty: s.thirdParty,
    vetVetted: s.vetted,
    vetExempted: s.exempted,
    vetUnvetted: s.unvetted,
    vetViolation: s.violation,
    vetKindDependent: s.kindDependent,
    vetStoreProblems: (report.store?.reported ?? []).slice(0, 20).map((p) => `${p.file} ${p.table}: ${p.message}`),
  };
  // With neither a store nor a trusted pool, nothing is trusted and every crate would be "unvetted":
  // true, but no news. Coverage is still written to the graph for analysts.
  const findings: FindingEvent[] = [];
  if (store !== undefined || pools.size > 0) {
    const impact = (w.impact ??= workspaceImpact(graph));
    const ws = { id: ev.id, org: ev.org, ...(ev.team ? { team: ev.team } : {}) };
    // Again: the other crates' findings stand (their verdicts and the graph's impact did not move).
    for (const v of failures(report).filter((x) => !again || again.crates.has(x.name))) {
      const f = unvettedFinding(ws, v, impact.get(v.id)!, 'open', at);
      if (f.score >= opts.minScore || v.status === 'violation') findings.push(f);
    }
  }
  return { report, rows, summary, findings, poolErrors: errors };
}

/**
 * The unvetted finding events that bring the stored findings in line with the coverage: each
 * desired one that moved (shared `findingMoved`: new, reopened, or re-scored — a version that became
 * a build-time or direct dependency scores higher), and each open one no longer desired resolved.
 * The same coverage again gives nothing (a replay sends nothing).
 */
export function unvettedChanges(
  ws: { id: string; org: string; team?: string },
  desired: FindingEvent[],
  current: StoredFinding[],
  at: string,
): FindingEvent[] {
  return findingChanges(desired, current, (f) => resolvedUnvetted(ws, f, at));
}

/** An unvetted finding that no longer holds (audited now, or no longer locked), told with what it said when it opened. */
function resolvedUnvetted(ws: { id: string; org: string; team?: string }, f: StoredFinding, at: string): FindingEvent {
  return {
    v: 1,
    id: f.id,
    kind: 'unvetted',
    state: 'resolved',
    severity: f.severity,
    score: f.score,
    workspace: ws,
    crate: f.crate,
    version: f.version,
    why: f.why,
    ...(f.vet ? { vet: f.vet } : {}),
    observedAt: at,
  };
}
