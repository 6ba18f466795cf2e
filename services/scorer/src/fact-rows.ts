/**
 * The fact events the scorer writes to the graph as they are (audits, maintainers, releases), turned
 * into the rows `graph.ts` writes. Pure: no I/O. What the topic schema leaves open (a pool event's
 * entries are cargo-vet's own tables, as loosely typed records) is checked here, and a bad entry is
 * refused with the path of the field, like a schema failure (BadMessageError → the topic's DLQ).
 */
import { createHash } from 'node:crypto';
import { isSemVer, parseVetVersion, type MaintainerEvent, type PoolEvent, type ReleaseEvent } from '@cratewatch/shared';
import { BadMessageError } from '@cratewatch/runtime';

/** The key under which a pool's criteria definitions travel (`pool/*criteria*`). */
export const CRITERIA_KEY = '*criteria*';

export type AuditKind = 'full' | 'delta' | 'violation' | 'wildcard' | 'trusted';

/** Neo4j property values: primitives and lists of them (null removes a property). */
export type Prop = string | number | boolean | null | string[] | number[] | boolean[];

export interface AuditRow {
  /** `pool/crate/kind/<hash of the entry's content>`: a replayed event MERGEs the same nodes. */
  id: string;
  props: Record<string, Prop> & { pool: string; crate: string; kind: AuditKind };
  /**
   * The crates.io release it certifies (a full audit's version, a delta's target). Absent for an
   * audit of a git revision (`1.2.3@git:<commit>`: it vets only a package built from that commit,
   * never the release `1.2.3`; the revision is the Audit's `gitRev`) and for a version cargo-vet
   * could not read (`versionProblem`).
   */
  certifies?: string;
}

export interface PoolCrateSet {
  pool: string;
  url: string;
  crate: string;
  audits: AuditRow[];
}

export interface CriteriaDefRow {
  name: string;
  description?: string;
  descriptionUrl?: string;
  implies: string[];
  aggregatedFrom: string[];
}

export interface CriteriaSet {
  pool: string;
  url: string;
  criteria: CriteriaDefRow[];
}

export interface MaintainerRow {
  crate: string;
  owners: { login: string; kind: string; since: string }[];
  /** The repository URL, or null when the crate names none. */
  repo: string | null;
  /** Every property of the Repository node (its signals), `url` included; replaces the old ones. */
  repoProps: Record<string, Prop>;
  /** The crate-level signals, every key present (null clears it). */
  crateProps: Record<string, Prop>;
}

export interface ReleaseRow {
  crate: string;
  version: string;
  yanked: boolean;
  publishedAt: string | null;
  checksum: string | null;
  publisher: string | null;
}

// ---- audits.pool ---------------------------------------------------------------------------------

/** Splits a pool event's key `pool/crate`; throws unless it names the payload's pool and crate. */
export function checkPoolKey(key: string | null, ev: PoolEvent): void {
  if (key !== null && key !== `${ev.pool}/${ev.crate}`) {
    throw new BadMessageError(`key "${key}" is not "${ev.pool}/${ev.crate}" (pool/crate of the event)`);
  }
}

/** The (pool, crate) a tombstone's key names; a tombstone clears them like an empty event. */
export function parsePoolKey(key: string | null): { pool: string; crate: string } {
  const i = key?.indexOf('/') ?? -1;
  if (!key || i <= 0 || i === key.length - 1) throw new BadMessageError(`tombstone key "${key ?? ''}" is not pool/crate`);
  return { pool: key.slice(0, i), crate: key.slice(i + 1) };
}

const CRATE_TABLES = ['audits', 'wildcard-audits', 'trusted'] as const;

/** A crate's complete entries in a pool, as the audits to keep. */
export function poolCrateSet(ev: PoolEvent): PoolCrateSet {
  for (const k of Object.keys(ev.entries)) {
    if (!(CRATE_TABLES as readonly string[]).includes(k))
      throw new BadMessageError(`entries.${k}: not a table of a crate's entries (audits, wildcard-audits, trusted)`);
  }
  const audits = new Map<string, AuditRow>();
  for (const table of CRATE_TABLES) {
    (ev.entries[table] ?? []).forEach((entry, i) => {
      const row = auditRow(ev.pool, ev.crate, table, entry, `entries.${table}[${i}]`);
      audits.set(row.id, row); // two identical entries are one audit
    });
  }
  return { pool: ev.pool, url: ev.url, crate: ev.crate, audits: [...audits.values()] };
}

function auditRow(pool: string, crate: string, table: (typeof CRATE_TABLES)[number], e: Record<string, unknown>, at: string): AuditRow {
  const f = fields(e, at);
  const criteria = f.strings('criteria', true)!;
  if (criteria.length === 0) throw new BadMessageError(`${at}.criteria: empty`);
  const common = {
    pool,
    crate,
    criteria,
    who: f.strings('who') ?? [],
    notes: f.str('notes') ?? null,
    aggregatedFrom: f.strings('aggregated-from') ?? [],
  };
  let kind: AuditKind;
  let props: Record<string, Prop>;
  let certifies: string | undefined;
  if (table === 'audits') {
    const version = f.str('version');
    const delta = f.str('delta');
    const violation = f.str('violation');
    const given = [version, delta, violation].filter((x) => x !== undefined).length;
    if (given !== 1) throw new BadMessageError(`${at}: needs exactly one of version, delta, violation (has ${given})`);
    let from: string | null = null;
    let to: string | null = null;
    if (delta !== undefined) {
      const m = /^\s*(\S+)\s*->\s*(\S+)\s*$/.exec(delta);
      if (!m) throw new BadMessageError(`${at}.delta: "${delta}" is not "A -> B"`);
      [from, to] = [m[1]!, m[2]!];
    }
    kind = version !== undefined ? 'full' : delta !== undefined ? 'delta' : 'violation';
    const read = auditedVersion(version ?? to ?? undefined, from, `${at}.${version !== undefined ? 'version' : 'delta'}`);
    certifies = read.certifies;
    props = {
      version: version ?? null,
      delta: delta ?? null,
      deltaFrom: from,
      deltaTo: to,
      violation: violation ?? null,
      importable: f.bool('importable') ?? null,
      gitRev: read.gitRev,
      versionProblem: read.problem,
    };
  } else {
    const userId = f.num('user-id');
    const publisher = f.str('trusted-publisher');
    if ((userId === undefined) === (publisher === undefined))
      throw new BadMessageError(`${at}: needs exactly one of user-id, trusted-publisher`);
    kind = table === 'trusted' ? 'trusted' : 'wildcard';
    props = {
      userId: userId ?? null,
      trustedPublisher: publisher ?? null,
      start: f.str('start', true)!,
      end: f.str('end', true)!,
      renew: table === 'wildcard-audits' ? (f.bool('renew') ?? null) : null,
    };
  }
  const id = `${pool}/${crate}/${kind}/${contentHash(e)}`;
  // The entry as the pool wrote it, so the resolver can read a trusted pool back from the graph.
  props = { ...props, table, entry: JSON.stringify(e) };
  return { id, props: { ...common, ...props, kind }, ...(certifies !== undefined ? { certifies } : {}) };
}

/**
 * What an audit's version certifies, read as cargo-vet reads it (shared `parseVetVersion`): a
 * crates.io release; or a git revision (`gitRev`), which certifies no crates.io Version, since
 * cargo-vet lets it vet only a package whose source is that commit; or, for a string cargo-vet would
 * refuse (in the target, or a delta's `from`), a `problem` naming the field. Such an entry is kept,
 * certifying nothing, rather than refused: the event is the crate's whole set of entries, and one
 * odd entry must not drop the others.
 */
function auditedVersion(
  target: string | undefined,
  from: string | null,
  field: string,
): { certifies?: string; gitRev: string | null; problem: string | null } {
  const read = target === undefined ? undefined : parseVetVersion(target);
  const bad = [target, from ?? undefined].find((v) => v !== undefined && parseVetVersion(v) === undefined);
  return {
    ...(read && read.gitRev === undefined ? { certifies: read.version } : {}),
    gitRev: read?.gitRev ?? null,
    problem: bad === undefined ? null : `${field}: ${JSON.stringify(bad)} is not a version (SemVer, or SemVer@git:<40 hex digits>)`,
  };
}

/** A pool's criteria definitions (`pool/*criteria*`). */
export function criteriaSet(ev: PoolEvent): CriteriaSet {
  for (const k of Object.keys(ev.entries)) {
    if (k !== 'criteria') throw new BadMessageError(`entries.${k}: a ${CRITERIA_KEY} event holds only entries.criteria`);
  }
  const byName = new Map<string, CriteriaDefRow>();
  (ev.entries.criteria ?? []).forEach((e, i) => {
    const f = fields(e, `entries.criteria[${i}]`);
    const name = f.str('name', true)!;
    if (name === '') throw new BadMessageError(`entries.criteria[${i}].name: empty`);
    const description = f.str('description');
    const descriptionUrl = f.str('description-url');
    byName.set(name, {
      name,
      ...(description !== undefined ? { description } : {}),
      ...(descriptionUrl !== undefined ? { descriptionUrl } : {}),
      implies: [...new Set(f.strings('implies') ?? [])],
      aggregatedFrom: f.strings('aggregated-from') ?? [],
    });
  });
  return { pool: ev.pool, url: ev.url, criteria: [...byName.values()] };
}

/** Typed reads of an entry's fields, refusing a wrong type with the field's path. */
function fields(e: Record<string, unknown>, at: string) {
  const bad = (k: string, what: string): never => {
    throw new BadMessageError(`${at}.${k}: expected ${what}, got ${JSON.stringify(e[k])}`);
  };
  const missing = (k: string): never => {
    throw new BadMessageError(`${at}.${k}: required`);
  };
  return {
    str(k: string, required = false): string | undefined {
      const v = e[k];
      if (v === undefined || v === null) return required ? missing(k) : undefined;
      return typeof v === 'string' ? v : bad(k, 'a string');
    },
    /** cargo-vet accepts a string or a list of strings for these (criteria, who, implies). */
    strings(k: string, required = false): string[] | undefined {
      const v = e[k];
      if (v === undefined || v === null) return required ? missing(k) : undefined;
      if (typeof v === 'string') return [v];
      if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
      return bad(k, 'a string or a list of strings');
    },
    num(k: string): number | undefined {
      const v = e[k];
      if (v === undefined || v === null) return undefined;
      return typeof v === 'number' && Number.isInteger(v) ? v : bad(k, 'an integer');
    },
    bool(k: string): boolean | undefined {
      const v = e[k];
      if (v === undefined || v === null) return undefined;
      return typeof v === 'boolean' ? v : bad(k, 'a boolean');
    },
  };
}

/** A hash of a value's content, independent of key order. */
export function contentHash(v: unknown): string {
  return createHash('sha256').update(canonical(v)).digest('base64url').slice(0, 22);
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

// ---- maintainers.signals -------------------------------------------------------------------------

/** Signals about the crate itself rather than its repository (two crates may share a repository). */
export const CRATE_SIGNALS = ['ownerCount', 'ownershipChange'] as const;

export function checkMaintainerKey(key: string | null, ev: MaintainerEvent): void {
  if (key !== null && key !== ev.crate) throw new BadMessageError(`key "${key}" is not the crate "${ev.crate}"`);
}

export function maintainerRow(ev: MaintainerEvent): MaintainerRow {
  const owners = [...new Map(ev.owners.map((o) => [o.login, { login: o.login, kind: o.kind, since: o.observedAt }])).values()];
  const repo = ev.repository?.trim() || null;
  const crateProps: Record<string, Prop> = { maintainersObservedAt: ev.observedAt };
  for (const name of CRATE_SIGNALS) {
    const s = ev.signals[name];
    crateProps[name] = s === undefined ? null : asProp(s.value);
    crateProps[`${name}ObservedAt`] = s?.observedAt ?? null;
  }
  const repoProps: Record<string, Prop> = {};
  if (repo !== null) {
    for (const [name, s] of Object.entries(ev.signals)) {
      if ((CRATE_SIGNALS as readonly string[]).includes(name)) continue;
      Object.assign(repoProps, flatten(name, s.value));
      repoProps[`${name}ObservedAt`] = s.observedAt;
    }
    repoProps.observedAt = ev.observedAt;
    repoProps.url = repo;
  }
  return { crate: ev.crate, owners, repo, repoProps, crateProps };
}

/** A value as one property: a primitive or a list of one primitive type as is, anything else as JSON. */
function asProp(v: unknown): Prop {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) return v;
  if (Array.isArray(v) && v.length > 0) {
    const t = typeof v[0];
    if ((t === 'string' || t === 'number' || t === 'boolean') && v.every((x) => typeof x === t)) return v as string[];
  }
  return JSON.stringify(v);
}

/**
 * A signal as properties: `name` (the value, JSON for an object), plus `name_field` for each field of
 * an object value that is a primitive or a list of primitives, so that Cypher can filter on them
 * (`r.signedCommits_ratio < 0.5`) without parsing JSON.
 */
function flatten(name: string, v: unknown): Record<string, Prop> {
  const out: Record<string, Prop> = { [name]: asProp(v) };
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      const p = asProp(x);
      if (p !== null && (typeof x !== 'object' || Array.isArray(x)) && !(typeof p === 'string' && typeof x !== 'string'))
        out[`${name}_${k}`] = p;
    }
  }
  return out;
}

// ---- crates.releases -----------------------------------------------------------------------------

export function checkReleaseKey(key: string | null, ev: ReleaseEvent): void {
  if (key !== null && key !== ev.crate) throw new BadMessageError(`key "${key}" is not the crate "${ev.crate}"`);
}

export function releaseRow(ev: ReleaseEvent): ReleaseRow {
  // crates.io publishes only SemVer versions; anything else would be a Version node no rule can read.
  if (!isSemVer(ev.version)) throw new BadMessageError(`version: ${JSON.stringify(ev.version)} is not SemVer`);
  return {
    crate: ev.crate,
    version: ev.version,
    yanked: ev.yanked,
    publishedAt: ev.publishedAt ?? null,
    checksum: ev.checksum ?? null,
    publisher: ev.publisher ?? null,
  };
}
