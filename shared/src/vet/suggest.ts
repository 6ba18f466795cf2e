/**
 * Which audit to suggest for a package that is not vetted, chosen as `cargo vet suggest` chooses
 * (cargo-vet 0.10.3, resolver.rs `suggest_delta`): the store seen without its exemptions (except
 * `suggest = false` ones); for every failing criterion, the versions the empty root reaches and the
 * versions that reach the target through existing deltas, each set intersected over the criteria;
 * then for each version that reaches the target, one candidate from the closest reached version
 * below it (the empty root — a full audit — when none) and one from the closest above. The
 * candidate with the fewest lines to review (`diffstat.ts`) wins, the first in that order on a tie.
 *
 * Sizes need the crates' sources, which shared/ never fetches: `suggest` gives the candidates and a
 * choice made without sizes, `chooseSuggestion` the choice once the caller has sized them.
 * Without sizes: the forward delta with the smallest semver distance, else a full audit of the
 * target; never a delta "down" from a newer version (every version has a candidate from below, the
 * empty root at least, so one always exists).
 */
import semver from '../semver-lite.js';
import { diffLines, type DiffStat } from './diffstat.js';
import { compareVetVersion } from './order.js';
import type { AuditGraph } from './resolver.js';

/** One audit that would vet the target: a delta `from -> to`, or a full audit of `to`. */
export interface AuditCandidate {
  from?: string;
  to: string;
}

export interface Suggestion {
  criteria: string[];
  /** A delta from an already vetted version, or a full audit. */
  kind: 'delta' | 'full';
  from?: string;
  to: string;
  command: string;
  /** cargo-vet's candidates, in its order; the suggestion is one of them. */
  candidates?: AuditCandidate[];
  /** Lines to review (insertions + deletions, as cargo-vet counts) once sized. */
  lines?: number;
  diffstat?: DiffStat;
  /** Why this audit rather than another, in a sentence. */
  why?: string;
}

const plain = (v: string) => semver.parse(v.replace(/@git:.*$/, ''));
const isGit = (v: string) => v.includes('@git:');

/** cargo-vet's candidate audits for `version` of `crate` failing `failing` (qualified criteria). */
export function candidatesFor(g: AuditGraph, crate: string, version: string, failing: string[]): AuditCandidate[] {
  let fromRoot: Set<string> | undefined;
  let fromTarget: Set<string> | undefined;
  for (const c of failing) {
    const r = new Set(g.reach(crate, c, 'suggest').keys());
    const t = g.reachBack(crate, [c], version);
    fromRoot = fromRoot ? new Set([...fromRoot].filter((v) => r.has(v))) : r;
    fromTarget = fromTarget ? new Set([...fromTarget].filter((v) => t.has(v))) : t;
  }
  // Sources exist for crates.io versions and for the package's own git revision only.
  const hasSources = (v: string) => !isGit(v) || v === version;
  const below = [...(fromRoot ?? [])].filter(hasSources).sort(compareVetVersion);
  const dests = [...(fromTarget ?? [version])].filter(hasSources).sort(compareVetVersion);
  const out: AuditCandidate[] = [];
  for (const to of dests) {
    const lower = below.filter((v) => compareVetVersion(v, to) < 0).at(-1);
    const upper = below.find((v) => compareVetVersion(v, to) > 0);
    out.push(lower === undefined ? { to } : { from: lower, to });
    if (upper !== undefined) out.push({ from: upper, to });
  }
  return out;
}

/** Without sizes: forward deltas by semver distance, then a full audit (of the target first). */
function rankWithoutSizes(c: AuditCandidate, target: string): number[] {
  if (c.from === undefined) return [1, c.to === target ? 0 : 1];
  const a = plain(c.from);
  const b = plain(c.to);
  if (!a || !b) return [3];
  if (compareVetVersion(c.from, c.to) > 0) return [2, a.major - b.major, a.minor - b.minor, a.patch - b.patch];
  return [0, b.major - a.major, Math.abs(b.minor - a.minor), Math.abs(b.patch - a.patch)];
}
const lexLess = (x: number[], y: number[]) => {
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) < (y[i] ?? 0);
  return false;
};

const certifyCommand = (crate: string, c: AuditCandidate, criteria: string[]) =>
  `cargo vet certify ${crate} ${c.from !== undefined ? `${c.from} ` : ''}${c.to} --criteria ${criteria.join(', ')}`;

function suggestion(
  crate: string,
  c: AuditCandidate,
  criteria: string[],
  candidates: AuditCandidate[],
  why: string,
  stat?: DiffStat,
): Suggestion {
  return {
    criteria,
    kind: c.from !== undefined ? 'delta' : 'full',
    ...(c.from !== undefined ? { from: c.from } : {}),
    to: c.to,
    command: certifyCommand(crate, c, criteria),
    candidates,
    ...(stat ? { lines: diffLines(stat), diffstat: stat } : {}),
    why,
  };
}

/** The suggestion for `version` missing `missing`, chosen without sizes. */
export function suggest(g: AuditGraph, crate: string, version: string, missing: string[]): Suggestion {
  const criteria = g.criteria.minimal(missing);
  const failing = [...g.criteria.closureOf(criteria)].filter((c) => missing.includes(c) || criteria.includes(c));
  const candidates = candidatesFor(g, crate, version, failing);
  let best: AuditCandidate = { to: version };
  let rank = [9];
  for (const c of candidates) {
    const r = rankWithoutSizes(c, version);
    if (lexLess(r, rank)) {
      best = c;
      rank = r;
    }
  }
  const why =
    best.from === undefined
      ? `sizes unknown (no crate sources); no version below ${best.to} is vetted for ${criteria.join(', ')}: a full audit`
      : `sizes unknown (no crate sources); ${best.from} is the nearest vetted version below ${best.to}`;
  return suggestion(crate, best, criteria, candidates, why);
}

const key = (c: AuditCandidate) => `${c.from ?? ''} -> ${c.to}`;
const n = (x: number) => x.toLocaleString('en-US');
const label = (c: AuditCandidate) => (c.from === undefined ? `full audit of ${c.to}` : `${c.from} -> ${c.to}`);

/**
 * The suggestion once its candidates are sized (`size` returns undefined for one it could not
 * size, which is left out as cargo-vet leaves out a failed diff): the smallest, the first of
 * cargo-vet's order on a tie. No candidate sized: `s` unchanged.
 */
export function chooseSuggestion(crate: string, s: Suggestion, size: (c: AuditCandidate) => DiffStat | undefined): Suggestion {
  const candidates = s.candidates ?? [{ ...(s.from !== undefined ? { from: s.from } : {}), to: s.to }];
  const sized = candidates.flatMap((c) => {
    const stat = size(c);
    return stat ? [{ c, stat }] : [];
  });
  if (!sized.length) return s;
  let best = sized[0]!;
  for (const x of sized) if (diffLines(x.stat) < diffLines(best.stat)) best = x;
  const others = sized.filter((x) => key(x.c) !== key(best.c)).map((x) => `${label(x.c)} ${n(diffLines(x.stat))}`);
  const what = best.c.from === undefined ? `a full audit of ${best.c.to}` : `delta from ${best.c.from}`;
  const of = sized.length === 1 ? 'the only candidate' : `the smallest of ${sized.length} candidates`;
  const unsized = candidates.length - sized.length;
  const why = `${what}, ${of}: ${n(diffLines(best.stat))} lines${others.length ? ` vs ${others.join(', ')}` : ''}${unsized ? ` (${unsized} not sized: no sources)` : ''}`;
  return suggestion(crate, best.c, s.criteria, candidates, why, best.stat);
}
