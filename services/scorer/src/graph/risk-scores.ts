/**
 * Risk in the graph: what a workspace's risk is computed from (its open findings, the risk stored on
 * it and on its LOCKS edges) and the write of what `decide-risk.ts` says changed.
 */
import type { ManagedTransaction } from 'neo4j-driver';
import type { FindingEvent } from '@cratewatch/shared';
import type { RiskInput, RiskRow } from '../decide-risk.js';

/**
 * One read for the risk of these workspaces (shared `workspaceRisk`): each one's open findings
 * (through their `IN` edge), the risk stored on it, and the LOCKS edges that carry a risk now.
 * A workspace not in the graph is left out.
 */
export async function riskInputs(tx: ManagedTransaction, ids: string[]): Promise<RiskInput[]> {
  if (ids.length === 0) return [];
  const r = await tx.run(
    `UNWIND $ids AS id
     MATCH (w:Workspace {id: id})
     RETURN w.id AS id, w.risk AS risk, w.riskSeverity AS severity, w.riskWhy AS why,
            [(f:Finding)-[:IN]->(w) WHERE f.state = 'open' | f {.kind, .state, .score, .severity, .crate, .version, .advisory, .vet, .why}] AS findings,
            [(w)-[l:LOCKS]->(v:Version) WHERE l.risk IS NOT NULL | {crate: v.crate, version: v.version, risk: l.risk, severity: l.riskSeverity, why: l.riskWhy}] AS edges`,
    { ids },
  );
  const num = (x: unknown) => (x === null || x === undefined ? null : Number(x));
  return r.records.map((rec) => ({
    workspace: rec.get('id') as string,
    stored: { risk: num(rec.get('risk')), severity: rec.get('severity') as string | null, why: rec.get('why') as string | null },
    findings: (rec.get('findings') as Record<string, unknown>[]).map((f) => ({
      kind: f.kind as string,
      state: f.state as string,
      score: Number(f.score),
      severity: f.severity as string | null,
      crate: f.crate as string,
      version: f.version as string,
      advisory: f.advisory as string | null,
      vet: f.vet ? (JSON.parse(f.vet as string) as NonNullable<FindingEvent['vet']>) : null,
      why: JSON.parse((f.why as string | null) ?? '[]') as FindingEvent['why'],
    })),
    edges: (rec.get('edges') as Record<string, unknown>[]).map((e) => ({
      crate: e.crate as string,
      version: e.version as string,
      risk: num(e.risk),
      severity: e.severity as string | null,
      why: e.why as string | null,
    })),
  }));
}

/**
 * Writes workspaces' risk (one UNWIND batch each step, in the caller's transaction): on the
 * Workspace `risk`, `riskSeverity`, `riskWhy` (JSON); on each LOCKS edge to a version with an
 * open finding the same three for that version; on the workspace's other LOCKS edges null.
 */
export async function writeRisk(tx: ManagedTransaction, rows: RiskRow[]): Promise<void> {
  if (rows.length === 0) return;
  await tx.run(`UNWIND $rows AS r MATCH (w:Workspace {id: r.id}) SET w.risk = r.risk, w.riskSeverity = r.severity, w.riskWhy = r.why`, {
    rows,
  });
  await tx.run(
    `UNWIND $rows AS r
     MATCH (w:Workspace {id: r.id})
     UNWIND r.cleared AS x
     MATCH (w)-[l:LOCKS]->(v:Version {crate: x.crate, version: x.version})
     SET l.risk = null, l.riskSeverity = null, l.riskWhy = null`,
    { rows },
  );
  await tx.run(
    `UNWIND $rows AS r
     MATCH (w:Workspace {id: r.id})
     UNWIND r.versions AS x
     MATCH (w)-[l:LOCKS]->(v:Version {crate: x.crate, version: x.version})
     SET l.risk = x.risk, l.riskSeverity = x.severity, l.riskWhy = x.why`,
    { rows },
  );
}
