/** What every deny check reports: one problem, the crate it is about, and the rule that says so. */
import type { RuleRef } from './config.js';

export type DenyCheck = 'licenses' | 'bans' | 'sources';

export interface DenyFinding {
  check: DenyCheck;
  /**
   * cargo-deny's diagnostic code: licenses `rejected`, `unlicensed`, `parse-error`,
   * `license-not-encountered`, `license-exception-not-encountered`; bans `banned`, `not-allowed`,
   * `duplicate`, `wildcard`, `unmatched-skip`; sources `source-not-allowed`,
   * `git-source-underspecified`, `unmatched-source`, `unmatched-organization`.
   */
  code: string;
  /** `deny` fails the check (exit 1); `warn` is said and does not. */
  level: 'deny' | 'warn';
  /** The crate-version, absent for a finding about the config itself (an allowance nothing used). */
  package?: { id: string; name: string; version: string };
  /** For duplicates: every version of the crate, lowest first. */
  versions?: string[];
  message: string;
  /** The deny.toml key (and line) of the rule. */
  rule: RuleRef;
}

export const isDenyLevel = (f: DenyFinding): boolean => f.level === 'deny';
