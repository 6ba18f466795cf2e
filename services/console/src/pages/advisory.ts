/**
 * The Advisory page: the advisory, and per workspace of the scope that locks an affected version
 * its exposure: the scorer's finding state and the VEX statement that suppresses it, if one does
 * (a `not_affected` / `fixed` statement resolves the finding, and its `why` says which).
 */
import { LABELS as L, NODE_PROPS, REL_TYPES as R, type AccessScope } from '@cratewatch/shared';
import { inScopeWhere, type Reader } from '../reader.js';
import { vexOf } from './workspace.js';

const W = NODE_PROPS.Workspace;
const VN = NODE_PROPS.Version;
const A = NODE_PROPS.Advisory;
const F = NODE_PROPS.Finding;

export function exposureOf(state: unknown, vex: { signal: string } | null): string {
  if (state === 'resolved' && vex) return 'suppressed by VEX';
  if (state === 'open') return 'exposed';
  if (state === 'resolved') return 'resolved';
  return 'no finding yet';
}

export async function advisoryPage(reader: Reader, scope: AccessScope, id: string) {
  const [a] = await reader.rows(
    scope,
    `MATCH (a:${L.Advisory} {${A.id}: $id})
     RETURN a.${A.id} AS id, a.${A.package} AS crate, a.${A.title} AS title, a.${A.date} AS date, a.${A.cvss} AS cvss,
            a.${A.aliases} AS aliases, a.${A.patched} AS patched, a.${A.unaffected} AS unaffected,
            a.${A.informational} AS informational, a.${A.withdrawn} AS withdrawn`,
    { id },
  );
  if (!a) return undefined;
  const rows = await reader.rows(
    scope,
    `MATCH (a:${L.Advisory} {${A.id}: $id})-[:${R.AFFECTS}]->(v:${L.Version})<-[:${R.LOCKS}]-(w:${L.Workspace}) WHERE ${inScopeWhere('w')}
     OPTIONAL MATCH (f:${L.Finding} {${F.workspace}: w.${W.id}, ${F.kind}: 'advisory', ${F.crate}: v.${VN.crate}, ${F.version}: v.${VN.version}, ${F.advisory}: a.${A.id}})
     RETURN w.${W.id} AS workspace, w.${W.team} AS team, v.${VN.version} AS version, f.${F.state} AS state,
            f.${F.severity} AS severity, f.${F.score} AS score, f.${F.why} AS why
     ORDER BY workspace, version`,
    { id },
  );
  const exposure = rows.map(({ why, ...r }) => {
    const vex = vexOf(why);
    return { ...r, vex, exposure: exposureOf(r.state, vex) };
  });
  return { advisory: a, exposure };
}
