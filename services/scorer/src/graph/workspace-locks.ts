/**
 * Workspaces in the graph: a workspace event's `LOCKS` and `DEPENDS_ON` edges, the event kept on the
 * node (coverage is recomputed from it), the coverage verdicts written back on its LOCKS edges, the
 * marks of work owed to it (`coverageDue`, `riskDue`), and the lock taken before deciding its findings.
 */
import { createHash } from 'node:crypto';
import type { ManagedTransaction } from 'neo4j-driver';
import { CRATES_IO_SOURCES, type WorkspaceEvent } from '@cratewatch/shared';
import type { Prop } from '../fact-rows.js';
import { collected } from './records.js';

/** The hash of a workspace event as stored (`Workspace.event`). */
export const eventHash = (json: string): string => createHash('sha256').update(json).digest('hex');

export interface LockedVersion {
  id: string;
  crate: string;
  version: string;
  source: string | null;
}

/** A mark of work owed to a workspace (`markDue`). */
export type DueMark = 'riskDue' | 'coverageDue';
/** The property name of a mark: one of two literals, so it can be written into the query text. */
const prop = (what: DueMark): DueMark => (what === 'riskDue' ? 'riskDue' : 'coverageDue');

// A package from another source (a git fork) gets its source in the id even when its own lockfile
// has no crates.io twin (parseLockfile adds it only then): else a workspace locking `half@1.8.2` from
// git and another locking it from crates.io share one node, whose source is whichever came last.
export const versionNodeId = (workspaceId: string, p: { id: string; source?: string }): string =>
  p.source === undefined
    ? `${workspaceId}:${p.id}`
    : CRATES_IO_SOURCES.has(p.source) || p.id.endsWith(` (${p.source})`)
      ? p.id
      : `${p.id} (${p.source})`;

/** Writes a workspace's locked packages and edges; drops LOCKS of versions it no longer locks. */
export async function upsertWorkspace(tx: ManagedTransaction, ev: WorkspaceEvent): Promise<LockedVersion[]> {
  const members = new Set(ev.members);
  const packages = ev.packages.map((p) => ({
    id: versionNodeId(ev.id, p),
    crate: p.name,
    version: p.version,
    source: p.source ?? null,
    checksum: p.checksum ?? null,
    firstParty: members.has(p.id) || p.source === undefined,
  }));
  const idOf = new Map(ev.packages.map((p) => [p.id, versionNodeId(ev.id, p)]));
  const edges = ev.edges.map((e) => ({ from: idOf.get(e.from), to: idOf.get(e.to), kind: e.kind })).filter((e) => e.from && e.to);
  // The event itself is kept: audit coverage is recomputed from it when a trusted pool changes
  // (and its hash, which tells a scorer whether the resolution it kept is of this event).
  const event = JSON.stringify(ev);
  // Its VEX documents also on their own (`vex`, JSON), read whenever an advisory changes.
  await tx.run(
    `MERGE (w:Workspace {id: $id}) SET w.org = $org, w.team = $team, w.checksum = $checksum, w.observedAt = $observedAt, w.event = $event, w.eventHash = $hash, w.vex = $vex`,
    {
      id: ev.id,
      org: ev.org,
      team: ev.team ?? null,
      checksum: ev.origin.checksum,
      observedAt: ev.observedAt,
      event,
      hash: eventHash(event),
      vex: ev.vex?.length ? JSON.stringify(ev.vex) : null,
    },
  );
  await tx.run(
    `MATCH (w:Workspace {id: $id})
     UNWIND $packages AS p
     MERGE (c:Crate {name: p.crate})
     MERGE (v:Version {id: p.id})
       SET v.crate = p.crate, v.version = p.version, v.source = p.source, v.checksum = p.checksum
     MERGE (c)-[:HAS_VERSION]->(v)
     MERGE (w)-[l:LOCKS]->(v) SET l.firstParty = p.firstParty`,
    { id: ev.id, packages },
  );
  await tx.run(`MATCH (w:Workspace {id: $id})-[l:LOCKS]->(v:Version) WHERE NOT v.id IN $ids DELETE l`, {
    id: ev.id,
    ids: packages.map((p) => p.id),
  });
  await tx.run(
    `UNWIND $edges AS e
     MATCH (a:Version {id: e.from}), (b:Version {id: e.to})
     MERGE (a)-[:DEPENDS_ON {kind: e.kind}]->(b)`,
    { edges },
  );
  return packages.map((p) => ({ id: p.id, crate: p.crate, version: p.version, source: p.source }));
}

/** Workspaces that lock any version of these crates. */
export async function workspacesLocking(tx: ManagedTransaction, crates: string[]): Promise<string[]> {
  const r = await tx.run(
    `UNWIND $crates AS name
     MATCH (:Crate {name: name})-[:HAS_VERSION]->(:Version)<-[:LOCKS]-(w:Workspace)
     RETURN collect(DISTINCT w.id) AS ws`,
    { crates },
  );
  return collected(r, 'ws');
}

/** Workspaces whose coverage a trusted pool's change can move: those locking these crates (all, for `null`). */
export async function workspacesForPoolChange(tx: ManagedTransaction, crates: string[] | null): Promise<string[]> {
  if (crates !== null) return workspacesLocking(tx, crates);
  const r = await tx.run(`MATCH (w:Workspace) RETURN collect(w.id) AS ws`);
  return collected(r, 'ws');
}

/**
 * Takes the write lock of these Workspace nodes, held until the transaction ends (setting and
 * removing a property leaves the node as it was). Every transaction that decides a workspace's
 * findings or writes its risk takes it first and only then reads, so two scorers deciding for the
 * same workspace run one after the other and the second sees what the first wrote (Neo4j reads
 * the latest committed state). In id order: two transactions never wait on each other in a cycle.
 */
export async function lockWorkspaces(tx: ManagedTransaction, ids: string[]): Promise<void> {
  const sorted = [...new Set(ids)].sort();
  if (sorted.length) await tx.run(`UNWIND $ids AS id MATCH (w:Workspace {id: id}) SET w._lock = true REMOVE w._lock`, { ids: sorted });
}

/** The events these workspaces were last written from (coverage is recomputed from them), with their hash, by id. */
export async function workspaceEvents(
  tx: ManagedTransaction,
  ids: string[],
): Promise<Map<string, { event: WorkspaceEvent; hash: string }>> {
  if (ids.length === 0) return new Map();
  const r = await tx.run(`UNWIND $ids AS wid MATCH (w:Workspace {id: wid}) WHERE w.event IS NOT NULL RETURN w.id AS id, w.event AS event`, {
    ids,
  });
  return new Map(
    r.records.map((rec) => {
      const json = rec.get('event') as string;
      return [rec.get('id') as string, { event: JSON.parse(json) as WorkspaceEvent, hash: eventHash(json) }];
    }),
  );
}

/** What tells whether a kept resolution is still the graph's: the event's hash and the last coverage write's stamp. */
export async function coverageStamps(
  tx: ManagedTransaction,
  ids: string[],
): Promise<Map<string, { eventHash: string | null; stamp: string | null }>> {
  const r = await tx.run(
    `UNWIND $ids AS wid MATCH (w:Workspace {id: wid}) RETURN w.id AS id, w.eventHash AS eventHash, w.coverageStamp AS stamp`,
    { ids },
  );
  return new Map(
    r.records.map((rec) => [
      rec.get('id') as string,
      { eventHash: rec.get('eventHash') as string | null, stamp: rec.get('stamp') as string | null },
    ]),
  );
}

/**
 * Writes the coverage of several workspaces, in two queries: the LOCKS verdicts given, and each
 * Workspace's summary with the stamp of this write and the hash of the event it was resolved from.
 */
export async function writeCoverage(
  tx: ManagedTransaction,
  items: {
    workspace: string;
    rows: { id: string; vetted: string; needs: string[]; via: string[] }[];
    summary: Record<string, Prop>;
    stamp: string;
    eventHash: string;
  }[],
): Promise<void> {
  if (items.length === 0) return;
  await tx.run(
    `UNWIND $rows AS r
     MATCH (:Workspace {id: r.workspace})-[l:LOCKS]->(:Version {id: r.id})
     SET l.vetted = r.vetted, l.needs = r.needs, l.via = r.via`,
    { rows: items.flatMap((it) => it.rows.map((r) => ({ ...r, workspace: it.workspace }))) },
  );
  await tx.run(
    `UNWIND $items AS it MATCH (w:Workspace {id: it.id}) SET w += it.summary, w.coverageStamp = it.stamp, w.eventHash = it.eventHash`,
    {
      items: items.map((it) => ({ id: it.workspace, summary: it.summary, stamp: it.stamp, eventHash: it.eventHash })),
    },
  );
}

/**
 * Work owed to workspaces, kept on the Workspace node so that it survives a crash: `riskDue` (set
 * with the findings it follows from, in the same transaction) and `coverageDue` (set with the
 * trusted-pool facts it follows from). The scorer clears a mark in the transaction that writes
 * the work, and at start does whatever marks it finds.
 */
export async function markDue(tx: ManagedTransaction, what: DueMark, ids: string[]): Promise<void> {
  if (ids.length) await tx.run(`UNWIND $ids AS id MATCH (w:Workspace {id: id}) SET w.${prop(what)} = true`, { ids });
}

export async function clearDue(tx: ManagedTransaction, what: DueMark, ids: string[]): Promise<void> {
  if (ids.length)
    await tx.run(`UNWIND $ids AS id MATCH (w:Workspace {id: id}) WHERE w.${prop(what)} = true SET w.${prop(what)} = null`, { ids });
}

export async function dueWorkspaces(tx: ManagedTransaction, what: DueMark): Promise<string[]> {
  const r = await tx.run(`MATCH (w:Workspace) WHERE w.${prop(what)} = true RETURN w.id AS id ORDER BY id`);
  return r.records.map((rec) => rec.get('id') as string);
}
