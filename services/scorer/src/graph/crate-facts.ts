/**
 * What the graph holds about a crate for maintainer risk: its owners (`Maintainer-OWNS->Crate`), its
 * repository and that repository's signals (`Crate-HOSTED_AT->Repository`), its releases
 * (`Crate-HAS_VERSION->Version`), the stamp its maintainer findings were last decided with, and the
 * workspaces and findings a change of them reaches.
 */
import type { ManagedTransaction } from 'neo4j-driver';
import { CRATES_IO_SOURCE } from '@cratewatch/shared';
import type { MaintainerRow, ReleaseRow } from '../fact-rows.js';
import type { CrateFactsRow, LockedCrate } from '../decide-maintainer.js';
import { collected, workspaceRefOf } from './records.js';
import { workspacesLocking } from './workspace-locks.js';

/**
 * Replaces each crate's owners (`(Maintainer)-[:OWNS]->(Crate)`) and hosting
 * (`(Crate)-[:HOSTED_AT]->(Repository)`, the repository's signals as its properties). A maintainer
 * or repository left with no crate is deleted.
 */
export async function replaceMaintainers(tx: ManagedTransaction, rows: MaintainerRow[]): Promise<void> {
  if (rows.length === 0) return;
  const params = rows.map((r) => ({ ...r, logins: r.owners.map((o) => o.login) }));
  const dropped = await tx.run(
    `UNWIND $rows AS r
     MERGE (c:Crate {name: r.crate})
     SET c += r.crateProps
     WITH c, r
     OPTIONAL MATCH (m:Maintainer)-[o:OWNS]->(c) WHERE NOT m.login IN r.logins
     DELETE o
     RETURN collect(DISTINCT m.login) AS logins`,
    { rows: params },
  );
  await tx.run(
    `UNWIND $rows AS r
     MATCH (c:Crate {name: r.crate})
     UNWIND r.owners AS o
     MERGE (m:Maintainer {login: o.login})
     SET m.kind = o.kind
     MERGE (m)-[e:OWNS]->(c)
     SET e.since = o.since`,
    { rows: params },
  );
  await tx.run(`MATCH (m:Maintainer) WHERE m.login IN $logins AND NOT (m)-[:OWNS]->() DELETE m`, {
    logins: collected(dropped, 'logins'),
  });
  const unhosted = await tx.run(
    `UNWIND $rows AS r
     MATCH (c:Crate {name: r.crate})-[h:HOSTED_AT]->(p:Repository) WHERE r.repo IS NULL OR p.url <> r.repo
     DELETE h
     RETURN collect(DISTINCT p.url) AS urls`,
    { rows: params },
  );
  await tx.run(
    `UNWIND $rows AS r
     WITH r WHERE r.repo IS NOT NULL
     MATCH (c:Crate {name: r.crate})
     MERGE (p:Repository {url: r.repo})
     SET p = r.repoProps
     MERGE (c)-[:HOSTED_AT]->(p)`,
    { rows: params },
  );
  await tx.run(`MATCH (p:Repository) WHERE p.url IN $urls AND NOT ()-[:HOSTED_AT]->(p) DELETE p`, {
    urls: collected(unhosted, 'urls'),
  });
}

/** Writes released versions (`(Crate)-[:HAS_VERSION]->(Version)`); LOCKS and DEPENDS_ON are untouched. */
export async function upsertReleases(tx: ManagedTransaction, rows: ReleaseRow[]): Promise<void> {
  if (rows.length === 0) return;
  await tx.run(
    `UNWIND $rows AS r
     MERGE (c:Crate {name: r.crate})
     MERGE (v:Version {id: r.crate + '@' + r.version})
       ON CREATE SET v.source = $source
     SET v.crate = r.crate, v.version = r.version, v.yanked = r.yanked,
         v.publishedAt = coalesce(r.publishedAt, v.publishedAt),
         v.checksum = coalesce(r.checksum, v.checksum),
         v.publisher = coalesce(r.publisher, v.publisher)
     MERGE (c)-[:HAS_VERSION]->(v)`,
    { rows, source: CRATES_IO_SOURCE },
  );
}

/**
 * What the graph holds about these crates for maintainer risk: the maintainers source's
 * observation (owners, ownership change, repository and its signals) and the releases with a
 * publish time.
 */
export async function crateFacts(tx: ManagedTransaction, crates: string[]): Promise<CrateFactsRow[]> {
  if (crates.length === 0) return [];
  const r = await tx.run(
    `UNWIND $crates AS name
     MATCH (c:Crate {name: name})
     RETURN c.name AS crate, c.maintainersObservedAt AS observedAt,
            c.ownershipChange AS ownershipChange, c.ownershipChangeObservedAt AS ownershipChangeObservedAt,
            [(m:Maintainer)-[:OWNS]->(c) | m {.login, .kind}] AS owners,
            head([(c)-[:HOSTED_AT]->(p:Repository) | properties(p)]) AS repo,
            [(c)-[:HAS_VERSION]->(v:Version) WHERE v.publishedAt IS NOT NULL | v {.version, .publishedAt, .publisher, .yanked}] AS releases,
            c.maintainerDecided AS decided`,
    { crates },
  );
  return r.records.map((rec) => rec.toObject() as CrateFactsRow);
}

/** Records on each Crate the `maintainerDecisionStamp` every workspace locking it was just decided with. */
export async function markMaintainerDecided(tx: ManagedTransaction, rows: { crate: string; stamp: string }[]): Promise<void> {
  if (rows.length) await tx.run(`UNWIND $rows AS r MATCH (c:Crate {name: r.crate}) SET c.maintainerDecided = r.stamp`, { rows });
}

/**
 * The crates.io versions locked in a scope, with their workspace: one workspace's, or every
 * workspace's versions of some crates (what a maintainers or release event touches).
 */
export async function lockedCrates(
  tx: ManagedTransaction,
  scope: { workspace: string } | { crates: string[] },
  sources: string[],
): Promise<LockedCrate[]> {
  const r =
    'workspace' in scope
      ? await tx.run(
          `MATCH (w:Workspace {id: $id})-[l:LOCKS]->(v:Version) WHERE v.source IN $sources AND NOT coalesce(l.firstParty, false)
           RETURN w.id AS id, w.org AS org, w.team AS team, v.crate AS crate, v.version AS version`,
          { id: scope.workspace, sources },
        )
      : await tx.run(
          `UNWIND $crates AS name
           MATCH (:Crate {name: name})-[:HAS_VERSION]->(v:Version)<-[l:LOCKS]-(w:Workspace)
           WHERE v.source IN $sources AND NOT coalesce(l.firstParty, false)
           RETURN w.id AS id, w.org AS org, w.team AS team, v.crate AS crate, v.version AS version`,
          { crates: scope.crates, sources },
        );
  return r.records.map((rec) => {
    return {
      workspace: workspaceRefOf(rec, 'id'),
      crate: rec.get('crate') as string,
      version: rec.get('version') as string,
    };
  });
}

/** The workspaces a maintainer recompute of these crates decides for: those locking them, and those with a maintainer finding on them. */
export async function maintainerScope(tx: ManagedTransaction, crates: string[]): Promise<string[]> {
  const r = await tx.run(
    `UNWIND $crates AS name MATCH (f:Finding {crate: name, kind: 'maintainer'}) RETURN collect(DISTINCT f.workspace) AS ws`,
    { crates },
  );
  return [...new Set([...(await workspacesLocking(tx, crates)), ...collected(r, 'ws')])];
}
