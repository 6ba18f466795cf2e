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
  | { kind: 'value'; value: TValue; comment?: string }
  | { kind: 'table'; table: TTable }
  | { kind: 'aot'; tables: TTable[] };
export type TTable = [string, TItem][];

export const val = (value: TValue, comment?: string): TItem => ({ kind: 'value', value, comment });
export const tbl = (table: TTable): TItem => ({ kind: 'table', table });
export const aot = (tables: TTable[]): TItem => ({ kind: 'aot', tables });

const BARE = /^[A-Za-z0-9_-]+$/;
export function key(k: string): string {
  return BARE.test(k) ? k : basic(k, false);
}

/**
 * How strings are quoted differs between toml_edit releases, hence between cargo-vet releases,
 * and the public pools hold files written by several of them:
 * - `legacy`: one-line text containing `"` is written as a literal string `'...'`;
 * - `current`: a basic string, `"` escaped in one-line strings, left as is inside `"""` strings;
 * - `escaped`: as current, but `"` escaped inside `"""` strings too.
 */
export type StringStyle = 'legacy' | 'current' | 'escaped';
let style: StringStyle = 'current';
export function withStringStyle<T>(s: StringStyle, f: () => T): T {
  const prev = style;
  style = s;
  try {
    return f();
  } finally {
    style = prev;
  }
}

/** Which style wrote this text (the first rule that matches). */
export function detectStringStyle(text: string): StringStyle {
  if (/^[A-Za-z0-9_-]+ = '[^'\\\n]*"[^'\\\n]*'$/m.test(text)) return 'legacy';
  if (/^(?![A-Za-z0-9_-]+ = ")[^\n]*\\"/m.test(text)) return 'escaped';
  return 'current';
}

function basic(s: string, multiline: boolean): string {
  let out = '';
  let i = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '\b') out += '\\b';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\n') out += multiline ? '\n' : '\\n';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\r') out += '\\r';
    else if (ch === '"') out += multiline && style !== 'escaped' ? '"' : '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (c <= 0x1f || c === 0x7f) out += `\\u${c.toString(16).toUpperCase().padStart(4, '0')}`;
    else out += ch;
    i++;
  }
  if (multiline && style !== 'escaped') {
    // A run of three quotes, or a quote right before the closing delimiter, must be escaped.
    out = out.replace(/"""/g, '""\\"');
    if (out.endsWith('"')) out = `${out.slice(0, -1)}\\"`;
  }
  return multiline ? `"""\n${out}"""` : `"${out}"`;
}

/**
 * toml_edit's choice of string representation (`infer_style`): a literal string ('...' or
 * '''...''') when the text contains a backslash or a double quote and can be written literally,
 * otherwise a basic string; the multi-line form (opening delimiter then a newline) when the text
 * contains a newline.
 */
export function stringRepr(s: string): string {
  const multiline = s.includes('\n');
  let canLiteral = true;
  let preferLiteral = false;
  let singles = 0;
  let maxSingles = 0;
  for (const ch of s) {
    if (ch === "'") {
      singles++;
      if (singles >= 3) canLiteral = false;
    } else {
      maxSingles = Math.max(maxSingles, singles);
      singles = 0;
    }
    const c = ch.codePointAt(0)!;
    if (ch === '\\' || (ch === '"' && style === 'legacy' && !multiline)) preferLiteral = true;
    else if (ch === '\t' || ch === '\n') continue;
    else if (c <= 0x1f || c === 0x7f) canLiteral = false;
  }
  maxSingles = Math.max(maxSingles, singles);
  if (singles > 0 && s.endsWith("'")) canLiteral = false;
  if (!preferLiteral || !canLiteral) return basic(s, multiline);
  if (multiline) return `'''\n${s}'''`;
  if (maxSingles >= 1) return `'''${s}'''`;
  return `'${s}'`;
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
