/**
 * `cratewatch scan`'s report, in the order a security engineer reads it: a one-screen summary,
 * then vulnerabilities (most severe first, each with CVSS, aliases, patched ranges, link and how
 * the crate is reached), informational advisories apart, what VEX suppressed, then the unvetted
 * packages grouped by the criteria they need. The facts come from shared/; this only lays them out.
 */
import {
  denyFails,
  type DenyReport,
  advisoryFacts,
  bySeverity,
  countBySeverity,
  describeRanges,
  describeReach,
  reachOf,
  type DependencyPath,
  type PackageVerdict,
  type VetReport,
  type VexedHit,
  buildTimeSummary,
  procMacroCriterionAdvice,
  type BuildTimeSummary,
  type DepGraph,
  type ProcMacroAdvice,
  type VetStore,
} from '@cratewatch/shared';
import { bold, green, red, severityStyle } from './colour.js';
import { denySummaryLine } from './deny-report.js';
import { hitJson, hitLines } from './io.js';

export interface ScanFacts {
  report: VetReport;
  unvetted: PackageVerdict[];
  /** Null when no advisory-db was read (`--advisory-db`). */
  hits: VexedHit[] | null;
  suppressed: VexedHit[];
  vexRead: boolean;
  paths: Map<string, DependencyPath>;
  /** The cargo-deny checks, when the workspace has a deny.toml (or --deny-config). */
  deny?: DenyReport;
  /** Its build-time code (proc-macros, build scripts), and the proc-macro criterion to adopt. */
  buildTime?: BuildTimeFacts;
}

export interface BuildTimeFacts {
  summary: BuildTimeSummary;
  advice?: ProcMacroAdvice;
}

/** What scan says of build-time code: `cargo metadata` targets name it; a Cargo.lock alone does not. */
export function buildTimeFacts(graph: DepGraph, store: VetStore | undefined): BuildTimeFacts {
  const advice = procMacroCriterionAdvice(graph, store);
  return { summary: buildTimeSummary(graph, store?.config), ...(advice ? { advice } : {}) };
}

function buildTimeLine(b: BuildTimeFacts): string {
  const s = b.summary;
  const known = `${s.procMacros.length} proc-macros, ${s.buildScripts.length} with a build script`;
  if (!s.unknown.length) return `  build-time code: ${known}`;
  if (s.unknown.length && !s.procMacros.length && !s.buildScripts.length)
    return '  build-time code: unknown (a Cargo.lock only: pass --metadata, or save cargo-metadata.json beside it)';
  return `  build-time code: ${known}; unknown for ${s.unknown.length}`;
}

/** The proc-macro criterion, once for the workspace (the lines as cargo vet fmt writes them). */
export function buildTimeLines(f: ScanFacts): string[] {
  return f.buildTime?.advice ? ['', ...adviceLines('this workspace', f.buildTime.advice)] : [];
}

const vulnerabilitiesOf = (f: ScanFacts) => (f.hits ?? []).filter((h) => h.advisory.informational === undefined).sort(bySeverity);
const informationalOf = (f: ScanFacts) => (f.hits ?? []).filter((h) => h.advisory.informational !== undefined).sort(bySeverity);

/** Unvetted packages by what they lack: violation conflicts first, then each set of missing criteria. */
export function unvettedGroups(unvetted: PackageVerdict[]): { needs: string[]; violation: boolean; packages: PackageVerdict[] }[] {
  const groups = new Map<string, { needs: string[]; violation: boolean; packages: PackageVerdict[] }>();
  for (const p of unvetted) {
    const violation = p.status === 'violation';
    const key = `${violation ? 0 : 1}${p.missing.join(' + ')}`;
    const g = groups.get(key) ?? { needs: p.missing, violation, packages: [] };
    g.packages.push(p);
    groups.set(key, g);
  }
  return [...groups.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, g]) => g);
}

/** The counts at the top (text) and in `--json` as `overview`. */
export function overview(f: ScanFacts) {
  const s = f.report.summary;
  const vulns = vulnerabilitiesOf(f);
  const info = informationalOf(f);
  const byKind: Record<string, number> = {};
  for (const h of info) byKind[h.advisory.informational!] = (byKind[h.advisory.informational!] ?? 0) + 1;
  const covered = s.vetted + s.exempted;
  const denied = f.deny ? f.deny.findings.filter((x) => x.level === 'deny').length : 0;
  const result = f.report.conclusion === 'fail (store)' ? 'invalid store' : vulns.length || f.unvetted.length || denied ? 'fail' : 'pass';
  return {
    result,
    vulnerabilities: f.hits ? { total: vulns.length, ...countBySeverity(vulns) } : null,
    informational: f.hits ? { total: info.length, byKind } : null,
    suppressedByVex: f.vexRead ? f.suppressed.length : null,
    // What fails cargo vet: unvetted packages and violation conflicts (counted again apart), as the text says it.
    unvetted: f.unvetted.length,
    violationConflicts: s.violation,
    // Only when a deny.toml was read: without one the overview is what it was.
    ...(f.deny ? { deny: { errors: denied, warnings: f.deny.findings.length - denied } } : {}),
    coverage: {
      thirdParty: s.thirdParty,
      vettedOrExempted: covered,
      percent: s.thirdParty ? Math.floor((1000 * covered) / s.thirdParty) / 10 : 100,
    },
  };
}

/** A hit with everything said about it (`--json`: `vulnerabilities`, `informationalAdvisories`). */
export function hitDetailJson(h: VexedHit, paths: Map<string, DependencyPath>) {
  const facts = advisoryFacts(h.advisory);
  const path = paths.get(h.package.id);
  return { ...hitJson(h), ...facts, reached: reachOf(path), path: path ?? null };
}

/** What cargo-vet would refuse the store for, as `--json` gives it (null without a store). */
export function storeErrorsJson(report: VetReport) {
  const c = report.store;
  return c ? { fatal: c.fatal ?? null, message: c.message ?? null, reported: c.reported, all: c.problems } : null;
}

export function scanJson(f: ScanFacts) {
  return {
    overview: overview(f),
    vulnerabilities: f.hits ? vulnerabilitiesOf(f).map((h) => hitDetailJson(h, f.paths)) : null,
    informationalAdvisories: f.hits ? informationalOf(f).map((h) => hitDetailJson(h, f.paths)) : null,
    buildTime: f.buildTime ? { ...f.buildTime.summary, procMacroCriterion: f.buildTime.advice ?? null } : null,
    unvettedGroups: unvettedGroups(f.unvetted).map((g) => ({
      needs: g.needs,
      violation: g.violation,
      packages: g.packages.map((p) => p.id),
    })),
  };
}

/** The summary lines (after the existing coverage lines of the report's head). */
export function summaryLines(f: ScanFacts): string[] {
  const o = overview(f);
  const out = [
    `  coverage: ${o.coverage.vettedOrExempted}/${o.coverage.thirdParty} third-party packages vetted or exempted (${o.coverage.percent}%)`,
  ];
  if (o.vulnerabilities) {
    const v = o.vulnerabilities;
    const counts = (['critical', 'high', 'medium', 'low'] as const)
      .map((k) => (v[k] ? severityStyle(k)(`${k} ${v[k]}`) : `${k} 0`))
      .join(', ');
    out.push(`  vulnerabilities: ${v.total ? bold(String(v.total)) : '0'} (${counts})`);
    const kinds = Object.entries(o.informational!.byKind)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ');
    out.push(`  informational advisories: ${o.informational!.total}${kinds ? ` (${kinds})` : ''}`);
  } else out.push('  vulnerabilities: not checked (pass --advisory-db DIR, a RustSec advisory-db checkout)');
  const groups = unvettedGroups(f.unvetted).map(
    (g) => `${g.violation ? 'violation conflicts' : `needs ${g.needs.join(' + ')}`}: ${g.packages.length}`,
  );
  out.push(`  unvetted: ${f.unvetted.length}${groups.length ? ` (${groups.join('; ')})` : ''}`);
  if (f.deny) out.push(denySummaryLine(f.deny));
  const denyWhy = f.deny && denyFails(f.deny) ? `${o.deny!.errors} cargo-deny ${o.deny!.errors === 1 ? 'error' : 'errors'}` : '';
  const why = [
    o.vulnerabilities?.total ? `${o.vulnerabilities.total} ${o.vulnerabilities.total === 1 ? 'vulnerability' : 'vulnerabilities'}` : '',
    f.unvetted.length ? `${f.unvetted.length} unvetted` : '',
    denyWhy,
  ]
    .filter(Boolean)
    .join(', ');
  out.push(
    `  result: ${o.result === 'pass' ? green('pass') : o.result === 'fail' ? red(`fail (${why})`) : red('invalid store (see stderr)')}`,
  );
  if (f.buildTime) out.push(buildTimeLine(f.buildTime));
  return out;
}

/** One hit, detailed: the `hitLines` head (id, crate, title, VEX statement), then its facts. */
export function hitDetailLines(h: VexedHit, paths: Map<string, DependencyPath>): string[] {
  const f = advisoryFacts(h.advisory);
  const out = hitLines(h);
  if (h.advisory.informational === undefined) {
    const cvss = f.cvss
      ? `CVSS ${f.cvss.score ?? `${f.cvss.version}, estimated`}  ${f.cvss.vector}`
      : 'no CVSS vector (rated medium, as the scorer rates it)';
    out.push(`      severity: ${severityStyle(f.severity)(f.severity)}, ${cvss}`);
  }
  if (f.aliases.length) out.push(`      aliases: ${f.aliases.join(', ')}`);
  out.push(`      patched: ${describeRanges(f.patched)}`);
  out.push(`      reached: ${describeReach(paths.get(h.package.id))}`);
  out.push(`      ${f.link}${f.url && f.url !== f.link ? `  (announcement: ${f.url})` : ''}`);
  return out;
}

/** The advisory sections (with `--advisory-db`): vulnerabilities, informational, suppressed by VEX. */
export function advisoryLines(f: ScanFacts): string[] {
  if (!f.hits) return [];
  const vulns = vulnerabilitiesOf(f);
  const info = informationalOf(f);
  const out = [
    '',
    `RustSec: ${vulns.length} vulnerabilities, ${info.length} informational${f.vexRead ? `; suppressed by VEX: ${f.suppressed.length}` : ''}`,
  ];
  if (vulns.length)
    out.push('', bold(`Vulnerabilities (${vulns.length}), most severe first:`), ...vulns.flatMap((h) => hitDetailLines(h, f.paths)));
  if (info.length)
    out.push(
      '',
      bold(`Informational advisories (${info.length}: unmaintained, unsound, notice; not counted as vulnerabilities):`),
      ...info.flatMap((h) => hitDetailLines(h, f.paths)),
    );
  if (f.suppressed.length)
    out.push('', `Suppressed by VEX (${f.suppressed.length}, not counted):`, ...f.suppressed.flatMap((h) => hitLines(h)));
  return out;
}

/** The unvetted packages, grouped by the criteria they need; each as `describe` says it. */
export function unvettedLines(unvetted: PackageVerdict[], describe: (p: PackageVerdict) => string): string[] {
  if (!unvetted.length) return [];
  const out = ['', bold(`Unvetted (${unvetted.length}), by the criteria they need:`)];
  for (const g of unvettedGroups(unvetted)) {
    out.push(`  ${g.violation ? 'violation conflicts' : `needs ${g.needs.join(' + ')}`} (${g.packages.length}):`);
    for (const p of g.packages) out.push(describe(p).replace(/^/gm, '  '));
  }
  return out;
}

/** The proc-macro criterion, said once per workspace, with the lines to add (as cargo vet fmt writes them). */
export function adviceLines(id: string, a: ProcMacroAdvice): string[] {
  const out = [
    `${id}: ${a.procMacros.length} proc-macro${a.procMacros.length === 1 ? '' : 's'} (${a.procMacros.slice(0, 4).join(', ')}${a.procMacros.length > 4 ? ', …' : ''}) run inside the compiler; require a stricter criterion of them, ${a.criterion} (implies safe-to-deploy):`,
  ];
  if (a.auditsToml) out.push('  in supply-chain/audits.toml:', ...a.auditsToml.split('\n').map((l) => (l ? `    ${l}` : '')));
  out.push('  in supply-chain/config.toml:', ...a.configToml.split('\n').map((l) => (l ? `    ${l}` : '')));
  if (a.existing.length) out.push(`  (${a.existing.join(', ')} have a policy table already: add the criteria line to it)`);
  return out;
}
