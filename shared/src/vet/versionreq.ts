/**
 * Cargo's `VersionReq` (the `semver` crate), which cargo-vet uses for `violation` ranges. Not the
 * RustSec reading in ../rustsemver.ts: here a partial version keeps Cargo's meaning (`<= 1.2` is
 * `< 1.3.0`, `= 1.2` is `1.2.*`), wildcards are allowed, and a pre-release version matches only a
 * comparator that names a pre-release of the same major.minor.patch.
 */
import semver from '../semver-lite.js';

interface Cmp {
  op: string;
  major: number;
  minor?: number;
  patch?: number;
  pre: string[];
}
type V = { major: number; minor: number; patch: number; pre: readonly (string | number)[] };

const RE = /^(=|>=|<=|>|<|~|\^)?\s*(\d+|\*|x|X)(?:\.(\d+|\*|x|X))?(?:\.(\d+|\*|x|X))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

function parseCmp(text: string, req: string): Cmp {
  const m = RE.exec(text.trim());
  if (!m) throw new Error(`invalid version requirement "${req}"`);
  const num = (s: string | undefined) => (s === undefined || /^[*xX]$/.test(s) ? undefined : Number(s));
  const major = num(m[2]);
  if (major === undefined) return { op: '*', major: 0, pre: [] };
  return { op: m[1] ?? '^', major, minor: num(m[3]), patch: num(m[4]), pre: m[5] ? m[5].split('.') : [] };
}

const cmpPre = (a: readonly (string | number)[], b: readonly (string | number)[]): number => {
  if (a.length === 0 && b.length === 0) return 0;
  if (a.length === 0) return 1;
  if (b.length === 0) return -1;
  return semver.compare(`0.0.0-${a.join('.')}`, `0.0.0-${b.join('.')}`);
};
function cmpV(v: V, c: Cmp): number {
  return v.major - c.major || v.minor - (c.minor ?? 0) || v.patch - (c.patch ?? 0) || cmpPre(v.pre, c.pre);
}

function matches(c: Cmp, v: V): boolean {
  const { major, minor, patch } = c;
  switch (c.op) {
    case '*':
      return true;
    case '=':
      if (v.major !== major) return false;
      if (minor !== undefined && v.minor !== minor) return false;
      if (patch !== undefined && (v.patch !== patch || cmpPre(v.pre, c.pre) !== 0)) return false;
      return true;
    case '>':
      if (minor === undefined) return v.major > major;
      if (patch === undefined) return v.major > major || (v.major === major && v.minor > minor);
      return cmpV(v, c) > 0;
    case '>=':
      return cmpV(v, c) >= 0;
    case '<':
      return cmpV(v, c) < 0;
    case '<=':
      if (minor === undefined) return v.major <= major;
      if (patch === undefined) return v.major < major || (v.major === major && v.minor <= minor);
      return cmpV(v, c) <= 0;
    case '~':
      if (v.major !== major) return false;
      if (minor !== undefined && v.minor !== minor) return false;
      return patch === undefined ? true : cmpV(v, c) >= 0;
    case '^':
    default: {
      if (v.major !== major) return false;
      if (minor === undefined) return true;
      if (patch === undefined) return major > 0 ? v.minor >= minor : v.minor === minor;
      if (cmpV(v, c) < 0) return false;
      if (major > 0) return true;
      if (minor > 0) return v.minor === minor;
      return v.minor === 0 && v.patch === patch;
    }
  }
}

/** Does `version` (plain semver; a `@git:rev` suffix is ignored) satisfy the Cargo requirement? */
export function cargoReqMatches(req: string, version: string): boolean {
  const parsed = semver.parse(version.replace(/@git:.*$/, ''));
  if (!parsed) return false;
  const cmps = req.split(',').map((p) => parseCmp(p, req));
  const v: V = { major: parsed.major, minor: parsed.minor, patch: parsed.patch, pre: parsed.prerelease };
  if (!cmps.every((c) => matches(c, v))) return false;
  if (v.pre.length === 0) return true;
  return cmps.some((c) => c.pre.length > 0 && c.major === v.major && c.minor === v.minor && c.patch === v.patch);
}
