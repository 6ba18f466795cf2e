/**
 * What `gate` found (cargo-vet, RustSec, cargo-deny), as one flat list of located findings with their rules: what the CI formats
 * (SARIF, GitHub annotations) both render, so that they cannot say different things. A finding is
 * located on the `[[package]]` line of its crate-version in the head Cargo.lock (an invalid store:
 * on its table's line in the store file), and carries a fingerprint that does not depend on lines.
 */
import { createHash } from 'node:crypto';
import {
  advisoryFacts,
  advisorySeverity,
  denyFindingKey,
  denyRuleAt,
  denyRuleOf,
  describeRanges,
  packageTableLines,
  type DenyFinding,
  type AdvisoryHit,
  type Lockfile,
  type PackageVerdict,
  type StoreProblem,
  type VexedHit,
} from '@cratewatch/shared';
import { problemLocation } from './io.js';

export interface Rule {
  id: string;
  /** A PascalCase name for the kind of rule (SARIF `name`). */
  name: string;
  short: string;
  full: string;
  helpText: string;
  helpMarkdown: string;
  helpUri: string;
  /** GitHub code scanning's `security-severity` (0.0–10.0 as a string); undefined for what is not a security finding. */
  securitySeverity?: string;
  tags: string[];
  level: 'error' | 'warning';
}

export interface Finding {
  rule: Rule;
  level: 'error' | 'warning';
  /** One line a reviewer reads (annotation title): `unvetted-crate: foo@1.1.0`. */
  title: string;
  message: string;
  /** The file the finding is on (as given: absolute or relative to the working directory) and its 1-based line. */
  file: string;
  line: number;
  /** sha256 of what identifies the finding (rule, crate, version), never of its line. */
  fingerprint: string;
}

const CARGO_VET_DOCS = 'https://mozilla.github.io/cargo-vet/';

/** The rules of cargo-vet's verdicts: fixed, one per kind. Severities: a violation is high (as the scorer rates it), an unaudited crate medium. */
export const VET_RULES: Record<'unvetted-crate' | 'audit-violation' | 'invalid-store', Rule> = {
  'unvetted-crate': vetRule(
    'unvetted-crate',
    'UnvettedCrate',
    'A crate added or upgraded that no trusted audit vets',
    'The change brings in a third-party crate version that no audit in the cargo-vet store, its imports or the trusted pools vets for the criteria its dependents need. Audit it and record the audit (`cargo vet certify`), import an audit set that covers it, or add an exemption.',
    `${CARGO_VET_DOCS}recording-audits.html`,
    '6.0',
    ['security', 'supply-chain', 'cargo-vet'],
  ),
  'audit-violation': vetRule(
    'audit-violation',
    'AuditViolation',
    'A crate version that a trusted audit marks as a violation',
    'A trusted audit records a violation for this crate version: an auditor says it must not be used for these criteria. Move to another version, or resolve the conflict with the audit it contradicts.',
    `${CARGO_VET_DOCS}audit-entries.html`,
    '8.0',
    ['security', 'supply-chain', 'cargo-vet'],
  ),
  'invalid-store': vetRule(
    'invalid-store',
    'InvalidStore',
    'A cargo-vet store that cargo vet --locked refuses before resolving',
    'cargo vet --locked stops on this store before judging any package, so no verdict holds until it is fixed (run `cargo vet fmt`, or correct the entry named).',
    `${CARGO_VET_DOCS}config.html`,
    undefined,
    ['supply-chain', 'cargo-vet'],
  ),
};

function vetRule(
  id: string,
  name: string,
  short: string,
  full: string,
  helpUri: string,
  securitySeverity: string | undefined,
  tags: string[],
): Rule {
  return documentedRule({ id, name, short, full, helpUri }, 'the cargo-vet book', securitySeverity, tags, 'error');
}

/** A rule whose help is its own text and a page of the tool whose rule it is (`docs`: how the link reads). */
function documentedRule(
  r: Pick<Rule, 'id' | 'name' | 'short' | 'full' | 'helpUri'>,
  docs: string,
  securitySeverity: string | undefined,
  tags: string[],
  level: Rule['level'],
): Rule {
  return {
    ...r,
    helpText: `${r.short}. ${r.full} See ${r.helpUri}`,
    helpMarkdown: `**${r.short}.**\n\n${r.full}\n\nSee [${docs}](${r.helpUri}).`,
    securitySeverity,
    tags,
    level,
  };
}

/**
 * The rule of a kind of cargo-deny problem (shared `denyRuleInfo`: one per check and diagnostic
 * code, its help cargo-deny's page for the code); `security-severity` only for what is a security
 * matter (sources, bans but duplicates), from the score the scorer gives the same problem.
 */
export function denyRule(f: Pick<DenyFinding, 'check' | 'code' | 'level'>): Rule {
  const info = denyRuleOf(f);
  const tags = ['supply-chain', 'cargo-deny', f.check, ...(info.security ? ['security'] : [])];
  return documentedRule(info, `cargo-deny's ${f.code} diagnostic`, info.security ? info.score.toFixed(1) : undefined, tags, ruleLevel(f));
}

const ruleLevel = (f: Pick<DenyFinding, 'level'>): Rule['level'] => (f.level === 'deny' ? 'error' : 'warning');

/** The rule of one RustSec advisory: its id, its text as help, its page, its CVSS base score (or the score it is rated at without one). */
export function advisoryRule(a: AdvisoryHit['advisory']): Rule {
  const f = advisoryFacts(a);
  const vuln = a.informational === undefined;
  const short = `${a.package}: ${a.title}`;
  const facts = [
    vuln ? `Patched: ${describeRanges(f.patched)}` : `Informational: ${a.informational}`,
    ...(f.aliases.length ? [`Aliases: ${f.aliases.join(', ')}`] : []),
    ...(f.cvss ? [`CVSS: ${f.cvss.vector}${f.cvss.score !== null ? ` (base score ${f.cvss.score})` : ''}`] : []),
    ...(f.url ? [`Announcement: ${f.url}`] : []),
  ];
  return {
    id: a.id,
    name: vuln ? 'VulnerableCrate' : 'InformationalAdvisory',
    short,
    full: a.description.trim() || short,
    helpText: [`${a.id}: ${short}`, a.description.trim(), facts.join('\n'), `See ${f.link}`].filter((s) => s !== '').join('\n\n'),
    helpMarkdown: [
      `**${a.id}**: ${short}`,
      a.description.trim(),
      facts.map((l) => `- ${l}`).join('\n'),
      `See [${a.id} on rustsec.org](${f.link}).`,
    ]
      .filter((s) => s !== '')
      .join('\n\n'),
    helpUri: f.link,
    securitySeverity: advisorySeverity(a).score.toFixed(1),
    tags: [
      'security',
      'supply-chain',
      'rustsec',
      vuln ? 'vulnerability' : a.informational!,
      ...(vuln ? [f.severity] : []),
      ...a.categories,
    ],
    level: vuln ? 'error' : 'warning',
  };
}

const fingerprint = (...parts: string[]) => createHash('sha256').update(parts.join('\u0000')).digest('hex');

export interface GateOutcome {
  lockPath: string;
  lockText: string;
  lockfile: Lockfile;
  blocking: PackageVerdict[];
  change: (p: PackageVerdict) => string;
  invalid: StoreProblem[];
  storeDir: string | undefined;
  /** The hits the change brings in that VEX does not suppress, in reading order. */
  exposed: VexedHit[];
  changeOf: (h: AdvisoryHit) => string;
  /** The cargo-deny problems the change brings in (each about a crate-version), and the deny.toml that says so. */
  deny?: { findings: DenyFinding[]; config: string };
}

/** Every finding of a gate run, in the order the text report says them: store problems, unvetted crates, advisory hits. */
export function gateFindings(g: GateOutcome): Finding[] {
  const headers = packageTableLines(g.lockText);
  const lines = new Map<string, number>(
    headers.length === g.lockfile.packages.length ? g.lockfile.packages.map((p, i) => [p.id, headers[i]!]) : [],
  );
  const lineOf = (id: string) => lines.get(id) ?? 1;
  const out: Finding[] = g.invalid.map((p) => {
    const l = problemLocation(p, g.storeDir);
    const where = `${p.table}${p.key ? `, ${p.key}` : ''}`;
    return {
      rule: VET_RULES['invalid-store'],
      level: 'error',
      title: `invalid-store: ${where}`,
      message: `${where}: ${p.message}`,
      file: l.file,
      line: l.line,
      fingerprint: fingerprint('invalid-store', p.code, p.table, p.subject),
    };
  });
  for (const p of g.blocking) {
    const rule = VET_RULES[p.status === 'violation' ? 'audit-violation' : 'unvetted-crate'];
    const message = `${p.id} (${g.change(p)}) is not vetted for ${p.missing.join(', ')}.${p.suggestion ? ` Fix: ${p.suggestion.command}` : ''}`;
    out.push({
      rule,
      level: 'error',
      title: `${rule.id}: ${p.id}`,
      message,
      file: g.lockPath,
      line: lineOf(p.id),
      fingerprint: fingerprint(rule.id, p.name, p.version),
    });
  }
  for (const h of g.exposed) {
    const rule = advisoryRule(h.advisory);
    const a = h.advisory;
    const vuln = a.informational === undefined;
    const message = `${h.package.id} (${g.changeOf(h)}): ${a.id}${vuln ? '' : ` [${a.informational}]`}: ${a.title}.${vuln ? ` Patched: ${describeRanges(advisoryFacts(a).patched)}.` : ''}${h.vex ? ` VEX ${h.vex.statement.status} (${h.vex.document.file}).` : ''} ${rule.helpUri}`;
    out.push({
      rule,
      level: rule.level,
      title: `${a.id}: ${h.package.id}`,
      message,
      file: g.lockPath,
      line: lineOf(h.package.id),
      fingerprint: fingerprint(a.id, h.package.name, h.package.version),
    });
  }
  for (const f of g.deny?.findings ?? []) out.push(denyResult(f, g.deny!.config, g.lockPath, lineOf));
  return out;
}

/** A cargo-deny problem as a located finding; its fingerprint is of its identity (`denyFindingKey`: for a duplicate, the versions too). */
function denyResult(f: DenyFinding, config: string, lockPath: string, lineOf: (id: string) => number): Finding {
  const rule = denyRule(f);
  const pkg = f.package!;
  return {
    rule,
    level: ruleLevel(f),
    title: `${rule.id}: ${pkg.id}`,
    message: `${pkg.id}: ${f.message} (${denyRuleAt(config, f)}). ${rule.helpUri}`,
    file: lockPath,
    line: lineOf(pkg.id),
    fingerprint: fingerprint(rule.id, denyFindingKey(f)),
  };
}
