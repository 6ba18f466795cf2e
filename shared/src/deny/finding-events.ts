/**
 * A workspace's cargo-deny findings as `risk.findings` events (kind `deny`), for the scorer: one
 * open finding per deny-level problem about a crate-version (warnings fail nothing and open
 * nothing; a problem of the config itself, such as an allowance nothing used, has no crate). Its
 * identity is `denyFindingKey`, the one `gate` tells new problems by (`newDenyFindings`): a
 * duplicate whose set of versions changed is another finding, as in the gate.
 */
import type { FindingEvent } from '../events.js';
import { findingChanges, findingId, type WorkspaceRef } from '../findings.js';
import { isDenyLevel, type DenyFinding } from './finding.js';
import { denyFindingKey, type DenyReport } from './index.js';
import { denyRuleAt, denyRuleOf } from './rules.js';

/** The finding event of one deny problem (`config` names the deny.toml the rule is in). */
export function denyFindingEvent(
  ws: WorkspaceRef,
  f: DenyFinding & { package: NonNullable<DenyFinding['package']> },
  config: string,
  state: 'open' | 'resolved',
  observedAt: string,
): FindingEvent {
  const rule = denyRuleOf(f);
  return {
    v: 1,
    id: findingId(ws.id, f.package.name, f.package.version, `deny:${denyFindingKey(f)}`),
    kind: 'deny',
    state,
    severity: rule.severity,
    score: rule.score,
    workspace: { id: ws.id, org: ws.org, ...(ws.team ? { team: ws.team } : {}) },
    crate: f.package.name,
    version: f.package.version,
    why: [{ signal: `deny.${f.check}.${f.code}`, contribution: rule.score, detail: `${f.message} (${denyRuleAt(config, f)})` }],
    deny: {
      check: f.check,
      code: f.code,
      message: f.message,
      rule: { file: config, key: f.rule.key, ...(f.rule.line ? { line: f.rule.line } : {}) },
      ...(f.versions ? { versions: f.versions } : {}),
    },
    observedAt,
  };
}

/** The deny findings that should be open for a report: its deny-level problems about a crate. */
export function denyFindingEvents(ws: WorkspaceRef, report: DenyReport | undefined, at: string): FindingEvent[] {
  if (!report) return [];
  return report.findings
    .filter((f): f is DenyFinding & { package: NonNullable<DenyFinding['package']> } => isDenyLevel(f) && f.package !== undefined)
    .map((f) => denyFindingEvent(ws, f, report.config, 'open', at));
}

/** A deny finding as the scorer stores it: enough to repeat, when it resolves, what it said. */
export interface StoredDenyFinding {
  id: string;
  state: string;
  crate: string;
  version: string;
  severity: FindingEvent['severity'];
  score: number;
  why: FindingEvent['why'];
  deny?: FindingEvent['deny'];
}

/**
 * The events that bring a workspace's stored deny findings in line with its report (none: the
 * workspace has no deny.toml any more, so every open one resolves): each new or reopened problem
 * opens, each open finding the report no longer has resolves repeating what it said; one still
 * open sends nothing (its score depends only on its kind).
 */
export function denyFindingChanges(
  ws: WorkspaceRef,
  report: DenyReport | undefined,
  stored: readonly StoredDenyFinding[],
  at: string,
): FindingEvent[] {
  return findingChanges(denyFindingEvents(ws, report, at), stored, (s) => ({
    v: 1,
    id: s.id,
    kind: 'deny',
    state: 'resolved',
    severity: s.severity,
    score: s.score,
    workspace: { id: ws.id, org: ws.org, ...(ws.team ? { team: ws.team } : {}) },
    crate: s.crate,
    version: s.version,
    why: s.why,
    ...(s.deny ? { deny: s.deny } : {}),
    observedAt: at,
  }));
}
