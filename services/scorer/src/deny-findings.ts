/**
 * cargo-deny findings in the scorer (kind `deny`; the rules are shared `checkDeny` and
 * `denyFindingChanges`): a workspace event's deny.toml and license facts judged, and its stored
 * deny findings opened or resolved to match. Kept apart from scorer.ts and graph.ts (which call it
 * once each way) so the rule's wiring is one module: the report from the event, the two queries it
 * needs, and the decision inside the scorer's locked finding transaction.
 */
import type { ManagedTransaction } from 'neo4j-driver';
import {
  checkDeny,
  denyFindingChanges,
  denyPackagesOfEvent,
  FormatError,
  parseDenyConfig,
  type DenyReport,
  type FindingEvent,
  type StoredDenyFinding,
  type WorkspaceEvent,
} from '@cratewatch/shared';
import { BadMessageError } from '@cratewatch/runtime';

/**
 * The deny report of a workspace event; undefined when it carries no deny.toml. A deny.toml or
 * `deny.packages` that does not read refuses the event (to `org.workspaces.dlq`), naming the field.
 */
export function denyReportOf(ev: WorkspaceEvent): DenyReport | undefined {
  if (!ev.deny) return undefined;
  try {
    return checkDeny(denyPackagesOfEvent(ev), parseDenyConfig(ev.deny.config.text, ev.deny.config.file));
  } catch (err) {
    if (err instanceof FormatError) throw new BadMessageError(`workspace ${ev.id}: ${err.message}`);
    throw err;
  }
}

/** The deny findings stored for a workspace, with what each said (`deny`, JSON on the node). */
async function storedDenyFindings(tx: ManagedTransaction, workspace: string): Promise<StoredDenyFinding[]> {
  const r = await tx.run(
    `MATCH (f:Finding {workspace: $workspace, kind: 'deny'})
     RETURN f.id AS id, f.state AS state, f.crate AS crate, f.version AS version, f.severity AS severity,
            f.score AS score, f.why AS why, f.deny AS deny`,
    { workspace },
  );
  return r.records.map((rec) => ({
    id: rec.get('id') as string,
    state: rec.get('state') as string,
    crate: rec.get('crate') as string,
    version: rec.get('version') as string,
    severity: rec.get('severity') as FindingEvent['severity'],
    score: Number(rec.get('score')),
    why: JSON.parse((rec.get('why') as string | null) ?? '[]') as FindingEvent['why'],
    ...(rec.get('deny') ? { deny: JSON.parse(rec.get('deny') as string) as NonNullable<FindingEvent['deny']> } : {}),
  }));
}

/**
 * Keeps each changed finding's `deny` block on its node, so that its resolution can repeat it.
 * Written in the same transaction just before `Graph.writeFindings` MERGEs the same node and sets
 * the fields every kind has (it leaves `deny` alone).
 */
async function keepDenyDetails(tx: ManagedTransaction, changes: FindingEvent[]): Promise<void> {
  const rows = changes.filter((c) => c.deny).map((c) => ({ id: c.id, deny: JSON.stringify(c.deny) }));
  if (rows.length) await tx.run(`UNWIND $rows AS r MERGE (n:Finding {id: r.id}) SET n.deny = r.deny`, { rows });
}

/**
 * The decision, inside the scorer's `publish` (the workspace locked): the report's deny-level
 * problems about a crate open findings, open ones it no longer has resolve. It depends only on the
 * workspace's event, so a replay sends nothing.
 */
export async function decideDenyFindings(
  tx: ManagedTransaction,
  ev: WorkspaceEvent,
  report: DenyReport | undefined,
  at: string,
): Promise<{ changes: FindingEvent[] }> {
  const ws = { id: ev.id, org: ev.org, ...(ev.team ? { team: ev.team } : {}) };
  const changes = denyFindingChanges(ws, report, await storedDenyFindings(tx, ev.id), at);
  await keepDenyDetails(tx, changes);
  return { changes };
}
