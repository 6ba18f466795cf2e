/**
 * The Workspace page and the list of workspaces: its risk and why (the scorer's `riskWhy`), its
 * coverage, its unvetted packages with the audit cargo-vet would suggest (from the unvetted
 * finding, when the scorer raised one: high impact), its advisory findings with patched versions
 * and VEX status, its maintainer findings. A workspace outside the caller's scope is not found.
 */
import { LABELS as L, NODE_PROPS, REL_PROPS, REL_TYPES as R, VET_STATUSES as V, type AccessScope } from '@cratewatch/shared';
import { inScopeWhere, type Reader } from '../reader.js';

const W = NODE_PROPS.Workspace;
const F = NODE_PROPS.Finding;
const VN = NODE_PROPS.Version;
const A = NODE_PROPS.Advisory;
const LK = REL_PROPS.LOCKS;

/** A stored JSON property read back (null when absent or unreadable). */
export function json<T>(x: unknown): T | null {
  if (typeof x !== 'string') return null;
  try {
    return JSON.parse(x) as T;
  } catch {
    return null;
  }
}

type Why = { signal: string; contribution: number; detail: string }[];

/** The VEX statement that decided an advisory finding, from its `why`. */
export const vexOf = (why: unknown): { signal: string; detail: string } | null => {
  const w = (json<Why>(why) ?? []).find((x) => x.signal.startsWith('vex.'));
  return w ? { signal: w.signal, detail: w.detail } : null;
};

export async function workspaceList(reader: Reader, scope: AccessScope) {
  return reader.rows(
    scope,
    `MATCH (w:${L.Workspace}) WHERE ${inScopeWhere('w')}
     RETURN w.${W.id} AS id, w.${W.team} AS team, w.${W.risk} AS risk, w.${W.riskSeverity} AS severity,
            w.${W.vetThirdParty} AS thirdParty, w.${W.vetVetted} AS vetted, w.${W.vetExempted} AS exempted,
            w.${W.vetUnvetted} AS unvetted, w.${W.vetViolation} AS violation,
            size([(f:${L.Finding})-[:${R.IN}]->(w) WHERE f.${F.state} = 'open' | f]) AS openFindings
     ORDER BY coalesce(risk, -1) DESC, id`,
  );
}

async function header(reader: Reader, scope: AccessScope, id: string) {
  const [w] = await reader.rows(
    scope,
    `MATCH (w:${L.Workspace} {${W.id}: $id}) WHERE ${inScopeWhere('w')}
     RETURN w.${W.id} AS id, w.${W.org} AS org, w.${W.team} AS team, w.${W.observedAt} AS observedAt,
            w.${W.risk} AS risk, w.${W.riskSeverity} AS severity, w.${W.riskWhy} AS why,
            w.${W.vetConclusion} AS conclusion, w.${W.vetThirdParty} AS thirdParty, w.${W.vetVetted} AS vetted,
            w.${W.vetExempted} AS exempted, w.${W.vetUnvetted} AS unvetted, w.${W.vetViolation} AS violation,
            w.${W.vetTrustedPools} AS trustedPools, w.${W.vetKindsKnown} AS kindsKnown`,
    { id },
  );
  return w;
}

async function unvetted(reader: Reader, scope: AccessScope, id: string) {
  const rows = await reader.rows(
    scope,
    `MATCH (w:${L.Workspace} {${W.id}: $id})-[l:${R.LOCKS}]->(v:${L.Version}) WHERE ${inScopeWhere('w')}
       AND l.${LK.vetted} IN ['${V.unvetted}', '${V.violation}']
     OPTIONAL MATCH (f:${L.Finding} {${F.workspace}: w.${W.id}, ${F.kind}: 'unvetted', ${F.crate}: v.${VN.crate}, ${F.version}: v.${VN.version}})
     RETURN v.${VN.crate} AS crate, v.${VN.version} AS version, l.${LK.vetted} AS status, l.${LK.needs} AS needs,
            f.${F.state} AS findingState, f.${F.score} AS score, f.${F.severity} AS severity, f.${F.vet} AS vet
     ORDER BY coalesce(score, 0) DESC, crate, version`,
    { id },
  );
  return rows.map(({ vet, ...r }) => {
    const v = json<{ suggestion?: { command: string; kind: string; from?: string; to: string } }>(vet);
    return { ...r, suggestion: v?.suggestion ?? null };
  });
}

async function findingsOf(reader: Reader, scope: AccessScope, id: string, kind: 'advisory' | 'maintainer') {
  return reader.rows(
    scope,
    `MATCH (f:${L.Finding} {${F.workspace}: $id, ${F.kind}: $kind})-[:${R.IN}]->(w:${L.Workspace}) WHERE ${inScopeWhere('w')}
     OPTIONAL MATCH (a:${L.Advisory} {${A.id}: f.${F.advisory}})
     RETURN f.${F.id} AS id, f.${F.state} AS state, f.${F.severity} AS severity, f.${F.score} AS score, f.${F.crate} AS crate,
            f.${F.version} AS version, f.${F.advisory} AS advisory, a.${A.title} AS title, a.${A.patched} AS patched,
            f.${F.why} AS why, f.${F.maintainer} AS maintainer, f.${F.observedAt} AS observedAt
     ORDER BY state DESC, score DESC, crate`,
    { id, kind },
  );
}

export async function workspacePage(reader: Reader, scope: AccessScope, id: string) {
  const w = await header(reader, scope, id);
  if (!w) return undefined;
  const { why, ...head } = w;
  const advisories = (await findingsOf(reader, scope, id, 'advisory')).map(({ why: fwhy, maintainer: _m, ...f }) => ({
    ...f,
    vex: vexOf(fwhy),
  }));
  const maintainers = (await findingsOf(reader, scope, id, 'maintainer')).map(({ why: fwhy, maintainer, ...f }) => ({
    ...f,
    why: json<Why>(fwhy) ?? [],
    maintainer: json<Record<string, unknown>>(maintainer),
  }));
  return {
    workspace: head,
    riskWhy: json<Why>(why) ?? [],
    unvetted: await unvetted(reader, scope, id),
    advisories,
    maintainers,
  };
}
