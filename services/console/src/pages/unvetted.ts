/**
 * The unvetted list by impact (the audit plan, until the audit-planning issue lands): each
 * crate-version no trusted audit vets in some workspace of the scope, ranked by how much vetting it
 * would settle — the highest score of its open unvetted findings (the scorer's impact rule:
 * build-time, direct, dependents), then how many workspaces lock it — with the audit cargo-vet
 * would suggest.
 */
import neo4j from 'neo4j-driver';
import { LABELS as L, NODE_PROPS, REL_PROPS, REL_TYPES as R, VET_STATUSES as V, type AccessScope } from '@cratewatch/shared';
import { inScopeWhere, type Reader } from '../reader.js';
import { json } from './workspace.js';

const W = NODE_PROPS.Workspace;
const VN = NODE_PROPS.Version;
const F = NODE_PROPS.Finding;
const LK = REL_PROPS.LOCKS;

export async function unvettedPage(reader: Reader, scope: AccessScope, limit: number) {
  const { rows, truncated } = await reader.read(
    scope,
    `MATCH (w:${L.Workspace})-[l:${R.LOCKS}]->(v:${L.Version}) WHERE ${inScopeWhere('w')} AND l.${LK.vetted} IN ['${V.unvetted}', '${V.violation}']
     OPTIONAL MATCH (f:${L.Finding} {${F.workspace}: w.${W.id}, ${F.kind}: 'unvetted', ${F.crate}: v.${VN.crate}, ${F.version}: v.${VN.version}, ${F.state}: 'open'})
     WITH v, collect(DISTINCT w.${W.id}) AS workspaces, max(f.${F.score}) AS score, collect(f.${F.vet})[0] AS vet,
          collect(DISTINCT l.${LK.vetted}) AS statuses
     RETURN v.${VN.crate} AS crate, v.${VN.version} AS version, size(workspaces) AS workspaceCount, workspaces,
            coalesce(score, 0) AS impact, vet, '${V.violation}' IN statuses AS violation
     ORDER BY impact DESC, workspaceCount DESC, crate, version LIMIT $limit`,
    { limit: neo4j.int(limit) },
  );
  return {
    truncated,
    rows: rows.map(({ vet, ...r }) => ({
      ...r,
      suggestion: json<{ suggestion?: { command: string } }>(vet)?.suggestion?.command ?? null,
    })),
  };
}
