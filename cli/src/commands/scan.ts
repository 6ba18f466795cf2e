/**
 * `cratewatch scan <workspace dir | Cargo.lock>`: audit coverage with cargo-vet semantics, the
 * unvetted list with suggested audits, pool coverage, RustSec hits (less those the workspace's VEX
 * statements suppress, listed apart). No infrastructure. The report's layout (summary first,
 * vulnerabilities by severity, unvetted grouped after) is `../report.ts`.
 */
import {
  applyVex,
  denyFails,
  failures,
  matchLockfile,
  poolCoverage,
  resolveVet,
  shortestPathsFromMembers,
  type PackageVerdict,
  type VetReport,
} from '@cratewatch/shared';
import { collect, newCommand, parseCommand } from '../args.js';
import { denyJson, denyLines } from '../deny-report.js';
import {
  denyConfigWarnings,
  hitJson,
  loadAdvisoryDb,
  loadDenyConfig,
  loadPools,
  loadVex,
  loadWorkspace,
  progress,
  runDeny,
  storeErrorLines,
} from '../io.js';
import {
  advisoryLines,
  buildTimeFacts,
  buildTimeLines,
  scanJson,
  storeErrorsJson,
  summaryLines,
  unvettedLines,
  type ScanFacts,
} from '../report.js';
import { sizeReportSuggestions } from '../crates/index.js';

export const summary = 'audit coverage (cargo-vet semantics), RustSec hits and suggested audits of one workspace; no infrastructure';

export const usage = `cratewatch scan <workspace dir | Cargo.lock> [--store DIR] [--metadata cargo-metadata.json]
                [--pools DIR|file[,file]] [--advisory-db DIR] [--vex FILE ...] [--deny-config deny.toml]
                [--crate-cache DIR ...] [--fetch-crates] [--json] [-q]`;

export const command = () =>
  newCommand('cratewatch scan', summary)
    .argument('<target>', 'a workspace folder (its Cargo.lock, supply-chain/, cargo-metadata.json, VEX files) or a Cargo.lock')
    .option('--store <dir>', 'the cargo-vet store (default: supply-chain/ beside the Cargo.lock; none: default policy)')
    .option(
      '--metadata <file>',
      'cargo metadata --format-version 1 --all-features output, for exact dependency kinds (default: cargo metadata run on the Cargo.toml beside the Cargo.lock, as cargo vet does, cached; without cargo, cargo-metadata.json beside the Cargo.lock)',
    )
    .option(
      '--pools <dir|files>',
      'audit pools trusted beside the store: a folder of *.toml or a comma list of files (repeatable)',
      collect,
    )
    .option('--advisory-db <dir>', 'a local RustSec advisory-db checkout: report the advisories that hit')
    .option('--vex <file>', 'an OpenVEX document beside those found next to the Cargo.lock (repeatable)', collect)
    .option(
      '--deny-config <file>',
      "cargo-deny's config: run its licenses, bans and sources checks (default: deny.toml, .deny.toml or .cargo/deny.toml beside the Cargo.lock)",
    )
    .option(
      '--crate-cache <dir>',
      'size each suggested audit as cargo vet suggest does, from the .crate files (or cargo vendor folders) in DIR (repeatable)',
      collect,
    )
    .option(
      '--fetch-crates',
      'size suggested audits from .crate files downloaded from crates.io into the cache (CRATEWATCH_CRATE_CACHE, default ~/.cache/cratewatch/crates)',
    )
    .option('--json', 'the report as JSON on stdout')
    .addHelpText(
      'after',
      '\nExit codes: 0 everything vetted, no vulnerability and no deny-level cargo-deny problem; 1 unvetted packages, vulnerabilities or deny-level cargo-deny problems; 2 input or usage error (also an invalid store or deny.toml); 3 internal error.',
    );

export function describeFailure(p: PackageVerdict): string {
  const by = p.requiredBy
    .slice(0, 3)
    .map((r) => `${r.by} (${r.why}${r.kind === 'dev' ? ', dev' : ''})`)
    .join(', ');
  const more = p.requiredBy.length > 3 ? ` and ${p.requiredBy.length - 3} more` : '';
  const lines = [
    `  ${p.id}: ${p.status === 'violation' ? 'violation conflict' : 'unvetted'}; needs ${p.missing.join(', ')} — asked by ${by}${more}`,
  ];
  for (const v of p.violations ?? [])
    lines.push(`      violation ${v.violation} for ${v.criteria.join(', ')} (from ${v.from}) contradicted by ${v.conflictsWith}`);
  const s = p.suggestion;
  if (s) {
    const size = s.lines !== undefined ? `${s.lines.toLocaleString('en-US')} lines` : undefined;
    const note = [s.kind === 'full' ? 'full audit' : undefined, size].filter(Boolean).join(', ');
    lines.push(`      fix: ${s.command}${note ? `  (${note})` : ''}`);
    // Only a sized choice has a reason worth a line; without sizes it is the nearest vetted version.
    if (size && s.why) lines.push(`      why: ${s.why}`);
  }
  if (p.kindDependent) {
    lines.push(
      `      note: ${p.kindDependent.ifDevEdges} if its workspace edges are dev-only, ${p.kindDependent.ifNormalEdges} if normal-only (kinds unknown: pass --metadata)`,
    );
  }
  return lines.join('\n');
}

export async function run(argv: string[]): Promise<number> {
  const { opts, args } = parseCommand(command(), argv);
  const o = opts as {
    store?: string;
    metadata?: string;
    pools?: string[];
    advisoryDb?: string;
    vex?: string[];
    denyConfig?: string;
    json?: boolean;
    crateCache?: string[];
    fetchCrates?: boolean;
  };
  const target = args[0]!;
  progress(`reading ${target}`);
  const ws = loadWorkspace(target, o.store, o.metadata, { runCargo: true });
  if (ws.metadataPath) progress(`dependency kinds from ${ws.metadataPath}`);
  const denyConfig = loadDenyConfig(target, o.denyConfig);
  if (denyConfig) {
    progress(`cargo-deny checks from ${denyConfig.file}`);
    denyConfigWarnings(denyConfig);
  }
  const vex = loadVex(target, o.vex ?? []);
  if (vex.length) progress(`read ${vex.length} VEX document${vex.length === 1 ? '' : 's'} (${vex.map((d) => d.file).join(', ')})`);
  const pools = o.pools?.length ? loadPools(o.pools) : undefined;
  if (pools) progress(`loaded ${pools.size} pools`);
  // Read before the long step, so that a wrong --advisory-db is said at once.
  const dbDir = o.advisoryDb;
  if (dbDir) progress(`reading advisories from ${dbDir}`);
  const advisories = dbDir ? loadAdvisoryDb(dbDir) : undefined;
  progress(`resolving ${ws.graph.nodes.size} packages${ws.store ? ` against ${ws.storeDir}` : ' (no store: default policy)'}`);
  const report: VetReport = resolveVet({ graph: ws.graph, store: ws.store }, { pools });
  if (o.crateCache?.length || o.fetchCrates)
    await sizeReportSuggestions(report, ws.lockfile, { localDirs: o.crateCache ?? [], fetch: o.fetchCrates === true });
  const coverage = pools ? poolCoverage(ws.lockfile, pools, ws.store?.imports?.publisher) : undefined;
  // Each hit with the VEX statement that applies to it: suppressed ones (not_affected, fixed) are
  // listed apart and do not fail the scan; the others keep the statement's text.
  const { exposed: hits, suppressed } = applyVex(advisories ? matchLockfile(advisories, ws.lockfile) : [], vex);
  const fails = failures(report);
  const vulns = hits.filter((h) => h.advisory.informational === undefined);
  const deny = denyConfig ? runDeny(ws, denyConfig) : undefined;
  const facts: ScanFacts = {
    report,
    unvetted: fails,
    hits: advisories ? hits : null,
    suppressed,
    vexRead: vex.length > 0,
    paths: shortestPathsFromMembers(ws.lockfile),
    ...(deny ? { deny } : {}),
    buildTime: buildTimeFacts(ws.graph, ws.store),
  };
  if (o.json) {
    process.stdout.write(
      `${JSON.stringify(
        {
          lockfile: ws.lockPath,
          store: ws.storeDir ?? null,
          metadata: ws.metadataPath ?? null,
          conclusion: report.conclusion,
          storeErrors: storeErrorsJson(report),
          kindsKnown: report.kindsKnown,
          summary: report.summary,
          byCriteria: byCriteria(report),
          unvetted: fails,
          kindDependent: fails.filter((f) => f.kindDependent).map((f) => f.id),
          unneededExemptions: report.unneededExemptions,
          poolCoverage: coverage
            ? {
                thirdParty: coverage.thirdParty,
                safeToDeploy: coverage.safeToDeploy.length,
                safeToRun: coverage.safeToRun.length,
                byPool: coverage.byPool,
              }
            : null,
          advisories: hits.map((h) => hitJson(h)),
          suppressedByVex: suppressed.map((h) => hitJson(h)),
          vexDocuments: vex.map((d) => d.file),
          ...scanJson(facts),
          deny: denyJson(deny),
        },
        null,
        2,
      )}\n`,
    );
  } else {
    const s = report.summary;
    const out: string[] = [];
    if (report.conclusion === 'fail (store)')
      out.push('(the store is invalid, see stderr: the verdicts below are for information, cargo vet would not resolve)');
    out.push(`${ws.lockPath}: ${s.thirdParty} third-party packages, ${s.firstParty} first-party`);
    out.push(`  vetted ${s.vetted}, exempted ${s.exempted}, unvetted ${s.unvetted}, violation conflicts ${s.violation}`);
    for (const [c, n] of Object.entries(byCriteria(report)))
      out.push(`  requiring ${c}: ${n.vetted} vetted, ${n.exempted} exempted, ${n.unvetted} unvetted`);
    if (!report.kindsKnown)
      out.push(
        `  dependency kinds unknown (Cargo.lock only): ${s.kindDependent} verdicts depend on that; pass --metadata (or save cargo-metadata.json beside Cargo.lock) for exact ones`,
      );
    out.push(
      ...summaryLines(facts),
      ...advisoryLines(facts),
      ...(deny ? denyLines(deny) : []),
      ...unvettedLines(fails, describeFailure),
      ...buildTimeLines(facts),
    );
    if (report.unneededExemptions.length)
      out.push(
        '',
        `Exemptions no longer needed: ${report.unneededExemptions.length} (${report.unneededExemptions
          .slice(0, 5)
          .map((e) => `${e.crate}@${e.version} ${e.reason}`)
          .join(', ')}${report.unneededExemptions.length > 5 ? ', …' : ''})`,
      );
    if (coverage) {
      out.push(
        '',
        `Pools alone (no store): ${coverage.safeToDeploy.length}/${coverage.thirdParty} safe-to-deploy, ${coverage.safeToRun.length}/${coverage.thirdParty} safe-to-run`,
      );
      for (const [n, c] of Object.entries(coverage.byPool))
        out.push(`  ${n}: ${c.safeToDeploy} safe-to-deploy, ${c.safeToRun} safe-to-run`);
    }
    process.stdout.write(`${out.join('\n')}\n`);
  }
  // An invalid store is an input error (exit 2), as for a malformed file: cargo vet --locked itself
  // errors out before judging any package.
  if (report.conclusion === 'fail (store)') {
    process.stderr.write(`${storeErrorLines(report, ws.storeDir).join('\n')}\n`);
    return 2;
  }
  return fails.length > 0 || vulns.length > 0 || (deny !== undefined && denyFails(deny)) ? 1 : 0;
}

function byCriteria(r: VetReport): Record<string, { vetted: number; exempted: number; unvetted: number }> {
  const out: Record<string, { vetted: number; exempted: number; unvetted: number }> = {};
  for (const p of r.packages) {
    if (!p.thirdParty) continue;
    for (const c of p.required) {
      const e = (out[c] ??= { vetted: 0, exempted: 0, unvetted: 0 });
      if (p.status === 'vetted') e.vetted++;
      else if (p.status === 'exempted') e.exempted++;
      else if (p.status === 'unvetted' || p.status === 'violation') e.unvetted++;
    }
  }
  return out;
}
