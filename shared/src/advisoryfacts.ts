/**
 * What a security engineer reads about an advisory hit, derived once here so that every output
 * (text, JSON) says the same: its severity and CVSS, its aliases by kind, its patched versions as
 * ranges, its link; and the order hits are read in (most severe first).
 */
import type { Advisory, AdvisoryHit } from './advisory.js';
import { advisorySeverity, type Severity } from './severity.js';

/**
 * The versions a fix is in, one entry per range. RustSec's `patched` is a list of ranges, each a
 * comma-separated requirement (`">= 1.11.5, < 1.12.0"` is one range: both bounds), so joining them
 * with commas would read `>= 1.13.3, >= 1.11.5, < 1.12.0` as one range. Spaces are normalised
 * (`>=1.2` → `>= 1.2`; `^1.2` and `~1.2` stay as written) and the lower bound comes first so that ranges read alike whatever the advisory's author typed.
 */
export function patchedRanges(a: Pick<Advisory, 'versions'>): string[] {
  return a.versions.patched.map(normaliseRange);
}

export function normaliseRange(req: string): string {
  const parts = req
    .split(',')
    .map((c) => c.trim().replace(/^(>=|<=|>|<|=)\s*/, '$1 '))
    .filter((c) => c !== '');
  // The lower bound first (`>= 0.9.3, < 0.10.0`), as one reads a range; the advisory may say it either way.
  const isUpper = (c: string) => c.startsWith('<');
  return [...parts.filter((c) => !isUpper(c)), ...parts.filter(isUpper)].join(', ');
}

/** Ranges in one line: `>= 1.13.3 or >= 1.11.5, < 1.12.0`; `no patched version` when none. */
export function describeRanges(ranges: string[]): string {
  return ranges.length ? ranges.join(' or ') : 'no patched version';
}

/**
 * The advisory's page on rustsec.org (every RustSec advisory has one). Its own `url`, when given,
 * is the announcement (a blog post, the fix's pull request): `AdvisoryFacts.url`, said beside it.
 */
export const advisoryLink = (a: Pick<Advisory, 'id'>): string => `https://rustsec.org/advisories/${a.id}`;

/** Aliases by kind: CVE ids, GHSA ids, and any other (an OSV id). */
export function aliasesByKind(a: Pick<Advisory, 'aliases'>): { cve: string[]; ghsa: string[]; other: string[] } {
  const out = { cve: [] as string[], ghsa: [] as string[], other: [] as string[] };
  for (const id of a.aliases) (/^CVE-/i.test(id) ? out.cve : /^GHSA-/i.test(id) ? out.ghsa : out.other).push(id);
  return out;
}

export interface AdvisoryFacts {
  /** As the scorer rates the finding (shared `advisorySeverity`): CVSS when given, else `medium`. */
  severity: Severity;
  /** The number hits are ordered by: the CVSS base score, or the severity's stand-in without one. */
  score: number;
  /** The advisory's own CVSS vector and its base score (null for a 4.0 vector: estimated, no score). */
  cvss: { vector: string; version: string; score: number | null; estimated: boolean } | null;
  aliases: string[];
  cve: string[];
  ghsa: string[];
  patched: string[];
  unaffected: string[];
  /** https://rustsec.org/advisories/<id> */
  link: string;
  /** The advisory's own `url` (its announcement), or null. */
  url: string | null;
}

export function advisoryFacts(a: Advisory): AdvisoryFacts {
  const rated = advisorySeverity(a);
  const kinds = aliasesByKind(a);
  return {
    severity: rated.severity,
    score: rated.score,
    cvss: a.cvss
      ? {
          vector: a.cvss,
          version: rated.rating?.version ?? 'unknown',
          score: rated.rating?.score ?? null,
          estimated: rated.rating?.estimated ?? false,
        }
      : null,
    aliases: a.aliases,
    cve: kinds.cve,
    ghsa: kinds.ghsa,
    patched: patchedRanges(a),
    unaffected: a.versions.unaffected.map(normaliseRange),
    link: advisoryLink(a),
    url: a.url ?? null,
  };
}

/**
 * The reading order of hits: the most severe first (CVSS base score, descending), then by
 * advisory id and crate so that equal scores keep a stable order. Use with `Array.sort`.
 */
export function bySeverity(x: AdvisoryHit, y: AdvisoryHit): number {
  const d = advisorySeverity(y.advisory).score - advisorySeverity(x.advisory).score;
  if (d !== 0) return d;
  const k = (h: AdvisoryHit) => `${h.advisory.id}\u0000${h.package.id}`;
  return k(x) < k(y) ? -1 : k(x) > k(y) ? 1 : 0;
}

/** The reading order of a report: vulnerabilities first, most severe first; then informational advisories. */
export function inReadingOrder<H extends AdvisoryHit>(hits: H[]): H[] {
  const vuln = (h: H) => h.advisory.informational === undefined;
  return [...hits.filter(vuln).sort(bySeverity), ...hits.filter((h) => !vuln(h)).sort(bySeverity)];
}

/** Vulnerabilities counted by severity, every severity present (0 when none). */
export function countBySeverity(hits: AdvisoryHit[]): Record<Severity, number> {
  const out: Record<Severity, number> = { critical: 0, high: 0, medium: 0, low: 0, info: 0 };
  for (const h of hits) out[advisorySeverity(h.advisory).severity]++;
  return out;
}
