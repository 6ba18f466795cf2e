/**
 * The licenses check, as `cargo deny check licenses` judges a crate: its `license` field is an
 * SPDX expression (parsed by `spdx-expression-parse`, ADR 0010), each license requirement in it is
 * allowed when `licenses.allow` — or the first `licenses.exceptions` entry naming the crate — has a
 * license that satisfies it, and the expression passes when its AND / OR tree does. A crate with
 * no license field (or one that does not parse) is `unlicensed`: cargo-deny then reads the crate's
 * license files, which cratewatch does not (it has no crate sources), so it says so and fails it.
 */
import { createRequire } from 'node:module';
import type { LicensesConfig, RuleRef } from './config.js';
import type { DenyFinding } from './finding.js';
import { inCrateOrder, reachable, type DenyPackage, type DenyPackages } from './packages.js';
import { sourceMatchesUrl } from './sources.js';
import { specMatches } from './spec.js';

/** One license requirement: `Apache-2.0`, `MPL-1.1+` (or later), `Apache-2.0 WITH LLVM-exception`. */
export interface LicenseReq {
  license: string;
  orLater: boolean;
  exception?: string;
}

export type LicenseExpr = { req: LicenseReq } | { op: 'and' | 'or'; left: LicenseExpr; right: LicenseExpr };

// CommonJS packages (a function and JSON lists): loaded with require, typed here.
const require = createRequire(import.meta.url);
const parseSpdx = require('spdx-expression-parse') as (text: string) => unknown;
const licenseIds = require('spdx-license-ids') as string[];
const deprecatedIds = require('spdx-license-ids/deprecated.json') as string[];
const exceptionIds = require('spdx-exceptions') as string[];
const DEPRECATED = new Set(deprecatedIds);

/** Canonical spelling of each identifier, looked up case-insensitively (crates write `mit`, `apache-2.0`). */
const CANONICAL = new Map<string, string>([...licenseIds, ...deprecatedIds, ...exceptionIds].map((id) => [id.toLowerCase(), id]));

/** The GNU licenses, whose "or later" is an `-or-later` id rather than a `+` (SPDX 3.x). */
const GNU = /^(A|L)?GPL-|^GFDL-/;

/**
 * Parses an SPDX expression the way cargo-deny reads a crate's `license` field: `/` as OR (old
 * crates write `MIT/Apache-2.0`), operators in any case, deprecated ids (`GPL-2.0`), and a `+` on
 * a GNU license read as its `-or-later` id (`GPL-2.0+` is `GPL-2.0-or-later`). Throws an Error
 * saying what does not parse.
 */
export function parseLicenseExpression(text: string): LicenseExpr {
  return readExpression(text).expr;
}

/**
 * The expression and what SPDX itself would refuse in it (cargo-deny's STRICT reading, which only
 * allows `/` besides the standard): a deprecated id, an id in the wrong case, `+` on a GNU id.
 * cargo-deny warns about these (`parse-error`) and goes on with its lax reading, as we do.
 */
export function readExpression(text: string): { expr: LicenseExpr; notStrict: string[] } {
  const notStrict = new Set<string>();
  const normal = text
    .replace(/\s*\/\s*/g, ' OR ')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[A-Za-z0-9.-]+/g, (w) => {
      if (/^(and|or|with)$/i.test(w)) return w.toUpperCase();
      const id = CANONICAL.get(w.toLowerCase());
      if (id === undefined) return w;
      if (id !== w) notStrict.add(`${w} is spelt ${id}`);
      if (DEPRECATED.has(id)) notStrict.add(`${id} is a deprecated license identifier`);
      return id;
    });
  if (/(A|L)?GPL-[0-9.]+(-only)?\+|GFDL-[0-9.]+(-only)?\+/.test(normal)) notStrict.add('a "+" on a GNU license (SPDX writes -or-later)');
  if (normal === '') throw new Error('empty license expression');
  let ast: SpdxNode;
  try {
    ast = parseSpdx(normal) as SpdxNode;
  } catch (err) {
    throw new Error(`"${text}" is not an SPDX license expression${(err as Error).message ? ` (${(err as Error).message})` : ''}`);
  }
  return { expr: fromAst(ast), notStrict: [...notStrict] };
}

type SpdxNode = { license: string; plus?: boolean; exception?: string } | { left: SpdxNode; conjunction: 'and' | 'or'; right: SpdxNode };

function fromAst(n: SpdxNode): LicenseExpr {
  if ('conjunction' in n) return { op: n.conjunction, left: fromAst(n.left), right: fromAst(n.right) };
  let license = n.license;
  let orLater = n.plus === true;
  if (orLater && GNU.test(license)) {
    license = `${license.replace(/-only$/, '')}-or-later`;
    orLater = false;
  }
  return { req: { license, orLater, ...(n.exception ? { exception: n.exception } : {}) } };
}

export const describeReq = (r: LicenseReq): string => `${r.license}${r.orLater ? '+' : ''}${r.exception ? ` WITH ${r.exception}` : ''}`;

/** Every requirement of an expression, left to right. */
export function requirements(e: LicenseExpr): LicenseReq[] {
  return 'req' in e ? [e.req] : [...requirements(e.left), ...requirements(e.right)];
}

/**
 * Does an allowed license satisfy a requirement? The same id and exception; or, for a `+`
 * requirement, a later version of the same license (`MPL-2.0` satisfies `MPL-1.1+`): each `-`
 * part equal, or a version part that is greater. GNU ids match only themselves (cargo-deny 0.18.4+).
 */
export function satisfies(allowed: LicenseReq, req: LicenseReq): boolean {
  if ((allowed.exception ?? '') !== (req.exception ?? '')) return false;
  if (allowed.license === req.license) return true;
  if (!req.orLater) return false;
  const a = allowed.license.split('-');
  const b = req.license.split('-');
  if (a.length !== b.length) return false;
  const isVersion = (s: string) => /^[0-9.]+$/.test(s);
  return a.every((x, i) => x === b[i] || (isVersion(x) && isVersion(b[i]!) && x > b[i]!));
}

/**
 * Evaluates the AND / OR tree with `allowed` deciding each requirement. Every requirement is asked,
 * also where the result is already known (as cargo-deny does), so that each allowance a crate could
 * use counts as used.
 */
export function evaluate(e: LicenseExpr, allowed: (r: LicenseReq) => boolean): boolean {
  if ('req' in e) return allowed(e.req);
  const left = evaluate(e.left, allowed);
  const right = evaluate(e.right, allowed);
  return e.op === 'and' ? left && right : left || right;
}

/** An allow-list entry: one license (with an optional exception), no operator; an Error otherwise. */
export function parseAllowedLicense(text: string): LicenseReq {
  const e = parseLicenseExpression(text);
  if (!('req' in e)) throw new Error(`"${text}" is an expression: list each license on its own`);
  if (e.req.orLater) throw new Error(`"${text}": a "+" belongs in a crate's expression, not in an allowed license`);
  return e.req;
}

/** The crates the check looks at: the workspace's graph less what is reached only through dev (and, when asked, build) edges. */
function inScope(pkgs: DenyPackages, cfg: LicensesConfig, excludeDev: boolean): DenyPackage[] {
  const leaveOut = [...(cfg.includeDev && !excludeDev ? [] : (['dev'] as const)), ...(cfg.includeBuild ? [] : (['build'] as const))];
  const keep = reachable(pkgs, [...leaveOut]);
  return inCrateOrder([...pkgs.packages.values()].filter((p) => keep.has(p.id)));
}

const isPrivate = (p: DenyPackage, registries: string[]): boolean =>
  p.member && p.meta?.publish != null && p.meta.publish.every((r) => registries.includes(r));

/**
 * The package's license expression, or undefined when it has none that parses (an `unlicensed`
 * finding pushed to `out`); a lenient read pushes a `parse-error` warning and goes on.
 */
function licenseExpression(
  meta: NonNullable<DenyPackage['meta']>,
  cfg: LicensesConfig,
  finding: (code: string, message: string, rule: RuleRef) => DenyFinding,
  out: DenyFinding[],
): LicenseExpr | undefined {
  const allowRule = { key: 'licenses.allow', line: cfg.allow[0]?.line };
  const field = meta.license?.trim() ?? '';
  if (field === '') {
    const why = meta.license === null ? 'no license field' : 'an empty license field';
    const files = meta.licenseFile ? `; license-file ${meta.licenseFile} is not read by cratewatch` : '';
    out.push(finding('unlicensed', `${why}${files}: no license expression, so nothing allows it`, allowRule));
    return undefined;
  }
  try {
    const read = readExpression(field);
    if (read.notStrict.length)
      out.push({
        ...finding('parse-error', `license ${field} is not strict SPDX (${read.notStrict.join('; ')}); read leniently`, allowRule),
        level: 'warn',
      });
    return read.expr;
  } catch (err) {
    out.push(finding('unlicensed', `license field does not parse: ${(err as Error).message}`, allowRule));
    return undefined;
  }
}

/** `licenses` findings for the packages, in cargo-deny's crate order. Needs cargo metadata (`pkgs.metadata`). */
export function checkLicenses(pkgs: DenyPackages, cfg: LicensesConfig, excludeDev = false): DenyFinding[] {
  const allowed = cfg.allow.map((a) => ({ ...a, req: parseAllowedLicense(a.license) }));
  const denied = cfg.deny.map((a) => ({ ...a, req: parseAllowedLicense(a.license) }));
  const exceptions = cfg.exceptions.map((x) => ({ ...x, reqs: x.allow.map(parseAllowedLicense) }));
  const usedAllow = new Set<number>();
  const usedException = new Set<number>();
  const out: DenyFinding[] = [];
  for (const p of inScope(pkgs, cfg, excludeDev)) {
    if (!p.meta) continue;
    if (
      cfg.privateIgnore &&
      (isPrivate(p, cfg.privateRegistries) || cfg.ignoreSources.some((u) => p.source !== undefined && sourceMatchesUrl(p.source, u, true)))
    )
      continue;
    const pkg = { id: p.id, name: p.name, version: p.version };
    const finding = (code: string, message: string, rule: RuleRef): DenyFinding => ({
      check: 'licenses',
      code,
      level: 'deny',
      package: pkg,
      message,
      rule,
    });
    const field = p.meta.license?.trim() ?? '';
    const expr = licenseExpression(p.meta, cfg, finding, out);
    if (!expr) continue;
    const xi = exceptions.findIndex((x) => specMatches(x.spec, p));
    const verdicts = new Map<LicenseReq, RuleRef | undefined>();
    const ok = evaluate(expr, (req) => {
      if (denied.some((d) => satisfies(d.req, req))) return (verdicts.set(req, undefined), false);
      const x = xi >= 0 ? exceptions[xi]!.reqs.findIndex((a) => satisfies(a, req)) : -1;
      if (x >= 0) return (usedException.add(xi), verdicts.set(req, exceptions[xi]!), true);
      const a = allowed.findIndex((l) => satisfies(l.req, req));
      if (a >= 0) return (usedAllow.add(a), verdicts.set(req, allowed[a]!), true);
      return (verdicts.set(req, undefined), false);
    });
    if (ok) continue;
    const rejected = requirements(expr)
      .filter((r) => !verdicts.get(r))
      .map((r) => `${describeReq(r)}${denied.some((d) => satisfies(d.req, r)) ? ' (in licenses.deny)' : ''}`);
    const d = denied.find((x) => requirements(expr).some((r) => satisfies(x.req, r)));
    out.push(
      finding(
        'rejected',
        `license ${field}: rejected ${rejected.join(', ')} — not in licenses.allow${xi >= 0 ? ` nor in ${exceptions[xi]!.key}` : ''}`,
        d ?? { key: 'licenses.allow', line: cfg.allow[0]?.line },
      ),
    );
  }
  return [...out, ...unused(cfg, allowed, usedAllow, exceptions, usedException)];
}

/** Allowances and exceptions no crate used: warnings (or errors) as cargo-deny gives them. */
function unused(
  cfg: LicensesConfig,
  allowed: (RuleRef & { license: string })[],
  used: Set<number>,
  exceptions: (RuleRef & { spec: { text: string } })[],
  usedX: Set<number>,
): DenyFinding[] {
  const out: DenyFinding[] = [];
  if (cfg.unusedAllowedLicense !== 'allow') {
    allowed.forEach((a, i) => {
      if (!used.has(i))
        out.push({
          check: 'licenses',
          code: 'license-not-encountered',
          level: cfg.unusedAllowedLicense as 'deny' | 'warn',
          message: `license ${a.license} is allowed but no crate uses it`,
          rule: { key: a.key, line: a.line },
        });
    });
  }
  if (cfg.unusedLicenseException !== 'allow') {
    exceptions.forEach((x, i) => {
      if (!usedX.has(i))
        out.push({
          check: 'licenses',
          code: 'license-exception-not-encountered',
          level: cfg.unusedLicenseException as 'deny' | 'warn',
          message: `exception for ${x.spec.text} was not used`,
          rule: { key: x.key, line: x.line },
        });
    });
  }
  return out;
}
