/**
 * What one kind of deny finding (a check and cargo-deny's diagnostic code) means wherever a finding
 * leaves cratewatch: its name, one line and a paragraph of help, cargo-deny's page for the
 * diagnostic, and how much it matters — the score and severity the scorer gives its finding, and the
 * `security-severity` SARIF gives it when it is a security matter at all. One table, so that the
 * gate's SARIF and the scorer's findings cannot rate the same problem differently.
 */
import { severityOfSignalScore, type Severity } from '../severity.js';
import type { DenyCheck, DenyFinding } from './finding.js';

export interface DenyRuleInfo {
  /** `deny/licenses/rejected` (shared `denyRuleId`). */
  id: string;
  /** PascalCase, for SARIF's `name`: `DenyLicensesRejected`. */
  name: string;
  short: string;
  full: string;
  /** cargo-deny's own page for the diagnostic (`…/checks/licenses/diags.html#rejected`). */
  helpUri: string;
  /**
   * 0–10 on cratewatch's own scale (ADR 0008: never critical). What fails supply-chain trust
   * (code from a source nobody allowed, a crate the team banned) is high; a licence the team
   * refuses is medium (a legal problem, not a security one); duplicates, wildcards and loose git
   * pins are low: hygiene that makes review harder.
   */
  score: number;
  severity: Severity;
  /** Whether it is a security finding (SARIF `security-severity`, GitHub's security tab): sources and bans. */
  security: boolean;
}

const DOCS = 'https://embarkstudios.github.io/cargo-deny/checks/';

/** A SARIF / scorer rule id: `deny/licenses/rejected`. */
export const denyRuleId = (f: Pick<DenyFinding, 'check' | 'code'>): string => `deny/${f.check}/${f.code}`;

type Known = { short: string; full: string; score: number; security: boolean };

const KNOWN: Record<string, Known> = {
  'licenses/rejected': {
    short: "A crate whose license the deny.toml's [licenses] does not allow",
    full: 'The license expression of this crate-version is not satisfied by licenses.allow (nor by an exception for the crate). Choose another crate or version, or, if the license is acceptable, add it to allow or as an exception for this crate.',
    score: 6,
    security: false,
  },
  'licenses/unlicensed': {
    short: 'A crate with no license cratewatch can judge',
    full: 'The crate has no license field (or one that is empty or does not parse), so nothing in licenses.allow can allow it. Ask upstream to declare one, or add an exception with the license its files state.',
    score: 6,
    security: false,
  },
  'bans/banned': {
    short: 'A crate the deny.toml bans',
    full: 'The crate (or this version of it) is in bans.deny: the team decided it must not be used. Remove the dependency, use the replacement the entry names, or list the crate depending on it as a wrapper.',
    score: 8,
    security: true,
  },
  'bans/not-allowed': {
    short: 'A crate that is not in bans.allow',
    full: 'A non-empty bans.allow denies every crate it does not list. Add the crate to allow after review, or remove the dependency.',
    score: 6,
    security: true,
  },
  'bans/duplicate': {
    short: 'Several versions of one crate',
    full: 'The workspace locks more than one version of this crate, so it is built and reviewed several times. Align the dependents on one version, or skip the crate in bans.skip.',
    score: 4,
    security: false,
  },
  'bans/wildcard': {
    short: 'A wildcard version requirement',
    full: 'A workspace crate depends on a crate with the requirement "*", so any future version is accepted unreviewed. Pin a version range.',
    score: 4,
    security: true,
  },
  'sources/source-not-allowed': {
    short: 'A crate from a registry or git repository the deny.toml does not allow',
    full: 'The crate comes from a source that no sources.allow-registry, allow-git, private or allow-org entry names: code from where the team has not agreed to take it. Take the crate from crates.io or an allowed source, or allow the source after review.',
    score: 8,
    security: true,
  },
  'sources/git-source-underspecified': {
    short: 'A git dependency pinned less firmly than sources.required-git-spec asks',
    full: 'The git source names a branch (or nothing) where the deny.toml asks for a tag or a revision, so what is built can move without a change to Cargo.lock. Pin the dependency with rev or tag.',
    score: 4,
    security: true,
  },
};

const pascal = (s: string) =>
  s
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('');

/** The rule of a (check, code); codes not in the table (config findings: an allowance nothing used) are low and not security. */
export function denyRuleInfo(check: DenyCheck, code: string): DenyRuleInfo {
  const k = KNOWN[`${check}/${code}`] ?? {
    short: `cargo-deny ${check}: ${code}`,
    full: `The deny.toml's [${check}] section reports ${code}. See cargo-deny's description of the diagnostic.`,
    score: 2,
    security: false,
  };
  return {
    id: denyRuleId({ check, code }),
    name: `Deny${pascal(check)}${pascal(code)}`,
    short: k.short,
    full: k.full,
    helpUri: `${DOCS}${check}/diags.html#${code}`,
    score: k.score,
    severity: severityOfSignalScore(k.score),
    security: k.security,
  };
}

/** Where a finding's rule is written: `deny.toml:12 bans.multiple-versions`. */
export const denyRuleAt = (config: string, f: Pick<DenyFinding, 'rule'>): string =>
  `${config}${f.rule.line ? `:${f.rule.line}` : ''} ${f.rule.key}`;

/** The rule of one finding (`denyRuleId(f)` is its id). */
export const denyRuleOf = (f: Pick<DenyFinding, 'check' | 'code'>): DenyRuleInfo => denyRuleInfo(f.check, f.code);
