/**
 * The cargo-deny section of `scan` (and all of `cratewatch deny`): findings grouped by check, each
 * line naming the crate-version, what is wrong and the deny.toml rule (file:line key) that says so.
 */
import { denyFails, denyRuleAt, type DenyCheck, type DenyFinding, type DenyReport } from '@cratewatch/shared';
import { bold, red, yellow } from './colour.js';

const CHECKS: DenyCheck[] = ['licenses', 'bans', 'sources'];

const count = (fs: DenyFinding[], level: 'deny' | 'warn') => fs.filter((f) => f.level === level).length;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** `deny.toml:12 bans.multiple-versions`. */
export const ruleAt = (r: DenyReport, f: DenyFinding): string => denyRuleAt(r.config, f);

/** The summary line: `deny (deny.toml): 3 errors, 2 warnings (licenses 2, bans 1, sources 0)`. */
export function denySummaryLine(r: DenyReport): string {
  const per = CHECKS.map(
    (c) =>
      `${c} ${
        r.checks[c] === 'checked'
          ? count(
              r.findings.filter((f) => f.check === c),
              'deny',
            )
          : r.checks[c]
      }`,
  ).join(', ');
  const errors = count(r.findings, 'deny');
  return `  cargo-deny checks (${r.config}): ${errors ? bold(plural(errors, 'error')) : '0 errors'}, ${plural(count(r.findings, 'warn'), 'warning')} (${per})`;
}

function findingLine(r: DenyReport, f: DenyFinding): string {
  const level = f.level === 'deny' ? red('error') : yellow('warn ');
  const what = f.package ? `${f.package.id}: ` : '';
  return `    ${level} ${f.code}  ${what}${f.message}  (${ruleAt(r, f)})`;
}

/** The section, after the advisories: errors first within each check, then warnings. */
export function denyLines(r: DenyReport): string[] {
  const out = ['', bold(`cargo-deny checks (${r.config}):`)];
  for (const c of CHECKS) {
    if (r.checks[c] !== 'checked') {
      out.push(
        `  ${c}: ${r.checks[c] === 'not configured' ? `not checked (no [${c}] section)` : 'not checked (needs cargo metadata, see below)'}`,
      );
      continue;
    }
    const fs = r.findings.filter((f) => f.check === c);
    out.push(`  ${c}: ${fs.length === 0 ? 'ok' : `${plural(count(fs, 'deny'), 'error')}, ${plural(count(fs, 'warn'), 'warning')}`}`);
    for (const f of [...fs.filter((x) => x.level === 'deny'), ...fs.filter((x) => x.level === 'warn')]) out.push(findingLine(r, f));
  }
  for (const n of r.notes) out.push(`  note: ${n}`);
  if (r.warnings.length) out.push(`  ${plural(r.warnings.length, 'key')} of ${r.config} not supported (warnings on stderr)`);
  if (denyFails(r)) out.push(red(`  result: fail (${plural(count(r.findings, 'deny'), 'deny-level problem')})`));
  return out;
}

/** `--json`: the `deny` field. */
export function denyJson(r: DenyReport | undefined) {
  if (!r) return null;
  return {
    config: r.config,
    result: denyFails(r) ? 'fail' : 'pass',
    checks: r.checks,
    errors: count(r.findings, 'deny'),
    warnings: count(r.findings, 'warn'),
    findings: r.findings.map((f) => ({ ...f, rule: { ...f.rule, file: r.config } })),
    unsupportedKeys: r.warnings,
    notes: r.notes,
  };
}
