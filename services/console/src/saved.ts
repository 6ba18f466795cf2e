/**
 * Saved, named, parameterised analyst queries (queries.toml beside this package): read and
 * checked at start (a bad file names the query and field), each parameter typed and validated on
 * every run, each run through the Reader (sandbox + the caller's scope). A query must use both
 * `$org` and `$teams`: the file's rule for keeping to the caller's scope.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'smol-toml';
import { z } from 'zod';
import { FormatError, type AccessScope } from '@cratewatch/shared';
import type { Read, Reader } from './reader.js';

const Name = z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'lowercase letters, digits, - and _');
const ParamSchema = z.discriminatedUnion('type', [
  z
    .object({ name: Name, type: z.literal('string'), label: z.string(), default: z.string().optional(), pattern: z.string().optional() })
    .strict(),
  z
    .object({
      name: Name,
      type: z.literal('integer'),
      label: z.string(),
      default: z.number().int().optional(),
      min: z.number().int().optional(),
      max: z.number().int().optional(),
    })
    .strict(),
  z.object({ name: Name, type: z.literal('boolean'), label: z.string(), default: z.boolean().optional() }).strict(),
]);
const QuerySchema = z
  .object({
    name: Name,
    title: z.string().min(1),
    description: z.string(),
    cypher: z.string().min(1),
    params: z.array(ParamSchema).default([]),
  })
  .strict();
const FileSchema = z.object({ query: z.array(QuerySchema).min(1) }).strict();

export type SavedParam = z.infer<typeof ParamSchema>;
export type SavedQuery = z.infer<typeof QuerySchema>;

/** A parameter value the caller gave that its type refuses (→ 400). */
export class ParamError extends Error {
  override name = 'ParamError';
}

export function parseSavedQueries(text: string, source: string): SavedQuery[] {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    throw new FormatError(source, (err as Error).message.split('\n')[0]!);
  }
  const r = FileSchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new FormatError(source, issue.message, { field: issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('') });
  }
  r.data.query.forEach((q, i) => {
    const at = `query[${i}] (${q.name})`;
    if (r.data.query.findIndex((o) => o.name === q.name) !== i) throw new FormatError(source, 'the name is used twice', { field: at });
    for (const need of ['$org', '$teams'])
      if (!q.cypher.includes(need))
        throw new FormatError(source, `the cypher does not use ${need}: every query keeps to the caller's scope`, {
          field: `${at}.cypher`,
        });
    for (const p of q.params)
      if (!q.cypher.includes(`$${p.name}`))
        throw new FormatError(source, `parameter ${p.name} is not used by the cypher`, { field: `${at}.params` });
  });
  return r.data.query;
}

export const loadSavedQueries = (file: string): SavedQuery[] => parseSavedQueries(readFileSync(file, 'utf8'), file);

/** One parameter's value from the request's text (or its default); throws ParamError naming it. */
function paramValue(p: SavedParam, raw: string | undefined): string | number | boolean {
  const given = raw !== undefined && raw !== '';
  if (!given && p.default !== undefined) return p.default;
  if (p.type === 'string') {
    const v = raw ?? '';
    if (p.pattern && !new RegExp(p.pattern).test(v))
      throw new ParamError(`parameter ${p.name}: ${JSON.stringify(v)} does not match ${p.pattern}`);
    return v;
  }
  if (!given) throw new ParamError(`parameter ${p.name} is required (${p.type})`);
  if (p.type === 'boolean') {
    if (raw !== 'true' && raw !== 'false') throw new ParamError(`parameter ${p.name} must be true or false, got ${JSON.stringify(raw)}`);
    return raw === 'true';
  }
  if (!/^-?\d{1,15}$/.test(raw)) throw new ParamError(`parameter ${p.name} must be a whole number, got ${JSON.stringify(raw)}`);
  const n = Number(raw);
  if (p.min !== undefined && n < p.min) throw new ParamError(`parameter ${p.name} must be at least ${p.min}, got ${n}`);
  if (p.max !== undefined && n > p.max) throw new ParamError(`parameter ${p.name} must be at most ${p.max}, got ${n}`);
  return n;
}

/** The query's parameters from `given` (unknown names refused: a typo would silently use a default). */
export function savedParams(q: SavedQuery, given: Record<string, string>): Record<string, unknown> {
  for (const k of Object.keys(given))
    if (!q.params.some((p) => p.name === k)) throw new ParamError(`query ${q.name} has no parameter ${k}`);
  return Object.fromEntries(q.params.map((p) => [p.name, paramValue(p, given[p.name])]));
}

export async function runSaved(
  reader: Reader,
  scope: AccessScope,
  q: SavedQuery,
  given: Record<string, string>,
): Promise<Read & { columns: string[] }> {
  const r = await reader.read(scope, q.cypher, savedParams(q, given));
  const columns = r.rows[0] ? Object.keys(r.rows[0]) : [];
  return { ...r, columns };
}
