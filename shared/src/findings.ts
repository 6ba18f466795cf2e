/**
 * Findings: what the scorer raises for a workspace. Pure rules; the scorer does the I/O.
 */
import type { Advisory } from './advisory.js';
import { advisorySeverity, severityOfSignalScore } from './severity.js';
import type { FindingEvent } from './events.js';
import type { DepGraph } from './vet/graph.js';
import type { PackageVerdict } from './vet/resolver.js';
import { vexWhy, type VexMatch } from './vex.js';

export const findingId = (workspaceId: string, crate: string, version: string, kind: string): string =>
  `${workspaceId}|${crate}|${version}|${kind}`;

export interface WorkspaceRef {
  id: string;
  org: string;
  team?: string;
}

/**
 * The finding for a (workspace, advisory, locked version) hit. Informational kinds get lower
 * severity. `vex`: the workspace's VEX statement on the hit, told in `why` (`vex.<status>`, no
 * contribution) — an `affected` / `under_investigation` one on an open finding, a `not_affected` /
 * `fixed` one on the finding it resolves.
 */
export function advisoryFinding(
  ws: WorkspaceRef,
  advisory: Advisory,
  version: string,
  state: 'open' | 'resolved',
  observedAt: string,
  vex?: VexMatch,
): FindingEvent {
  const { severity, score, rating } = advisorySeverity(advisory);
  const detail = advisory.informational
    ? `${advisory.id} (${advisory.informational}): ${advisory.title}`
    : `${advisory.id}: ${advisory.title}${rating ? ` — CVSS ${rating.version}${rating.score !== undefined ? ` ${rating.score}` : ''}${rating.estimated ? ' (severity estimated)' : ''}` : ' — no CVSS given'}`;
  return {
    v: 1,
    id: findingId(ws.id, advisory.package, version, `advisory:${advisory.id}`),
    kind: 'advisory',
    state,
    severity,
    score,
    workspace: { id: ws.id, org: ws.org, ...(ws.team ? { team: ws.team } : {}) },
    crate: advisory.package,
    version,
    why: [
      { signal: advisory.informational ? `advisory.${advisory.informational}` : 'advisory.vulnerability', contribution: score, detail },
      ...(vex ? [vexWhy(vex)] : []),
    ],
    advisory: {
      id: advisory.id,
      title: advisory.title,
      url: `https://rustsec.org/advisories/${advisory.id}.html`,
      ...(advisory.informational ? { informational: advisory.informational } : {}),
      patched: advisory.versions.patched,
      aliases: advisory.aliases,
    },
    observedAt,
  };
}

/**
 * Whether a finding that should be open now must be sent (and written), given the one stored under
 * its id: yes when none is stored, when the stored one is not open (it opens or reopens), or when the
 * stored one is open with another severity or another score (it is re-sent: "rescored"). Named
 * `findingMoved` because it says whether the finding moved from where it was last told; the one
 * rule for every kind (advisory, unvetted, maintainer), so they cannot drift apart.
 *
 * The score is compared as a number, exactly: every finding score is rounded to one decimal where it
 * is computed (`unvettedScore`, `maintainerRisk`, CVSS 3.x scores rounded up to one decimal and the
 * fixed fallbacks of `advisorySeverity`), so the same inputs give the same number and Neo4j gives it
 * back as stored (a float64). A replay therefore sends nothing.
 *
 * What the finding says beside them (`why` details, `vet`, `maintainer`, an advisory's title or a VEX
 * statement's text) does NOT make it move on its own: those are re-worded without the risk changing
 * (a title edit, a suggested audit, a new release's date), and re-sending on each would alert on
 * every harmless re-wording. They show with the next send.
 */
export function findingMoved(
  desired: Pick<FindingEvent, 'severity' | 'score'>,
  stored: { state: string; severity?: string | null; score?: number | null } | undefined,
): boolean {
  if (!stored || stored.state !== 'open') return true;
  return stored.severity !== desired.severity || stored.score !== desired.score;
}

/**
 * The finding events that bring stored findings in line with the ones that should be open now, for
 * every kind alike: each desired one that moved (`findingMoved`: new, reopened or rescored), then
 * each stored open one no longer desired, resolved as `resolve` tells it (each kind says its own
 * resolution: with its advisory or VEX statement, what it said when it opened, …).
 */
export function findingChanges<S extends { id: string; state: string; severity?: string | null; score?: number | null }>(
  desired: Iterable<FindingEvent>,
  stored: readonly S[],
  resolve: (s: S) => FindingEvent,
): FindingEvent[] {
  const byId = new Map(stored.map((s) => [s.id, s]));
  const changes: FindingEvent[] = [];
  const wanted = new Set<string>();
  for (const f of desired) {
    wanted.add(f.id);
    if (findingMoved(f, byId.get(f.id))) changes.push(f);
  }
  for (const s of stored) if (s.state === 'open' && !wanted.has(s.id)) changes.push(resolve(s));
  return changes;
}

/** Where an unvetted version sits: the signals that make it matter (docs/ARCHITECTURE.md: impact of a crate). */
export interface Impact {
  /** Compiled for the host and run at build time (a build-dependency, or a dependency of one). */
  buildTime: boolean;
  /** A direct dependency of one of the workspace's own crates (not a dev-only one). */
  direct: boolean;
  /** Packages of the workspace that depend on it. */
  fanIn: number;
  /** Set when it is build-time code of its own (`cargo metadata` targets or its sources), whatever edge reaches it. */
  buildCode?: 'proc-macro' | 'build script';
}

/**
 * The impact of every package, from its workspace's dependency graph alone. How many of the org's
 * workspaces lock a crate is left out on purpose: it would make a workspace's findings depend on the
 * order workspaces arrive in, and a replayed event must change nothing (analysts see the reach with
 * `cratewatch query crate`).
 */
export function workspaceImpact(graph: DepGraph): Map<string, Impact> {
  const out = new Map<string, Impact>();
  for (const id of graph.nodes.keys()) out.set(id, { buildTime: false, direct: false, fanIn: 0 });
  const host: string[] = [];
  for (const n of graph.nodes.values()) {
    for (const d of n.deps) {
      const t = out.get(d.to)!;
      t.fanIn++;
      if (n.workspaceMember && d.kinds.some((k) => k !== 'dev')) t.direct = true;
      if (d.kinds.includes('build')) host.push(d.to);
    }
    // A proc-macro runs inside the compiler and a build script before the crate builds: build-time
    // code however it is reached (a normal edge to serde_derive too). A macro's dependencies run there with it.
    if (n.build?.procMacro) {
      out.get(n.id)!.buildCode = 'proc-macro';
      host.push(n.id);
    } else if (n.build?.buildScript) out.get(n.id)!.buildCode = 'build script';
  }
  // What a build-dependency pulls in is compiled for the host and runs at build time too.
  while (host.length) {
    const id = host.pop()!;
    const i = out.get(id)!;
    if (i.buildTime) continue;
    i.buildTime = true;
    for (const d of graph.nodes.get(id)!.deps) if (d.kinds.some((k) => k !== 'dev')) host.push(d.to);
  }
  // Its build script runs at build time; the crate's own normal dependencies are not host code for it.
  for (const i of out.values()) if (i.buildCode === 'build script') i.buildTime = true;
  return out;
}

const round1 = (x: number) => Math.round(x * 10) / 10;

/**
 * The score of an unvetted (or violating) version, signal by signal: what it misses, then where it
 * sits. Safe-to-deploy code runs in production, so missing it weighs more than missing safe-to-run;
 * a violation is a trusted auditor saying "do not use".
 */
export function unvettedScore(
  v: Pick<PackageVerdict, 'status' | 'missing' | 'required'>,
  impact: Impact,
): { score: number; severity: FindingEvent['severity']; why: FindingEvent['why'] } {
  const why: FindingEvent['why'] = [];
  const onlyRun = (v.missing.length ? v.missing : v.required).every((c) => c === 'safe-to-run');
  if (v.status === 'violation')
    why.push({ signal: 'vet.violation', contribution: 6, detail: 'a trusted audit records a violation for this version' });
  else {
    const needs = (v.missing.length ? v.missing : v.required).join(', ') || 'safe-to-deploy';
    why.push({ signal: 'vet.unvetted', contribution: onlyRun ? 2 : 3, detail: `no trusted audit or exemption gives it ${needs}` });
  }
  if (impact.buildTime)
    why.push({
      signal: 'impact.build-time',
      contribution: 2,
      detail:
        impact.buildCode === 'proc-macro'
          ? 'runs at build time (a proc-macro: inside the compiler)'
          : impact.buildCode === 'build script'
            ? 'runs at build time (its build script)'
            : 'runs at build time (a build-dependency or one of its dependencies)',
    });
  if (impact.direct) why.push({ signal: 'impact.direct', contribution: 1.5, detail: "a direct dependency of the workspace's own crates" });
  if (impact.fanIn > 1)
    why.push({
      signal: 'impact.fan-in',
      contribution: round1(Math.min(2, 0.25 * impact.fanIn)),
      detail: `${impact.fanIn} packages of the workspace depend on it`,
    });
  const score = round1(
    Math.min(
      10,
      why.reduce((n, w) => n + w.contribution, 0),
    ),
  );
  // A violation is an audit saying the crate must not be used: high whatever the score.
  const severity: FindingEvent['severity'] = v.status === 'violation' ? 'high' : severityOfSignalScore(score);
  return { score, severity, why };
}

/** The `unvetted` finding for a workspace's package verdict (status unvetted or violation). */
export function unvettedFinding(
  ws: WorkspaceRef,
  v: PackageVerdict,
  impact: Impact,
  state: 'open' | 'resolved',
  observedAt: string,
): FindingEvent {
  const { score, severity, why } = unvettedScore(v, impact);
  const status = v.status === 'violation' ? 'violation' : 'unvetted';
  const requiredBy = [...new Set(v.requiredBy.map((r) => `${r.by} (${r.why})`))];
  return {
    v: 1,
    id: findingId(ws.id, v.name, v.version, 'unvetted'),
    kind: 'unvetted',
    state,
    severity,
    score,
    workspace: { id: ws.id, org: ws.org, ...(ws.team ? { team: ws.team } : {}) },
    crate: v.name,
    version: v.version,
    why,
    vet: {
      status,
      needs: v.required,
      missing: v.missing,
      requiredBy: requiredBy.slice(0, 10),
      ...(v.suggestion
        ? {
            suggestion: {
              command: v.suggestion.command,
              kind: v.suggestion.kind,
              ...(v.suggestion.from ? { from: v.suggestion.from } : {}),
              to: v.suggestion.to,
            },
          }
        : {}),
      ...(v.kindDependent ? { kindDependent: true } : {}),
    },
    observedAt,
  };
}
