/**
 * Findings in the graph: the Finding nodes a decision writes, each with its event in the node's
 * outbox (`pendingEvents`) until it is sent, and the findings as stored, which the next decision
 * compares with (docs/adr/0002-several-scorers.md: the outbox is how several scorers send each
 * event once).
 */
import type { ManagedTransaction } from 'neo4j-driver';
import { TOPICS, encodeEvent, type FindingEvent, type WorkspaceRef } from '@cratewatch/shared';
import { storedFindingOf, workspaceRefOf, type StoredFinding } from './records.js';

/**
 * Writes the Finding nodes of the events a transaction decided, each with its event appended to
 * `pendingEvents` (the outbox: sent and cleared after the commit by `takePendingEvents`; what a
 * crash leaves there is sent by whoever touches the workspace next, or at start). In id order, so
 * two transactions lock Finding nodes in one order and never wait on each other in a cycle.
 */
export async function writeFindings(tx: ManagedTransaction, findings: FindingEvent[]): Promise<void> {
  if (findings.length === 0) return;
  const sorted = [...findings].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const rows = sorted.map((f) => ({
    id: f.id,
    kind: f.kind,
    state: f.state,
    severity: f.severity,
    score: f.score,
    workspace: f.workspace.id,
    crate: f.crate,
    version: f.version,
    advisory: f.advisory?.id ?? null,
    vet: f.vet ? JSON.stringify(f.vet) : null,
    maintainer: f.maintainer ? JSON.stringify(f.maintainer) : null,
    why: JSON.stringify(f.why),
    observedAt: f.observedAt,
    event: encodeEvent(TOPICS.findings, f),
  }));
  await tx.run(
    `UNWIND $rows AS f
     MERGE (n:Finding {id: f.id})
       SET n.kind = f.kind, n.state = f.state, n.severity = f.severity, n.score = f.score,
           n.workspace = f.workspace, n.crate = f.crate, n.version = f.version,
           n.advisory = f.advisory, n.vet = f.vet, n.maintainer = f.maintainer, n.why = f.why, n.observedAt = f.observedAt,
           n.pendingEvents = coalesce(n.pendingEvents, []) + f.event
     WITH n, f
     MATCH (w:Workspace {id: f.workspace})
     SET w.riskDue = true
     MERGE (n)-[:IN]->(w)
     WITH n, f, w
     OPTIONAL MATCH (w)-[:LOCKS]->(v:Version {crate: f.crate, version: f.version})
     FOREACH (_ IN CASE WHEN v IS NULL THEN [] ELSE [1] END | MERGE (n)-[:ABOUT]->(v))`,
    { rows },
  );
}

/**
 * What is owed to these workspaces that a scorer may have left undone (it crashed, or stopped):
 * findings whose events are not sent yet, and the workspaces marked `riskDue`. Read at the end of
 * each deciding transaction, so the replay of a message a crashed scorer was handling finishes its
 * work on whichever scorer gets the partition.
 */
export async function owedWork(tx: ManagedTransaction, ids: string[]): Promise<{ pending: string[]; riskDue: string[] }> {
  if (ids.length === 0) return { pending: [], riskDue: [] };
  const r = await tx.run(
    `UNWIND $ids AS id
     MATCH (w:Workspace {id: id})
     RETURN [(f:Finding)-[:IN]->(w) WHERE f.pendingEvents IS NOT NULL | f.id] AS pending, w.riskDue = true AS due, w.id AS id`,
    { ids: [...new Set(ids)] },
  );
  return {
    pending: r.records.flatMap((rec) => rec.get('pending') as string[]),
    riskDue: r.records.filter((rec) => rec.get('due') === true).map((rec) => rec.get('id') as string),
  };
}

/** Every Finding with events not sent yet (at start: what a previous run left). */
export async function pendingFindings(tx: ManagedTransaction): Promise<string[]> {
  const r = await tx.run(`MATCH (f:Finding) WHERE f.pendingEvents IS NOT NULL RETURN f.id AS id ORDER BY id`);
  return r.records.map((rec) => rec.get('id') as string);
}

/**
 * Locks these Finding nodes (in id order, as `writeFindings` does) and returns the events still
 * pending on them, oldest first; `clearPendingEvents` in the same transaction, after the send,
 * empties them. Under the lock, two scorers (or a scorer and one starting) never both send the
 * same pending event, and events of one finding go out in the order they were decided.
 */
export async function takePendingEvents(tx: ManagedTransaction, ids: string[]): Promise<{ id: string; events: string[] }[]> {
  const sorted = [...new Set(ids)].sort();
  if (sorted.length === 0) return [];
  await tx.run(`UNWIND $ids AS id MATCH (f:Finding {id: id}) WHERE f.pendingEvents IS NOT NULL SET f._lock = true REMOVE f._lock`, {
    ids: sorted,
  });
  const r = await tx.run(
    `UNWIND $ids AS id MATCH (f:Finding {id: id}) WHERE f.pendingEvents IS NOT NULL RETURN f.id AS id, f.pendingEvents AS events`,
    { ids: sorted },
  );
  return r.records.map((rec) => ({ id: rec.get('id') as string, events: rec.get('events') as string[] }));
}

export async function clearPendingEvents(tx: ManagedTransaction, ids: string[]): Promise<void> {
  if (ids.length) await tx.run(`UNWIND $ids AS id MATCH (f:Finding {id: id}) SET f.pendingEvents = null`, { ids });
}

/**
 * These workspaces' unvetted findings as stored (to resolve one with what was said when it opened),
 * by workspace; with `crates`, only those on these crates.
 */
export async function unvettedFindings(tx: ManagedTransaction, ids: string[], crates?: string[]): Promise<Map<string, StoredFinding[]>> {
  const r = await tx.run(
    `UNWIND $ids AS ws
     MATCH (f:Finding {workspace: ws, kind: 'unvetted'}) ${crates ? 'WHERE f.crate IN $crates' : ''}
     RETURN ws, f.id AS id, f.state AS state, f.crate AS crate, f.version AS version, f.severity AS severity,
            f.score AS score, f.why AS why, f.vet AS vet`,
    { ids, crates: crates ?? null },
  );
  const out = new Map<string, StoredFinding[]>(ids.map((id) => [id, []]));
  for (const rec of r.records) {
    out.get(rec.get('ws') as string)?.push({
      ...storedFindingOf(rec),
      vet: rec.get('vet') ? (JSON.parse(rec.get('vet') as string) as NonNullable<FindingEvent['vet']>) : undefined,
    });
  }
  return out;
}

/** The maintainer findings stored for a scope (a workspace's, or every workspace's for some crates). */
export async function maintainerFindings(
  tx: ManagedTransaction,
  scope: { workspace: string } | { crates: string[] },
): Promise<(StoredFinding & { workspace: WorkspaceRef })[]> {
  const r = await tx.run(
    `${'workspace' in scope ? `MATCH (f:Finding {workspace: $id, kind: 'maintainer'})` : `UNWIND $crates AS name MATCH (f:Finding {crate: name, kind: 'maintainer'})`}
     MATCH (f)-[:IN]->(w:Workspace)
     RETURN f.id AS id, f.state AS state, f.crate AS crate, f.version AS version, f.severity AS severity,
            f.score AS score, f.why AS why, f.maintainer AS maintainer, w.id AS wid, w.org AS org, w.team AS team`,
    'workspace' in scope ? { id: scope.workspace } : { crates: scope.crates },
  );
  return r.records.map((rec) => {
    return {
      ...storedFindingOf(rec),
      ...(rec.get('maintainer')
        ? { maintainer: JSON.parse(rec.get('maintainer') as string) as NonNullable<FindingEvent['maintainer']> }
        : {}),
      workspace: workspaceRefOf(rec, 'wid'),
    };
  });
}
