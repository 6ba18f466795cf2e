/**
 * cargo-deny's licenses, bans and sources checks on one workspace: `checkDeny(packages, config)`
 * is the one entry point (scan, `cratewatch deny`, gate, SARIF and the scorer).
 */
import type { ConfigWarning, DenyConfig } from './config.js';
import { checkBans } from './bans.js';
import { type DenyCheck, type DenyFinding, isDenyLevel } from './finding.js';
import { checkLicenses } from './licenses.js';
import type { DenyPackages } from './packages.js';
import { checkSources } from './sources.js';

export * from './config.js';
export * from './finding.js';
export { checkBans } from './bans.js';
export {
  checkLicenses,
  evaluate,
  parseAllowedLicense,
  parseLicenseExpression,
  readExpression,
  requirements,
  satisfies,
  describeReq,
  type LicenseExpr,
  type LicenseReq,
} from './licenses.js';
export { checkSources } from './sources.js';
export { denyPackages, reachable, type DeclaredDependency, type DenyPackage, type DenyPackages } from './packages.js';
export { parseSpecString, specMatches, type PackageSpec } from './spec.js';
export { denyRuleAt, denyRuleId, denyRuleInfo, denyRuleOf, type DenyRuleInfo } from './rules.js';
export { DENY_CONFIG_FILES, denyFacts, denyPackagesOfEvent } from './facts.js';
export { denyFindingChanges, denyFindingEvent, denyFindingEvents, type StoredDenyFinding } from './finding-events.js';

export type CheckState = 'checked' | 'not configured' | 'needs cargo metadata';

export interface DenyReport {
  /** The deny.toml read. */
  config: string;
  /** Per check: run, not run because deny.toml has no such section, or (licenses) not run for lack of cargo metadata. */
  checks: Record<DenyCheck, CheckState>;
  /** Licenses, then bans, then sources; within a check, per kind of finding, in crate order (name, then version). */
  findings: DenyFinding[];
  /** Keys of deny.toml that are not supported (or not read), one each. */
  warnings: ConfigWarning[];
  /** What could not be judged and why (no cargo metadata: no license, no wildcard). */
  notes: string[];
}

export function checkDeny(pkgs: DenyPackages, cfg: DenyConfig): DenyReport {
  const notes: string[] = [];
  const checks: Record<DenyCheck, CheckState> = { licenses: 'not configured', bans: 'not configured', sources: 'not configured' };
  const findings: DenyFinding[] = [];
  if (cfg.licenses) {
    if (pkgs.metadata) {
      checks.licenses = 'checked';
      findings.push(...checkLicenses(pkgs, cfg.licenses, cfg.excludeDev));
    } else {
      checks.licenses = 'needs cargo metadata';
      notes.push(
        'licenses not checked: license fields come from cargo metadata (save `cargo metadata --format-version 1 --all-features` as cargo-metadata.json beside Cargo.lock, or pass --metadata)',
      );
    }
  }
  if (cfg.bans) {
    checks.bans = 'checked';
    findings.push(...checkBans(pkgs, cfg.bans, cfg.excludeDev));
    if (!pkgs.metadata) {
      notes.push(
        'bans: wildcard requirements not checked, and duplicates counted over every package the Cargo.lock locks (also dev-only ones and optional dependencies no feature enables, which cargo-deny leaves out): declarations, features and kinds come from cargo metadata',
      );
    }
  }
  if (cfg.sources) {
    checks.sources = 'checked';
    findings.push(...checkSources(pkgs, cfg.sources, cfg.excludeDev));
  }
  return { config: cfg.file, checks, findings, warnings: cfg.warnings, notes };
}

/** Whether the report fails: a deny-level finding (exit 1). */
export const denyFails = (r: DenyReport): boolean => r.findings.some(isDenyLevel);

/** A finding's identity across runs: check, code, and the crate-version (or the config key it is about). */
export const denyFindingKey = (f: DenyFinding): string =>
  `${f.check}:${f.code}:${f.package ? `${f.package.id}${f.versions ? `[${f.versions.join(',')}]` : ''}` : f.rule.key}`;

/**
 * What a change brings in: the head's findings that the base does not have (by `denyFindingKey`;
 * a duplicate counts as new when its set of versions changed). For `gate`.
 */
export function newDenyFindings(head: DenyReport, base: DenyReport): DenyFinding[] {
  const before = new Set(base.findings.map(denyFindingKey));
  return head.findings.filter((f) => !before.has(denyFindingKey(f)));
}

/** The base of a change, for `denyBroughtIn`: its report, whether it had cargo metadata, and the ids it locked. */
export interface DenyBase {
  report: DenyReport;
  metadata: boolean;
  locked: ReadonlySet<string>;
}

/**
 * What a change brings in, for `gate`: the head's problems about a crate-version that the base does
 * not have (`newDenyFindings`). A problem that only cargo metadata shows (every license one, a
 * wildcard) cannot be told about a base without metadata: there it is the change's when its
 * crate-version is new, as the gate judges unvetted crates. Problems of the config itself (an
 * allowance nothing used) are no crate's and are left to `cratewatch deny`.
 */
export function denyBroughtIn(head: DenyReport, base: DenyBase): DenyFinding[] {
  const unseen = new Set(newDenyFindings(head, base.report));
  const needsMetadata = (f: DenyFinding) => f.check === 'licenses' || f.code === 'wildcard';
  return head.findings.filter((f) => {
    if (!f.package) return false;
    if (!base.metadata && needsMetadata(f)) return !base.locked.has(f.package.id);
    return unseen.has(f);
  });
}
