/**
 * Risk in the graph (pure): from what `Graph.riskInputs` read of a workspace — its open findings,
 * and the risk stored on it and on its LOCKS edges — what `Graph.writeRisk` must write. The rule is
 * shared `workspaceRisk` / `versionRisk` (`shared/src/risk.ts`); this only lays it out as
 * properties: `Workspace.risk`, `riskSeverity`, `riskWhy` (JSON) and the same three on each LOCKS
 * edge to a version with an open finding (null on the others).
 *
 * A workspace whose stored risk already reads as computed is left out, so a replay writes nothing
 * (and were it written, it would be the same values).
 */
import { workspaceRisk, type RiskFinding, type Severity } from '@cratewatch/shared';

/** A LOCKS edge's (or a workspace's) risk as stored. */
export interface StoredRisk {
  risk: number | null;
  severity: string | null;
  why: string | null;
}

export interface RiskInput {
  workspace: string;
  /** The workspace's open findings. */
  findings: RiskFinding[];
  stored: StoredRisk;
  /** The LOCKS edges that carry a risk now, by the version's crate and version. */
  edges: ({ crate: string; version: string } & StoredRisk)[];
}

export interface VersionRiskRow {
  crate: string;
  version: string;
  risk: number;
  severity: Severity;
  why: string;
}

export interface RiskRow {
  id: string;
  risk: number;
  severity: Severity;
  why: string;
  /** The versions with an open finding whose risk is to be written (from `riskWrites`: only those that moved). */
  versions: VersionRiskRow[];
  /** LOCKS edges that carry a risk and have no open finding any more: set to null. */
  cleared: { crate: string; version: string }[];
}

const keyOf = (v: { crate: string; version: string }) => `${v.crate}\u0000${v.version}`;
const sameRisk = (s: StoredRisk, d: { risk: number; severity: string; why: string }) =>
  s.risk === d.risk && s.severity === d.severity && s.why === d.why;

/** The row to write for a workspace: its risk and its versions' (always; see `riskWrites`). */
export function riskRow(input: Pick<RiskInput, 'workspace' | 'findings'>): RiskRow {
  const r = workspaceRisk(input.findings);
  return {
    id: input.workspace,
    risk: r.score,
    severity: r.severity,
    why: JSON.stringify(r.why),
    versions: r.versions.map((v) => ({
      crate: v.crate,
      version: v.version,
      risk: v.score,
      severity: v.severity,
      why: JSON.stringify(v.why),
    })),
    cleared: [],
  };
}

/** The rows to write: one per workspace whose stored risk differs from what its open findings give. */
export function riskWrites(inputs: RiskInput[]): RiskRow[] {
  return inputs.flatMap((i) => {
    const row = riskRow(i);
    // Only the edges that move: an advisory reaching half the org changes one version of each
    // workspace, not the hundred others that carry a risk. Numbers compared exactly: both sides are
    // rounded to one decimal.
    const stored = new Map(i.edges.map((e) => [keyOf(e), e]));
    const wanted = new Set(row.versions.map(keyOf));
    const moved = row.versions.filter((v) => {
      const e = stored.get(keyOf(v));
      return !e || !sameRisk(e, v);
    });
    const cleared = i.edges.filter((e) => !wanted.has(keyOf(e))).map((e) => ({ crate: e.crate, version: e.version }));
    // Stored exactly as it would be written (two edges under one key are rewritten): nothing to write.
    if (sameRisk(i.stored, row) && stored.size === i.edges.length && moved.length === 0 && cleared.length === 0) return [];
    return [{ ...row, versions: moved, cleared }];
  });
}
