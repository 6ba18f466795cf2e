/**
 * The console's JSON API: one route per page, each answering only for the caller's scope. The
 * handlers are thin: the queries are in pages/, the saved queries in saved.ts.
 */
import type { AccessScope } from '@cratewatch/shared';
import type { ConsoleHistory } from './history.js';
import type { Reader } from './reader.js';
import { runSaved, type SavedQuery } from './saved.js';
import { toCsv } from './csv.js';
import { orgPage } from './pages/org.js';
import { workspaceList, workspacePage } from './pages/workspace.js';
import { MAX_HOPS, cratePage } from './pages/crate.js';
import { advisoryPage } from './pages/advisory.js';
import { unvettedPage } from './pages/unvetted.js';

export interface ApiContext {
  reader: Reader;
  history: ConsoleHistory;
  queries: SavedQuery[];
}

export type ApiAnswer = { status: number; json: unknown } | { status: 200; csv: string; filename: string };

const notFound = (what: string): ApiAnswer => ({ status: 404, json: { error: `${what} is not in the graph, or not in your scope` } });
const ok = (json: unknown): ApiAnswer => ({ status: 200, json });

/** A whole number query parameter within [min, max], or the fallback; a bad one is a 400 naming it. */
export function intParam(q: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
  const raw = q.get(name);
  if (raw === null || raw === '') return fallback;
  const n = /^\d{1,6}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= min && n <= max)) throw new BadRequest(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`);
  return n;
}

export class BadRequest extends Error {
  override name = 'BadRequest';
}

async function savedRoute(ctx: ApiContext, scope: AccessScope, rest: string[], q: URLSearchParams): Promise<ApiAnswer> {
  if (rest.length === 0) return ok(ctx.queries.map(({ cypher, ...meta }) => ({ ...meta, cypher })));
  const saved = ctx.queries.find((x) => x.name === rest[0]);
  if (!saved) return { status: 404, json: { error: `no saved query ${rest[0]}` } };
  const given = Object.fromEntries(q.entries());
  const r = await runSaved(ctx.reader, scope, saved, given);
  if (rest[1] === 'csv') return { status: 200, csv: toCsv(r.columns, r.rows), filename: `${saved.name}.csv` };
  if (rest[1] === 'run') return ok({ query: saved.name, columns: r.columns, rows: r.rows, truncated: r.truncated });
  return notFound(`route ${rest.join('/')}`);
}

/** Answers `GET /api/<path>` for a caller of `scope`. */
export async function answer(ctx: ApiContext, scope: AccessScope, segments: string[], q: URLSearchParams): Promise<ApiAnswer> {
  const [head, ...rest] = segments;
  const one = rest.length === 1 ? rest[0]! : undefined;
  switch (head) {
    case 'org':
      return ok(await orgPage(ctx.reader, ctx.history, scope));
    case 'workspaces':
      if (rest.length === 0) return ok(await workspaceList(ctx.reader, scope));
      if (one === undefined) break;
      return (await workspacePage(ctx.reader, scope, one).then((p) => (p ? ok(p) : undefined))) ?? notFound(`workspace ${one}`);
    case 'crates':
      if (one === undefined) break;
      return (
        (await cratePage(ctx.reader, scope, one, intParam(q, 'hops', 2, 1, MAX_HOPS)).then((p) => (p ? ok(p) : undefined))) ??
        notFound(`crate ${one}`)
      );
    case 'advisories':
      if (one === undefined) break;
      return (await advisoryPage(ctx.reader, scope, one).then((p) => (p ? ok(p) : undefined))) ?? notFound(`advisory ${one}`);
    case 'unvetted':
      return ok(await unvettedPage(ctx.reader, scope, intParam(q, 'limit', 200, 1, 5000)));
    case 'queries':
      return savedRoute(ctx, scope, rest, q);
  }
  return notFound(`route /api/${segments.join('/')}`);
}
