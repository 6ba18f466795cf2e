/**
 * The Crate page: every version the scope locks and where (with the cargo-vet verdict and the
 * audits it went through), the audits certifying each version (pool, who, criteria, full or delta
 * with its from → to), advisories affecting each, the maintainer signals (owners, repository
 * signals, ownership change) and the scope's maintainer findings, and the dependents graph: who
 * depends on it up to N hops, build-time edges marked. Only versions some workspace of the scope
 * locks appear in the graph, so a team never sees another team's dependency edges.
 */
import { LABELS as L, NODE_PROPS, REL_PROPS, REL_TYPES as R, type AccessScope } from '@cratewatch/shared';
import { inScopeWhere, type Reader } from '../reader.js';
import { json } from './workspace.js';

const W = NODE_PROPS.Workspace;
const C = NODE_PROPS.Crate;
const VN = NODE_PROPS.Version;
const AU = NODE_PROPS.Audit;
const A = NODE_PROPS.Advisory;
const F = NODE_PROPS.Finding;
const LK = REL_PROPS.LOCKS;

export const MAX_HOPS = 4;

async function locked(reader: Reader, scope: AccessScope, name: string) {
  return reader.rows(
    scope,
    `MATCH (:${L.Crate} {${C.name}: $name})-[:${R.HAS_VERSION}]->(v:${L.Version})<-[l:${R.LOCKS}]-(w:${L.Workspace}) WHERE ${inScopeWhere('w')}
     RETURN v.${VN.id} AS id, v.${VN.version} AS version, v.${VN.source} AS source, v.${VN.yanked} AS yanked,
            collect({workspace: w.${W.id}, team: w.${W.team}, vetted: l.${LK.vetted}, via: l.${LK.via}}) AS lockedBy
     ORDER BY version`,
    { name },
  );
}

async function audits(reader: Reader, scope: AccessScope, ids: string[]) {
  return reader.rows(
    scope,
    `UNWIND $ids AS vid MATCH (a:${L.Audit})-[:${R.CERTIFIES}]->(v:${L.Version} {${VN.id}: vid})
     RETURN vid AS version, a.${AU.pool} AS pool, a.${AU.who} AS who, a.${AU.criteria} AS criteria, a.${AU.kind} AS kind,
            a.${AU.deltaFrom} AS deltaFrom, a.${AU.deltaTo} AS deltaTo, a.${AU.notes} AS notes
     ORDER BY version, pool, kind`,
    { ids },
  );
}

async function advisories(reader: Reader, scope: AccessScope, ids: string[]) {
  return reader.rows(
    scope,
    `UNWIND $ids AS vid MATCH (a:${L.Advisory})-[:${R.AFFECTS}]->(:${L.Version} {${VN.id}: vid}) WHERE a.${A.withdrawn} IS NULL
     RETURN a.${A.id} AS id, a.${A.title} AS title, a.${A.date} AS date, a.${A.cvss} AS cvss, a.${A.patched} AS patched,
            collect(vid) AS versions ORDER BY id`,
    { ids },
  );
}

async function maintainers(reader: Reader, scope: AccessScope, name: string) {
  const [row] = await reader.rows(
    scope,
    `MATCH (c:${L.Crate} {${C.name}: $name})
     RETURN c.${C.ownerCount} AS ownerCount, c.${C.ownershipChange} AS ownershipChange, c.${C.maintainersObservedAt} AS observedAt,
            [(m:${L.Maintainer})-[:${R.OWNS}]->(c) | m {.login, .kind}] AS owners,
            head([(c)-[:${R.HOSTED_AT}]->(p:${L.Repository}) | properties(p)]) AS repository,
            [(f:${L.Finding} {${F.crate}: c.${C.name}, ${F.kind}: 'maintainer'})-[:${R.IN}]->(w:${L.Workspace}) WHERE ${inScopeWhere('w')} |
              {workspace: w.${W.id}, state: f.${F.state}, severity: f.${F.severity}, score: f.${F.score}, why: f.${F.why}}] AS findings`,
    { name },
  );
  if (!row) return null;
  return {
    ...row,
    ownershipChange: json(row.ownershipChange),
    findings: (row.findings as Record<string, unknown>[]).map((f) => ({ ...f, why: json(f.why) ?? [] })),
  };
}

export interface GraphView {
  nodes: { id: string; crate: string; version: string; root: boolean; hop: number }[];
  edges: { from: string; to: string; kind: string }[];
}

/** Who depends on these versions, hop by hop (one query a hop), within the scope's locked versions. */
export async function dependents(
  reader: Reader,
  scope: AccessScope,
  roots: { id: string; crate: string; version: string }[],
  hops: number,
) {
  const view: GraphView = { nodes: roots.map((r) => ({ ...r, root: true, hop: 0 })), edges: [] };
  const seen = new Set(roots.map((r) => r.id));
  let frontier = [...seen];
  for (let hop = 1; hop <= hops && frontier.length > 0; hop++) {
    const rows = await reader.rows(
      scope,
      `UNWIND $ids AS vid MATCH (d:${L.Version})-[e:${R.DEPENDS_ON}]->(:${L.Version} {${VN.id}: vid})
       WHERE EXISTS { MATCH (w:${L.Workspace})-[:${R.LOCKS}]->(d) WHERE ${inScopeWhere('w')} }
       RETURN d.${VN.id} AS id, d.${VN.crate} AS crate, d.${VN.version} AS version, vid AS to, e.${REL_PROPS.DEPENDS_ON.kind} AS kind`,
      { ids: frontier },
    );
    const next: string[] = [];
    for (const r of rows) {
      const id = String(r.id);
      view.edges.push({ from: id, to: String(r.to), kind: String(r.kind) });
      if (seen.has(id)) continue;
      seen.add(id);
      next.push(id);
      view.nodes.push({ id, crate: String(r.crate), version: String(r.version), root: false, hop });
    }
    frontier = next;
  }
  return view;
}

export async function cratePage(reader: Reader, scope: AccessScope, name: string, hops: number) {
  const versions = await locked(reader, scope, name);
  if (versions.length === 0) return undefined;
  const ids = versions.map((v) => String(v.id));
  const roots = versions.map((v) => ({ id: String(v.id), crate: name, version: String(v.version) }));
  return {
    crate: name,
    versions,
    audits: await audits(reader, scope, ids),
    advisories: await advisories(reader, scope, ids),
    maintainers: await maintainers(reader, scope, name),
    hops,
    graph: await dependents(reader, scope, roots, hops),
  };
}
