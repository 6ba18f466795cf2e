/**
 * What the audit pools publish, in the graph: each (pool, crate)'s audits, wildcard audits, trusted
 * entries and violations (`Pool-PUBLISHED->Audit-CERTIFIES->Version`), each pool's criteria
 * (`Criteria-IMPLIES->Criteria`), and the entries of the trusted pools read back for coverage.
 */
import type { ManagedTransaction } from 'neo4j-driver';
import { CRATES_IO_SOURCE } from '@cratewatch/shared';
import type { AuditRow, CriteriaSet, PoolCrateSet } from '../fact-rows.js';
import type { TrustedPoolData } from '../decide-coverage.js';
import { collected } from './records.js';

/** MERGEs the Pool nodes of these sets; an empty url (a tombstone's event) keeps the one known. */
async function mergePools(tx: ManagedTransaction, sets: { pool: string; url: string }[]): Promise<void> {
  const pools = [...new Map(sets.map((s) => [s.pool, { name: s.pool, url: s.url }])).values()];
  await tx.run(`UNWIND $pools AS p MERGE (n:Pool {name: p.name}) SET n.url = CASE WHEN p.url = '' THEN n.url ELSE p.url END`, { pools });
}

/**
 * Replaces each (pool, crate)'s audits with the given set: audits of that pair not in the set are
 * deleted, the others MERGEd by their content-derived id, and each linked to the version it
 * certifies (a full audit's version, a delta's target; the Version node is MERGEd so a workspace
 * that locks it later links up).
 */
export async function replacePoolCrates(tx: ManagedTransaction, sets: PoolCrateSet[]): Promise<void> {
  if (sets.length === 0) return;
  await mergePools(tx, sets);
  await tx.run(
    `UNWIND $groups AS g
     MATCH (a:Audit {pool: g.pool, crate: g.crate}) WHERE NOT a.id IN g.ids
     DETACH DELETE a`,
    { groups: sets.map((s) => ({ pool: s.pool, crate: s.crate, ids: s.audits.map((a) => a.id) })) },
  );
  const audits: AuditRow[] = sets.flatMap((s) => s.audits);
  if (audits.length === 0) return;
  await tx.run(
    `UNWIND $audits AS x
     MATCH (p:Pool {name: x.pool})
     MERGE (a:Audit {id: x.id})
     SET a += x.props
     MERGE (p)-[:PUBLISHED]->(a)`,
    { audits: audits.map((a) => ({ id: a.id, pool: a.props.pool, props: a.props })) },
  );
  const links = audits.filter((a) => a.certifies !== undefined).map((a) => ({ audit: a.id, crate: a.props.crate, version: a.certifies! }));
  await dropStaleCertifies(tx, audits, links);
  await mergeVersions(
    tx,
    links.map((l) => ({ crate: l.crate, version: l.version })),
  );
  await tx.run(
    `UNWIND $links AS l
     MATCH (a:Audit {id: l.audit}), (v:Version {id: l.crate + '@' + l.version})
     MERGE (a)-[:CERTIFIES]->(v)`,
    { links },
  );
}

/**
 * Removes CERTIFIES edges of these audits that their rows no longer ask for. An Audit's id comes
 * from its entry, so this only happens when the reading of an entry changed: a git audit
 * (`0.1.5@git:<commit>`) was once written as certifying a Version `oneshot@0.1.5@git:<commit>`.
 * Such a Version, named by no release and locked by no workspace, is deleted with its AFFECTS.
 */
async function dropStaleCertifies(
  tx: ManagedTransaction,
  audits: AuditRow[],
  links: { audit: string; crate: string; version: string }[],
): Promise<void> {
  const wanted = new Map(links.map((l) => [l.audit, `${l.crate}@${l.version}`]));
  const rows = audits.map((a) => ({ audit: a.id, keep: wanted.get(a.id) ?? null }));
  const r = await tx.run(
    `UNWIND $rows AS r
     MATCH (:Audit {id: r.audit})-[c:CERTIFIES]->(v:Version) WHERE r.keep IS NULL OR v.id <> r.keep
     DELETE c
     RETURN collect(DISTINCT v.id) AS ids`,
    { rows },
  );
  const ids = collected(r, 'ids');
  if (ids.length === 0) return;
  await tx.run(
    `UNWIND $ids AS id
     MATCH (v:Version {id: id}) WHERE v.yanked IS NULL AND v.publishedAt IS NULL AND NOT (v)<-[:LOCKS]-() AND NOT (v)<-[:CERTIFIES]-()
     DETACH DELETE v`,
    { ids },
  );
}

/**
 * MERGEs crates.io Version nodes (id `name@version`) and their crate's HAS_VERSION edge; a node
 * that exists (say, locked by a workspace) keeps its properties and LOCKS.
 */
export async function mergeVersions(tx: ManagedTransaction, versions: { crate: string; version: string }[]): Promise<void> {
  if (versions.length === 0) return;
  await tx.run(
    `UNWIND $versions AS r
     MERGE (c:Crate {name: r.crate})
     MERGE (v:Version {id: r.crate + '@' + r.version})
       ON CREATE SET v.crate = r.crate, v.version = r.version, v.source = $source
     MERGE (c)-[:HAS_VERSION]->(v)`,
    { versions, source: CRATES_IO_SOURCE },
  );
}

/**
 * Replaces each pool's criteria definitions: `(Criteria {id: pool/name})-[:IMPLIES]->(Criteria)`.
 * A criterion only implied (a built-in such as safe-to-run) exists with `defined: false` while
 * something implies it; one no longer defined nor implied is deleted.
 */
export async function replaceCriteria(tx: ManagedTransaction, sets: CriteriaSet[]): Promise<void> {
  if (sets.length === 0) return;
  await mergePools(tx, sets);
  const idOf = (pool: string, name: string) => `${pool}/${name}`;
  const rows = sets.map((s) => ({
    pool: s.pool,
    ids: s.criteria.map((c) => idOf(s.pool, c.name)),
    pairs: s.criteria.flatMap((c) => c.implies.map((i) => `${idOf(s.pool, c.name)}>${idOf(s.pool, i)}`)),
  }));
  await tx.run(
    `UNWIND $rows AS r
     MATCH (a:Criteria {pool: r.pool})-[e:IMPLIES]->(b:Criteria) WHERE NOT (a.id + '>' + b.id) IN r.pairs
     DELETE e`,
    { rows },
  );
  const defs = sets.flatMap((s) =>
    s.criteria.map((c) => ({
      id: idOf(s.pool, c.name),
      pool: s.pool,
      name: c.name,
      description: c.description ?? null,
      descriptionUrl: c.descriptionUrl ?? null,
      aggregatedFrom: c.aggregatedFrom,
    })),
  );
  await tx.run(
    `UNWIND $defs AS d
     MERGE (c:Criteria {id: d.id})
     SET c.pool = d.pool, c.name = d.name, c.description = d.description, c.descriptionUrl = d.descriptionUrl,
         c.aggregatedFrom = d.aggregatedFrom, c.defined = true`,
    { defs },
  );
  const implies = sets.flatMap((s) =>
    s.criteria.flatMap((c) => c.implies.map((i) => ({ from: idOf(s.pool, c.name), to: idOf(s.pool, i), pool: s.pool, name: i }))),
  );
  await tx.run(
    `UNWIND $implies AS i
     MATCH (a:Criteria {id: i.from})
     MERGE (b:Criteria {id: i.to}) ON CREATE SET b.pool = i.pool, b.name = i.name, b.defined = false
     MERGE (a)-[:IMPLIES]->(b)`,
    { implies },
  );
  await tx.run(
    `UNWIND $rows AS r
     MATCH (c:Criteria {pool: r.pool}) WHERE NOT c.id IN r.ids
     SET c.defined = false
     WITH c WHERE NOT ()-[:IMPLIES]->(c)
     DETACH DELETE c`,
    { rows },
  );
}

/**
 * What trusted pools record for these crates: each entry as the pool wrote it (`table`, `entry`),
 * and each pool's criteria definitions with what they imply.
 */
export async function trustedPoolEntries(tx: ManagedTransaction, pools: string[], crates: string[]): Promise<TrustedPoolData> {
  if (pools.length === 0) return { entries: [], criteria: [] };
  const e = await tx.run(
    `MATCH (a:Audit) WHERE a.pool IN $pools AND a.crate IN $crates AND a.entry IS NOT NULL
     RETURN a.pool AS pool, a.crate AS crate, a.table AS table, a.entry AS entry ORDER BY a.id`,
    { pools, crates },
  );
  const c = await tx.run(
    `MATCH (c:Criteria) WHERE c.pool IN $pools AND c.defined
     OPTIONAL MATCH (c)-[:IMPLIES]->(i:Criteria)
     RETURN c.pool AS pool, c.name AS name, c.description AS description, c.descriptionUrl AS descriptionUrl, collect(i.name) AS implies`,
    { pools },
  );
  return {
    entries: e.records.map((r) => r.toObject() as TrustedPoolData['entries'][number]),
    criteria: c.records.map((r) => r.toObject() as TrustedPoolData['criteria'][number]),
  };
}
