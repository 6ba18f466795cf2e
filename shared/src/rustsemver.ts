/**
 * Version requirements as RustSec reads them in an advisory's `patched` / `unaffected` lists.
 *
 * Why not Node's `semver` directly: its range grammar is npm's. Given RustSec strings as they are it
 * is wrong for most advisories — a comma (`">= 1.8.4, < 1.9.0"`) makes the range invalid, `loose`
 * mode silently drops bounds, a bare `1.2.3` means `=1.2.3` in npm but `^1.2.3` in Cargo, and npm
 * hides pre-releases from ranges. RustSec (rustsec crate, `osv/unaffected_range.rs`) turns each
 * requirement into one interval instead, with these rules, which we follow exactly:
 *  - a bare version is a caret requirement;
 *  - a partial version is filled with zeros: `<= 1.2` is `<= 1.2.0` (Cargo would read `< 1.3.0`),
 *    `> 1.2` is `> 1.2.0`, `= 1.2` is exactly `1.2.0`;
 *  - caret and tilde upper bounds are exclusive at `X.Y.Z-0`, so `^1.0.0` does not cover
 *    `2.0.0-alpha`;
 *  - everything compares in plain SemVer 2.0 precedence, pre-releases included (Cargo would not let
 *    `>= 1.0.0` match `1.1.0-beta`; RustSec does);
 *  - at most one lower and one upper bound per requirement; `^`, `~` and `=` stand alone; wildcards
 *    are refused.
 * Node's `semver` is used only to parse and compare single versions, where it is exactly SemVer 2.0.
 */
import semver from './semver-lite.js';
import type SemVer from 'semver/classes/semver.js';

export type Bound = { version: string; inclusive: boolean } | null; // null: unbounded

export interface Interval {
  /** The requirement this interval came from, as written. */
  source: string;
  lower: Bound;
  upper: Bound;
}

/** A RustSec requirement, or a version inside one, that RustSec could not read. */
export class RequirementError extends Error {
  override name = 'RequirementError';
}

/**
 * Whether `v` is a SemVer 2.0 version exactly as Cargo writes one (`1.2.3`, `1.0.0-rc.1`, `1.0.2+wasi-0.2.9`): no
 * `v` or `=` prefix, no whitespace, no missing part. A crates.io release's version always is; a
 * cargo-vet git audit's `1.2.3@git:<commit>` is not (it names a git revision, not a release).
 */
export function isSemVer(v: string): boolean {
  const p = semver.parse(v);
  // Node's parser also takes a `v` prefix and surrounding blanks: the round trip refuses those.
  return p !== null && `${p.version}${p.build.length ? `+${p.build.join('.')}` : ''}` === v;
}

/** Parses a full version (major.minor.patch, optional pre-release and build) strictly. */
export function parseVersion(v: string): SemVer {
  const parsed = semver.parse(v.trim(), { loose: false });
  if (!parsed) throw new RequirementError(`"${v}" is not a SemVer version`);
  return parsed;
}

/** SemVer 2.0 precedence (build metadata ignored): negative, zero or positive. */
export function compareVersions(a: string, b: string): number {
  return semver.compare(parseVersion(a), parseVersion(b));
}

const COMPARATOR = /^(>=|<=|>|<|=|\^|~)?\s*v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$/;

interface Comparator {
  op: string;
  major: number;
  minor?: number;
  patch?: number;
  pre?: string;
}

function parseComparator(text: string, req: string): Comparator {
  if (/[*xX]/.test(text.replace(/-.*$/, ''))) throw new RequirementError(`wildcard "${text}" in "${req}" is not supported by RustSec`);
  const m = COMPARATOR.exec(text.trim());
  if (!m) throw new RequirementError(`"${text}" in "${req}" is not a version comparator`);
  const num = (s: string | undefined) => {
    if (s === undefined) return undefined;
    if (s.length > 1 && s.startsWith('0')) throw new RequirementError(`leading zero in "${text}" of "${req}"`);
    return Number(s);
  };
  if (m[5] !== undefined && m[4] === undefined) throw new RequirementError(`pre-release without a patch number in "${text}"`);
  return { op: m[1] ?? '^', major: num(m[2])!, minor: num(m[3]), patch: num(m[4]), pre: m[5] };
}

const filled = (c: Comparator): string => `${c.major}.${c.minor ?? 0}.${c.patch ?? 0}${c.pre ? `-${c.pre}` : ''}`;

/** One RustSec requirement (comma-separated comparators) as one interval. */
export function requirementToInterval(req: string): Interval {
  const parts = req.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) throw new RequirementError(`empty comparator in "${req}"`);
  if (parts.length > 2) throw new RequirementError(`too many comparators in "${req}"`);
  let lower: Bound = null;
  let upper: Bound = null;
  for (const part of parts) {
    const c = parseComparator(part, req);
    const v = filled(c);
    parseVersion(v);
    switch (c.op) {
      case '>':
      case '>=':
        if (lower) throw new RequirementError(`more than one lower bound in "${req}"`);
        lower = { version: v, inclusive: c.op === '>=' };
        break;
      case '<':
      case '<=':
        if (upper) throw new RequirementError(`more than one upper bound in "${req}"`);
        upper = { version: v, inclusive: c.op === '<=' };
        break;
      case '=':
      case '^':
      case '~': {
        if (parts.length !== 1) throw new RequirementError(`"${part}" must stand alone in "${req}"`);
        lower = { version: v, inclusive: true };
        if (c.op === '=') {
          upper = { version: v, inclusive: true };
          break;
        }
        let end: string;
        if (c.op === '~') {
          end = c.minor === undefined ? `${c.major + 1}.0.0` : `${c.major}.${c.minor + 1}.0`;
        } else if (c.major > 0) {
          end = `${c.major + 1}.0.0`;
        } else if (c.minor === 0 && c.patch !== undefined) {
          end = `0.0.${c.patch + 1}`;
        } else if (c.minor !== undefined) {
          end = `0.${c.minor + 1}.0`;
        } else {
          end = '1.0.0';
        }
        // `-0` is the lowest pre-release: `^1.0.0` must not cover `2.0.0-alpha`.
        upper = { version: `${end}-0`, inclusive: false };
        break;
      }
    }
  }
  if (lower && upper) {
    const cmp = compareVersions(lower.version, upper.version);
    if (cmp > 0 || (cmp === 0 && !(lower.inclusive && upper.inclusive))) {
      throw new RequirementError(`"${req}" is an empty range`);
    }
  }
  return { source: req, lower, upper };
}

export function intervalContains(i: Interval, version: string): boolean {
  if (i.lower) {
    const c = compareVersions(version, i.lower.version);
    if (c < 0 || (c === 0 && !i.lower.inclusive)) return false;
  }
  if (i.upper) {
    const c = compareVersions(version, i.upper.version);
    if (c > 0 || (c === 0 && !i.upper.inclusive)) return false;
  }
  return true;
}
