/**
 * The Organisation page: audit coverage of the scope's locked third-party versions now (the
 * scorer's per-workspace cargo-vet summary, summed) and over time (the console's daily snapshots:
 * history.ts), open findings by kind and severity, the riskiest workspaces, the advisories that hit
 * the scope in the last 30 days (advisory findings first seen in that window), time-to-resolve per
 * severity (from the console's history).
 */
import neo4j from 'neo4j-driver';
import { LABELS as L, NODE_PROPS, REL_TYPES as R, type AccessScope } from '@cratewatch/shared';
import type { ConsoleHistory, CoverageCounts } from '../history.js';
import { inScopeWhere, type Reader } from '../reader.js';

const W = NODE_PROPS.Workspace;
const F = NODE_PROPS.Finding;
const A = NODE_PROPS.Advisory;

const num = (x: unknown): number => (typeof x === 'number' ? x : Number(x ?? 0) || 0);

export const scopeKey = (s: AccessScope): string => `${s.org}|${s.teams ? [...s.teams].sort().join(',') : '*'}`;

export async function coverageNow(reader: Reader, scope: AccessScope): Promise<CoverageCounts & { workspaces: number }> {
  const [r] = await reader.rows(
    scope,
    `MATCH (w:${L.Workspace}) WHERE ${inScopeWhere('w')}
     RETURN count(w) AS workspaces, sum(coalesce(w.${W.vetVetted}, 0)) AS vetted, sum(coalesce(w.${W.vetExempted}, 0)) AS exempted,
            sum(coalesce(w.${W.vetUnvetted}, 0)) AS unvetted, sum(coalesce(w.${W.vetViolation}, 0)) AS violation,
            sum(coalesce(w.${W.vetThirdParty}, 0)) AS thirdParty`,
  );
  return {
    workspaces: num(r?.workspaces),
    vetted: num(r?.vetted),
    exempted: num(r?.exempted),
    unvetted: num(r?.unvetted),
    violation: num(r?.violation),
    thirdParty: num(r?.thirdParty),
  };
}

/** Every finding of the scope (id, state, severity, when): for the counts and the history. */
async function scopeFindings(reader: Reader, scope: AccessScope) {
  const rows = await reader.rows(
    scope,
    `MATCH (f:${L.Finding})-[:${R.IN}]->(w:${L.Workspace}) WHERE ${inScopeWhere('w')}
     RETURN f.${F.id} AS id, f.${F.kind} AS kind, f.${F.state} AS state, f.${F.severity} AS severity, f.${F.observedAt} AS observedAt`,
  );
  return rows.map((r) => ({
    id: String(r.id),
    kind: String(r.kind),
    state: String(r.state),
    severity: String(r.severity),
    observedAt: String(r.observedAt),
  }));
}

async function riskiest(reader: Reader, scope: AccessScope, limit: number) {
  return reader.rows(
    scope,
    `MATCH (w:${L.Workspace}) WHERE ${inScopeWhere('w')} AND w.${W.risk} IS NOT NULL
     RETURN w.${W.id} AS workspace, w.${W.team} AS team, w.${W.risk} AS risk, w.${W.riskSeverity} AS severity
     ORDER BY risk DESC, workspace LIMIT $limit`,
    { limit: neo4j.int(limit) },
  );
}

async function recentAdvisories(reader: Reader, scope: AccessScope, since: string) {
  return reader.rows(
    scope,
    `MATCH (f:${L.Finding} {${F.kind}: 'advisory'})-[:${R.IN}]->(w:${L.Workspace})
     WHERE ${inScopeWhere('w')} AND f.${F.observedAt} >= $since
     OPTIONAL MATCH (a:${L.Advisory} {${A.id}: f.${F.advisory}})
     WITH f.${F.advisory} AS advisory, a, collect(DISTINCT w.${W.id}) AS workspaces,
          min(f.${F.observedAt}) AS firstSeen, sum(CASE WHEN f.${F.state} = 'open' THEN 1 ELSE 0 END) AS open
     RETURN advisory, a.${A.package} AS crate, a.${A.title} AS title, a.${A.date} AS date, size(workspaces) AS workspaces,
            open, firstSeen ORDER BY firstSeen DESC, advisory`,
    { since },
  );
}

export async function orgPage(reader: Reader, history: ConsoleHistory, scope: AccessScope, now = new Date()) {
  const coverage = await coverageNow(reader, scope);
  const findings = await scopeFindings(reader, scope);
  history.recordFindings(findings);
  const { workspaces, ...counts } = coverage;
  const series = history.recordCoverage(scopeKey(scope), counts, now);
  const open: Record<string, Record<string, number>> = {};
  for (const f of findings.filter((x) => x.state === 'open')) {
    const k = (open[f.kind] ??= {});
    k[f.severity] = (k[f.severity] ?? 0) + 1;
  }
  const since = new Date(now.getTime() - 30 * 86_400_000).toISOString();
  return {
    scope,
    workspaces,
    coverage: counts,
    coverageHistory: series,
    historyNote: 'coverage over time and time-to-resolve are recorded by the console as it reads the graph (the graph keeps only now)',
    openFindings: open,
    riskiest: await riskiest(reader, scope, 10),
    recentAdvisories: await recentAdvisories(reader, scope, since),
    timeToResolve: history.timeToResolve(findings.map((f) => f.id)),
  };
}
