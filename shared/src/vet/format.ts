/**
 * cargo-vet's store: `supply-chain/config.toml`, `audits.toml` and `imports.lock`, read into typed
 * records and written back the way cargo-vet writes them (see ./toml.ts). Pure: text in, text out.
 *
 * Errors are FormatErrors naming the file, and the table and key (`field`) at fault.
 */
import { parse as parseToml } from 'smol-toml';
import { FormatError, tomlLine } from '../errors.js';
import {
  compareAudits,
  compareExemptions,
  comparePublishers,
  compareStr,
  compareTrusted,
  compareUnpublished,
  compareWildcards,
  displayVersionReq,
  sortedEntries,
} from './order.js';
import { aot, renderDocument, tbl, val, valueRepr, type TItem, type TTable, type TValue } from './toml.js';

export const SAFE_TO_DEPLOY = 'safe-to-deploy';
export const SAFE_TO_RUN = 'safe-to-run';

export interface CriteriaDef {
  description?: string;
  descriptionUrl?: string;
  implies: string[];
  aggregatedFrom: string[];
}

export interface AuditEntry {
  who: string[];
  criteria: string[];
  /** Exactly one of version (full audit), delta, violation (a Rust semver requirement). */
  version?: string;
  delta?: { from: string; to: string };
  violation?: string;
  /** `importable = false`: kept out of what others import. Absent means importable. */
  importable?: boolean;
  notes?: string;
  aggregatedFrom: string[];
}

export interface WildcardEntry {
  who: string[];
  criteria: string[];
  /** crates.io user id, or `trustedPublisher` ("github:owner/repo"). */
  userId?: number;
  trustedPublisher?: string;
  start: string;
  end: string;
  renew?: boolean;
  notes?: string;
  aggregatedFrom: string[];
  /** The `# Name (login)` comment cargo-vet writes after `user-id`. */
  userIdComment?: string;
}

export interface TrustEntry {
  criteria: string[];
  userId?: number;
  trustedPublisher?: string;
  start: string;
  end: string;
  notes?: string;
  aggregatedFrom: string[];
  userIdComment?: string;
}

export interface AuditsFile {
  /** Text before the first table, as read (cargo-vet always writes `\n# cargo-vet audits file\n`). */
  header: string;
  criteria: Map<string, CriteriaDef>;
  wildcardAudits: Map<string, WildcardEntry[]>;
  audits: Map<string, AuditEntry[]>;
  trusted: Map<string, TrustEntry[]>;
}

export interface RemoteImport {
  url: string[];
  exclude: string[];
  /** Foreign criteria name -> local criteria names. */
  criteriaMap: Map<string, string[]>;
}

export interface PolicyEntry {
  auditAsCratesIo?: boolean;
  criteria?: string[];
  devCriteria?: string[];
  dependencyCriteria: Map<string, string[]>;
  notes?: string;
}

export interface ExemptionEntry {
  version: string;
  criteria: string[];
  /** `suggest = false`: never suggest replacing this exemption. Absent means true. */
  suggest?: boolean;
  notes?: string;
}

export interface ConfigFile {
  header: string;
  cargoVetVersion?: string;
  /** Absent means safe-to-deploy. */
  defaultCriteria?: string;
  imports: Map<string, RemoteImport>;
  /** Keyed as written: `name` or `name:version` (one entry per locked version). */
  policy: Map<string, PolicyEntry>;
  exemptions: Map<string, ExemptionEntry[]>;
}

export interface PublisherEntry {
  version: string;
  when: string;
  userId?: number;
  userLogin?: string;
  userName?: string;
  trustedPublisher?: string;
}

export interface UnpublishedEntry {
  version: string;
  auditedAs: string;
}

export interface ImportsLock {
  header: string;
  unpublished: Map<string, UnpublishedEntry[]>;
  publisher: Map<string, PublisherEntry[]>;
  /** Per import name: what that import said, as an audits file (header unused). */
  audits: Map<string, AuditsFile>;
}

// ---------------------------------------------------------------------------------------------
// reading

type Tbl = Record<string, unknown>;

class Reader {
  constructor(
    readonly file: string,
    /** `user-id = N # comment` comments, by table path and occurrence. */
    readonly comments: Map<string, string>,
  ) {}
  fail(field: string, detail: string): never {
    throw new FormatError(this.file, detail, { field });
  }
  table(v: unknown, field: string): Tbl {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || v instanceof Date) this.fail(field, 'expected a table');
    return v as Tbl;
  }
  optTable(v: unknown, field: string): Tbl {
    return v === undefined ? {} : this.table(v, field);
  }
  str(t: Tbl, k: string, at: string, required: true): string;
  str(t: Tbl, k: string, at: string, required?: false): string | undefined;
  str(t: Tbl, k: string, at: string, required = false): string | undefined {
    const v = t[k];
    if (v === undefined) {
      if (required) this.fail(`${at}.${k}`, 'missing required key');
      return undefined;
    }
    if (typeof v !== 'string') this.fail(`${at}.${k}`, 'expected a string');
    return v;
  }
  /** A date that cargo-vet writes as a quoted "YYYY-MM-DD" (smol-toml would also read bare dates). */
  date(t: Tbl, k: string, at: string): string {
    const v = t[k];
    if (v === undefined) this.fail(`${at}.${k}`, 'missing required key');
    const s = typeof v === 'string' ? v : v instanceof Date ? v.toISOString().slice(0, 10) : undefined;
    if (s === undefined || !/^\d{4}-\d{2}-\d{2}$/.test(s)) this.fail(`${at}.${k}`, 'expected a date "YYYY-MM-DD"');
    return s;
  }
  bool(t: Tbl, k: string, at: string): boolean | undefined {
    const v = t[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') this.fail(`${at}.${k}`, 'expected true or false');
    return v;
  }
  int(t: Tbl, k: string, at: string): number | undefined {
    const v = t[k];
    if (v === undefined) return undefined;
    if (typeof v === 'bigint') return Number(v);
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(`${at}.${k}`, 'expected an integer');
    return v;
  }
  /** cargo-vet's string_or_vec: "a" or ["a", "b"]. */
  strs(t: Tbl, k: string, at: string, required = false): string[] {
    const v = t[k];
    if (v === undefined) {
      if (required) this.fail(`${at}.${k}`, 'missing required key');
      return [];
    }
    if (typeof v === 'string') return [v];
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
    return this.fail(`${at}.${k}`, 'expected a string or an array of strings');
  }
  optStrs(t: Tbl, k: string, at: string): string[] | undefined {
    return t[k] === undefined ? undefined : this.strs(t, k, at);
  }
  list(v: unknown, field: string): Tbl[] {
    if (!Array.isArray(v)) this.fail(field, 'expected an array of tables');
    return v.map((x, i) => this.table(x, `${field}[${i}]`));
  }
  unknownKeys(t: Tbl, known: string[], at: string): void {
    for (const k of Object.keys(t)) if (!known.includes(k)) this.fail(`${at}.${k}`, 'unknown key');
  }
  comment(path: string, index: number): string | undefined {
    return this.comments.get(`${path}#${index}`);
  }
}

function parseDoc(text: string, file: string): Tbl {
  try {
    return parseToml(text) as Tbl;
  } catch (err) {
    throw new FormatError(file, `not valid TOML: ${(err as Error).message.split('\n')[0]}`, { line: tomlLine(err) });
  }
}

/** The text before the first key or table, less the blank line the emitter puts before a header. */
function headerOf(text: string): string {
  const m = /^(?:[ \t]*(?:#[^\n]*)?\n)*/.exec(text);
  const prefix = m ? m[0] : '';
  const rest = text.slice(prefix.length);
  return rest.startsWith('[') && prefix.endsWith('\n') ? prefix.slice(0, -1) : prefix;
}

/** Collects `user-id = N # comment` per `[[table.path]]` occurrence. */
function scanComments(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const seen = new Map<string, number>();
  let current = '';
  for (const l of text.split('\n')) {
    const h = /^\[\[(.+)\]\]\s*$/.exec(l);
    if (h) {
      const path = h[1]!.replace(/\s+/g, '');
      const n = seen.get(path) ?? 0;
      seen.set(path, n + 1);
      current = `${path}#${n}`;
      continue;
    }
    if (/^\[[^[]/.test(l)) {
      current = '';
      continue;
    }
    const c = /^user-id\s*=\s*\d+\s*#\s?(.*)$/.exec(l);
    if (c && current) out.set(current, c[1]!);
  }
  return out;
}

const tomlPath = (parts: string[]) => parts.map((p) => (/^[A-Za-z0-9_-]+$/.test(p) ? p : JSON.stringify(p))).join('.');

function readAuditsTables(r: Reader, doc: Tbl, prefix: string[]): Omit<AuditsFile, 'header'> {
  const at = (...p: string[]) => [...prefix, ...p].join('.');
  r.unknownKeys(doc, ['criteria', 'wildcard-audits', 'audits', 'trusted'], prefix.join('.') || 'root');
  const criteria = new Map<string, CriteriaDef>();
  for (const [name, raw] of Object.entries(r.optTable(doc.criteria, at('criteria')))) {
    const f = at('criteria', name);
    const t = r.table(raw, f);
    r.unknownKeys(t, ['description', 'description-url', 'implies', 'aggregated-from'], f);
    const def: CriteriaDef = {
      description: r.str(t, 'description', f),
      descriptionUrl: r.str(t, 'description-url', f),
      implies: r.strs(t, 'implies', f),
      aggregatedFrom: r.strs(t, 'aggregated-from', f),
    };
    // No check that a description is given: cargo-vet 0.10.3 accepts criteria without one (the
    // check is a TODO in its storage.rs validate), and we must not refuse what it accepts.
    criteria.set(name, def);
  }
  const wildcardAudits = new Map<string, WildcardEntry[]>();
  for (const [crate, raw] of Object.entries(r.optTable(doc['wildcard-audits'], at('wildcard-audits')))) {
    const path = tomlPath([...prefix, 'wildcard-audits', crate]);
    wildcardAudits.set(
      crate,
      r.list(raw, at('wildcard-audits', crate)).map((t, i) => {
        const f = `${at('wildcard-audits', crate)}[${i}]`;
        r.unknownKeys(t, ['who', 'criteria', 'user-id', 'trusted-publisher', 'start', 'end', 'renew', 'notes', 'aggregated-from'], f);
        const e: WildcardEntry = {
          who: r.strs(t, 'who', f),
          criteria: r.strs(t, 'criteria', f, true),
          userId: r.int(t, 'user-id', f),
          trustedPublisher: r.str(t, 'trusted-publisher', f),
          start: r.date(t, 'start', f),
          end: r.date(t, 'end', f),
          renew: r.bool(t, 'renew', f),
          notes: r.str(t, 'notes', f),
          aggregatedFrom: r.strs(t, 'aggregated-from', f),
          userIdComment: r.comment(path, i),
        };
        if ((e.userId === undefined) === (e.trustedPublisher === undefined))
          r.fail(f, 'expected exactly one of user-id and trusted-publisher');
        return e;
      }),
    );
  }
  const audits = new Map<string, AuditEntry[]>();
  for (const [crate, raw] of Object.entries(r.optTable(doc.audits, at('audits')))) {
    audits.set(
      crate,
      r.list(raw, at('audits', crate)).map((t, i) => {
        const f = `${at('audits', crate)}[${i}]`;
        r.unknownKeys(t, ['who', 'criteria', 'version', 'delta', 'violation', 'importable', 'notes', 'aggregated-from'], f);
        const e: AuditEntry = {
          who: r.strs(t, 'who', f),
          criteria: r.strs(t, 'criteria', f, true),
          version: r.str(t, 'version', f),
          violation: r.str(t, 'violation', f),
          importable: r.bool(t, 'importable', f),
          notes: r.str(t, 'notes', f),
          aggregatedFrom: r.strs(t, 'aggregated-from', f),
        };
        const delta = r.str(t, 'delta', f);
        if (delta !== undefined) {
          const m = /^\s*(\S+)\s*->\s*(\S+)\s*$/.exec(delta);
          if (!m) r.fail(`${f}.delta`, `expected "FROM -> TO", got ${JSON.stringify(delta)}`);
          e.delta = { from: m[1]!, to: m[2]! };
        }
        const kinds = [e.version, e.delta, e.violation].filter((x) => x !== undefined).length;
        if (kinds !== 1) r.fail(f, "expected exactly one of 'version', 'delta' and 'violation'");
        return e;
      }),
    );
  }
  const trusted = new Map<string, TrustEntry[]>();
  for (const [crate, raw] of Object.entries(r.optTable(doc.trusted, at('trusted')))) {
    const path = tomlPath([...prefix, 'trusted', crate]);
    trusted.set(
      crate,
      r.list(raw, at('trusted', crate)).map((t, i) => {
        const f = `${at('trusted', crate)}[${i}]`;
        r.unknownKeys(t, ['criteria', 'user-id', 'trusted-publisher', 'start', 'end', 'notes', 'aggregated-from'], f);
        const e: TrustEntry = {
          criteria: r.strs(t, 'criteria', f, true),
          userId: r.int(t, 'user-id', f),
          trustedPublisher: r.str(t, 'trusted-publisher', f),
          start: r.date(t, 'start', f),
          end: r.date(t, 'end', f),
          notes: r.str(t, 'notes', f),
          aggregatedFrom: r.strs(t, 'aggregated-from', f),
          userIdComment: r.comment(path, i),
        };
        if ((e.userId === undefined) === (e.trustedPublisher === undefined))
          r.fail(f, 'expected exactly one of user-id and trusted-publisher');
        return e;
      }),
    );
  }
  return { criteria, wildcardAudits, audits, trusted };
}

/** Reads an `audits.toml` (a project's own, or a pool's). */
export function parseAuditsFile(text: string, file = 'audits.toml'): AuditsFile {
  const doc = parseDoc(text, file);
  const r = new Reader(file, scanComments(text));
  return { header: headerOf(text), ...readAuditsTables(r, doc, []) };
}

/** Reads `supply-chain/config.toml`. */
export function parseConfigFile(text: string, file = 'config.toml'): ConfigFile {
  const doc = parseDoc(text, file);
  const r = new Reader(file, new Map());
  r.unknownKeys(doc, ['cargo-vet', 'default-criteria', 'imports', 'policy', 'exemptions', 'unaudited'], 'root');
  const cv = r.optTable(doc['cargo-vet'], 'cargo-vet');
  r.unknownKeys(cv, ['version'], 'cargo-vet');
  const imports = new Map<string, RemoteImport>();
  for (const [name, raw] of Object.entries(r.optTable(doc.imports, 'imports'))) {
    const f = `imports.${name}`;
    const t = r.table(raw, f);
    r.unknownKeys(t, ['url', 'exclude', 'criteria-map'], f);
    const criteriaMap = new Map<string, string[]>();
    for (const [theirs, ours] of Object.entries(r.optTable(t['criteria-map'], `${f}.criteria-map`))) {
      criteriaMap.set(theirs, r.strs({ [theirs]: ours }, theirs, `${f}.criteria-map`));
    }
    imports.set(name, { url: r.strs(t, 'url', f, true), exclude: r.strs(t, 'exclude', f), criteriaMap });
  }
  const policy = new Map<string, PolicyEntry>();
  for (const [name, raw] of Object.entries(r.optTable(doc.policy, 'policy'))) {
    const f = `policy.${name}`;
    const t = r.table(raw, f);
    r.unknownKeys(t, ['audit-as-crates-io', 'criteria', 'dev-criteria', 'dependency-criteria', 'notes'], f);
    const dependencyCriteria = new Map<string, string[]>();
    for (const [dep, c] of Object.entries(r.optTable(t['dependency-criteria'], `${f}.dependency-criteria`))) {
      dependencyCriteria.set(dep, r.strs({ [dep]: c }, dep, `${f}.dependency-criteria`));
    }
    policy.set(name, {
      auditAsCratesIo: r.bool(t, 'audit-as-crates-io', f),
      criteria: r.optStrs(t, 'criteria', f),
      devCriteria: r.optStrs(t, 'dev-criteria', f),
      dependencyCriteria,
      notes: r.str(t, 'notes', f),
    });
  }
  const exemptions = new Map<string, ExemptionEntry[]>();
  for (const [crate, raw] of Object.entries(r.optTable(doc.exemptions ?? doc.unaudited, 'exemptions'))) {
    exemptions.set(
      crate,
      r.list(raw, `exemptions.${crate}`).map((t, i) => {
        const f = `exemptions.${crate}[${i}]`;
        r.unknownKeys(t, ['version', 'criteria', 'suggest', 'notes', 'dependency-criteria'], f);
        return {
          version: r.str(t, 'version', f, true),
          criteria: r.strs(t, 'criteria', f, true),
          suggest: r.bool(t, 'suggest', f),
          notes: r.str(t, 'notes', f),
        };
      }),
    );
  }
  const defaultCriteria = r.str(doc, 'default-criteria', 'root');
  return {
    header: headerOf(text),
    cargoVetVersion: r.str(cv, 'version', 'cargo-vet'),
    defaultCriteria,
    imports,
    policy,
    exemptions,
  };
}

/** Reads `supply-chain/imports.lock`: what each import said when `cargo vet` last ran. */
export function parseImportsLock(text: string, file = 'imports.lock'): ImportsLock {
  const doc = parseDoc(text, file);
  const r = new Reader(file, scanComments(text));
  r.unknownKeys(doc, ['unpublished', 'publisher', 'audits'], 'root');
  const publisher = new Map<string, PublisherEntry[]>();
  for (const [crate, raw] of Object.entries(r.optTable(doc.publisher, 'publisher'))) {
    publisher.set(
      crate,
      r.list(raw, `publisher.${crate}`).map((t, i) => {
        const f = `publisher.${crate}[${i}]`;
        r.unknownKeys(t, ['version', 'when', 'user-id', 'user-login', 'user-name', 'trusted-publisher'], f);
        return {
          version: r.str(t, 'version', f, true),
          when: r.date(t, 'when', f),
          userId: r.int(t, 'user-id', f),
          userLogin: r.str(t, 'user-login', f),
          userName: r.str(t, 'user-name', f),
          trustedPublisher: r.str(t, 'trusted-publisher', f),
        };
      }),
    );
  }
  const unpublished = new Map<string, UnpublishedEntry[]>();
  for (const [crate, raw] of Object.entries(r.optTable(doc.unpublished, 'unpublished'))) {
    unpublished.set(
      crate,
      r.list(raw, `unpublished.${crate}`).map((t, i) => {
        const f = `unpublished.${crate}[${i}]`;
        r.unknownKeys(t, ['version', 'audited_as'], f);
        return { version: r.str(t, 'version', f, true), auditedAs: r.str(t, 'audited_as', f, true) };
      }),
    );
  }
  const audits = new Map<string, AuditsFile>();
  for (const [name, raw] of Object.entries(r.optTable(doc.audits, 'audits'))) {
    audits.set(name, { header: '', ...readAuditsTables(r, r.table(raw, `audits.${name}`), ['audits', name]) });
  }
  return { header: headerOf(text), unpublished, publisher, audits };
}

// ---------------------------------------------------------------------------------------------
// writing: exactly what `cargo vet fmt` writes (cargo-vet 0.10.3, storage.rs store_config /
// store_audits / store_imports): its fixed heading; every map and every list of entries sorted as
// cargo-vet sorts them (./order.ts), empty lists dropped (serialization.rs `Tidyable`); versions and
// violations as cargo-vet displays them; strings as toml_edit writes them (./toml.ts); after a
// wildcard or trusted entry's `user-id`, the `# Name (login)` of that user's imports.lock publisher
// record (storage.rs `user_info_map`, serialization.rs `add_user_login_comments`), nothing otherwise.
// The text read is never consulted: the same records always give the same bytes, so comparing a
// file with its rewrite is the `--locked` format check.

/** The first lines cargo-vet writes in each file (storage.rs:2849-2873). */
export const STORE_HEADINGS = {
  config: '\n# cargo-vet config file\n',
  audits: '\n# cargo-vet audits file\n',
  importsLock: '\n# cargo-vet imports lock\n',
} as const;

/** User id -> `Name (login)` or `login`: the first imports.lock publisher record of each user. */
export type UserInfo = Map<number, string>;
export function userInfoOf(lock: ImportsLock | undefined): UserInfo {
  const out: UserInfo = new Map();
  for (const [, list] of sortedEntries(lock?.publisher ?? new Map<string, PublisherEntry[]>())) {
    for (const p of list) {
      if (p.userId === undefined || p.userLogin === undefined || out.has(p.userId)) continue;
      out.set(p.userId, p.userName !== undefined ? `${p.userName} (${p.userLogin})` : p.userLogin);
    }
  }
  return out;
}

/** `VetVersion`'s display: the SemVer version, then `@git:<rev>` (cargo-vet trims around the `@`). */
export function displayVetVersion(v: string): string {
  const at = v.indexOf('@');
  return at < 0 ? v : `${v.slice(0, at).trimEnd()}@${v.slice(at + 1).trimStart()}`;
}
/** A policy key as cargo-vet writes it back: `name`, or `name:<version as displayed>`. */
const displayPolicyKey = (k: string) => {
  const { name, version } = policyKey(k);
  return version === undefined ? name : `${name}:${displayVetVersion(version)}`;
};

type Field = [string, TValue | undefined, string?];
/** A table from fields in cargo-vet's serde order, leaving out absent ones. */
function fields(fs: Field[]): TTable {
  return fs.filter((f) => f[1] !== undefined).map(([k, v, c]) => [k, val(v!, c)] as [string, TItem]);
}
/** string_or_vec: one item is written as a plain string. */
const sov = (v: string[]): TValue => (v.length === 1 ? v[0]! : v);
const sovOpt = (v: string[]): TValue | undefined => (v.length === 0 ? undefined : sov(v));
/** A `SortedMap<String, Vec<E>>` after `tidy`: keys sorted, each list sorted, empty lists gone. */
function tidied<T>(m: Map<string, T[]>, cmp: (a: T, b: T) => number): [string, T[]][] {
  return sortedEntries(m)
    .filter(([, l]) => l.length > 0)
    .map(([k, l]) => [k, [...l].sort(cmp)]);
}
/** `[[map.key]]` tables. */
function listMap<T>(m: [string, T[]][], one: (e: T) => TTable): TTable {
  return m.map(([k, list]) => [k, aot(list.map(one))] as [string, TItem]);
}

function auditsTables(a: Omit<AuditsFile, 'header'>, users: UserInfo | undefined): TTable {
  const out: TTable = [];
  // The comment after a user-id: from the publisher records when they are known (a store), else as read (a pool).
  const comment = (e: { userId?: number; userIdComment?: string }) =>
    e.userId === undefined ? undefined : users ? users.get(e.userId) : e.userIdComment;
  if (a.criteria.size > 0) {
    out.push([
      'criteria',
      tbl(
        sortedEntries(a.criteria).map(([n, c]) => [
          n,
          tbl(
            fields([
              ['description', c.description],
              ['description-url', c.descriptionUrl],
              ['implies', sovOpt(c.implies)],
              ['aggregated-from', sovOpt(c.aggregatedFrom)],
            ]),
          ),
        ]),
      ),
    ]);
  }
  const wildcards = tidied(a.wildcardAudits, compareWildcards);
  if (wildcards.length > 0) {
    out.push([
      'wildcard-audits',
      tbl(
        listMap(wildcards, (e) =>
          fields([
            ['who', sovOpt(e.who)],
            ['criteria', sov(e.criteria)],
            ['user-id', e.userId, comment(e)],
            ['trusted-publisher', e.trustedPublisher],
            ['start', e.start],
            ['end', e.end],
            ['renew', e.renew],
            ['notes', e.notes],
            ['aggregated-from', sovOpt(e.aggregatedFrom)],
          ]),
        ),
      ),
    ]);
  }
  out.push([
    'audits',
    tbl(
      listMap(tidied(a.audits, compareAudits), (e) =>
        fields([
          ['who', sovOpt(e.who)],
          ['criteria', sov(e.criteria)],
          ['version', e.version !== undefined ? displayVetVersion(e.version) : undefined],
          ['delta', e.delta ? `${displayVetVersion(e.delta.from)} -> ${displayVetVersion(e.delta.to)}` : undefined],
          ['violation', e.violation !== undefined ? displayVersionReq(e.violation) : undefined],
          ['importable', e.importable === false ? false : undefined],
          ['notes', e.notes],
          ['aggregated-from', sovOpt(e.aggregatedFrom)],
        ]),
      ),
    ),
  ]);
  const trusted = tidied(a.trusted, compareTrusted);
  if (trusted.length > 0) {
    out.push([
      'trusted',
      tbl(
        listMap(trusted, (e) =>
          fields([
            ['criteria', sov(e.criteria)],
            ['user-id', e.userId, comment(e)],
            ['trusted-publisher', e.trustedPublisher],
            ['start', e.start],
            ['end', e.end],
            ['notes', e.notes],
            ['aggregated-from', sovOpt(e.aggregatedFrom)],
          ]),
        ),
      ),
    ]);
  }
  return out;
}

/**
 * `audits.toml` as `cargo vet fmt` writes it. `users` (`userInfoOf(imports.lock)`) names the
 * `user-id` comments as cargo-vet does for a store; without it (a pool) the comments read are kept.
 */
export function serializeAuditsFile(a: AuditsFile, users?: UserInfo): string {
  return renderDocument(STORE_HEADINGS.audits, auditsTables(a, users));
}

const INLINE_TABLE_THRESHOLD = 120;

/** A `CriteriaMap` (dependency-criteria, criteria-map): keys sorted. */
const criteriaMap = (m: Map<string, string[]>): [string, TValue][] => sortedEntries(m).map(([k, v]) => [k, sov(v)]);

function policyTable(p: PolicyEntry): TTable {
  const t = fields([
    ['audit-as-crates-io', p.auditAsCratesIo],
    ['criteria', p.criteria ? sov(p.criteria) : undefined],
    ['dev-criteria', p.devCriteria ? sov(p.devCriteria) : undefined],
  ]);
  if (p.dependencyCriteria.size > 0) {
    const inline = { inline: criteriaMap(p.dependencyCriteria) };
    // cargo-vet keeps it inline only up to 120 characters.
    const rendered = [...`dependency-criteria = ${valueRepr(inline)}`].length;
    t.push(['dependency-criteria', rendered > INLINE_TABLE_THRESHOLD ? tbl(inline.inline.map(([k, v]) => [k, val(v)])) : val(inline)]);
  }
  if (p.notes !== undefined) t.push(['notes', val(p.notes)]);
  return t;
}

/** `config.toml` as `cargo vet fmt` writes it. */
export function serializeConfigFile(c: ConfigFile): string {
  const root: TTable = [];
  if (c.defaultCriteria !== undefined && c.defaultCriteria !== SAFE_TO_DEPLOY) root.push(['default-criteria', val(c.defaultCriteria)]);
  root.push(['cargo-vet', tbl(fields([['version', c.cargoVetVersion ?? '0.4']]))]);
  if (c.imports.size > 0) {
    root.push([
      'imports',
      tbl(
        sortedEntries(c.imports).map(([n, i]) => {
          const t = fields([
            ['url', sov(i.url)],
            ['exclude', i.exclude.length ? i.exclude : undefined],
          ]);
          if (i.criteriaMap.size > 0) t.push(['criteria-map', tbl(criteriaMap(i.criteriaMap).map(([k, v]) => [k, val(v)]))]);
          return [n, tbl(t)];
        }),
      ),
    ]);
  }
  if (c.policy.size > 0) {
    // One map keyed by the whole `name[:version]` string (serialization.rs AllPolicies).
    const policies = [...c.policy].map(([k, p]) => [displayPolicyKey(k), p] as [string, PolicyEntry]).sort(([a], [b]) => compareStr(a, b));
    root.push(['policy', tbl(policies.map(([k, p]) => [k, tbl(policyTable(p))]))]);
  }
  const exemptions = tidied(c.exemptions, compareExemptions);
  if (exemptions.length > 0) {
    root.push([
      'exemptions',
      tbl(
        listMap(exemptions, (e) =>
          fields([
            ['version', displayVetVersion(e.version)],
            ['criteria', sov(e.criteria)],
            ['suggest', e.suggest === false ? false : undefined],
            ['notes', e.notes],
          ]),
        ),
      ),
    ]);
  }
  return renderDocument(STORE_HEADINGS.config, root);
}

/** `imports.lock` as `cargo vet fmt` writes it (user-id comments from its own publisher records). */
export function serializeImportsLock(l: ImportsLock): string {
  const users = userInfoOf(l);
  const root: TTable = [];
  const unpublished = tidied(l.unpublished, compareUnpublished);
  if (unpublished.length > 0) {
    root.push([
      'unpublished',
      tbl(
        listMap(unpublished, (e) =>
          fields([
            ['version', displayVetVersion(e.version)],
            ['audited_as', displayVetVersion(e.auditedAs)],
          ]),
        ),
      ),
    ]);
  }
  const publisher = tidied(l.publisher, comparePublishers);
  if (publisher.length > 0) {
    root.push([
      'publisher',
      tbl(
        listMap(publisher, (e) =>
          fields([
            ['version', displayVetVersion(e.version)],
            ['when', e.when],
            ['user-id', e.userId],
            ['user-login', e.userLogin],
            ['user-name', e.userName],
            ['trusted-publisher', e.trustedPublisher],
          ]),
        ),
      ),
    ]);
  }
  // cargo-vet leaves an empty `audits` table out (an imports.lock with no imports is the heading alone)
  if (l.audits.size > 0) root.push(['audits', tbl(sortedEntries(l.audits).map(([n, a]) => [n, tbl(auditsTables(a, users))]))]);
  return renderDocument(STORE_HEADINGS.importsLock, root);
}

/** Splits a policy key `name` or `name:version`. */
export function policyKey(key: string): { name: string; version?: string } {
  const i = key.indexOf(':');
  return i < 0 ? { name: key } : { name: key.slice(0, i), version: key.slice(i + 1) };
}

/**
 * A pool's audits as `audits.pool` events carry them (one event per crate: its `audits`,
 * `wildcard-audits` and `trusted` lists as the TOML holds them; criteria definitions as a list of
 * `{name, description, implies, …}`), read with the same rules as a file. Errors name `file`
 * (e.g. `pool google`) and the entry's path.
 */
export function auditsFileFromPoolEntries(
  crates: { crate: string; entries: Record<string, Record<string, unknown>[]> }[],
  criteria: Record<string, unknown>[] = [],
  file = 'pool',
): AuditsFile {
  const doc: Tbl = { criteria: {}, audits: {}, 'wildcard-audits': {}, trusted: {} };
  for (const c of criteria) {
    const { name, ...def } = c;
    if (typeof name !== 'string' || name === '') throw new FormatError(file, 'criteria entry without a name', { field: 'criteria' });
    (doc.criteria as Tbl)[name] = def;
  }
  for (const { crate, entries } of crates) {
    for (const [table, list] of Object.entries(entries)) {
      if (!['audits', 'wildcard-audits', 'trusted'].includes(table))
        throw new FormatError(file, `${table}: not a table of a crate's entries`, { field: `${table}.${crate}` });
      if (list.length) (doc[table] as Tbl)[crate] = list;
    }
  }
  return { header: '\n# cargo-vet audits file\n', ...readAuditsTables(new Reader(file, new Map()), doc, []) };
}

/**
 * A cargo-vet store from its files' text (`config.toml` required; a missing `audits.toml` reads as
 * empty, a missing `imports.lock` as none). `dir` prefixes the file names in errors. The text is
 * kept: `cargo vet --locked` refuses a file not laid out as `cargo vet fmt` writes it.
 */
export function readStore(texts: { config?: string; audits?: string; importsLock?: string }, dir: string) {
  const f = (n: string) => (dir ? `${dir.replace(/\/$/, '')}/${n}` : n);
  if (texts.config === undefined) throw new FormatError(f('config.toml'), 'not a cargo-vet store: no config.toml');
  const { config, audits, importsLock } = texts;
  return {
    config: parseConfigFile(config, f('config.toml')),
    audits: parseAuditsFile(audits ?? '', f('audits.toml')),
    imports: importsLock !== undefined ? parseImportsLock(importsLock, f('imports.lock')) : undefined,
    sources: { config, ...(audits !== undefined ? { audits } : {}), ...(importsLock !== undefined ? { importsLock } : {}) },
  };
}
