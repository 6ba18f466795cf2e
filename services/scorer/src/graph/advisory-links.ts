/**
 * Advisories in the graph and the versions they affect (`AFFECTS`). Which versions an advisory
 * affects is decided in one place, `affectedVersions` (shared RustSec matching, crates.io versions
 * only), whether the advisory or the version arrived first; and what the advisory findings of
 * workspaces are decided from is read here too (`advisoryFindingContexts`).
 */
import type { ManagedTransaction } from 'neo4j-driver';
import {
  CRATES_IO_SOURCE,
  CRATES_IO_SOURCES,
  isAffected,
  unaffectedIntervals,
  type Advisory,
  type FindingEvent,
  type VexDocument,
} from '@cratewatch/shared';
import type { AdvisoryFindingContext } from '../decide-advisory.js';
import { collected, workspaceRefOf } from './records.js';
import { workspacesLocking, type LockedVersion } from './workspace-locks.js';

/** Only crates.io versions are matched against RustSec (a git fork or path crate is another crate). */
const isCratesIoVersion = (v: LockedVersion): boolean => v.source !== null && CRATES_IO_SOURCES.has(v.source);

/**
 * Per advisory, the versions of these it affects: none for a withdrawn advisory or one outside the
 * `crates` collection (`rust/`); only crates.io versions are matched (a git fork or a path crate is
 * another crate), and a version that is not SemVer is affected by nothing (shared `isAffected`).
 */
export function affectedVersions(advisories: Advisory[], versions: LockedVersion[]): { advisory: string; versions: string[] }[] {
  const byCrate = new Map<string, LockedVersion[]>();
  for (const v of versions.filter(isCratesIoVersion)) byCrate.set(v.crate, [...(byCrate.get(v.crate) ?? []), v]);
  return advisories.map((a) => {
    if (a.collection !== 'crates' || a.withdrawn) return { advisory: a.id, versions: [] };
    const intervals = unaffectedIntervals(a);
    return { advisory: a.id, versions: (byCrate.get(a.package) ?? []).filter((v) => isAffected(a, v.version, intervals)).map((v) => v.id) };
  });
}

/** A crates.io release or audited version as the Version node a release or an audit MERGEs. */
export const cratesIoVersion = (v: { crate: string; version: string }): LockedVersion => ({
  id: `${v.crate}@${v.version}`,
  crate: v.crate,
  version: v.version,
  source: CRATES_IO_SOURCE,
});

/**
 * The AFFECTS edges of the advisories on these versions' crates, added (idempotent MERGE): for
 * versions that arrived after the advisories (a workspace's, a release's, an audit's). Returns how
 * many advisories were checked.
 */
export async function linkAdvisories(tx: ManagedTransaction, versions: LockedVersion[]): Promise<number> {
  const matchable = versions.filter(isCratesIoVersion);
  if (matchable.length === 0) return 0;
  const advisories = await advisoriesFor(tx, [...new Set(matchable.map((v) => v.crate))]);
  const pairs = affectedVersions(advisories, matchable).flatMap((r) => r.versions.map((version) => ({ advisory: r.advisory, version })));
  await addAffects(tx, [...new Map(pairs.map((p) => [`${p.advisory}|${p.version}`, p])).values()]);
  return advisories.length;
}

/**
 * Advisories added or changed, written set-based (a handful of queries however many), each one's
 * AFFECTS edges set to exactly the versions it affects now. Returns the workspaces whose findings
 * may move: those it hit before the edges moved (an advisory whose new value names another crate,
 * or none of the versions it hit, leaves findings to resolve where its new crate is not locked) and
 * those locking its crate now.
 */
export async function writeAdvisories(tx: ManagedTransaction, latest: Advisory[]): Promise<string[]> {
  const hitBefore = await workspacesAffectedBy(
    tx,
    latest.map((a) => a.id),
  );
  await upsertAdvisories(tx, latest);
  const crates = [...new Set(latest.map((a) => a.package))];
  const versions = await versionsOf(tx, crates);
  await setAffects(tx, affectedVersions(latest, versions));
  const known = new Set(versions.map((v) => v.crate));
  const hitNow = await workspacesLocking(
    tx,
    crates.filter((c) => known.has(c)),
  );
  return [...new Set([...hitBefore, ...hitNow])].sort();
}

export async function upsertAdvisories(tx: ManagedTransaction, list: Advisory[]): Promise<void> {
  await tx.run(
    `UNWIND $rows AS r
     MERGE (a:Advisory {id: r.id})
     SET a.package = r.package, a.collection = r.collection, a.title = r.title, a.date = r.date,
         a.informational = r.informational, a.withdrawn = r.withdrawn, a.cvss = r.cvss,
         a.aliases = r.aliases, a.patched = r.patched, a.unaffected = r.unaffected, a.json = r.json`,
    {
      rows: list.map((a) => ({
        id: a.id,
        package: a.package,
        collection: a.collection,
        title: a.title,
        date: a.date,
        informational: a.informational ?? null,
        withdrawn: a.withdrawn ?? null,
        cvss: a.cvss ?? null,
        aliases: a.aliases,
        patched: a.versions.patched,
        unaffected: a.versions.unaffected,
        json: JSON.stringify(a),
      })),
    },
  );
}

/** Removes an advisory whose file was deleted; returns the workspaces it touched. */
export async function deleteAdvisory(tx: ManagedTransaction, id: string): Promise<string[]> {
  const r = await tx.run(
    `MATCH (a:Advisory {id: $id})
     OPTIONAL MATCH (a)-[:AFFECTS]->(:Version)<-[:LOCKS]-(w:Workspace)
     WITH a, collect(DISTINCT w.id) AS ws
     DETACH DELETE a
     RETURN ws`,
    { id },
  );
  return collected(r, 'ws');
}

export async function advisoriesFor(tx: ManagedTransaction, crates: string[]): Promise<Advisory[]> {
  const r = await tx.run(`MATCH (a:Advisory) WHERE a.package IN $crates RETURN a.json AS json`, { crates });
  return r.records.map((rec) => JSON.parse(rec.get('json') as string) as Advisory);
}

/** Every version node of these crates (what some workspace locks or once locked). */
export async function versionsOf(tx: ManagedTransaction, crates: string[]): Promise<LockedVersion[]> {
  const r = await tx.run(
    `UNWIND $crates AS name
     MATCH (:Crate {name: name})-[:HAS_VERSION]->(v:Version)
     RETURN v.id AS id, v.crate AS crate, v.version AS version, v.source AS source`,
    { crates },
  );
  return r.records.map((rec) => rec.toObject() as LockedVersion);
}

/** Sets exactly which versions each advisory affects: removes stale AFFECTS edges, adds new ones. */
export async function setAffects(tx: ManagedTransaction, rows: { advisory: string; versions: string[] }[]): Promise<void> {
  await tx.run(
    `UNWIND $rows AS r
     MATCH (a:Advisory {id: r.advisory})-[e:AFFECTS]->(v:Version) WHERE NOT v.id IN r.versions DELETE e`,
    { rows },
  );
  await addAffects(
    tx,
    rows.flatMap((r) => r.versions.map((version) => ({ advisory: r.advisory, version }))),
  );
}

/** Adds AFFECTS edges (advisory id → version id) in one batch. */
export async function addAffects(tx: ManagedTransaction, pairs: { advisory: string; version: string }[]): Promise<void> {
  if (pairs.length === 0) return;
  await tx.run(`UNWIND $pairs AS p MATCH (a:Advisory {id: p.advisory}), (v:Version {id: p.version}) MERGE (a)-[:AFFECTS]->(v)`, {
    pairs,
  });
}

/** Workspaces that lock a version these advisories affect (their AFFECTS edges as they stand). */
export async function workspacesAffectedBy(tx: ManagedTransaction, advisories: string[]): Promise<string[]> {
  const r = await tx.run(
    `UNWIND $advisories AS id
     MATCH (:Advisory {id: id})-[:AFFECTS]->(:Version)<-[:LOCKS]-(w:Workspace)
     RETURN collect(DISTINCT w.id) AS ws`,
    { advisories },
  );
  return collected(r, 'ws');
}

/**
 * All the advisory findings of these workspaces need, read at once (a constant number of queries
 * however many workspaces an advisory reaches): per workspace, the (version, advisory) pairs it is
 * exposed to now (locked, affected, not withdrawn), its current findings (state, severity and score
 * as last sent, so a moved severity or score is seen) with the advisory each is about (null when
 * that advisory was deleted), and its VEX documents. Each advisory's JSON is read once.
 * `only`: the exposure to and findings of these advisories alone (an advisory's findings depend on it
 * alone, so one that changed is decided without reading the workspaces' hundred others).
 */
export async function advisoryFindingContexts(
  tx: ManagedTransaction,
  ids: string[],
  only?: string[],
): Promise<Map<string, AdvisoryFindingContext>> {
  const ws = await tx.run(
    `UNWIND $ids AS wid MATCH (w:Workspace {id: wid}) RETURN w.id AS id, w.org AS org, w.team AS team, w.vex AS vex`,
    { ids },
  );
  const exposure = await tx.run(
    `UNWIND $ids AS id
     MATCH (:Workspace {id: id})-[:LOCKS]->(v:Version)<-[:AFFECTS]-(a:Advisory)
     WHERE a.withdrawn IS NULL AND a.collection = 'crates'${only ? ' AND a.id IN $only' : ''}
     RETURN id, v.version AS version, a.id AS advisory`,
    { ids, only: only ?? [] },
  );
  const current = await tx.run(
    `UNWIND $ids AS ws
     MATCH (f:Finding {workspace: ws, kind: 'advisory'})${only ? ' WHERE f.advisory IN $only' : ''}
     RETURN ws, f.id AS id, f.state AS state, f.severity AS severity, f.score AS score, f.crate AS crate, f.version AS version, f.advisory AS advisoryId`,
    { ids, only: only ?? [] },
  );
  const wanted = [
    ...new Set([...exposure.records.map((r) => r.get('advisory') as string), ...current.records.map((r) => r.get('advisoryId') as string)]),
  ];
  const json = await tx.run(`UNWIND $ids AS id MATCH (a:Advisory {id: id}) RETURN a.id AS id, a.json AS json`, { ids: wanted });
  const advisories = new Map(json.records.map((r) => [r.get('id') as string, JSON.parse(r.get('json') as string) as Advisory]));
  const out = new Map<string, AdvisoryFindingContext>();
  for (const rec of ws.records) {
    out.set(rec.get('id') as string, {
      workspace: workspaceRefOf(rec, 'id'),
      exposure: [],
      current: [],
      vex: rec.get('vex') ? (JSON.parse(rec.get('vex') as string) as VexDocument[]) : [],
    });
  }
  for (const r of exposure.records) {
    const a = advisories.get(r.get('advisory') as string);
    if (a) out.get(r.get('id') as string)?.exposure.push({ version: r.get('version') as string, advisory: a });
  }
  for (const r of current.records) {
    const id = r.get('id') as string;
    const advisoryId = r.get('advisoryId') as string;
    out.get(r.get('ws') as string)?.current.push({
      id,
      state: r.get('state') as string,
      severity: r.get('severity') as FindingEvent['severity'],
      score: Number(r.get('score')),
      // (a finding stored before `crate` was written: the crate its id names)
      crate: (r.get('crate') as string | null) ?? id.split('|')[1] ?? '',
      version: r.get('version') as string,
      advisoryId,
      advisory: advisories.get(advisoryId) ?? null,
    });
  }
  return out;
}
