/**
 * `cratewatch gate --base <old Cargo.lock> --head <new Cargo.lock>`: the CI policy gate. Fails
 * when the change adds or upgrades a third-party crate that the store and the trusted pools do
 * not vet, and names the audit that would let it pass; with `--advisory-db`, also when a crate
 * version it adds or upgrades to is hit by a RustSec vulnerability that the workspace's VEX
 * statements do not suppress (naming the patched versions). Only what the change brings in is
 * judged: a crate already locked in base is not this change's doing (unless, with the base read
 * from git by `--base-ref`, the change's store edit is what un-vets it). Output as text, JSON,
 * SARIF (`../sarif.ts`) or GitHub annotations (`../github.ts`), the last two from one list of
 * located findings (`../gate-findings.ts`).
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import { Option } from 'commander';
import {
  applyVex,
  compareVersions,
  describeRanges,
  inReadingOrder,
  patchedRanges,
  failures,
  matchLockfile,
  resolveVet,
  vetVersionOf,
  type Advisory,
  type AdvisoryHit,
  type DepGraph,
  type Lockfile,
  type PackageVerdict,
  type StoreProblem,
  type VetReport,
  type VetStore,
  type VexDocument,
  type VexedHit,
} from '@cratewatch/shared';
import { collect, newCommand, parseCommand } from '../args.js';
import { denyBlocks, gateDeny, gateDenyJson, gateDenyLines, type GateDeny } from '../gate-deny.js';
import { gateFindings } from '../gate-findings.js';
import { readGitBase, gitRoot } from '../gitbase.js';
import { workflowCommands } from '../github.js';
import {
  hitJson,
  hitLines,
  loadAdvisoryDb,
  loadDenyConfig,
  loadLocked,
  loadPools,
  loadStore,
  loadVex,
  loadWorkspace,
  progress,
  storeErrorLines,
  UsageError,
} from '../io.js';
import { sarifLog } from '../sarif.js';
import { describeFailure } from './scan.js';

export const usage = `cratewatch gate (--base <old Cargo.lock | SBOM> | --base-ref <git ref>) --head <new Cargo.lock | SBOM> [--store supply-chain/]
                [--metadata cargo-metadata.json] [--pools DIR|file[,file]] [--advisory-db DIR] [--vex FILE ...]
                [--deny-config deny.toml] [--format text|json|sarif|github] [--srcroot DIR] [-q]`;

export const summary = 'the CI gate: fails when a change to Cargo.lock brings in an unvetted or vulnerable crate, or a cargo-deny problem';

const FORMATS = ['text', 'json', 'sarif', 'github'] as const;
type Format = (typeof FORMATS)[number];

export const command = () =>
  newCommand('cratewatch gate', summary)
    .option(
      '--base <Cargo.lock>',
      'the lockfile before the change, or a CycloneDX SBOM of it, or its workspace folder (this or --base-ref is required)',
    )
    .option(
      '--base-ref <ref>',
      "the change's base as a git ref (e.g. origin/main): its Cargo.lock, store and cargo-metadata.json are read from git at the head Cargo.lock's place",
    )
    .option(
      '--head <Cargo.lock>',
      'the lockfile after the change, or a CycloneDX SBOM (required); its folder is read as scan reads a workspace',
    )
    .option('--store <dir>', 'the cargo-vet store (default: supply-chain/ beside the head Cargo.lock)')
    .option('--metadata <file>', 'cargo metadata JSON of the head, for exact dependency kinds')
    .option(
      '--pools <dir|files>',
      'audit pools trusted beside the store: a folder of *.toml or a comma list of files (repeatable)',
      collect,
    )
    .option('--advisory-db <dir>', 'a local RustSec advisory-db checkout: also fail on a vulnerability the change brings in')
    .option('--vex <file>', 'an OpenVEX document (repeatable; needs --advisory-db)', collect)
    .option(
      '--deny-config <file>',
      "cargo-deny's config: fail on a licenses, bans or sources problem the change brings in (default: deny.toml, .deny.toml or .cargo/deny.toml beside the head)",
    )
    .addOption(
      new Option(
        '--format <format>',
        'the output: text, json, sarif (SARIF 2.1.0) or github (workflow-command annotations, then the text)',
      ).choices(FORMATS),
    )
    .option(
      '--srcroot <dir>',
      'the folder SARIF paths and GitHub annotations are relative to (default: the git root of the head Cargo.lock, else its folder)',
    )
    .option('--json', 'the same as --format json')
    .option('--sarif', 'the same as --format sarif')
    .addHelpText(
      'after',
      '\nExit codes: 0 the change passes; 1 it brings in an unvetted or vulnerable crate or a deny-level cargo-deny problem; 2 input or usage error (also an invalid store, a git ref or file git does not have); 3 internal error.',
    );

interface GateOptions {
  base?: string;
  baseRef?: string;
  head: string;
  store?: string;
  metadata?: string;
  pools?: string[];
  advisoryDb?: string;
  vex?: string[];
  denyConfig?: string;
  format: Format;
  srcroot?: string;
}

/** The options, checked: one base, one output format (`--json`/`--sarif` are the older spellings of `--format`). */
function options(argv: string[]): GateOptions {
  const o = parseCommand(command(), argv).opts as Omit<GateOptions, 'format'> & { format?: Format; json?: boolean; sarif?: boolean };
  if ((!o.base && !o.baseRef) || !o.head) throw new UsageError(`--head and one of --base and --base-ref are required\n${usage}`);
  if (o.base && o.baseRef) throw new UsageError('choose one of --base and --base-ref');
  const asked = new Set<Format>([
    ...(o.format ? [o.format] : []),
    ...(o.json ? (['json'] as const) : []),
    ...(o.sarif ? (['sarif'] as const) : []),
  ]);
  if (asked.size > 1) throw new UsageError(`choose one output format (given: ${[...asked].join(', ')})`);
  if (!o.advisoryDb && o.vex?.length) throw new UsageError('--vex needs --advisory-db (VEX statements are about advisories)');
  if (o.srcroot !== undefined && !(existsSync(o.srcroot) && statSync(o.srcroot).isDirectory()))
    throw new UsageError(`--srcroot ${o.srcroot}: no such folder`);
  return { ...o, head: o.head, format: [...asked][0] ?? 'text' };
}

interface Base {
  label: string;
  lockfile: Lockfile;
  graph: DepGraph;
  /** Only from git (--base-ref): the store as the base had it, to see what the change un-vets. */
  store?: VetStore;
  /** The base's cargo metadata (beside the base file, or at REF), for its deny checks. */
  metadata?: { value: unknown; file: string };
  /** Only from git: the deny.toml REF has. */
  denyConfig?: { file: string; text: string };
  fromGit: boolean;
}

/** What one gate run judged: everything the formats print. */
interface Verdict {
  o: GateOptions;
  ws: ReturnType<typeof loadWorkspace>;
  base: Base;
  storeDir?: string;
  report: VetReport;
  /** Third-party packages the change adds, upgrades or downgrades, then those it un-vets by a store edit. */
  changed: PackageVerdict[];
  blocking: PackageVerdict[];
  change: (p: PackageVerdict) => string;
  invalid: StoreProblem[];
  advisories?: Advisory[];
  vex: VexDocument[];
  exposed: VexedHit[];
  suppressed: VexedHit[];
  vulnerable: VexedHit[];
  fixed: AdvisoryHit[];
  changeOf: (h: AdvisoryHit) => string;
  /** The cargo-deny problems the change brings in; undefined without a deny.toml. */
  deny?: GateDeny;
}

export function run(argv: string[]): number {
  const v = judge(options(argv));
  const { ws, o } = v;
  const findings = () =>
    gateFindings({
      lockPath: ws.lockPath,
      lockText: ws.lockText,
      lockfile: ws.lockfile,
      blocking: v.blocking,
      change: v.change,
      invalid: v.invalid,
      storeDir: v.storeDir,
      exposed: v.exposed,
      changeOf: v.changeOf,
      ...(v.deny ? { deny: { findings: v.deny.brought, config: v.deny.head.config } } : {}),
    });
  const srcroot = () => realpathSync(o.srcroot ?? gitRoot(ws.lockPath) ?? path.dirname(path.resolve(ws.lockPath)));
  const render: Record<Format, () => string> = {
    text: () => [...textReport(v), ...gateDenyLines(v.deny)].join('\n'),
    json: () => JSON.stringify(jsonReport(v), null, 2),
    sarif: () => JSON.stringify(sarifLog(findings(), srcroot()), null, 2),
    github: () => [...workflowCommands(findings(), srcroot()), ...textReport(v), ...gateDenyLines(v.deny)].join('\n'),
  };
  process.stdout.write(`${render[o.format]()}\n`);
  // An invalid store is an input error (exit 2): cargo vet --locked refuses it before judging.
  if (v.invalid.length) {
    process.stderr.write(`${storeErrorLines(v.report, v.storeDir).join('\n')}\n`);
    return 2;
  }
  return v.blocking.length || v.vulnerable.length || denyBlocks(v.deny) ? 1 : 0;
}

function judge(o: GateOptions): Verdict {
  const ws = loadWorkspace(o.head, o.store, o.metadata);
  const store = ws.store ?? (o.store ? loadStore(o.store) : undefined);
  const storeDir = ws.storeDir ?? o.store;
  const denyConfig = loadDenyConfig(ws.lockPath, o.denyConfig);
  const base = readBase(o, ws, storeDir, denyConfig?.file);
  const pools = o.pools?.length ? loadPools(o.pools) : undefined;
  if (o.advisoryDb) progress(`reading advisories from ${o.advisoryDb}`);
  const advisories = o.advisoryDb ? loadAdvisoryDb(o.advisoryDb) : undefined;
  const vex = advisories ? loadVex(o.head, o.vex ?? []) : [];
  const before = new Set([...base.graph.nodes.values()].map((n) => `${n.name}@${n.vetVersion}`));
  progress(`resolving ${ws.graph.nodes.size} packages of ${o.head}`);
  const report = resolveVet({ graph: ws.graph, store }, { pools });
  const unvetted = unvettedByStoreChange(base, pools, report.packages, before);
  const changed = [
    ...report.packages.filter((p) => p.thirdParty && !before.has(`${p.name}@${p.vetVersion}`)),
    ...report.packages.filter((p) => unvetted.has(p.id)),
  ];
  const changeKind = changeKinds(base.lockfile);
  const blocking = failures(report).filter((p) => changed.includes(p));
  const change = (p: PackageVerdict) => (unvetted.has(p.id) ? 'no longer vetted' : changeKind(p.name, p.version));
  // RustSec on what the change brings in; and what it fixes: a hit in base that head no longer has.
  const brought = (h: AdvisoryHit) => !before.has(`${h.package.name}@${vetVersionOf(h.package)}`);
  const headHits = advisories ? matchLockfile(advisories, ws.lockfile) : [];
  const vexed = applyVex(headHits.filter(brought), vex);
  const exposed = inReadingOrder(vexed.exposed); // vulnerabilities first, most severe first
  const stillHit = new Set(headHits.map(hitKey));
  const fixed = advisories
    ? dedupe(matchLockfile(advisories, base.lockfile).filter((h) => h.advisory.informational === undefined && !stillHit.has(hitKey(h))))
    : [];
  return {
    o,
    ws,
    base,
    storeDir,
    report,
    changed,
    blocking,
    change,
    invalid: report.conclusion === 'fail (store)' ? report.store!.reported : [],
    advisories,
    vex,
    exposed,
    suppressed: vexed.suppressed,
    fixed,
    vulnerable: exposed.filter((h) => h.advisory.informational === undefined),
    changeOf: (h) => changeKind(h.package.name, h.package.version),
    deny: gateDeny(ws, base, denyConfig),
  };
}

/**
 * The base: from git at REF (`--base-ref`), else the `--base` file or folder, read as the head is
 * (a Cargo.lock or a CycloneDX SBOM, with the cargo-metadata.json beside it).
 */
function readBase(o: GateOptions, ws: ReturnType<typeof loadWorkspace>, storeDir?: string, denyPath?: string): Base {
  if (o.baseRef) return { ...readGitBase(o.baseRef, ws.lockPath, storeDir, ws.metadataPath, denyPath), fromGit: true };
  const b = loadLocked(o.base!);
  return {
    label: b.lockPath,
    lockfile: b.lockfile,
    graph: b.graph,
    ...(b.metadataPath !== undefined ? { metadata: { value: b.metadata, file: b.metadataPath } } : {}),
    fromGit: false,
  };
}

/** added: base had no version of the crate; downgraded: every version base had is newer; else upgraded. */
function changeKinds(base: Lockfile): (name: string, version: string) => 'added' | 'upgraded' | 'downgraded' {
  const baseVersions = new Map<string, string[]>();
  for (const p of base.packages) baseVersions.set(p.name, [...(baseVersions.get(p.name) ?? []), p.version]);
  return (name, version) => {
    const had = baseVersions.get(name);
    if (!had) return 'added';
    try {
      return had.every((v) => compareVersions(v, version) > 0) ? 'downgraded' : 'upgraded';
    } catch {
      return 'upgraded'; // a version string semver refuses: said as a change all the same
    }
  };
}

function textReport(v: Verdict): string[] {
  const { exposed, suppressed, changeOf } = v;
  const out = v.invalid.length
    ? ['(the store is invalid, see stderr: the verdicts below are for information, cargo vet would not resolve)']
    : [];
  out.push(
    `${v.changed.length - v.changed.filter((p) => v.change(p) === 'no longer vetted').length} third-party packages added or upgraded; ${v.blocking.length} not vetted`,
  );
  for (const p of v.changed)
    out.push(`  ${p.status === 'unvetted' || p.status === 'violation' ? 'FAIL' : 'ok  '} ${v.change(p)} ${p.id}: ${p.status}`);
  if (v.blocking.length) out.push('', 'To pass:');
  for (const p of v.blocking) out.push(describeFailure(p));
  if (!v.advisories) return out;
  out.push(
    '',
    `RustSec on what the change brings in: ${v.vulnerable.length} vulnerabilities, ${exposed.length - v.vulnerable.length} informational${v.vex.length ? `; suppressed by VEX: ${suppressed.length}` : ''}`,
  );
  for (const h of exposed) {
    const [first, ...rest] = hitLines(h, `  ${h.advisory.informational === undefined ? 'FAIL' : 'warn'} ${changeOf(h)} `);
    // Each range apart (`>= 1.13.3 or >= 1.11.5, < 1.12.0`): a comma joins the bounds of one range.
    out.push(
      `${first}${h.advisory.informational === undefined ? ` — patched: ${describeRanges(patchedRanges(h.advisory))}` : ''}`,
      ...rest,
    );
  }
  if (suppressed.length) {
    out.push('', `Suppressed by VEX (${suppressed.length}, not counted):`);
    for (const h of suppressed) out.push(...hitLines(h));
  }
  if (v.fixed.length) out.push('', `Fixed by this change: ${v.fixed.map((h) => `${h.advisory.id} (${h.package.id})`).join(', ')}`);
  return out;
}

function jsonReport(v: Verdict) {
  const { report, changeOf } = v;
  return {
    base: v.base.label,
    head: v.o.head,
    ...(v.base.fromGit ? { baseRef: v.o.baseRef } : {}),
    store: v.storeDir ?? null,
    conclusion: report.conclusion,
    storeErrors: report.store?.fatal
      ? { fatal: report.store.fatal, message: report.store.message, reported: report.store.reported, all: report.store.problems }
      : null,
    changed: v.changed.map((p) => ({ id: p.id, change: v.change(p), status: p.status })),
    blocking: v.blocking,
    deny: gateDenyJson(v.deny),
    ...(v.advisories
      ? {
          advisories: v.exposed.map((h) => ({ ...hitJson(h), change: changeOf(h), patched: h.advisory.versions.patched })),
          suppressedByVex: v.suppressed.map((h) => ({ ...hitJson(h), change: changeOf(h) })),
          fixedAdvisories: v.fixed.map((h) => ({ id: h.advisory.id, package: h.package.id, title: h.advisory.title })),
          vexDocuments: v.vex.map((d) => d.file),
        }
      : {}),
  };
}

/**
 * With the base's own store (--base-ref), a crate base already locked that its store vetted and
 * the head's store no longer does (an audit or exemption removed, a violation added) is this
 * change's doing too: the ids of those head verdicts. Empty without a base store, or when the
 * base store is one cargo-vet refuses (nothing was vetted there to lose).
 */
function unvettedByStoreChange(
  base: Base,
  pools: NonNullable<Parameters<typeof resolveVet>[1]>['pools'],
  head: PackageVerdict[],
  before: Set<string>,
): Set<string> {
  if (!base.store) return new Set();
  const was = resolveVet({ graph: base.graph, store: base.store }, { pools });
  if (was.conclusion === 'fail (store)') return new Set();
  const failing = (p: PackageVerdict) => p.status === 'unvetted' || p.status === 'violation';
  const vettedBefore = new Set(was.packages.filter((p) => p.thirdParty && !failing(p)).map((p) => `${p.name}@${p.vetVersion}`));
  return new Set(
    head
      .filter((p) => p.thirdParty && failing(p) && before.has(`${p.name}@${p.vetVersion}`) && vettedBefore.has(`${p.name}@${p.vetVersion}`))
      .map((p) => p.id),
  );
}

/** A hit as (advisory, crate name): what "the same advisory on the same crate" means across base and head. */
const hitKey = (h: AdvisoryHit) => `${h.advisory.id}\u0000${h.package.name}`;

/** One hit per (advisory, crate name): an advisory on several locked versions of a crate is fixed once. */
function dedupe(hits: AdvisoryHit[]): AdvisoryHit[] {
  const seen = new Set<string>();
  return hits.filter((h) => {
    const k = hitKey(h);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
