/**
 * The organisation's audit plan (issue 11, part 3): the ordered audits that raise org coverage most
 * per line reviewed. Pure: workspaces (graph + store) in memory, sizes through a callback; the CLI
 * (`cratewatch plan`) reads folders, and the scorer can call `planAudits` on what its graph holds.
 *
 * - Coverage is cargo-vet's own verdict (`resolveVet`): a locked third-party version of a workspace
 *   is vetted when `cargo vet --locked` would find an audit path for every criterion it needs
 *   (exemptions do not count). Org coverage = vetted workspace-versions / all of them: a version
 *   locked by ten workspaces counts ten times, as ten workspaces need it.
 * - An audit is recorded once for the org, in every workspace that locks the crate and knows its
 *   criteria (as an org-wide audits file all of them import would), and counts for every workspace
 *   and every version chain it completes there (`judgeCrate` re-judges that crate only).
 * - Candidates are cargo-vet's (`suggest.ts`: from the closest vetted version below or above, or a
 *   full audit) for every unvetted or exempted package, keyed by crate, from, to and criteria.
 * - Greedy: each step takes the candidate with the most weight per line (sized), then the unsized
 *   by weight; the weight of a version it vets is the score of the unvetted finding it closes
 *   (`unvettedScore`: build-time code +2, a direct dependency +1.5, fan-in in the workspace), +2 when
 *   the crate has a RustSec advisory; summed over workspaces, so fan-in across the org counts.
 *   After a step only the audited crate's candidates change (a verdict reads its own crate's audits).
 */
import { unvettedScore, workspaceImpact, type Impact } from '../findings.js';
import type { AuditsFile } from './format.js';
import type { DepGraph } from './graph.js';
import {
  buildAuditGraph,
  judgeCrate,
  resolveVet,
  type AuditGraph,
  type PackageVerdict,
  type VetReport,
  type VetStore,
} from './resolver.js';
import type { AuditCandidate } from './suggest.js';

export interface PlanWorkspace {
  id: string;
  team?: string;
  graph: DepGraph;
  store?: VetStore;
}

export interface PlanOptions {
  /** Trusted pools, as `scan --pools` trusts them (extra imports). */
  pools?: Map<string, AuditsFile>;
  /**
   * Lines to review of an audit (`cargo vet suggest`'s count); undefined for one it cannot size.
   * Absent: no sizes at all, the plan ranks by versions vetted.
   */
  lines?: (crate: string, c: AuditCandidate) => number | undefined;
  /** Crates with a RustSec advisory (any version). */
  advisories?: ReadonlySet<string>;
  /** Stop adding audits once this many lines are planned (sized audits only). */
  budget?: number;
  /** At most this many audits. */
  limit?: number;
}

export interface Coverage {
  vetted: number;
  thirdParty: number;
  /** vetted / thirdParty (1 when there is nothing to vet). */
  coverage: number;
}

export interface PlannedAudit {
  crate: string;
  kind: 'delta' | 'full';
  from?: string;
  to: string;
  criteria: string[];
  command: string;
  /** Lines to review; null when not sized. */
  lines: number | null;
  /** Workspace-versions it vets (given the audits above it). */
  vets: number;
  /** The workspaces it vets a version in. */
  workspaces: string[];
  /** `workspace: crate@version`, each version it vets. */
  versions: string[];
  /** Where the plan records it: every workspace that locks the crate and knows its criteria. */
  recordIn: string[];
  /** One of the versions it vets is build-time code. */
  buildTime: boolean;
  weight: number;
  cumulative: { lines: number | null } & Coverage;
}

export interface AuditPlan {
  /** Sizes were asked for (`lines` given). */
  sized: boolean;
  workspaces: number;
  before: Coverage;
  after: Coverage;
  audits: PlannedAudit[];
  lines: number | null;
  /** Candidates met without a size (no sources): the caller may size them and plan again. */
  needSizes: { crate: string; from?: string; to: string }[];
  perWorkspace: ({ id: string; team?: string; before: Coverage; after: Coverage } & { procMacros: number })[];
  teams: Record<string, { workspaces: number; before: Coverage; after: Coverage }>;
  summary: string;
}

export const ADVISORY_WEIGHT = 2;

interface WsState {
  ws: PlanWorkspace;
  report: VetReport;
  g: AuditGraph;
  impact: Map<string, Impact>;
  verdicts: Map<string, PackageVerdict>;
  byCrate: Map<string, string[]>;
  before: number;
}

interface Candidate {
  crate: string;
  from?: string;
  to: string;
  criteria: string[];
  key: string;
}

interface Evaluated extends Candidate {
  lines: number | undefined;
  /** Unsized (1) after sized (0); then weight per line (or weight): worked out once, compared often. */
  tier: number;
  ratio: number;
  vets: { ws: WsState; verdict: PackageVerdict }[];
  recordIn: WsState[];
  weight: number;
}

const counted = (v: PackageVerdict | undefined) =>
  v !== undefined && v.thirdParty && (v.status === 'vetted' || v.status === 'not-required');
const open = (v: PackageVerdict) => v.thirdParty && (v.status === 'unvetted' || v.status === 'exempted') && v.suggestion !== undefined;
const cover = (vetted: number, thirdParty: number): Coverage => ({ vetted, thirdParty, coverage: thirdParty ? vetted / thirdParty : 1 });

function stateOf(ws: PlanWorkspace, pools: Map<string, AuditsFile> | undefined): WsState {
  const g = buildAuditGraph(ws.store, pools);
  const report = resolveVet({ graph: ws.graph, store: ws.store }, { checkStore: false, reportKindAssumption: false }, g);
  const verdicts = new Map(report.packages.map((p) => [p.id, p]));
  const byCrate = new Map<string, string[]>();
  for (const p of report.packages) if (p.thirdParty) byCrate.set(p.name, [...(byCrate.get(p.name) ?? []), p.id]);
  return { ws, report, g, impact: workspaceImpact(ws.graph), verdicts, byCrate, before: report.packages.filter(counted).length };
}

class Planner {
  readonly states: WsState[];
  private readonly lockers = new Map<string, WsState[]>();
  readonly needSizes = new Map<string, Candidate>();

  constructor(
    workspaces: PlanWorkspace[],
    private readonly o: PlanOptions,
  ) {
    this.states = workspaces.map((w) => stateOf(w, o.pools));
    for (const s of this.states) for (const c of s.byCrate.keys()) this.lockers.set(c, [...(this.lockers.get(c) ?? []), s]);
  }

  crates(): string[] {
    return [...this.lockers.keys()].sort();
  }

  private candidates(crate: string): Candidate[] {
    const out = new Map<string, Candidate>();
    for (const s of this.lockers.get(crate) ?? []) {
      for (const id of s.byCrate.get(crate)!) {
        const v = s.verdicts.get(id)!;
        if (!open(v)) continue;
        const sug = v.suggestion!;
        for (const c of sug.candidates ?? [{ ...(sug.from !== undefined ? { from: sug.from } : {}), to: sug.to }]) {
          const key = `${crate}\u0000${c.from ?? ''}\u0000${c.to}\u0000${sug.criteria.join(',')}`;
          if (!out.has(key))
            out.set(key, { crate, ...(c.from !== undefined ? { from: c.from } : {}), to: c.to, criteria: sug.criteria, key });
        }
      }
    }
    return [...out.values()];
  }

  /** What the candidate would vet in each workspace, given what is planned so far. */
  private evaluate(c: Candidate): Evaluated {
    const vets: Evaluated['vets'] = [];
    const recordIn: WsState[] = [];
    let weight = 0;
    for (const s of this.lockers.get(c.crate) ?? []) {
      if (!c.criteria.every((k) => s.g.criteria.isLocal(k))) continue;
      const undo = s.g.addAudit(c.crate, c);
      const after = judgeCrate(s.report, c.crate, s.g);
      undo();
      const gained = after.filter((v) => counted(v) && !counted(s.verdicts.get(v.id)));
      // An audit a violation contradicts would fail versions vetted now: not recorded there.
      if (after.some((v) => !counted(v) && counted(s.verdicts.get(v.id)))) continue;
      recordIn.push(s);
      for (const v of gained) {
        const was = s.verdicts.get(v.id)!;
        weight += unvettedScore(was, s.impact.get(v.id)!).score + (this.o.advisories?.has(c.crate) ? ADVISORY_WEIGHT : 0);
        vets.push({ ws: s, verdict: was });
      }
    }
    const lines = this.o.lines?.(c.crate, c);
    if (this.o.lines && lines === undefined && vets.length) this.needSizes.set(c.key, c);
    const ratio = lines === undefined ? weight : weight / Math.max(1, lines);
    return { ...c, lines, vets, recordIn, weight, tier: lines === undefined ? 1 : 0, ratio };
  }

  /** The crate's candidates that vet something, best first. */
  evaluateCrate(crate: string): Evaluated[] {
    return this.candidates(crate)
      .map((c) => this.evaluate(c))
      .filter((e) => e.vets.length > 0)
      .sort((a, b) => (better(a, b) ? -1 : better(b, a) ? 1 : 0));
  }

  /** Records the audit in every workspace the evaluation chose, and re-judges the crate there. */
  apply(e: Evaluated): void {
    for (const s of e.recordIn) {
      s.g.addAudit(e.crate, e);
      for (const v of judgeCrate(s.report, e.crate, s.g)) s.verdicts.set(v.id, v);
    }
  }

  vetted(): number {
    let n = 0;
    for (const s of this.states) for (const v of s.verdicts.values()) if (counted(v)) n++;
    return n;
  }
}

/** Better first: sized before unsized, then weight per line (or weight), then the key (stable). */
function better(a: Evaluated, b: Evaluated): boolean {
  if (a.tier !== b.tier) return a.tier < b.tier;
  if (a.ratio !== b.ratio) return a.ratio > b.ratio;
  if (a.weight !== b.weight) return a.weight > b.weight;
  return a.key < b.key;
}

/** The best candidate that fits what is left of the budget: each crate's list is sorted best first. */
function pick(cands: Map<string, Evaluated[]>, left: number | undefined): Evaluated | undefined {
  let best: Evaluated | undefined;
  for (const list of cands.values()) {
    const e = left === undefined ? list[0] : list.find((x) => x.lines !== undefined && x.lines <= left);
    if (e && (!best || better(e, best))) best = e;
  }
  return best;
}

const command = (e: Candidate) =>
  `cargo vet certify ${e.crate} ${e.from !== undefined ? `${e.from} ` : ''}${e.to} --criteria ${e.criteria.join(', ')}`;

function planned(e: Evaluated, cumulative: PlannedAudit['cumulative']): PlannedAudit {
  const buildTime = e.vets.some((x) => x.ws.impact.get(x.verdict.id)?.buildTime === true);
  return {
    crate: e.crate,
    kind: e.from !== undefined ? 'delta' : 'full',
    ...(e.from !== undefined ? { from: e.from } : {}),
    to: e.to,
    criteria: e.criteria,
    command: command(e),
    lines: e.lines ?? null,
    vets: e.vets.length,
    workspaces: [...new Set(e.vets.map((x) => x.ws.ws.id))],
    versions: e.vets.map((x) => `${x.ws.ws.id}: ${x.verdict.id}`),
    recordIn: e.recordIn.map((s) => s.ws.id),
    buildTime,
    weight: Math.round(e.weight * 10) / 10,
    cumulative,
  };
}

/** The audit plan for these workspaces together. */
export function planAudits(workspaces: PlanWorkspace[], o: PlanOptions = {}): AuditPlan {
  const p = new Planner(workspaces, o);
  const thirdParty = p.states.reduce((n, s) => n + s.report.summary.thirdParty, 0);
  const before = cover(p.vetted(), thirdParty);
  const cands = new Map(p.crates().map((c) => [c, p.evaluateCrate(c)]));
  const audits: PlannedAudit[] = [];
  let lines = 0;
  let vetted = before.vetted;
  while (audits.length < (o.limit ?? Infinity)) {
    const best = pick(cands, o.budget === undefined ? undefined : o.budget - lines);
    if (!best) break;
    p.apply(best);
    lines += best.lines ?? 0;
    vetted += best.vets.length;
    audits.push(planned(best, { lines: o.lines ? lines : null, ...cover(vetted, thirdParty) }));
    cands.set(best.crate, p.evaluateCrate(best.crate));
  }
  const after = cover(p.vetted(), thirdParty);
  const perWorkspace = p.states.map((s) => ({
    id: s.ws.id,
    ...(s.ws.team !== undefined ? { team: s.ws.team } : {}),
    before: cover(s.before, s.report.summary.thirdParty),
    after: cover([...s.verdicts.values()].filter(counted).length, s.report.summary.thirdParty),
    procMacros: [...s.ws.graph.nodes.values()].filter((n) => n.build?.procMacro).length,
  }));
  const allSized = audits.every((a) => a.lines !== null);
  const plan: Omit<AuditPlan, 'summary'> = {
    sized: o.lines !== undefined,
    workspaces: workspaces.length,
    before,
    after,
    audits,
    lines: o.lines && allSized ? lines : null,
    needSizes: [...p.needSizes.values()].map(({ crate, from, to }) => ({ crate, ...(from !== undefined ? { from } : {}), to })),
    perWorkspace,
    teams: teamsOf(perWorkspace),
  };
  return { ...plan, summary: planSummary(plan) };
}

function teamsOf(rows: AuditPlan['perWorkspace']): AuditPlan['teams'] {
  const out: AuditPlan['teams'] = {};
  for (const r of rows) {
    if (r.team === undefined) continue;
    const t = (out[r.team] ??= { workspaces: 0, before: cover(0, 0), after: cover(0, 0) });
    t.workspaces++;
    t.before = cover(t.before.vetted + r.before.vetted, t.before.thirdParty + r.before.thirdParty);
    t.after = cover(t.after.vetted + r.after.vetted, t.after.thirdParty + r.after.thirdParty);
  }
  return out;
}

const n = (x: number) => x.toLocaleString('en-US');
export const percent = (c: Coverage): string => `${(Math.floor(c.coverage * 1000) / 10).toFixed(1)}%`;

/** The line a manager reads. */
export function planSummary(p: Omit<AuditPlan, 'summary'>): string {
  const count = `${n(p.audits.length)} audit${p.audits.length === 1 ? '' : 's'}`;
  const unsized = p.audits.filter((a) => a.lines === null).length;
  const size = !p.sized
    ? ' (sizes unknown: no crate sources; ranked by versions vetted)'
    : `, ${n(p.audits.reduce((x, a) => x + (a.lines ?? 0), 0))} lines${unsized ? ` (and ${unsized} not sized: no sources)` : ''}`;
  const gained = p.after.vetted - p.before.vetted;
  return (
    `these ${count}${size}, take the org from ${percent(p.before)} to ${percent(p.after)} of locked third-party versions vetted ` +
    `(${n(gained)} more of ${n(p.before.thirdParty)} workspace-versions, ${n(p.workspaces)} workspace${p.workspaces === 1 ? '' : 's'})`
  );
}
