/**
 * `gate`'s cargo-deny part: the head's deny.toml checks on head and base, and only the problems the
 * change brings in (shared `denyBroughtIn`: a new license violation, a newly banned crate or
 * version, a new duplicate, a crate from a new source), as text and `--json`; SARIF and GitHub get
 * them through `gate-findings.ts`. With `--base-ref`, the base is judged by the deny.toml it had
 * (so a tightened config brings its new problems in, as a store edit un-vets); else by the head's.
 */
import {
  checkDeny,
  denyBroughtIn,
  denyPackages,
  denyRuleId,
  isDenyLevel,
  parseDenyConfig,
  type DenyConfig,
  type DenyFinding,
  type DenyReport,
  type Lockfile,
} from '@cratewatch/shared';
import { ruleAt } from './deny-report.js';
import { denyConfigWarnings, progress, runDeny, type Workspace } from './io.js';

export interface GateDeny {
  head: DenyReport;
  /** The config the base was judged by (the head's, or REF's own). */
  baseConfig: string;
  /** What the change brings in, errors and warnings, in the head report's order. */
  brought: DenyFinding[];
}

/** The base as the deny checks read it: its lockfile, its cargo metadata when known, and REF's deny.toml when read from git. */
export interface DenyBaseInput {
  label: string;
  lockfile: Lockfile;
  metadata?: { value: unknown; file: string };
  denyConfig?: { file: string; text: string };
}

/** The checks on head and base with the head's `config` (undefined: the head has no deny.toml, nothing to check). */
export function gateDeny(ws: Workspace, base: DenyBaseInput, config: DenyConfig | undefined): GateDeny | undefined {
  if (!config) return undefined;
  progress(`cargo-deny checks from ${config.file}`);
  denyConfigWarnings(config);
  const head = runDeny(ws, config);
  const baseConfig = baseConfigOf(base, config);
  const pkgs = denyPackages(base.lockfile, base.metadata && { ...base.metadata, lockPath: base.label });
  const report = checkDeny(pkgs, baseConfig);
  const brought = denyBroughtIn(head, {
    report,
    metadata: pkgs.metadata,
    locked: new Set(base.lockfile.packages.map((p) => p.id)),
  });
  return { head, baseConfig: baseConfig.file, brought };
}

/** REF's deny.toml when it has one that reads (one that does not is set aside: the change may fix it), else the head's. */
function baseConfigOf(base: DenyBaseInput, config: DenyConfig): DenyConfig {
  if (!base.denyConfig) return config;
  try {
    return parseDenyConfig(base.denyConfig.text, base.denyConfig.file);
  } catch (err) {
    progress(`warning: ${base.denyConfig.file} does not read (${(err as Error).message}); the base judged by ${config.file}`);
    return config;
  }
}

const errors = (d: GateDeny) => d.brought.filter(isDenyLevel);

/** Whether the change fails on a cargo-deny problem (one at level deny). */
export const denyBlocks = (d: GateDeny | undefined): boolean => d !== undefined && errors(d).length > 0;

/** The text report's section: one line per problem brought in, with its deny.toml rule. */
export function gateDenyLines(d: GateDeny | undefined): string[] {
  if (!d) return [];
  const out = [
    '',
    `cargo-deny checks on what the change brings in (${d.head.config}): ${errors(d).length} errors, ${d.brought.length - errors(d).length} warnings`,
  ];
  for (const f of d.brought)
    out.push(`  ${isDenyLevel(f) ? 'FAIL' : 'warn'} ${denyRuleId(f)} ${f.package!.id}: ${f.message}  (${ruleAt(d.head, f)})`);
  for (const c of ['licenses', 'bans', 'sources'] as const)
    if (d.head.checks[c] !== 'checked')
      out.push(`  ${c}: not checked (${d.head.checks[c] === 'not configured' ? `no [${c}] section` : 'needs cargo metadata'})`);
  return out;
}

/** `--json`'s `deny`: null without a deny.toml. */
export function gateDenyJson(d: GateDeny | undefined) {
  if (!d) return null;
  return {
    config: d.head.config,
    baseConfig: d.baseConfig,
    result: denyBlocks(d) ? 'fail' : 'pass',
    checks: d.head.checks,
    errors: errors(d).length,
    warnings: d.brought.length - errors(d).length,
    findings: d.brought.map((f) => ({ ...f, rule: { ...f.rule, file: d.head.config } })),
    unsupportedKeys: d.head.warnings,
    notes: d.head.notes,
  };
}
