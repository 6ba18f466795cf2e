/**
 * The order in which `cargo vet fmt` (cargo-vet 0.10.3) writes a store, read in its source:
 * - every map is a `BTreeMap<String, _>` (format.rs `SortedMap`): keys in Rust `String` order, i.e.
 *   UTF-8 byte order. `[policy]` is one map keyed by the whole `name` / `name:version` string
 *   (serialization.rs `AllPolicies`), so `foo-bar:1.0.0` sorts before `foo:1.0.0` ('-' < ':');
 * - every list of entries is sorted (serialization.rs `Tidyable`, a stable sort) by the entry's `Ord`:
 *   audits by (kind, criteria, who, notes) with kind = full < delta < violation (format.rs:394);
 *   the others by their fields in declaration order (`#[derive(Ord)]`);
 * - versions compare as `VetVersion` (semver::Version, then the git revision: none first), and
 *   semver::Version's order includes build metadata (semver 1.0.26 impls.rs), unlike SemVer
 *   precedence. Violations compare by their `VersionReq`'s display string.
 * Pure; no I/O.
 */
import type { AuditEntry, ExemptionEntry, PublisherEntry, TrustEntry, UnpublishedEntry, WildcardEntry } from './format.js';

type Cmp<T> = (a: T, b: T) => number;

/** Rust `str` order: UTF-8 bytes, which is code point order (JS `<` compares UTF-16 units). */
export function compareStr(a: string, b: string): number {
  const x = [...a];
  const y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

const sign = (n: number) => (n < 0 ? -1 : n > 0 ? 1 : 0);
const cmpNum: Cmp<number> = (a, b) => sign(a - b);
const cmpBool: Cmp<boolean> = (a, b) => Number(a) - Number(b);
/** `Option<T>`: None before Some. */
const cmpOpt =
  <T>(c: Cmp<T>): Cmp<T | undefined> =>
  (a, b) =>
    a === undefined ? (b === undefined ? 0 : -1) : b === undefined ? 1 : c(a, b);
/** `Vec<T>` / slices: element by element, a prefix first. */
const cmpList =
  <T>(c: Cmp<T>): Cmp<T[]> =>
  (a, b) => {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const d = c(a[i]!, b[i]!);
      if (d !== 0) return d;
    }
    return sign(a.length - b.length);
  };
/** The first non-zero comparison. */
const chain = (...ds: (() => number)[]): number => {
  for (const d of ds) {
    const r = d();
    if (r !== 0) return r;
  }
  return 0;
};

const digits = (s: string) => /^[0-9]*$/.test(s);

/** semver `Prerelease` order: a release after its pre-releases; identifiers numeric (by value) < alphanumeric. */
function comparePre(a: string, b: string): number {
  if (a === b) return 0;
  if (a === '') return 1;
  if (b === '') return -1;
  const x = a.split('.');
  const y = b.split('.');
  for (let i = 0; i < x.length; i++) {
    if (i >= y.length) return 1;
    const [l, r] = [x[i]!, y[i]!];
    const d =
      digits(l) && digits(r)
        ? chain(
            () => cmpNum(l.length, r.length),
            () => compareStr(l, r),
          )
        : digits(l)
          ? -1
          : digits(r)
            ? 1
            : compareStr(l, r);
    if (d !== 0) return d;
  }
  return x.length === y.length ? 0 : -1;
}

/** semver `BuildMetadata` order (none first; numeric identifiers by value, then by leading zeros). */
function compareBuild(a: string, b: string): number {
  if (a === b) return 0;
  const x = a.split('.');
  const y = b.split('.');
  for (let i = 0; i < x.length; i++) {
    if (i >= y.length) return 1;
    const [l, r] = [x[i]!, y[i]!];
    let d: number;
    if (digits(l) && digits(r)) {
      const [lv, rv] = [l.replace(/^0+/, ''), r.replace(/^0+/, '')];
      d = chain(
        () => cmpNum(lv.length, rv.length),
        () => compareStr(lv, rv),
        () => cmpNum(l.length, r.length),
      );
    } else d = digits(l) ? -1 : digits(r) ? 1 : compareStr(l, r);
    if (d !== 0) return d;
  }
  return x.length === y.length ? 0 : -1;
}

const SEMVER = /^(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?$/;

/** `VetVersion` order: semver::Version (major, minor, patch, pre, build), then the git revision. */
export function compareVetVersion(a: string, b: string): number {
  const split = (s: string) => {
    const at = s.indexOf('@');
    const v = (at < 0 ? s : s.slice(0, at)).trim();
    const rev =
      at < 0
        ? undefined
        : s
            .slice(at + 1)
            .trim()
            .replace(/^git:/, '');
    return { m: SEMVER.exec(v), v, rev };
  };
  const [x, y] = [split(a), split(b)];
  // Not a version: cargo-vet would refuse the file before writing it; keep a total order anyway.
  if (!x.m || !y.m) return compareStr(a, b);
  const n = (m: RegExpExecArray, i: number) => Number(m[i]);
  return chain(
    () => cmpNum(n(x.m!, 1), n(y.m!, 1)),
    () => cmpNum(n(x.m!, 2), n(y.m!, 2)),
    () => cmpNum(n(x.m!, 3), n(y.m!, 3)),
    () => comparePre(x.m![4] ?? '', y.m![4] ?? ''),
    () => compareBuild(x.m![5] ?? '', y.m![5] ?? ''),
    () => cmpOpt(compareStr)(x.rev, y.rev),
  );
}

/** How `semver::VersionReq` displays a requirement (what cargo-vet writes back for a `violation`). */
export function displayVersionReq(req: string): string {
  const parts = req.split(',').map((p) => p.trim());
  if (parts.length === 1 && /^[*xX]$/.test(parts[0]!)) return '*';
  const out: string[] = [];
  for (const p of parts) {
    const m = /^(=|>=|<=|>|<|~|\^)?\s*(\d+)(?:\.(\d+|[*xX]))?(?:\.(\d+|[*xX]))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/.exec(p);
    if (!m) return req; // cargo-vet would not read it: leave it for the reader's error
    const wild = (s?: string) => s !== undefined && /^[*xX]$/.test(s);
    if (wild(m[3]) || wild(m[4])) {
      out.push(wild(m[3]) ? `${m[1] ?? ''}${m[2]}.*` : `${m[1] ?? ''}${m[2]}.${m[3]}.*`);
      continue;
    }
    let s = `${m[1] ?? '^'}${m[2]}`;
    if (m[3] !== undefined) s += `.${m[3]}`;
    if (m[3] !== undefined && m[4] !== undefined) s += `.${m[4]}${m[5] ? `-${m[5]}` : ''}`;
    out.push(s);
  }
  return out.join(', ');
}

const strs = cmpList(compareStr);
const optStr = cmpOpt(compareStr);

/** format.rs:394 `impl PartialOrd for AuditEntry`: (kind, criteria, who, notes). */
export function compareAudits(a: AuditEntry, b: AuditEntry): number {
  const rank = (e: AuditEntry) => (e.version !== undefined ? 0 : e.delta ? 1 : 2);
  return chain(
    () => rank(a) - rank(b),
    () =>
      rank(a) === 0
        ? compareVetVersion(a.version!, b.version!)
        : rank(a) === 1
          ? chain(
              () => compareVetVersion(a.delta!.from, b.delta!.from),
              () => compareVetVersion(a.delta!.to, b.delta!.to),
            )
          : compareStr(displayVersionReq(a.violation!), displayVersionReq(b.violation!)),
    () => strs(a.criteria, b.criteria),
    () => strs(a.who, b.who),
    () => optStr(a.notes, b.notes),
  );
}

/** `CratesSourceId`: user ids (by number) before trusted publishers (by signature). */
const compareSource = (a: { userId?: number; trustedPublisher?: string }, b: { userId?: number; trustedPublisher?: string }) =>
  a.userId !== undefined
    ? b.userId !== undefined
      ? cmpNum(a.userId, b.userId)
      : -1
    : b.userId !== undefined
      ? 1
      : compareStr(a.trustedPublisher ?? '', b.trustedPublisher ?? '');

/** `WildcardEntry`'s derived order: who, criteria, source, start, end, renew, notes, aggregated-from. */
export const compareWildcards = (a: WildcardEntry, b: WildcardEntry): number =>
  chain(
    () => strs(a.who, b.who),
    () => strs(a.criteria, b.criteria),
    () => compareSource(a, b),
    () => compareStr(a.start, b.start),
    () => compareStr(a.end, b.end),
    () => cmpOpt(cmpBool)(a.renew, b.renew),
    () => optStr(a.notes, b.notes),
    () => strs(a.aggregatedFrom, b.aggregatedFrom),
  );

/** `TrustEntry`'s derived order: criteria, source, start, end, notes, aggregated-from. */
export const compareTrusted = (a: TrustEntry, b: TrustEntry): number =>
  chain(
    () => strs(a.criteria, b.criteria),
    () => compareSource(a, b),
    () => compareStr(a.start, b.start),
    () => compareStr(a.end, b.end),
    () => optStr(a.notes, b.notes),
    () => strs(a.aggregatedFrom, b.aggregatedFrom),
  );

/** `ExemptedDependency`'s derived order: version, criteria, suggest (absent = true), notes. */
export const compareExemptions = (a: ExemptionEntry, b: ExemptionEntry): number =>
  chain(
    () => compareVetVersion(a.version, b.version),
    () => strs(a.criteria, b.criteria),
    () => cmpBool(a.suggest !== false, b.suggest !== false),
    () => optStr(a.notes, b.notes),
  );

/** `CratesPublisher`'s derived order: version, when, then the user (id, login, name) before a trusted publisher. */
export const comparePublishers = (a: PublisherEntry, b: PublisherEntry): number =>
  chain(
    () => compareVetVersion(a.version, b.version),
    () => compareStr(a.when, b.when),
    () => compareSource(a, b),
    () => optStr(a.userLogin, b.userLogin),
    () => optStr(a.userName, b.userName),
  );

/** `UnpublishedEntry`'s derived order: version, audited-as. */
export const compareUnpublished = (a: UnpublishedEntry, b: UnpublishedEntry): number =>
  chain(
    () => compareVetVersion(a.version, b.version),
    () => compareVetVersion(a.auditedAs, b.auditedAs),
  );

/** A map's entries in `BTreeMap<String, _>` order. */
export const sortedEntries = <V>(m: Map<string, V>): [string, V][] => [...m].sort(([a], [b]) => compareStr(a, b));
