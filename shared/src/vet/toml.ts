/**
 * A tiny TOML emitter that reproduces how cargo-vet writes its files: serde -> `toml_edit`
 * document -> cargo-vet's `TomlFormatter` (tables containing only tables are implicit, maps and
 * lists of tables become `[table]` / `[[array.of.tables]]`, arrays longer than 80 characters wrap
 * one item a line, `dependency-criteria` stays inline up to 120 characters) -> `toml_edit`'s
 * Display (each table in depth-first order, its values before its sub-tables, a blank line before
 * every header).
 */

export type TValue = string | number | boolean | TValue[] | TInline;
/** An inline table `{ a = 1 }`. */
export interface TInline {
  inline: [string, TValue][];
}
export type TItem =
  { kind: 'value'; value: TValue; comment?: string } | { kind: 'table'; table: TTable } | { kind: 'aot'; tables: TTable[] };
export type TTable = [string, TItem][];

export const val = (value: TValue, comment?: string): TItem => ({ kind: 'value', value, comment });
export const tbl = (table: TTable): TItem => ({ kind: 'table', table });
export const aot = (tables: TTable[]): TItem => ({ kind: 'aot', tables });

/**
 * Strings and keys are written exactly as toml_edit 0.22.26 (toml_write 0.1.1, the release
 * cargo-vet 0.10.3 locks) writes them by default (`TomlStringBuilder::as_default`,
 * `TomlKeyBuilder::as_default`). Older cargo-vet releases wrote some strings otherwise (a `"`
 * escaped inside `"""` strings, or in a one-line basic string where 0.10 writes a literal
 * `'...'`); cargo-vet 0.10 refuses such a file under `--locked`, and so do we.
 */
interface Metrics {
  maxSingles: number;
  maxDoubles: number;
  /** Control characters other than tab and newline: only a basic string can hold them. */
  escapeCodes: boolean;
  backslash: boolean;
  newline: boolean;
  singles: boolean;
  doubles: boolean;
}
function metrics(s: string): Metrics {
  const m: Metrics = { maxSingles: 0, maxDoubles: 0, escapeCodes: false, backslash: false, newline: false, singles: false, doubles: false };
  let sq = 0;
  let dq = 0;
  for (const ch of s) {
    sq = ch === "'" ? sq + 1 : 0;
    dq = ch === '"' ? dq + 1 : 0;
    m.maxSingles = Math.max(m.maxSingles, sq);
    m.maxDoubles = Math.max(m.maxDoubles, dq);
    const c = ch.codePointAt(0)!;
    if (ch === '\\') m.backslash = true;
    else if (ch === '\n') m.newline = true;
    else if (ch !== '\t' && (c <= 0x1f || c === 0x7f)) m.escapeCodes = true;
  }
  m.singles = m.maxSingles > 0;
  m.doubles = m.maxDoubles > 0;
  return m;
}

/** toml_write's escaping for a basic string (`"`) or multi-line basic string (`"""`). */
function basic(s: string, multiline: boolean, newlinePrefix: boolean): string {
  const maxDoubles = multiline ? 2 : 0;
  let out = '';
  let dq = 0;
  for (const ch of s) {
    if (ch === '"') {
      dq++;
      if (dq > maxDoubles) {
        out += '\\"';
        dq = 0; // toml_write starts a new run after an escape
        continue;
      }
      out += ch;
      continue;
    }
    dq = 0;
    const c = ch.codePointAt(0)!;
    if (ch === '\b') out += '\\b';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\n') out += multiline ? '\n' : '\\n';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\\') out += '\\\\';
    else if (c <= 0x1f || c === 0x7f) out += `\\u${c.toString(16).toUpperCase().padStart(4, '0')}`;
    else out += ch;
  }
  const q = multiline ? '"""' : '"';
  return `${q}${newlinePrefix ? '\n' : ''}${out}${q}`;
}

const BARE = /^[A-Za-z0-9_-]+$/;
/** A key: bare when it can be, else `"…"`, else `'…'`, else an escaped basic string. */
export function key(k: string): string {
  if (BARE.test(k)) return k;
  const m = metrics(k);
  if (!m.escapeCodes && !m.backslash && !m.doubles) return basic(k, false, false);
  if (!m.escapeCodes && !m.singles) return `'${k}'`;
  return basic(k, false, false);
}

/**
 * A string value: the first that can hold it of `"…"` (nothing to escape), `'…'` (one line, no
 * `'`), `"""…"""` (no backslash, at most two `"` in a row), `'''…'''` (at most two `'` in a row),
 * else an escaped basic string (multi-line when it has a newline). Multi-line forms start with a
 * newline only when the text has one.
 */
export function stringRepr(s: string): string {
  const m = metrics(s);
  if (!m.escapeCodes && !m.backslash && !m.doubles && !m.newline) return basic(s, false, false);
  if (!m.escapeCodes && !m.singles && !m.newline) return `'${s}'`;
  if (!m.escapeCodes && !m.backslash && m.maxDoubles <= 2) return basic(s, true, m.newline);
  if (!m.escapeCodes && m.maxSingles <= 2) return `'''${m.newline ? '\n' : ''}${s}'''`;
  return basic(s, m.newline, m.newline);
}

export function valueRepr(v: TValue): string {
  if (typeof v === 'string') return stringRepr(v);
  if (typeof v === 'number') return String(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (Array.isArray(v)) return `[${v.map(valueRepr).join(', ')}]`;
  if (v.inline.length === 0) return '{}';
  return `{ ${v.inline.map(([k, x]) => `${key(k)} = ${valueRepr(x)}`).join(', ')} }`;
}

const ARRAY_WRAP = 80;
const len = (s: string) => [...s].length;

function line(k: string, v: TValue, comment?: string): string {
  let repr = valueRepr(v);
  if (Array.isArray(v) && len(k) + len(repr) + 3 > ARRAY_WRAP) {
    repr = `[${v.map((x) => `\n    ${valueRepr(x)},`).join('')}\n]`;
  }
  return `${key(k)} = ${repr}${comment !== undefined ? ` # ${comment}` : ''}\n`;
}

/** Renders a document: `header` verbatim, then the root table. */
export function renderDocument(header: string, root: TTable): string {
  let out = header;
  const emit = (t: TTable, path: string[], isArray: boolean) => {
    const values = t.filter(([, i]) => i.kind === 'value');
    if (path.length > 0 && (values.length > 0 || t.length === 0 || isArray)) {
      const h = path.map(key).join('.');
      out += isArray ? `\n[[${h}]]\n` : `\n[${h}]\n`;
    }
    for (const [k, i] of values) if (i.kind === 'value') out += line(k, i.value, i.comment);
    for (const [k, i] of t) {
      if (i.kind === 'table') emit(i.table, [...path, k], false);
      else if (i.kind === 'aot') for (const e of i.tables) emit(e, [...path, k], true);
    }
  };
  emit(root, [], false);
  return out;
}
