/**
 * Advisory findings of one workspace brought in line with the graph: pure, so the rule is tested
 * without Kafka or Neo4j. A hit (a locked version an advisory affects) opens a finding unless the
 * workspace's VEX documents say, in the statement that applies to it (shared `vexStatementFor`),
 * that it is `not_affected` or `fixed`; an open finding whose hit is gone resolves, and one whose hit
 * a statement now suppresses resolves saying so (`why`: `vex.not_affected: <justification: impact
 * statement> (file statements[i], timestamp)`). Returned: opened, reopened and resolved findings, and
 * open ones whose severity or score moved (the advisory's CVSS added or changed), re-sent open —
 * shared `findingMoved`; a changed title or VEX text alone sends nothing. The same graph gives nothing
 * the second time (a replay sends nothing).
 */
import {
  advisoryFinding,
  findingChanges,
  findingId,
  vexStatementFor,
  type Advisory,
  type FindingEvent,
  type VexDocument,
  type VexMatch,
  type WorkspaceRef,
} from '@cratewatch/shared';

export interface AdvisoryFindingContext {
  workspace: WorkspaceRef;
  /** The (locked version, advisory) pairs the workspace is exposed to now. */
  exposure: { version: string; advisory: Advisory }[];
  /** Its advisory findings as stored (state, severity, score, the crate it was raised on), with the advisory each is about (null once deleted). */
  current: {
    id: string;
    state: string;
    severity: FindingEvent['severity'];
    score: number;
    crate: string;
    version: string;
    advisory: Advisory | null;
    advisoryId: string;
  }[];
  /** The workspace's VEX documents, as its last event carried them. */
  vex: VexDocument[];
}

export interface AdvisoryChanges {
  /** Finding events to send: opened, reopened, rescored (open, with a new severity or score), resolved. */
  changes: FindingEvent[];
  /** Hits that raise no finding because a statement suppresses them (finding id → the statement). */
  suppressed: Map<string, VexMatch>;
}

export function advisoryChanges(ctx: AdvisoryFindingContext, at: string): AdvisoryChanges {
  const desired = new Map<string, FindingEvent>();
  const suppressed = new Map<string, { advisory: Advisory; version: string; match: VexMatch }>();
  for (const { version, advisory } of ctx.exposure) {
    const match = ctx.vex.length ? vexStatementFor(ctx.vex, { advisory, crate: advisory.package, version }) : undefined;
    if (match?.suppresses)
      suppressed.set(findingId(ctx.workspace.id, advisory.package, version, `advisory:${advisory.id}`), { advisory, version, match });
    else {
      const f = advisoryFinding(ctx.workspace, advisory, version, 'open', at, match);
      desired.set(f.id, f);
    }
  }
  const changes = findingChanges(desired.values(), ctx.current, (c) => {
    const s = suppressed.get(c.id);
    return s ? advisoryFinding(ctx.workspace, s.advisory, s.version, 'resolved', at, s.match) : resolvedFinding(ctx.workspace, c, at);
  });
  return { changes, suppressed: new Map([...suppressed].map(([id, s]) => [id, s.match])) };
}

/**
 * An open finding whose hit is gone: told with its advisory, or with what it stored once the advisory
 * was deleted. Always about the crate it was raised on: an advisory that now names another crate
 * (moved, or edited) resolves this finding, not one on the new crate.
 */
export function resolvedFinding(
  ws: WorkspaceRef,
  c: { id: string; crate: string; version: string; advisory: Advisory | null; advisoryId: string },
  at: string,
): FindingEvent {
  if (c.advisory) return advisoryFinding(ws, { ...c.advisory, package: c.crate }, c.version, 'resolved', at);
  // The advisory itself was deleted from the database: resolved with what the finding stored.
  const crate = c.crate;
  return {
    v: 1,
    id: c.id,
    kind: 'advisory',
    state: 'resolved',
    severity: 'info',
    score: 0,
    workspace: { id: ws.id, org: ws.org, ...(ws.team ? { team: ws.team } : {}) },
    crate,
    version: c.version,
    why: [{ signal: 'advisory.deleted', contribution: 0, detail: `${c.advisoryId} was removed from the advisory database` }],
    advisory: { id: c.advisoryId, title: '(removed from the advisory database)', patched: [], aliases: [] },
    observedAt: at,
  };
}
