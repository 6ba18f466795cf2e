/**
 * VEX (Vulnerability Exploitability eXchange) in the OpenVEX format: a workspace's own statements
 * that an advisory does (or does not) affect it, read from JSON documents, and the rule deciding
 * which statement applies to an advisory hit. Pure: the callers read the files.
 *
 * What is read (OpenVEX v0.2.0, and the v0.0.1 shapes still written by older tools):
 * - the document: `@context` (an `https://openvex.dev/ns…` URL: how an OpenVEX document is told
 *   from a CSAF or CycloneDX one), `@id`, `author`, `timestamp`, `statements[]`;
 * - a statement: `vulnerability` (`name`, `@id`, `aliases[]`; a bare string in v0.0.1), `products[]`
 *   (`@id` and/or `identifiers.purl`, `subcomponents[]` of the same shape; bare strings in v0.0.1,
 *   where `subcomponents` sat on the statement), `status`, `justification`, `impact_statement`,
 *   `action_statement`, `status_notes`, `timestamp` (inherited from the document when absent).
 * Other fields (hashes, cpe identifiers, supplier, tooling, …) are allowed and ignored.
 *
 * Every error is a FormatError naming the file and the JSON path of the bad field
 * (`vex.json, field \`statements[2].status\`: …`).
 */
import type { AdvisoryHit } from './advisory.js';
import { FormatError } from './errors.js';
import { parseJsonText } from './json.js';
import { VexJustificationSchema, VexStatusSchema, type VexDocument, type VexStatement } from './events.js';

export type { VexDocument, VexStatement } from './events.js';
export type VexStatus = VexStatement['status'];

/**
 * The names a workspace's VEX files go by, beside its Cargo.lock: `vex.json`, or any
 * `<name>.openvex.json` (several documents may sit side by side, e.g. one per team or per tool).
 */
export function isVexFileName(name: string): boolean {
  return name === 'vex.json' || (name.endsWith('.openvex.json') && name.length > '.openvex.json'.length && !name.startsWith('.'));
}

/** `not_affected` and `fixed` suppress an advisory finding; `affected` and `under_investigation` keep it. */
export const suppresses = (status: VexStatus): boolean => status === 'not_affected' || status === 'fixed';

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * A VEX timestamp as statements are ordered by: an RFC 3339 date-time, written with `T` and `Z`
 * (`2024-05-01 12:00:00z` → `2024-05-01T12:00:00Z`); undefined when it is not one. Every VEX
 * reader (OpenVEX, CycloneDX, CSAF) normalises through it, so their statements order alike.
 */
export function vexTime(v: string): string | undefined {
  const t = v.trim();
  if (!RFC3339.test(t) || Number.isNaN(Date.parse(t))) return undefined;
  return t.replace(' ', 'T').replace('t', 'T').replace(/z$/, 'Z');
}

/** Reads an OpenVEX document from its JSON text. `file` names it in errors and in the result. */
export function parseVexDocument(text: string, file: string): VexDocument {
  const doc = parseJsonText(text, file);
  return readVexDocument(doc, file);
}

/** Reads an OpenVEX document already parsed from JSON (e.g. posted as an object). */
export function readVexDocument(doc: unknown, file: string): VexDocument {
  const fail = (field: string, detail: string): never => {
    throw new FormatError(file, detail, field ? { field } : undefined);
  };
  if (!isObject(doc)) return fail('', 'expected an OpenVEX document (a JSON object)');
  if (isObject(doc.document) && typeof doc.document.category === 'string' && /csaf/i.test(doc.document.category)) {
    fail('document.category', `a CSAF document ("${doc.document.category}"): only OpenVEX documents are read`);
  }
  if (doc.bomFormat !== undefined) fail('bomFormat', 'a CycloneDX document: only OpenVEX documents are read');
  const context = doc['@context'];
  if (typeof context !== 'string' || !/^https?:\/\/openvex\.dev\/ns(\/|$)/.test(context)) {
    fail(
      '@context',
      context === undefined
        ? 'is required: an OpenVEX document has `"@context": "https://openvex.dev/ns/v0.2.0"`'
        : `expected an OpenVEX context (https://openvex.dev/ns/…), got ${JSON.stringify(context)}`,
    );
  }
  const str = (o: Record<string, unknown>, key: string, path: string): string | undefined => {
    const v = o[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') return fail(path, 'expected a string');
    return v;
  };
  const time = (o: Record<string, unknown>, key: string, path: string): string | undefined => {
    const v = str(o, key, path);
    if (v === undefined) return undefined;
    return vexTime(v) ?? fail(path, `expected an RFC 3339 date-time such as 2024-05-01T12:00:00Z, got ${JSON.stringify(v)}`);
  };
  const docTime = time(doc, 'timestamp', 'timestamp');
  const statements = doc.statements;
  if (!Array.isArray(statements))
    return fail('statements', statements === undefined ? 'is required (the list of VEX statements)' : 'expected an array');

  const out: VexStatement[] = (statements as unknown[]).map((s, i) => {
    const at = `statements[${i}]`;
    if (!isObject(s)) return fail(at, 'expected a statement object');

    // vulnerability: { name, @id, aliases } (v0.2.0) or a bare string (v0.0.1)
    let vulnerability: VexStatement['vulnerability'];
    const v = s.vulnerability;
    if (typeof v === 'string') {
      if (v.trim() === '') fail(`${at}.vulnerability`, 'is empty');
      vulnerability = { name: v.trim(), aliases: [] };
    } else if (isObject(v)) {
      const name = str(v, 'name', `${at}.vulnerability.name`)?.trim();
      const id = str(v, '@id', `${at}.vulnerability.@id`)?.trim();
      if (!name && !id) fail(`${at}.vulnerability.name`, 'is required: the vulnerability needs a `name` (or an `@id`) to be matched');
      const aliases = v.aliases ?? [];
      if (!Array.isArray(aliases) || aliases.some((a) => typeof a !== 'string'))
        fail(`${at}.vulnerability.aliases`, 'expected an array of strings');
      vulnerability = {
        ...(name ? { name } : {}),
        ...(id ? { id } : {}),
        aliases: (aliases as string[]).map((a) => a.trim()).filter(Boolean),
      };
    } else {
      return fail(`${at}.vulnerability`, v === undefined ? 'is required' : 'expected an object with a `name`');
    }

    // products[]: { @id, identifiers.purl, subcomponents[] } or bare strings (v0.0.1)
    const componentPurls = (c: unknown, path: string): { id?: string; purls: string[] } => {
      if (typeof c === 'string') {
        checkPurl(c, path, fail);
        return { id: c, purls: c.startsWith('pkg:') ? [c] : [] };
      }
      if (!isObject(c)) return fail(path, 'expected an object with an `@id` or `identifiers`');
      const id = str(c, '@id', `${path}.@id`);
      const purls: string[] = [];
      if (id !== undefined) {
        checkPurl(id, `${path}.@id`, fail);
        if (id.startsWith('pkg:')) purls.push(id);
      }
      if (c.identifiers !== undefined) {
        if (!isObject(c.identifiers)) fail(`${path}.identifiers`, 'expected an object of identifiers (purl, cpe22, cpe23)');
        const purl = str(c.identifiers as Record<string, unknown>, 'purl', `${path}.identifiers.purl`);
        if (purl !== undefined) {
          if (!purl.startsWith('pkg:')) fail(`${path}.identifiers.purl`, `expected a package URL (pkg:…), got ${JSON.stringify(purl)}`);
          checkPurl(purl, `${path}.identifiers.purl`, fail);
          if (!purls.includes(purl)) purls.push(purl);
        }
      }
      if (id === undefined && c.identifiers === undefined && c.hashes === undefined)
        fail(path, 'identifies nothing: give an `@id` (a purl such as pkg:cargo/smallvec@1.13.2) or `identifiers.purl`');
      return { ...(id !== undefined ? { id } : {}), purls };
    };
    const subsOf = (list: unknown, path: string): string[] => {
      if (list === undefined) return [];
      if (!Array.isArray(list)) return fail(path, 'expected an array');
      return (list as unknown[]).flatMap((c, k) => componentPurls(c, `${path}[${k}]`).purls);
    };
    if (!Array.isArray(s.products) || s.products.length === 0) {
      fail(
        `${at}.products`,
        s.products === undefined ? 'is required: the products (purls) the statement is about' : 'expected a non-empty array',
      );
    }
    const statementSubs = subsOf(s.subcomponents, `${at}.subcomponents`); // v0.0.1
    const products = (s.products as unknown[]).map((p, k) => {
      const path = `${at}.products[${k}]`;
      const own = componentPurls(p, path);
      const subs = isObject(p) ? subsOf(p.subcomponents, `${path}.subcomponents`) : [];
      return { ...own, subcomponents: [...subs, ...statementSubs] };
    });

    const status = VexStatusSchema.safeParse(s.status);
    if (!status.success) {
      fail(
        `${at}.status`,
        s.status === undefined
          ? `is required (${VexStatusSchema.options.join(', ')})`
          : `expected one of ${VexStatusSchema.options.join(', ')}, got ${JSON.stringify(s.status)}`,
      );
    }
    let justification: VexStatement['justification'];
    if (s.justification !== undefined && s.justification !== null) {
      const j = VexJustificationSchema.safeParse(s.justification);
      if (!j.success)
        fail(`${at}.justification`, `expected one of ${VexJustificationSchema.options.join(', ')}, got ${JSON.stringify(s.justification)}`);
      justification = j.data;
    }
    const impactStatement = str(s, 'impact_statement', `${at}.impact_statement`)?.trim() || undefined;
    const actionStatement = str(s, 'action_statement', `${at}.action_statement`)?.trim() || undefined;
    const statusNotes = str(s, 'status_notes', `${at}.status_notes`)?.trim() || undefined;
    if (status.data === 'not_affected' && !justification && !impactStatement) {
      fail(
        `${at}.justification`,
        'a not_affected statement must give a `justification` or an `impact_statement` (why the product is not affected)',
      );
    }
    const timestamp = time(s, 'timestamp', `${at}.timestamp`) ?? docTime;
    if (timestamp === undefined)
      fail(`${at}.timestamp`, 'no timestamp on the statement nor on the document: which statement is the latest cannot be told');
    return {
      index: i,
      vulnerability,
      products,
      status: status.data!,
      ...(justification ? { justification } : {}),
      ...(impactStatement ? { impactStatement } : {}),
      ...(actionStatement ? { actionStatement } : {}),
      ...(statusNotes ? { statusNotes } : {}),
      timestamp: timestamp!,
    };
  });
  const id = str(doc, '@id', '@id');
  const author = str(doc, 'author', 'author');
  return { file, ...(id ? { id } : {}), ...(author ? { author } : {}), ...(docTime ? { timestamp: docTime } : {}), statements: out };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A component id that claims to be a purl (`pkg:`) must be one; a `pkg:cargo` purl must name a crate. Other IRIs are kept, matched by nothing. */
function checkPurl(s: string, path: string, fail: (field: string, detail: string) => never): void {
  if (!/^pkg:/i.test(s)) return;
  try {
    parsePurl(s);
  } catch (err) {
    fail(path, `${(err as Error).message}: ${JSON.stringify(s)}`);
  }
}

export interface Purl {
  type: string;
  namespace?: string;
  name: string;
  version?: string;
}

/**
 * A package URL (`pkg:type/namespace/name@version?qualifiers#subpath`), the parts cratewatch
 * matches on: type (lowercased), namespace, name and version, percent-decoded. Qualifiers and
 * subpath are dropped. Throws on a string that is not one; a `cargo` purl has no namespace.
 */
export function parsePurl(purl: string): Purl {
  if (!/^pkg:/i.test(purl)) throw new Error('not a package URL (pkg:…)');
  let rest = purl.slice(4).replace(/^\/+/, '');
  rest = rest.replace(/#.*$/, '').replace(/\?.*$/, '');
  const slash = rest.indexOf('/');
  if (slash <= 0) throw new Error('a package URL needs a type and a name (pkg:cargo/NAME@VERSION)');
  const type = rest.slice(0, slash).toLowerCase();
  let path = rest.slice(slash + 1).replace(/\/+$/, '');
  let version: string | undefined;
  const at = path.lastIndexOf('@');
  if (at >= 0) {
    version = decode(path.slice(at + 1));
    path = path.slice(0, at);
    if (version === '') throw new Error('empty version after @');
  }
  const segs = path.split('/').filter(Boolean).map(decode);
  const name = segs.pop();
  if (!name) throw new Error('a package URL needs a name');
  const namespace = segs.length ? segs.join('/') : undefined;
  if (type === 'cargo' && namespace !== undefined) throw new Error('a cargo package URL has no namespace (pkg:cargo/NAME@VERSION)');
  return { type, ...(namespace !== undefined ? { namespace } : {}), name, ...(version !== undefined ? { version } : {}) };
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new Error(`bad percent-encoding in "${s}"`);
  }
}

/** crates.io treats names case-insensitively and `-` like `_` (no two crates differ only so). */
const crateKey = (name: string): string => name.toLowerCase().replace(/_/g, '-');

/**
 * How a vulnerability is named, comparable across sources: ids compare case-insensitively, and an
 * IRI such as `https://rustsec.org/advisories/RUSTSEC-2024-0001.html` or
 * `https://github.com/advisories/GHSA-…` stands for the id in its last path segment.
 */
export function vulnerabilityKey(s: string): string {
  let t = s.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(t)) {
    t = t.replace(/[?#].*$/, '').replace(/\/+$/, '');
    t = t.slice(t.lastIndexOf('/') + 1).replace(/\.(html?|json|md|toml)$/i, '');
  }
  return t.toUpperCase();
}

/** An advisory hit in a workspace: the advisory (its id and aliases, e.g. CVE and GHSA ids) on a locked crate version. */
export interface VexHit {
  advisory: { id: string; aliases: readonly string[] };
  crate: string;
  version: string;
}

/** The statement that applies to a hit, the document it is in, and whether it suppresses the finding. */
export interface VexMatch {
  document: Pick<VexDocument, 'file' | 'id' | 'author'>;
  statement: VexStatement;
  suppresses: boolean;
}

/** Whether a statement speaks of this advisory: by its id or any alias, against the statement's name, `@id` and aliases. */
export function statementNamesAdvisory(s: Pick<VexStatement, 'vulnerability'>, advisory: VexHit['advisory']): boolean {
  const ours = new Set([advisory.id, ...advisory.aliases].map(vulnerabilityKey));
  const theirs = [s.vulnerability.name, s.vulnerability.id, ...s.vulnerability.aliases].filter((x): x is string => !!x);
  return theirs.some((n) => ours.has(vulnerabilityKey(n)));
}

/**
 * Whether a statement speaks of this crate version: a product or one of its subcomponents is a
 * `pkg:cargo` purl of the crate, with this version or none (a purl without version is every version).
 */
export function statementNamesCrate(s: Pick<VexStatement, 'products'>, crate: string, version: string): boolean {
  const key = crateKey(crate);
  const matches = (purl: string): boolean => {
    let p: Purl;
    try {
      p = parsePurl(purl);
    } catch {
      return false; // read by another producer: a purl that does not parse names nothing
    }
    return (
      p.type === 'cargo' && p.namespace === undefined && crateKey(p.name) === key && (p.version === undefined || p.version === version)
    );
  };
  return s.products.some((p) => p.purls.some(matches) || p.subcomponents.some(matches));
}

/** A timestamp as (milliseconds, the rest of the fraction) so that nanosecond timestamps order exactly. */
function instant(ts: string): [number, string] {
  const m = /\.(\d+)/.exec(ts);
  const frac = m ? m[1]! : '';
  const ms = Date.parse(m ? ts.replace(/\.\d+/, `.${frac.slice(0, 3).padEnd(3, '0')}`) : ts);
  return [ms, frac.slice(3).padEnd(9, '0')];
}

function compareTime(a: string, b: string): number {
  const [am, ar] = instant(a);
  const [bm, br] = instant(b);
  return am !== bm ? am - bm : ar < br ? -1 : ar > br ? 1 : 0;
}

/**
 * The statement of a workspace's VEX documents that applies to an advisory hit, or undefined.
 * Applies: it names the advisory (id or any alias) and the crate (a product or subcomponent purl,
 * the version equal or absent). Of several, the latest by timestamp wins (the statement's own, else
 * its document's). At the same instant a statement that keeps the finding (affected,
 * under_investigation) wins over one that suppresses it, so an ambiguous document never silences
 * an advisory; among equals, the later one in the given order of documents, then of statements.
 */
export function vexStatementFor(documents: readonly VexDocument[], hit: VexHit): VexMatch | undefined {
  let best: VexMatch | undefined;
  for (const d of documents) {
    for (const s of d.statements) {
      if (!statementNamesAdvisory(s, hit.advisory) || !statementNamesCrate(s, hit.crate, hit.version)) continue;
      const candidate: VexMatch = {
        document: { file: d.file, ...(d.id ? { id: d.id } : {}), ...(d.author ? { author: d.author } : {}) },
        statement: s,
        suppresses: suppresses(s.status),
      };
      if (!best) {
        best = candidate;
        continue;
      }
      const c = compareTime(s.timestamp, best.statement.timestamp);
      if (c > 0 || (c === 0 && (!candidate.suppresses || best.suppresses))) best = candidate;
    }
  }
  return best;
}

/** A RustSec hit with the statement of the workspace's VEX documents that applies to it, if any. */
export type VexedHit = AdvisoryHit & { vex?: VexMatch };

/**
 * Advisory hits split by what the VEX documents say: `suppressed` when a `not_affected` or `fixed`
 * statement applies (the workspace says it is not exposed), else `exposed` — with the statement
 * when an `affected` or `under_investigation` one applies, so its text goes with the hit.
 */
export function applyVex(
  hits: readonly AdvisoryHit[],
  documents: readonly VexDocument[],
): { exposed: VexedHit[]; suppressed: (AdvisoryHit & { vex: VexMatch })[] } {
  const exposed: VexedHit[] = [];
  const suppressed: (AdvisoryHit & { vex: VexMatch })[] = [];
  for (const h of hits) {
    const m = documents.length
      ? vexStatementFor(documents, { advisory: h.advisory, crate: h.package.name, version: h.package.version })
      : undefined;
    if (m?.suppresses) suppressed.push({ ...h, vex: m });
    else exposed.push(m ? { ...h, vex: m } : { ...h });
  }
  return { exposed, suppressed };
}

/**
 * What a statement says, for a finding's `why` and the CLI: signal `vex.<status>`, detail the
 * reason (`justification: impact statement` for not_affected; the action statement for affected;
 * else the notes) and where it was read (`file statements[i], timestamp`). Contributes nothing to
 * the score.
 */
export function vexWhy(m: VexMatch): { signal: string; contribution: number; detail: string } {
  const s = m.statement;
  const reasons =
    s.status === 'not_affected'
      ? [s.justification, s.impactStatement]
      : s.status === 'affected'
        ? [s.actionStatement, s.impactStatement, s.statusNotes]
        : [s.impactStatement, s.statusNotes, s.actionStatement];
  const said = reasons.filter(Boolean).join(': ') || s.status.replace('_', ' ');
  return {
    signal: `vex.${s.status}`,
    contribution: 0,
    detail: `${said} (${m.document.file} ${s.path ?? `statements[${s.index}]`}, ${s.timestamp})`,
  };
}
