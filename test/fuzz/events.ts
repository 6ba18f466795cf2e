/**
 * Generators of schema-valid, mutated event streams for every topic the scorer consumes, built from
 * the real data in ../shared/data (RustSec advisory-db and its history, the cargo-vet audit pools and
 * their monthly history, real workspaces' Cargo.lock + supply-chain) through the project's own
 * parsers and ingest code (`parseAdvisory`, `parseLockfile` + `workspaceEvent`, `parseAuditsFile` +
 * ingest's `crateEntries` / `criteriaEntries`, ingest's `readWorkspaceFiles`).
 *
 * One arbitrary per topic (`advisoryHistory`, `workspaceHistory`, `poolHistory`, `maintainerHistory`,
 * `releaseHistory`) gives one key's history: the values sent under that key, oldest first (`null` is
 * a tombstone). `fuzzStreams` combines them into
 *   - `a`: the stream as a messy source would send it: keys interleaved at random across topics,
 *     values repeated (duplicates) — but the LAST value of every key is its history's last, so the
 *     compacted-topic truth is the same as in `b`;
 *   - `b`: the same distinct values in a canonical order: topic by topic (pools → releases →
 *     maintainers → advisories → workspaces), keys sorted, each key's distinct values in the order
 *     of their last occurrence in `a` (so its last value is `a`'s too).
 *
 * Mutations (see the `KNOWN` switches in test/fuzz-scorer.test.ts): odd versions (prereleases,
 * build metadata, huge numbers, non-SemVer strings, `x.y.z@git:<rev>` audits), empty and huge sets,
 * unknown crates, tombstones, duplicates and out-of-order arrival.
 *
 * Bad input is marked `refuse` with a fragment of the reason the scorer gives, decided by the same
 * shared rule the scorer applies (`isSemVer`, `unaffectedIntervals`), so the expectation cannot drift
 * from the rule: a release or a workspace with a version `isSemVer` refuses (the "odd but SemVer"
 * generator's too: a base with build metadata plus `-rc.1+build.5` is not SemVer), an advisory with
 * a requirement RustSec cannot read, an audit with empty criteria, an unknown table, a delta that is
 * not `A -> B`, a release tombstone. An audit whose version is no SemVer (or a git audit) is not bad
 * input: the scorer keeps it (`versionProblem` / `gitRev`) certifying no crates.io Version.
 *
 * Compacted keys: the graph keeps a key's last ACCEPTED value, so both streams end every key with
 * the same accepted value (`acceptedLast`): a history whose last values are refused gets them moved
 * before its last accepted one (refused values may come anywhere before it).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import {
  isSemVer,
  parseAdvisory,
  parseAuditsFile,
  parseLockfile,
  unaffectedIntervals,
  validateEvent,
  workspaceEvent,
  type Advisory,
  type AdvisoryEvent,
  type AuditsFile,
  type Lockfile,
  type MaintainerEvent,
  type PoolEvent,
  type ReleaseEvent,
  type WorkspaceEvent,
} from '@cratewatch/shared';
import { crateEntries, criteriaEntries } from '../../services/ingest/src/sources/pools.js';
import { readWorkspaceFiles } from '../../services/ingest/src/sources/workspaces.js';

/** The topics the scorer consumes, without the run's prefix. */
export const FUZZ_TOPICS = ['audits.pool', 'crates.releases', 'maintainers.signals', 'rustsec.advisories', 'org.workspaces'] as const;
export type FuzzTopic = (typeof FUZZ_TOPICS)[number];

export interface Msg {
  topic: FuzzTopic;
  key: string;
  /** The event, or null for a tombstone. */
  value: unknown;
  /** Set when the scorer must refuse it as bad input (it must land in `<topic>.dlq`): why. */
  refuse?: string;
  /** The mutation that made it (for the failure report). */
  mutation?: string;
}

export interface KeyHistory {
  topic: FuzzTopic;
  key: string;
  values: Msg[];
}

/**
 * Mutations that once hit scorer bugs (fixed; see test/fuzz-scorer.test.ts): all on by default, a
 * switch turns one off for a replay.
 */
export interface MutationSwitches {
  /** Packages locked at a non-SemVer version: the workspace event is refused. */
  lockedNonSemver: boolean;
  /** audits of `x.y.z@git:<rev>` versions (cargo-vet's git audits). */
  gitAudits: boolean;
  /** audits whose version is not SemVer at all (a pool's typo): kept, certifying nothing. */
  nonSemverAudits: boolean;
  /** releases whose version is not SemVer: refused. */
  nonSemverReleases: boolean;
}

export const DATA = join(__dirname, '..', '..', '..', 'shared', 'data');
export const hasFuzzData = (): boolean =>
  existsSync(join(DATA, 'rustsec', 'crates')) && existsSync(join(DATA, 'audit-pools')) && existsSync(join(DATA, 'projects'));

const CRATES_IO = 'registry+https://github.com/rust-lang/crates.io-index';
const POOL_URL = (pool: string) => `https://fuzz.example/${pool}/audits.toml`;
/** Fixed instants: the scorer's rules measure time against the facts, never the wall clock. */
const T0 = Date.parse('2025-06-01T00:00:00.000Z');
const at = (days: number) => new Date(T0 + days * 86_400_000).toISOString();

// ---- the corpus (real data, read once) ------------------------------------------------------------

export interface Corpus {
  advisories: Advisory[];
  /** Older versions of some advisories, from history.jsonl (id → versions, oldest first). */
  advisoryHistory: Map<string, Advisory[]>;
  /** Advisory ids the history deleted. */
  deletedAdvisories: Set<string>;
  workspaces: { name: string; lock: Lockfile; store?: WorkspaceEvent['store'] }[];
  /** crates.io crate names locked somewhere, with their locked versions. */
  locked: Map<string, string[]>;
  /** The lockfiles' checksum of each locked crates.io `name@version`. */
  checksums: Map<string, string>;
  pools: { name: string; file: AuditsFile; history: AuditsFile[] }[];
}

let corpus: Corpus | undefined;

export function loadCorpus(): Corpus {
  if (corpus) return corpus;
  const workspaces: Corpus['workspaces'] = [];
  const locked = new Map<string, string[]>();
  const checksums = new Map<string, string>();
  for (const name of readdirSync(join(DATA, 'projects'))
    .filter((n) => !n.startsWith('.'))
    .sort()) {
    const files = readWorkspaceFiles(join(DATA, 'projects', name));
    const lock = parseLockfile(files.lockText, `${name}/Cargo.lock`);
    workspaces.push({ name, lock, ...(files.store ? { store: files.store } : {}) });
    for (const p of lock.packages) {
      if (p.source !== CRATES_IO) continue;
      locked.set(p.name, [...new Set([...(locked.get(p.name) ?? []), p.version])]);
      if (p.checksum) checksums.set(`${p.name}@${p.version}`, p.checksum);
    }
  }
  const advisories: Advisory[] = [];
  const crates = join(DATA, 'rustsec', 'crates');
  for (const dir of readdirSync(crates).sort()) {
    for (const f of readdirSync(join(crates, dir))
      .filter((n) => n.endsWith('.md'))
      .sort()) {
      try {
        advisories.push(parseAdvisory(readFileSync(join(crates, dir, f), 'utf8'), `crates/${dir}/${f}`));
      } catch {
        // an advisory the project's parser refuses is not a schema-valid event
      }
    }
  }
  const advisoryHistory = new Map<string, Advisory[]>();
  const deletedAdvisories = new Set<string>();
  const hist = join(DATA, 'rustsec', 'history.jsonl');
  if (existsSync(hist)) {
    for (const line of readFileSync(hist, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      const h = JSON.parse(line) as { status: string; path: string; content: string | null };
      if (!h.path.startsWith('crates/')) continue;
      if (h.content === null) {
        deletedAdvisories.add(h.path.replace(/^.*\//, '').replace(/\.md$/, ''));
        continue;
      }
      try {
        const a = parseAdvisory(h.content, h.path);
        advisoryHistory.set(a.id, [...(advisoryHistory.get(a.id) ?? []), a]);
      } catch {
        // skip
      }
    }
  }
  const pools: Corpus['pools'] = [];
  const poolDir = join(DATA, 'audit-pools');
  for (const f of readdirSync(poolDir)
    .filter((n) => n.endsWith('.audits.toml'))
    .sort()) {
    const name = f.replace(/\.audits\.toml$/, '');
    const file = parseAuditsFile(readFileSync(join(poolDir, f), 'utf8'), f);
    const hdir = join(poolDir, 'history', name);
    const history = existsSync(hdir)
      ? readdirSync(hdir)
          .filter((n) => n.endsWith('.audits.toml'))
          .sort()
          .map((n) => parseAuditsFile(readFileSync(join(hdir, n), 'utf8'), `history/${name}/${n}`))
      : [];
    pools.push({ name, file, history });
  }
  corpus = { advisories, advisoryHistory, deletedAdvisories, workspaces, locked, checksums, pools };
  return corpus;
}

// ---- versions -------------------------------------------------------------------------------------

const hex40 = fc.stringMatching(/^[0-9a-f]{40}$/);

/** SemVer-valid but unusual: prereleases, build metadata, zeros, the largest safe numbers. */
export const semverOddVersion = (base: string): fc.Arbitrary<string> =>
  fc.oneof(
    fc.constantFrom(
      `${base}-alpha.1`,
      `${base}-rc.1+build.5`,
      `${base}+meta.7`,
      `${base}-0`,
      '0.0.0',
      '0.0.0-0',
      '9007199254740991.0.0',
      `0.${Number.MAX_SAFE_INTEGER}.0`,
    ),
    fc.tuple(fc.nat({ max: 40 }), fc.nat({ max: 400 }), fc.nat({ max: 4000 })).map(([a, b, c]) => `${a}.${b}.${c}`),
  );

/** Strings the SemVer parser refuses. */
export const nonSemverVersion: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '1.2',
    'latest',
    'v1.0.0',
    '1.0.0.0',
    '01.2.3',
    '1.2.3 ',
    '*',
    '99999999999999999999.0.0',
    '1.0.0-',
    '💥',
    '=1.0.0',
    '1.x',
  ),
  fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !/^\d+\.\d+\.\d+$/.test(s)),
);

export const gitVersion = (base: string): fc.Arbitrary<string> => hex40.map((rev) => `${base}@git:${rev}`);

/** Why the scorer refuses the advisory (shared `unaffectedIntervals`, as the scorer reads it), or undefined. */
const unreadable = (a: Advisory): string | undefined => {
  try {
    unaffectedIntervals(a);
    return undefined;
  } catch (err) {
    return `advisory ${a.id}: ${(err as Error).message}`;
  }
};

/** The scorer's reason for refusing a release of `version` (facts.ts `releaseRow`), or undefined. */
export const releaseRefusal = (version: string): string | undefined =>
  isSemVer(version) ? undefined : `version: ${JSON.stringify(version)} is not SemVer`;

/** The scorer's reason for refusing a workspace event (scorer.ts `onWorkspace`): its first package not at a SemVer version. */
export const workspaceRefusal = (ev: WorkspaceEvent): string | undefined => {
  const odd = ev.packages.findIndex((p) => !isSemVer(p.version));
  return odd < 0 ? undefined : `workspace ${ev.id}: packages.${odd}.version: ${JSON.stringify(ev.packages[odd]!.version)} is not SemVer`;
};

type AdvMut = { a: Advisory; mutation?: string; refuse?: string };
type PoolMut = { e: PoolEvent['entries']; mutation?: string; refuse?: string };

// ---- advisories -----------------------------------------------------------------------------------

const advisoryEvent = (a: Advisory, day: number): AdvisoryEvent =>
  validateEvent('rustsec.advisories', {
    v: 1,
    advisory: a,
    origin: { path: `crates/${a.package}/${a.id}.md` },
    observedAt: at(day),
  }) as AdvisoryEvent;

/** One advisory id's history: real (history.jsonl versions, then the current file) and mutated. */
export function advisoryHistory(c: Corpus): fc.Arbitrary<KeyHistory> {
  // Mostly advisories on crates the workspaces lock (they raise findings), some on others.
  const onLocked = c.advisories.filter((a) => c.locked.has(a.package));
  const pick = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...onLocked) }, { weight: 1, arbitrary: fc.constantFrom(...c.advisories) });
  const mutate = (a: Advisory): fc.Arbitrary<{ a: Advisory; mutation?: string; refuse?: string }> =>
    fc.oneof(
      { weight: 6, arbitrary: fc.constant<AdvMut>({ a }) },
      {
        weight: 1,
        arbitrary: fc.constant<AdvMut>({
          a: { ...a, versions: { patched: [], unaffected: [] } },
          mutation: 'no patched version: every version affected',
        }),
      },
      { weight: 1, arbitrary: fc.constant<AdvMut>({ a: { ...a, withdrawn: '2025-07-01' }, mutation: 'withdrawn' }) },
      { weight: 1, arbitrary: fc.constant<AdvMut>({ a: { ...a, informational: 'unmaintained' }, mutation: 'informational' }) },
      {
        weight: 1,
        arbitrary: fc.constant<AdvMut>({
          a: {
            ...a,
            versions: { patched: Array.from({ length: 150 }, (_, i) => `>= ${i}.0.0, < ${i}.0.1`), unaffected: ['< 0.0.1'] },
            aliases: Array.from({ length: 300 }, (_, i) => `CVE-2099-${i}`),
          },
          mutation: 'huge version and alias sets',
        }),
      },
      {
        weight: 1,
        arbitrary: nonSemverVersion.map((v) => {
          const m: Advisory = { ...a, versions: { patched: [`>= ${v}`], unaffected: [] } };
          const why = unreadable(m);
          return { a: m, mutation: `patched ">= ${v}"`, ...(why ? { refuse: why } : {}) };
        }),
      },
      { weight: 1, arbitrary: fc.constant<AdvMut>({ a: { ...a, package: `fuzz-unknown-${a.package}` }, mutation: 'unknown crate' }) },
    );
  return pick.chain((base) => {
    const real = [...(c.advisoryHistory.get(base.id) ?? []), base];
    return fc
      .tuple(
        fc.subarray(real, { minLength: 1 }),
        fc.array(mutate(base), { minLength: 0, maxLength: 2 }),
        // a tombstone: first of all (deleted then re-added), or last (the db deleted it)
        fc.constantFrom<'none' | 'first' | 'last' | 'between'>('none', 'none', 'none', 'none', 'first', 'last', 'between'),
        fc.nat({ max: 300 }),
      )
      .map(([olds, muts, tomb, day]) => {
        const values: Msg[] = [...olds.map((a) => ({ a }) as { a: Advisory; mutation?: string; refuse?: string }), ...muts].map((x, i) => ({
          topic: 'rustsec.advisories' as const,
          key: base.id,
          value: advisoryEvent(x.a, day + i),
          ...(x.mutation ? { mutation: x.mutation } : {}),
          ...(x.refuse ? { refuse: x.refuse } : {}),
        }));
        const t: Msg = { topic: 'rustsec.advisories', key: base.id, value: null, mutation: 'tombstone' };
        if (tomb === 'first') values.unshift(t);
        if (tomb === 'last' || c.deletedAdvisories.has(base.id)) values.push(t);
        if (tomb === 'between' && values.length > 1) values.splice(1, 0, t);
        return { topic: 'rustsec.advisories' as const, key: base.id, values };
      });
  });
}

// ---- workspaces -----------------------------------------------------------------------------------

type Pkg = Lockfile['packages'][number];

/** One workspace id's history: 1–3 lockfiles cut from a real one, mutated. */
export function workspaceHistory(c: Corpus, id: string, k: MutationSwitches): fc.Arbitrary<KeyHistory> {
  const project = fc.constantFrom(...c.workspaces);
  // "huge": a whole real lockfile — the smallest one, so that a run stays within minutes on 2 cores
  const whole = [...c.workspaces].sort((x, y) => x.lock.packages.length - y.lock.packages.length)[0]!;
  const oddVersion = (base: string) =>
    k.lockedNonSemver
      ? fc.oneof({ weight: 3, arbitrary: semverOddVersion(base) }, { weight: 1, arbitrary: nonSemverVersion })
      : semverOddVersion(base);
  const mutation = (p: Pkg): fc.Arbitrary<{ p: Pkg; what?: string }> =>
    fc.oneof(
      { weight: 20, arbitrary: fc.constant({ p }) },
      {
        weight: 2,
        arbitrary: oddVersion(p.version).map((version) => ({ p: { ...p, version }, what: `${p.name} locked at "${version}"` })),
      },
      { weight: 1, arbitrary: fc.constant({ p: { ...p, name: `fuzz-unknown-${p.name}` }, what: `unknown crate fuzz-unknown-${p.name}` }) },
      {
        weight: 1,
        arbitrary: hex40.map((rev) => ({
          p: { ...p, source: `git+https://github.com/fuzz/${p.name}?rev=${rev}#${rev}`, checksum: undefined },
          what: `${p.name} from git`,
        })),
      },
    );
  const lockfile = project.chain((w) =>
    fc
      .oneof(
        { weight: 1, arbitrary: fc.constant<'empty'>('empty') },
        { weight: 1, arbitrary: fc.constant<'whole'>('whole') },
        { weight: 6, arbitrary: fc.integer({ min: 10, max: 80 }) },
      )
      .chain((size) => {
        const pkgs =
          size === 'empty'
            ? fc.constant<Pkg[]>([])
            : size === 'whole'
              ? fc.constant(whole.lock.packages)
              : fc.shuffledSubarray(w.lock.packages, {
                  minLength: Math.min(size, w.lock.packages.length),
                  maxLength: Math.min(size, w.lock.packages.length),
                });
        return pkgs.chain((ps) =>
          fc.tuple(fc.constant(size === 'whole' ? whole : w), fc.tuple(...ps.map(mutation)), fc.boolean(), fc.nat({ max: 300 })),
        );
      }),
  );
  return fc.array(lockfile, { minLength: 1, maxLength: 3 }).map((locks) => ({
    topic: 'org.workspaces' as const,
    key: id,
    values: locks.map(([w, muts, withStore, day], i) => {
      // ids as parseLockfile makes them (`name@version`, one per package), edges kept inside the cut
      const seen = new Set<string>();
      const pkgs = muts
        .map((m) => ({ ...m.p, id: `${m.p.name}@${m.p.version}` }))
        .filter((p) => (seen.has(p.id) ? false : (seen.add(p.id), true)));
      const idOf = new Map<string, string>();
      for (const m of muts) idOf.set(originalId(w.lock, m.p), `${m.p.name}@${m.p.version}`);
      const lock: Lockfile = {
        version: w.lock.version,
        packages: pkgs.map((p) => ({
          ...p,
          dependencies: p.dependencies.map((d) => idOf.get(d)).filter((d): d is string => d !== undefined && seen.has(d)),
        })),
      };
      const ev = workspaceEvent({
        id,
        org: 'fuzz-org',
        ...(i % 2 ? { team: 'fuzz-team' } : {}),
        lock,
        ...(withStore && w.store ? { store: w.store } : {}),
        origin: { path: `${w.name}/Cargo.lock`, checksum: `fuzz-${w.name}-${i}-${pkgs.length}` },
        observedAt: at(day + i),
      });
      validateEvent('org.workspaces', ev);
      const what = muts.flatMap((m) => (m.what ? [m.what] : []));
      const why = workspaceRefusal(ev);
      return {
        topic: 'org.workspaces' as const,
        key: id,
        value: ev,
        ...(why ? { refuse: why } : {}),
        mutation: `${w.name}: ${pkgs.length} packages${withStore && w.store ? ' + store' : ''}${what.length ? `; ${what.join('; ')}` : ''}`,
      };
    }),
  }));
}

/** The id the real lockfile gave the package a mutation started from (to rewrite edges to it). */
function originalId(lock: Lockfile, p: Pkg): string {
  const exact = lock.packages.find((x) => x === p);
  if (exact) return exact.id;
  // mutated copy: same dependencies array object as its original
  return lock.packages.find((x) => x.dependencies === p.dependencies)?.id ?? `${p.name}@${p.version}`;
}

// ---- audits.pool ----------------------------------------------------------------------------------

type Entries = PoolEvent['entries'];

const poolEvent = (pool: string, crate: string, entries: Entries, day: number): PoolEvent =>
  validateEvent('audits.pool', { v: 1, pool, url: POOL_URL(pool), crate, entries, observedAt: at(day) }) as PoolEvent;

/** (pool, crate) pairs the pools record, locked crates first. */
export function poolKeys(c: Corpus): { pool: string; crate: string }[] {
  const out: { pool: string; crate: string }[] = [];
  for (const p of c.pools) {
    const crates = new Set([
      ...p.file.audits.keys(),
      ...p.file.wildcardAudits.keys(),
      ...p.file.trusted.keys(),
      ...p.history.flatMap((h) => [...h.audits.keys()]),
    ]);
    for (const crate of [...crates].sort()) out.push({ pool: p.name, crate });
  }
  return out.sort((a, b) => Number(!c.locked.has(a.crate)) - Number(!c.locked.has(b.crate)));
}

/** One `pool/crate` key's history: the pool's monthly versions (google, mozilla), then today's, mutated. */
export function poolHistory(c: Corpus, key: { pool: string; crate: string }, k: MutationSwitches): fc.Arbitrary<KeyHistory> {
  const p = c.pools.find((x) => x.name === key.pool)!;
  const { crate } = key;
  const real = [...p.history, p.file].map((f) => crateEntries(f, crate));
  const audits = (e: Entries) => e.audits ?? [];
  const base = real[real.length - 1]!;
  const lockedVersion = c.locked.get(crate)?.[0] ?? '1.0.0';
  const oddVersion = fc.oneof(
    { weight: 3, arbitrary: semverOddVersion(lockedVersion) },
    ...(k.gitAudits ? [{ weight: 2, arbitrary: gitVersion(lockedVersion) }] : []),
    ...(k.nonSemverAudits ? [{ weight: 1, arbitrary: nonSemverVersion }] : []),
  );
  const mutate: fc.Arbitrary<{ e: Entries; mutation?: string; refuse?: string }> = fc.oneof(
    { weight: 5, arbitrary: fc.constant<PoolMut>({ e: base }) },
    {
      weight: 1,
      arbitrary: fc.constant<PoolMut>({
        e: { audits: [], 'wildcard-audits': [], trusted: [] },
        mutation: 'emptied (explicit empty event)',
      }),
    },
    { weight: 1, arbitrary: fc.constant<PoolMut>({ e: {}, mutation: 'no tables at all' }) },
    {
      weight: 2,
      arbitrary: fc.array(oddVersion, { minLength: 1, maxLength: 3 }).map((vs) => ({
        e: {
          ...base,
          audits: [...audits(base), ...vs.map((version) => ({ who: 'Fuzz <fuzz@example>', criteria: 'safe-to-deploy', version }))],
        },
        mutation: `audits of ${vs.map((v) => `"${v}"`).join(', ')}`,
      })),
    },
    {
      weight: 1,
      arbitrary: oddVersion.map((to) => {
        const delta = `${lockedVersion} -> ${to}`;
        // The scorer reads a delta as `A -> B`, each side without blanks (facts.ts `auditRow`); a
        // non-SemVer `to` with a blank inside is not one: bad input. Any other odd side is kept.
        const entries = audits(base).length;
        return {
          e: { ...base, audits: [...audits(base), { who: 'Fuzz', criteria: ['safe-to-run'], delta }] },
          mutation: `delta ${delta}`,
          ...(/^\s*(\S+)\s*->\s*(\S+)\s*$/.test(delta) ? {} : { refuse: `entries.audits[${entries}].delta: "${delta}" is not "A -> B"` }),
        };
      }),
    },
    {
      weight: 1,
      arbitrary: fc.constant<PoolMut>({
        e: {
          ...base,
          audits: [
            ...audits(base),
            ...Array.from({ length: 400 }, (_, i) => ({ who: 'Fuzz', criteria: 'safe-to-run', version: `${i}.${i % 7}.${i % 3}` })),
          ],
        },
        mutation: 'huge: 400 more audits',
      }),
    },
    {
      weight: 1,
      arbitrary: fc.constant<PoolMut>({
        e: { ...base, audits: [...audits(base), { who: 'Fuzz', criteria: [], version: '1.0.0' }] },
        mutation: 'empty criteria',
        refuse: 'criteria: empty',
      }),
    },
    {
      weight: 1,
      arbitrary: fc.constant<PoolMut>({
        e: { ...base, exemptions: [{ version: '1.0.0' }] },
        mutation: 'unknown table',
        refuse: 'not a table of a crate',
      }),
    },
  );
  return fc
    .tuple(
      fc.subarray(real.slice(0, -1), { maxLength: Math.min(3, real.length - 1) }),
      fc.array(mutate, { minLength: 1, maxLength: 2 }),
      fc.nat({ max: 300 }),
      fc.constantFrom('none', 'none', 'none', 'none', 'last', 'first'),
    )
    .map(([olds, muts, day, tomb]) => {
      const values: Msg[] = [...olds.map((e) => ({ e }) as { e: Entries; mutation?: string; refuse?: string }), ...muts].map((x, i) => ({
        topic: 'audits.pool' as const,
        key: `${key.pool}/${crate}`,
        value: poolEvent(key.pool, crate, x.e, day + i),
        ...(x.mutation ? { mutation: x.mutation } : {}),
        ...(x.refuse ? { refuse: x.refuse } : {}),
      }));
      const t: Msg = { topic: 'audits.pool', key: `${key.pool}/${crate}`, value: null, mutation: 'tombstone' };
      if (tomb === 'last') values.push(t);
      if (tomb === 'first') values.unshift(t);
      return { topic: 'audits.pool' as const, key: `${key.pool}/${crate}`, values };
    });
}

/** A pool's criteria definitions (`pool/*criteria*`): monthly versions then today's. */
export function criteriaHistory(c: Corpus, pool: string): fc.Arbitrary<KeyHistory> {
  const p = c.pools.find((x) => x.name === pool)!;
  const real = [...p.history, p.file].map((f) => criteriaEntries(f));
  return fc.tuple(fc.subarray(real.slice(0, -1), { maxLength: Math.min(2, real.length - 1) }), fc.boolean()).map(([olds, empty]) => ({
    topic: 'audits.pool' as const,
    key: `${pool}/*criteria*`,
    values: [...olds, ...(empty ? [{ criteria: [] }] : []), real[real.length - 1]!].map((e, i) => ({
      topic: 'audits.pool' as const,
      key: `${pool}/*criteria*`,
      value: poolEvent(pool, '*criteria*', e, i),
      ...(e.criteria?.length === 0 ? { mutation: 'no criteria for a while' } : {}),
    })),
  }));
}

// ---- maintainers.signals --------------------------------------------------------------------------

export function maintainerHistory(crate: string): fc.Arbitrary<KeyHistory> {
  const login = fc.stringMatching(/^[a-z][a-z0-9-]{0,11}$/);
  const one = fc
    .record({
      owners: fc.oneof(
        { weight: 6, arbitrary: fc.uniqueArray(login, { maxLength: 4 }) },
        { weight: 1, arbitrary: fc.constant(Array.from({ length: 500 }, (_, i) => `owner-${i}`)) },
      ),
      team: fc.boolean(),
      repo: fc.oneof(
        fc.constant(undefined),
        fc.constant(`https://github.com/fuzz/${crate}`),
        fc.constant(`https://gitlab.example/${crate}`),
      ),
      missing: fc.boolean(),
      archived: fc.boolean(),
      signed: fc.option(fc.tuple(fc.nat({ max: 50 }), fc.integer({ min: 1, max: 50 }))),
      cadence: fc.option(fc.record({ last: fc.nat({ max: 900 }), gap: fc.nat({ max: 900 }) })),
      change: fc.option(fc.record({ added: fc.uniqueArray(login, { maxLength: 2 }), removed: fc.uniqueArray(login, { maxLength: 2 }) })),
      day: fc.nat({ max: 400 }),
    })
    .map((r): MaintainerEvent => {
      const obs = at(r.day);
      const sig = (value: unknown) => ({ value, observedAt: obs });
      const signals: MaintainerEvent['signals'] = { ownerCount: sig(r.owners.length) };
      signals.repository = r.repo === undefined || r.missing ? sig('missing') : sig({ url: r.repo, host: new URL(r.repo).host });
      if (r.repo && !r.missing) {
        signals.archived = sig(r.archived);
        signals.disabled = sig(false);
        signals.pushedAt = sig(at(r.day - 10));
        if (r.signed)
          signals.signedCommits = sig({
            signed: Math.min(r.signed[0], r.signed[1]),
            total: r.signed[1],
            ratio: Math.min(r.signed[0], r.signed[1]) / r.signed[1],
          });
        if (r.cadence) signals.releases = sig({ last: at(r.day - r.cadence.last), lastGapDays: r.cadence.gap });
      }
      if (r.change) signals.ownershipChange = sig({ ...r.change, previous: r.change.removed });
      return validateEvent('maintainers.signals', {
        v: 1,
        crate,
        owners: r.owners.map((login, i) => ({
          login: r.team && i === 0 ? `github:fuzz:${login}` : login,
          kind: r.team && i === 0 ? 'team' : 'user',
          observedAt: at(r.day - 30),
        })),
        ...(r.repo ? { repository: r.repo } : {}),
        signals,
        observedAt: obs,
      }) as MaintainerEvent;
    });
  return fc
    .tuple(fc.array(one, { minLength: 1, maxLength: 3 }), fc.constantFrom('none', 'none', 'none', 'last', 'first'))
    .map(([evs, tomb]) => {
      const values: Msg[] = evs.map((value) => ({
        topic: 'maintainers.signals' as const,
        key: crate,
        value,
        ...(value.owners.length >= 500 ? { mutation: 'huge: 500 owners' } : value.owners.length === 0 ? { mutation: 'no owners' } : {}),
      }));
      const t: Msg = { topic: 'maintainers.signals', key: crate, value: null, mutation: 'tombstone' };
      if (tomb === 'last') values.push(t);
      if (tomb === 'first') values.unshift(t);
      return { topic: 'maintainers.signals' as const, key: crate, values };
    });
}

// ---- crates.releases ------------------------------------------------------------------------------

/** Facts of a release drawn from its crate@version alone (a hash), so every event of it agrees. */
function perVersion(id: string): {
  yanked: boolean;
  day: number | null;
  publisher: string | null;
  checksum: string | null;
  withChecksum: boolean;
} {
  const h = createHash('sha256').update(id).digest();
  return {
    yanked: h[0]! % 4 === 0,
    day: h[1]! % 5 === 0 ? null : (h[2]! * 256 + h[3]!) % 401,
    publisher: h[4]! % 4 === 0 ? null : (['alice', 'bob', 'mallory'] as const)[h[5]! % 3]!,
    checksum: h[6]! % 3 === 0 ? null : h.toString('hex'),
    withChecksum: h[7]! % 2 === 0,
  };
}

export function releaseHistory(
  crate: string,
  lockedVersions: string[],
  checksums: Map<string, string>,
  k: MutationSwitches,
): fc.Arbitrary<KeyHistory> {
  const base = lockedVersions[0] ?? '1.0.0';
  const version = fc.oneof(
    { weight: 4, arbitrary: lockedVersions.length ? fc.constantFrom(...lockedVersions) : fc.constant(base) },
    { weight: 2, arbitrary: semverOddVersion(base) },
    ...(k.nonSemverReleases ? [{ weight: 1, arbitrary: nonSemverVersion }] : []),
  );
  const one = fc
    .record({
      version,
      yanked: fc.boolean(),
      day: fc.option(fc.nat({ max: 400 }), { freq: 4 }),
      publisher: fc.option(fc.constantFrom('alice', 'bob', 'mallory')),
      // crates.io's checksum is the lockfile's: a release of a locked version carries that one (or none)
      checksum: fc.option(fc.stringMatching(/^[0-9a-f]{64}$/)),
      withChecksum: fc.boolean(),
      deps: fc.array(
        fc.record({
          name: fc.constantFrom('serde', 'libc', 'fuzz-unknown-dep'),
          req: fc.constantFrom('^1', '*', '>= 0.2, < 0.3', 'not a req'),
        }),
        { maxLength: 3 },
      ),
    })
    .map((r0): Msg => {
      // One version's facts are one version's facts: its checksum, publish time, publisher (and here
      // its yank state) are drawn once per crate@version, not per event. The topic is applied in order
      // and run B drops run A's repeats, so facts drawn per event would make A and B differ by design.
      const r = { ...r0, ...perVersion(`${crate}@${r0.version}`) };
      const known = checksums.get(`${crate}@${r.version}`);
      const checksum = known !== undefined ? (r.withChecksum ? known : null) : r.checksum;
      const ev = validateEvent('crates.releases', {
        v: 1,
        crate,
        version: r.version,
        ...(checksum ? { checksum } : {}),
        yanked: r.yanked,
        features: {},
        dependencies: r.deps.map((d) => ({ ...d, kind: 'normal', optional: false })),
        ...(r.day !== null ? { publishedAt: at(r.day) } : {}),
        ...(r.publisher ? { publisher: r.publisher } : {}),
        observedAt: at(r.day ?? 0),
      }) as ReleaseEvent;
      const why = releaseRefusal(r.version);
      return {
        topic: 'crates.releases',
        key: crate,
        value: ev,
        ...(why ? { refuse: why } : {}),
        mutation: `release ${r.version}${r.yanked ? ' (yanked)' : ''}`,
      };
    });
  return fc.tuple(fc.array(one, { minLength: 1, maxLength: 3 }), fc.nat({ max: 19 })).map(([values, t]) => ({
    topic: 'crates.releases' as const,
    key: crate,
    // A tombstone on this (not compacted) topic is bad input: the scorer refuses it to the DLQ.
    values:
      t === 0
        ? [
            ...values,
            {
              topic: 'crates.releases' as const,
              key: crate,
              value: null,
              mutation: 'tombstone',
              refuse: 'a release event cannot be a tombstone',
            },
          ]
        : values,
  }));
}

// ---- the streams ----------------------------------------------------------------------------------

export interface FuzzStreams {
  /** Shuffled, with duplicates. */
  a: Msg[];
  /** Deduplicated, canonical order, same last value per key. */
  b: Msg[];
  histories: KeyHistory[];
}

export interface StreamSizes {
  pools: number;
  advisories: number;
  workspaces: number;
  maintainers: number;
  releases: number;
}

/** Mulberry32: the shuffle and the duplicates from one generated integer. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const valueId = (m: Msg): string => `${m.topic}\u0000${m.key}\u0000${m.value === null ? 'null' : JSON.stringify(m.value)}`;

export function fuzzStreams(c: Corpus, n: StreamSizes, k: MutationSwitches): fc.Arbitrary<FuzzStreams> {
  const lockedCrates = [...c.locked.keys()].sort();
  const pkeys = poolKeys(c);
  // Some keys of each topic are crates no workspace locks (unknown crates).
  const crateKey = fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...lockedCrates) },
    { weight: 1, arbitrary: fc.stringMatching(/^fuzz-unknown-[a-z0-9]{1,8}$/) },
  );
  const pools = fc
    .uniqueArray(
      fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(...pkeys.slice(0, Math.max(1, Math.floor(pkeys.length / 3)))) },
        { weight: 1, arbitrary: fc.constantFrom(...pkeys) },
      ),
      {
        minLength: n.pools,
        maxLength: n.pools,
        selector: (x) => `${x.pool}/${x.crate}`,
      },
    )
    .chain((keys) => fc.tuple(...keys.map((key) => poolHistory(c, key, k))));
  const criteria = fc.tuple(...c.pools.map((p) => criteriaHistory(c, p.name)));
  const advisories = fc.uniqueArray(advisoryHistory(c), { minLength: n.advisories, maxLength: n.advisories, selector: (h) => h.key });
  const workspaces = fc.tuple(...Array.from({ length: n.workspaces }, (_, i) => workspaceHistory(c, `fuzz/ws-${i}`, k)));
  const maintainers = fc
    .uniqueArray(crateKey, { minLength: n.maintainers, maxLength: n.maintainers })
    .chain((cs) => fc.tuple(...cs.map((crate) => maintainerHistory(crate))));
  const releases = fc
    .uniqueArray(crateKey, { minLength: n.releases, maxLength: n.releases })
    .chain((cs) => fc.tuple(...cs.map((crate) => releaseHistory(crate, c.locked.get(crate) ?? [], c.checksums, k))));
  return fc
    .tuple(pools, criteria, advisories, workspaces, maintainers, releases, fc.integer(), fc.double({ min: 0.05, max: 0.3, noNaN: true }))
    .map(([p, cr, a, w, m, r, shuffleSeed, dupRate]) => {
      const histories = [...cr, ...p, ...a, ...w, ...m, ...r].map(acceptedLast);
      return { ...interleave(histories, shuffleSeed, dupRate), histories };
    });
}

/**
 * The history with its last accepted value last: the values after it (all refused) are moved just
 * before it. The graph keeps a key's last accepted value (a refused one changes nothing), and both
 * streams end every key with its history's last value, so they end it with the same accepted one.
 * (With a refused value last, the value that stays depends on which earlier values the scorer
 * applied — on batching, on duplicates — and runs A and B could keep different ones.) A history with
 * no accepted value is left as it is: nothing of it reaches the graph.
 */
export function acceptedLast(h: KeyHistory): KeyHistory {
  let i = h.values.length - 1;
  while (i >= 0 && h.values[i]!.refuse) i--;
  if (i < 0 || i === h.values.length - 1) return h;
  return { ...h, values: [...h.values.slice(0, i), ...h.values.slice(i + 1), h.values[i]!] };
}

/**
 * Stream a (random interleaving + duplicates, the last value per key kept last) and stream b
 * (canonical). Give histories through `acceptedLast` (as `fuzzStreams` does), so that the last value
 * of every key is an accepted one, the same in both streams.
 */
export function interleave(histories: KeyHistory[], seed: number, dupRate: number): { a: Msg[]; b: Msg[] } {
  const rnd = prng(seed);
  // Each key's sequence with duplicates: any earlier value repeated before the last; sometimes the last repeated after it.
  const queues = histories.map((h) => {
    const out: Msg[] = [];
    h.values.forEach((v, i) => {
      out.push(v);
      while (rnd() < dupRate) out.push(h.values[Math.floor(rnd() * (i + 1))]!);
    });
    const last = h.values[h.values.length - 1]!;
    if (out[out.length - 1] !== last) out.push(last);
    if (rnd() < dupRate) out.push(last);
    return out;
  });
  const a: Msg[] = [];
  const live = queues.map((_, i) => i).filter((i) => queues[i]!.length);
  const pos = queues.map(() => 0);
  while (live.length) {
    const j = Math.floor(rnd() * live.length);
    const qi = live[j]!;
    a.push(queues[qi]![pos[qi]!++]!);
    if (pos[qi] === queues[qi]!.length) live.splice(j, 1);
  }
  // b: per key, distinct values in the order of their last occurrence in a; keys in canonical order.
  const order: Record<FuzzTopic, number> = {
    'audits.pool': 0,
    'crates.releases': 1,
    'maintainers.signals': 2,
    'rustsec.advisories': 3,
    'org.workspaces': 4,
  };
  const lastAt = new Map<string, number>();
  a.forEach((m, i) => lastAt.set(valueId(m), i));
  const byKey = new Map<string, Msg[]>();
  for (const [id, i] of [...lastAt].sort((x, y) => x[1] - y[1])) {
    void id;
    const m = a[i]!;
    const k = `${order[m.topic]}\u0000${m.key.includes('*criteria*') ? '\u0000' : ''}${m.key}`;
    byKey.set(k, [...(byKey.get(k) ?? []), m]);
  }
  const b = [...byKey.keys()].sort().flatMap((k) => byKey.get(k)!);
  return { a, b };
}
