/**
 * Risk: one score per locked crate-version and one per workspace, each showing every signal's
 * contribution (docs/ARCHITECTURE.md, "What the scorer computes", last bullet). Pure: the scorer reads a
 * workspace's open findings from the graph and writes what these return.
 *
 * The rule, and why:
 * - **A crate-version** (`versionRisk`, its open findings in one workspace): the highest open
 *   finding's score, plus 1 when open findings of two or more different kinds hit it (compound
 *   risk: an unvetted crate that also has an advisory, or a flagged maintainer's crate with an
 *   advisory, is worse than either alone — nobody checked the code that is known to be broken), at
 *   most 10. The highest and not the sum: several findings of one kind (two advisories on one
 *   version) are one fix (an upgrade), and summing would let many low findings outrank one critical.
 * - **A workspace** (`workspaceRisk`, all its open findings): its riskiest crate-version, plus 0.5 for
 *   each further crate-version that is high or critical, at most +2 (breadth: four more such
 *   versions), at most 10. A workspace is as exposed as its worst dependency; breadth only orders
 *   workspaces with the same worst case (ten high versions mean more work and more ways in than
 *   one), so it is bounded and never turns many mediums into a critical.
 * - **Severity**: shared `severityOfScore` (the CVSS bands advisory findings use: critical ≥ 9,
 *   high ≥ 7, medium ≥ 4, low > 0, else info), never milder than the most severe open finding it
 *   sums up (a cargo-vet violation is a high finding at score 6: its version is high too).
 * - Scores are rounded to one decimal, as finding scores are, so the same findings always give the
 *   same numbers and a replay writes the same values. Resolved findings count for nothing.
 * - `why` is deterministic (sorted), so equal inputs give equal JSON whatever order the graph
 *   returned the findings in.
 */
import type { FindingEvent } from './events.js';
import { SEVERITY_ORDER, severityOfScore, type Severity } from './severity.js';

export type Why = FindingEvent['why'];

/** What risk needs of a finding: a stored Finding node or a finding event fits. */
export interface RiskFinding {
  kind: string;
  state: string;
  score: number;
  severity?: string | null;
  crate: string;
  version: string;
  /** The advisory's id, for an advisory finding (a Finding node's `advisory`; an event's `advisory.id`). */
  advisory?: string | { id: string } | null;
  /** An unvetted finding's `vet` block (what is missing). */
  vet?: { status?: string; missing?: string[]; needs?: string[] } | null;
  why?: Why | null;
}

export interface VersionRisk {
  crate: string;
  version: string;
  score: number;
  severity: Severity;
  why: Why;
}

export interface WorkspaceRisk {
  score: number;
  severity: Severity;
  why: Why;
  /** Each crate-version with an open finding, riskiest first (then by crate, version). */
  versions: VersionRisk[];
}

/** Added to a version's highest finding when open findings of two or more kinds hit it. */
export const COMPOUND_BONUS = 1;
/** Added to a workspace's top version per further high/critical version ... */
export const BREADTH_STEP = 0.5;
/** ... at most this much. */
export const BREADTH_MAX = 2;

const round1 = (x: number) => Math.round(x * 10) / 10;
const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const rank = (s: string | null | undefined) => SEVERITY_ORDER.indexOf(s as Severity);

/** The more severe of a score's band and the given severities. */
function severityOf(score: number, floors: (string | null | undefined)[]): Severity {
  let s = severityOfScore(score);
  for (const f of floors) if (rank(f) > rank(s)) s = f as Severity;
  return s;
}

/** A finding in one short line: the advisory id, what cargo-vet misses, the maintainer signals. */
export function findingDetail(f: RiskFinding): string {
  const why = f.why ?? [];
  if (f.kind === 'advisory') {
    const id = typeof f.advisory === 'string' ? f.advisory : f.advisory?.id;
    const first = why[0]?.detail;
    if (first && (!id || first.startsWith(id))) return first;
    return id ?? first ?? 'advisory';
  }
  if (f.kind === 'unvetted') {
    const impact = why.filter((w) => w.signal.startsWith('impact.')).map((w) => w.signal.slice('impact.'.length));
    const violation = f.vet?.status === 'violation' || why.some((w) => w.signal === 'vet.violation');
    const missing = f.vet?.missing?.length ? f.vet.missing : f.vet?.needs?.length ? f.vet.needs : undefined;
    const head = violation
      ? 'a trusted audit records a violation'
      : missing
        ? `no audit for ${missing.join(', ')}`
        : (why[0]?.detail ?? 'unvetted');
    return impact.length ? `${head} (${impact.join(', ')})` : head;
  }
  if (f.kind === 'maintainer') {
    const signals = why.filter((w) => w.contribution > 0).map((w) => w.signal);
    return signals.length ? `maintainer risk: ${signals.join(', ')}` : 'maintainer risk';
  }
  return why[0]?.detail ?? f.kind;
}

const byContribution = (a: Why[number], b: Why[number]) =>
  b.contribution - a.contribution || cmp(a.signal, b.signal) || cmp(a.detail, b.detail);

/**
 * The risk of one crate-version in one workspace, from its open findings (others are ignored):
 * the highest score, +1 when two or more kinds of finding hit it, at most 10.
 */
export function versionRisk(findings: RiskFinding[]): VersionRisk {
  const open = findings.filter((f) => f.state === 'open');
  const first = open[0] ?? findings[0];
  const at = { crate: first?.crate ?? '', version: first?.version ?? '' };
  if (open.length === 0) return { ...at, score: 0, severity: 'info', why: [] };
  const why: Why = open.map((f) => ({ signal: `finding.${f.kind}`, contribution: f.score, detail: findingDetail(f) })).sort(byContribution);
  const kinds = new Set(open.map((f) => f.kind)).size;
  const top = Math.max(...open.map((f) => f.score));
  const compound = kinds >= 2 ? COMPOUND_BONUS : 0;
  if (compound) why.push({ signal: 'risk.compound', contribution: compound, detail: `${kinds} kinds of finding on one version` });
  const score = round1(Math.min(10, top + compound));
  return {
    ...at,
    score,
    severity: severityOf(
      score,
      open.map((f) => f.severity),
    ),
    why,
  };
}

/** Each crate-version's risk, from a workspace's findings (resolved ones ignored): riskiest first, then by crate and version. */
export function versionRisks(findings: RiskFinding[]): VersionRisk[] {
  const groups = new Map<string, RiskFinding[]>();
  for (const f of findings) {
    if (f.state !== 'open') continue;
    const key = `${f.crate}\u0000${f.version}`;
    groups.set(key, [...(groups.get(key) ?? []), f]);
  }
  return [...groups.values()].map(versionRisk).sort((a, b) => b.score - a.score || cmp(a.crate, b.crate) || cmp(a.version, b.version));
}

/**
 * The risk of a workspace, from its open findings (resolved ones ignored): its riskiest
 * crate-version, +0.5 for each further high/critical one (at most +2), at most 10. `why`: the top
 * version (`risk.top`), the breadth (`risk.breadth`), and the open findings counted by kind
 * (`open.<kind>`, no contribution). No open finding: 0, info, no why.
 */
export function workspaceRisk(findings: RiskFinding[]): WorkspaceRisk {
  const versions = versionRisks(findings);
  const top = versions[0];
  if (!top) return { score: 0, severity: 'info', why: [], versions: [] };
  const more = versions.slice(1).filter((v) => v.severity === 'high' || v.severity === 'critical').length;
  const breadth = Math.min(BREADTH_MAX, BREADTH_STEP * more);
  const score = round1(Math.min(10, top.score + breadth));
  const rest = top.why.slice(1).map((w) => w.signal);
  const why: Why = [
    {
      signal: 'risk.top',
      contribution: top.score,
      detail: `${top.crate} ${top.version}: ${top.why[0]!.detail}${rest.length ? ` (+ ${rest.join(', ')})` : ''}`,
    },
    {
      signal: 'risk.breadth',
      contribution: breadth,
      detail: `${more} more high/critical version${more === 1 ? '' : 's'}${BREADTH_STEP * more > BREADTH_MAX ? ` (at most +${BREADTH_MAX})` : ''}`,
    },
  ];
  const counts = new Map<string, number>();
  for (const f of findings) if (f.state === 'open') counts.set(f.kind, (counts.get(f.kind) ?? 0) + 1);
  for (const kind of [...counts.keys()].sort(cmp)) {
    const n = counts.get(kind)!;
    why.push({ signal: `open.${kind}`, contribution: 0, detail: `${n} open ${kind} finding${n === 1 ? '' : 's'}` });
  }
  return { score, severity: severityOf(score, [top.severity]), why, versions };
}
