/**
 * Maintainer risk (docs/ARCHITECTURE.md: "What the scorer computes"): how much a crate hangs on people and
 * practices that make a malicious or careless release likely and hard to notice. Pure rules over
 * the facts the maintainers source (`maintainers.signals`) and the registry (`crates.releases`)
 * report for ONE crate; the scorer reads those facts from the graph and does the I/O.
 *
 * The score is a sum of named signals, each with its contribution, capped at 10. No single signal
 * reaches the default threshold for a finding (5, `SCORER_MAINTAINER_MIN_SCORE`): most crates have
 * one owner and unsigned commits, so an alert needs at least two independent reasons, and the
 * strongest ones are those of a takeover (the owners replaced, a release by someone new after a
 * long silence) and of a typosquat (a name one typo away from a crate everyone uses).
 *
 * Time: "recent" is measured against the newest fact known about the crate (the maintainers
 * source's last observation, or the newest release), never against the wall clock, so the same
 * facts always give the same score and a replay changes nothing.
 */
import type { FindingEvent } from './events.js';
import { findingId, type WorkspaceRef } from './findings.js';
import { severityOfSignalScore } from './severity.js';

export interface MaintainerFacts {
  crate: string;
  /** What the maintainers source last said about the crate; undefined when it has said nothing. */
  maintainers?: {
    observedAt: string;
    owners: { login: string; kind: 'user' | 'team' }[];
    /** The last change of the owner set, when the source saw one (kept until the next change). */
    ownershipChange?: { added: string[]; removed: string[]; observedAt: string };
    /** `missing`: crates.io names no repository, or its host does not know it. */
    repository:
      | 'missing'
      | {
          url: string;
          archived?: boolean;
          disabled?: boolean;
          /** Signatures on the default branch's most recent commits. */
          signedCommits?: { signed: number; total: number; ratio: number | null };
          /** The repository's release (else tag) cadence: used only when the registry's release dates are not known. */
          cadence?: { kind: 'releases' | 'tags'; last: string | null; lastGapDays: number | null };
        };
  };
  /** The crate's published versions as `crates.releases` told them (yanked ones included). */
  releases: { version: string; publishedAt: string; publisher?: string; yanked: boolean }[];
}

export interface MaintainerRisk {
  score: number;
  severity: FindingEvent['severity'];
  why: FindingEvent['why'];
}

/** Tunables, named so the README table and the tests say the same thing. */
export const MAINTAINER_RULES = {
  /** How far back a change counts as recent, from the newest fact about the crate. */
  recentDays: 90,
  /** A release this long after the previous one is a release after dormancy. */
  dormantDays: 365,
  /** Fewer recent commits than this say nothing about signing habits. */
  minCommitsForSigning: 5,
} as const;

/**
 * Crates found in most Rust dependency trees, hand-picked from general knowledge of the ecosystem
 * (the serialization, async, crypto, FFI and proc-macro basics), NOT taken from a download ranking.
 * A name close to one of these (and not itself one of them) is a possible typosquat. Keep it short
 * and widely used: every neighbour of a name here is flagged, so a name that is merely popular in
 * one niche would mostly raise false alarms.
 */
export const WIDELY_USED_CRATES: readonly string[] = [
  'ahash',
  'aho-corasick',
  'anyhow',
  'async-trait',
  'autocfg',
  'axum',
  'backtrace',
  'base64',
  'bitflags',
  'byteorder',
  'bytes',
  'cc',
  'cfg-if',
  'chrono',
  'clap',
  'crossbeam',
  'crossbeam-channel',
  'crossbeam-utils',
  'digest',
  'either',
  'env_logger',
  'fnv',
  'futures',
  'futures-util',
  'generic-array',
  'getrandom',
  'glob',
  'h2',
  'hashbrown',
  'heck',
  'hex',
  'hmac',
  'http',
  'httparse',
  'hyper',
  'idna',
  'indexmap',
  'itertools',
  'itoa',
  'js-sys',
  'lazy_static',
  'libc',
  'lock_api',
  'log',
  'memchr',
  'mime',
  'mio',
  'nom',
  'num-traits',
  'num_cpus',
  'once_cell',
  'openssl',
  'openssl-sys',
  'parking_lot',
  'percent-encoding',
  'pin-project',
  'pin-project-lite',
  'pkg-config',
  'proc-macro2',
  'prost',
  'quote',
  'rand',
  'rand_chacha',
  'rand_core',
  'rayon',
  'regex',
  'regex-syntax',
  'reqwest',
  'ring',
  'rustls',
  'rust_decimal',
  'ryu',
  'scopeguard',
  'semver',
  'serde',
  'serde_derive',
  'serde_json',
  'serde_yaml',
  'sha1',
  'sha2',
  'slab',
  'smallvec',
  'socket2',
  'strsim',
  'subtle',
  'syn',
  'tempfile',
  'thiserror',
  'time',
  'tokio',
  'tokio-util',
  'toml',
  'tonic',
  'tower',
  'tracing',
  'tracing-core',
  'tracing-subscriber',
  'typenum',
  'unicode-ident',
  'url',
  'uuid',
  'walkdir',
  'wasm-bindgen',
  'winapi',
  'windows-sys',
  'zeroize',
];

const DAY = 86_400_000;
const round1 = (x: number) => Math.round(x * 10) / 10;
const days = (ms: number) => Math.round(ms / DAY);

/** Names compared as crates.io compares them: case and `-`/`_` aside. */
const canonical = (name: string) => name.toLowerCase().replace(/_/g, '-');
const bare = (name: string) => name.toLowerCase().replace(/[-_]/g, '');

/** Edit distance with adjacent transpositions counted as one edit (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

export interface Lookalike {
  /** The widely used crate it resembles. */
  of: string;
  /** `separator`: the same letters with separators added, dropped or swapped (`rustdecimal`). */
  kind: 'separator' | 'edit';
  distance: number;
}

/**
 * The widely used crate this name is one or two typos away from, if any. Short names have many
 * honest neighbours, so one edit counts only against names of 4+ characters and two edits only
 * against names of 8+ (`faster_log` / `fast_log` is the shape of a real squat). A name on the list
 * (in any case) is never a lookalike. A separator swap (`serde-json`) is one, though crates.io
 * refuses to publish it beside `serde_json` (it treats `-` and `_` alike): the variants seen in
 * practice drop or add a separator (`rustdecimal`).
 */
export function nameLookalike(name: string, popular: readonly string[] = WIDELY_USED_CRATES): Lookalike | undefined {
  if (popular !== WIDELY_USED_CRATES) return lookalikeAmong(name, popular);
  // Against the built-in list the answer depends on the name alone, and the scorer asks it for the
  // same crates over and over (every release of a crate): an edit distance to each popular name.
  if (!lookalikes.has(name)) {
    if (lookalikes.size >= LOOKALIKES_KEPT) lookalikes.clear();
    lookalikes.set(name, lookalikeAmong(name, popular));
  }
  return lookalikes.get(name);
}

const LOOKALIKES_KEPT = 100_000;
const lookalikes = new Map<string, Lookalike | undefined>();

function lookalikeAmong(name: string, popular: readonly string[]): Lookalike | undefined {
  const me = canonical(name);
  if (popular.some((p) => p.toLowerCase() === name.toLowerCase())) return undefined;
  let best: Lookalike | undefined;
  for (const p of popular) {
    const them = canonical(p);
    let hit: Lookalike | undefined;
    if (bare(p) === bare(name)) hit = { of: p, kind: 'separator', distance: 1 };
    else {
      if (Math.abs(them.length - me.length) > 2) continue;
      const dist = editDistance(me, them);
      if ((dist === 1 && them.length >= 4) || (dist === 2 && them.length >= 8)) hit = { of: p, kind: 'edit', distance: dist };
    }
    if (hit && (!best || hit.distance < best.distance)) best = hit;
  }
  return best;
}

/** The newest non-yanked release and the one before it, from the registry's dates. */
function latestReleases(f: MaintainerFacts) {
  const rs = f.releases
    .filter((r) => !r.yanked && !Number.isNaN(Date.parse(r.publishedAt)))
    .sort((a, b) => Date.parse(b.publishedAt) - Date.parse(a.publishedAt) || (a.version < b.version ? 1 : -1));
  return { newest: rs[0], previous: rs[1], earlier: rs.slice(1) };
}

/** The newest fact about the crate: what "recent" is measured against. */
function asOf(f: MaintainerFacts): number {
  const times = [f.maintainers?.observedAt, ...f.releases.map((r) => r.publishedAt)]
    .map((t) => (t ? Date.parse(t) : NaN))
    .filter((t) => !Number.isNaN(t));
  return times.length ? Math.max(...times) : NaN;
}

type Why = FindingEvent['why'];
type Recent = (t: string | null | undefined) => boolean;

/** One owner who can publish; an owner added, removed or replaced recently. */
function ownerSignals(m: MaintainerFacts['maintainers'], recent: Recent, why: Why): void {
  if (m) {
    const users = m.owners.filter((o) => o.kind === 'user');
    if (m.owners.length === 1 && users.length === 1) {
      why.push({ signal: 'maintainer.single-owner', contribution: 2, detail: `one owner can publish: ${users[0]!.login}` });
    }
    const c = m.ownershipChange;
    if (c && (c.added.length || c.removed.length) && recent(c.observedAt)) {
      const replaced = c.added.length > 0 && c.removed.length > 0;
      const parts = [c.added.length ? `added ${c.added.join(', ')}` : '', c.removed.length ? `removed ${c.removed.join(', ')}` : '']
        .filter(Boolean)
        .join('; ');
      why.push({
        signal: 'maintainer.owner-change',
        contribution: replaced ? 3 : 1,
        detail: `${replaced ? 'owners replaced' : c.added.length ? 'owner added' : 'owner removed'} ${c.observedAt.slice(0, 10)}: ${parts}`,
      });
    }
  }
}

/** A recent release by a new publisher, or after a long dormancy (registry history, else the repository's). */
function releaseSignals(f: MaintainerFacts, recent: Recent, why: Why): void {
  const m = f.maintainers;
  const { newest, previous, earlier } = latestReleases(f);
  if (newest && recent(newest.publishedAt)) {
    const known = earlier.filter((r) => r.publisher);
    if (newest.publisher && known.length && !known.some((r) => r.publisher === newest.publisher)) {
      const before = [...new Set(known.map((r) => r.publisher!))];
      why.push({
        signal: 'release.new-publisher',
        contribution: 2,
        detail: `${newest.version} (${newest.publishedAt.slice(0, 10)}) published by ${newest.publisher}, who published none of the ${earlier.length} earlier releases (${before.slice(0, 3).join(', ')}${before.length > 3 ? ', …' : ''})`,
      });
    }
  }
  if (newest && previous) {
    const gap = Date.parse(newest.publishedAt) - Date.parse(previous.publishedAt);
    if (recent(newest.publishedAt) && gap >= MAINTAINER_RULES.dormantDays * DAY) {
      why.push({
        signal: 'release.after-dormancy',
        contribution: 2,
        detail: `${newest.version} (${newest.publishedAt.slice(0, 10)}) came ${days(gap)} days after ${previous.version}`,
      });
    }
  } else if (m && m.repository !== 'missing' && m.repository.cadence) {
    // No registry history to go by: the repository's own releases (or tags) say the same.
    const { kind, last, lastGapDays } = m.repository.cadence;
    if (last && recent(last) && lastGapDays !== null && lastGapDays >= MAINTAINER_RULES.dormantDays) {
      why.push({
        signal: 'release.after-dormancy',
        contribution: 2,
        detail: `the repository's last ${kind === 'releases' ? 'release' : 'tag'} (${last.slice(0, 10)}) came ${Math.round(lastGapDays)} days after the one before`,
      });
    }
  }
}

/** No repository; an archived or disabled one; one whose recent commits are mostly unsigned. */
function repositorySignals(m: MaintainerFacts['maintainers'], why: Why): void {
  if (m) {
    const r = m.repository;
    if (r === 'missing')
      why.push({ signal: 'repository.missing', contribution: 2, detail: 'no source repository to compare the published code with' });
    else {
      if (r.archived || r.disabled)
        why.push({
          signal: 'repository.archived',
          contribution: 1.5,
          detail: `${r.url} is ${r.archived ? 'archived' : 'disabled'}: nobody will ship a fix`,
        });
      const s = r.signedCommits;
      if (s && s.ratio !== null && s.total >= MAINTAINER_RULES.minCommitsForSigning && s.ratio < 0.5) {
        why.push({
          signal: 'repository.unsigned-commits',
          contribution: s.ratio < 0.1 ? 1 : 0.5,
          detail: `${s.signed} of the last ${s.total} commits signed`,
        });
      }
    }
  }
}

/** A name a separator or an edit or two away from a widely used crate's. */
function lookalikeSignal(crate: string, why: Why): void {
  const look = nameLookalike(crate);
  if (look) {
    why.push({
      signal: 'name.lookalike',
      contribution: look.distance === 1 ? 3 : 2,
      detail:
        look.kind === 'separator'
          ? `${crate} is ${look.of} with its separators changed`
          : `${crate} is ${look.distance} edit${look.distance > 1 ? 's' : ''} from ${look.of}, a widely used crate`,
    });
  }
}

/**
 * The maintainer risk of a crate, signal by signal. Each contribution is chosen so that the signals
 * of a common, healthy-enough crate (one owner, unsigned commits: 3) stay under the threshold of 5,
 * and any one strong signal on top of them crosses it. The weights, and why:
 *
 * - `maintainer.single-owner` 2: one account (user, not a team) can publish; its takeover is the
 *   whole supply chain, and nobody else reviews what it publishes. Very common, so moderate.
 * - `maintainer.owner-change` 3 / 1: owners replaced (someone removed AND someone added) is the
 *   shape of a takeover: 3. Someone only added, or only removed: 1 (more hands, or fewer eyes, but
 *   the people the org relied on are still there). Recent only.
 * - `release.new-publisher` 2: the newest release was published by someone who published none of
 *   the earlier ones (recent only): new hands on the code that ships.
 * - `release.after-dormancy` 2: the newest release came a year or more after the previous one
 *   (recent only); a silent crate that suddenly ships is how a takeover usually shows.
 * - `repository.missing` 2: no repository to compare the published code with (crates.io names
 *   none, or the host does not know it).
 * - `repository.archived` 1.5: archived or disabled: nobody will ship a fix; less an attack sign
 *   than neglect (RustSec's "unmaintained" advisories cover the important cases), hence lower.
 * - `repository.unsigned-commits` 1 / 0.5: under 10% / under 50% of the recent commits signed (at
 *   least 5 sampled). Most of the ecosystem does not sign, so it is weak evidence, weighted low.
 * - `name.lookalike` 3 / 2: a separator variant or one edit from a widely used crate's name: 3;
 *   two edits: 2. The typosquat sign; alone it stays under the threshold (honest neighbours exist),
 *   with one owner or no repository it crosses it.
 */
export function maintainerRisk(f: MaintainerFacts): MaintainerRisk {
  const why: FindingEvent['why'] = [];
  const now = asOf(f);
  const recent: Recent = (t) => !!t && !Number.isNaN(Date.parse(t)) && now - Date.parse(t) <= MAINTAINER_RULES.recentDays * DAY;
  ownerSignals(f.maintainers, recent, why);
  releaseSignals(f, recent, why);
  repositorySignals(f.maintainers, why);
  lookalikeSignal(f.crate, why);
  const score = round1(
    Math.min(
      10,
      why.reduce((n, w) => n + w.contribution, 0),
    ),
  );
  const severity: FindingEvent['severity'] = severityOfSignalScore(score);
  return { score, severity, why };
}

/** What a `maintainer` finding tells beside its signals: who owns the crate, where it lives. */
export function maintainerDetails(f: MaintainerFacts): NonNullable<FindingEvent['maintainer']> {
  const { newest } = latestReleases(f);
  const look = nameLookalike(f.crate);
  const m = f.maintainers;
  return {
    ...(m
      ? {
          owners: m.owners
            .map((o) => o.login)
            .sort()
            .slice(0, 10),
        }
      : {}),
    ...(m ? { repository: m.repository === 'missing' ? 'missing' : m.repository.url } : {}),
    ...(newest
      ? {
          latestRelease: {
            version: newest.version,
            publishedAt: newest.publishedAt,
            ...(newest.publisher ? { publisher: newest.publisher } : {}),
          },
        }
      : {}),
    ...(look ? { lookalikeOf: look.of } : {}),
  };
}

/** The `maintainer` finding for a locked version of a risky crate. */
export function maintainerFinding(
  ws: WorkspaceRef,
  f: MaintainerFacts,
  version: string,
  state: 'open' | 'resolved',
  observedAt: string,
): FindingEvent {
  const { score, severity, why } = maintainerRisk(f);
  return {
    v: 1,
    id: findingId(ws.id, f.crate, version, 'maintainer'),
    kind: 'maintainer',
    state,
    severity,
    score,
    workspace: { id: ws.id, org: ws.org, ...(ws.team ? { team: ws.team } : {}) },
    crate: f.crate,
    version,
    why,
    maintainer: maintainerDetails(f),
    observedAt,
  };
}
