/**
 * What analysts may run against the graph (the query sandbox's rule, issue 12): read the graph,
 * and nothing else. Decided from the query's plan — the tree Neo4j's EXPLAIN returns — not from its
 * text, because Cypher has many spellings of one thing (comments between keywords, backticked
 * names, subqueries) and the planner has seen through all of them. Pure: the caller runs EXPLAIN.
 *
 * What EXPLAIN returns on Neo4j 5.26 (found on the real server, see sandbox/README.md): operator
 * types carry the database after an `@` (`LoadCSV@neo4j`); LOAD CSV is a `LoadCSV` operator; a
 * procedure is `ProcedureCall` with `Details` "db.labels() :: (label :: STRING)"; SHOW USERS,
 * CREATE USER, SHOW DATABASES are one `AdministrationCommand@system`; SHOW TRANSACTIONS, TERMINATE
 * TRANSACTIONS, SHOW SETTINGS / PROCEDURES / INDEXES are `Show…` / `Terminate…` operators on the
 * user database (and plan in a READ transaction: the access mode does not stop them); writes are
 * `Create`, `Merge`, `SetProperty`, `Delete`, `Foreach`, `TransactionForeach`… and the summary's
 * query type is then `rw`, `w` or `s` (schema, and DBMS-mode procedures) instead of `r`.
 */

/** One operator of an EXPLAIN plan, as neo4j-driver gives it (`summary.plan`). */
export interface PlanOperator {
  operatorType: string;
  arguments: Record<string, unknown>;
  children: PlanOperator[];
}

export type RefusedFamily = 'load-csv' | 'procedure' | 'administration' | 'write' | 'database';

export type PlanVerdict = { allowed: true } | { allowed: false; family: RefusedFamily; reason: string };

/**
 * The procedures an analyst needs to find their way around the graph: its labels, relationship
 * types, property keys and schema. Nothing from `dbms.*` (configuration, components, listing
 * connections), `tx.*` (sets transaction metadata), `db.*` beyond these (index and statistics
 * management, awaiting indexes), and no plugin (apoc.*, gds.*).
 */
export const ALLOWED_PROCEDURES: readonly string[] = [
  'db.labels',
  'db.relationshipTypes',
  'db.propertyKeys',
  'db.schema.visualization',
  'db.schema.nodeTypeProperties',
  'db.schema.relTypeProperties',
];

// Operators that change the graph or its schema. The summary's query type (`r` or not) catches any
// other; this list only names the operator in the refusal.
const WRITE_OPERATOR = /^(Create|Merge|Set|Remove|Delete|DetachDelete|Foreach|Transaction|Lock|Drop|DoNothingIfExists|Alter)/;
// Commands on transactions, settings, procedures, users, databases: TERMINATE TRANSACTIONS kills the
// scorer's work, SHOW TRANSACTIONS shows other users' queries, SHOW SETTINGS the server's setup.
const ADMIN_OPERATOR = /^(AdministrationCommand|Show|Terminate|SystemProcedureCall)/;

/** `LoadCSV@neo4j` → { op: 'LoadCSV', db: 'neo4j' }. */
function operatorOf(p: PlanOperator): { op: string; db: string | undefined } {
  const at = p.operatorType.indexOf('@');
  return at < 0 ? { op: p.operatorType, db: undefined } : { op: p.operatorType.slice(0, at), db: p.operatorType.slice(at + 1) };
}

/** The procedure a ProcedureCall names: its `Details` up to the argument list, backticks dropped. */
export function procedureName(p: PlanOperator): string {
  const details = String(p.arguments.Details ?? p.arguments.details ?? p.arguments.Signature ?? '');
  return details.split('(')[0]!.replace(/`/g, '').trim();
}

function* operators(p: PlanOperator): Generator<PlanOperator> {
  yield p;
  for (const c of p.children ?? []) yield* operators(c);
}

const refuse = (family: RefusedFamily, reason: string): PlanVerdict => ({ allowed: false, family, reason });

/** One operator's verdict; undefined when it reads only. */
function judgeOperator(p: PlanOperator, database: string | undefined): PlanVerdict | undefined {
  const { op, db } = operatorOf(p);
  if (db === 'system')
    return refuse('administration', `administration command (${op} on the system database): analysts' queries read the graph only`);
  if (/LoadCSV/i.test(op)) return refuse('load-csv', 'LOAD CSV is not allowed: it reads files and URLs from the database server');
  if (/ProcedureCall/.test(op)) {
    const name = procedureName(p);
    if (!ALLOWED_PROCEDURES.includes(name))
      return refuse('procedure', `procedure ${name || '(unnamed)'} is not allowed: only ${ALLOWED_PROCEDURES.join(', ')}`);
  }
  if (ADMIN_OPERATOR.test(op))
    return refuse('administration', `administration command (${op}) is not allowed: analysts' queries read the graph only`);
  if (WRITE_OPERATOR.test(op)) return refuse('write', `writes are not allowed (${op}): analysts' queries are read-only`);
  if (database !== undefined && db !== undefined && db !== database)
    return refuse('database', `the query uses database ${db}: analysts' queries run on ${database} only`);
  return undefined;
}

/**
 * Whether an analyst may run the query whose EXPLAIN plan is `plan`: every operator is judged
 * (subqueries and UNION branches are children), then the query type the server reported (`r`
 * only). `database`: the one the query must stay on (the session's), when known.
 */
export function judgeQueryPlan(plan: PlanOperator, queryType: string | undefined, database?: string): PlanVerdict {
  for (const p of operators(plan)) {
    const v = judgeOperator(p, database);
    if (v) return v;
  }
  if (queryType !== undefined && queryType !== 'r') {
    return refuse(
      'write',
      `the server classes the query as ${QUERY_TYPES[queryType] ?? queryType}, not read-only: analysts' queries are read-only`,
    );
  }
  return { allowed: true };
}

const QUERY_TYPES: Record<string, string> = { rw: 'read-write', w: 'write-only', s: 'schema or system' };

/**
 * The text pre-check, an extra layer in front of EXPLAIN (never the only one: the plan decides).
 * It refuses the obvious spellings before the query reaches the server at all; a false positive
 * (the words inside a string literal) is refused too — rephrase, e.g. with a parameter.
 */
export function precheckQueryText(cypher: string): PlanVerdict {
  const text = cypher.replace(/\s+/g, ' ');
  if (/\bLOAD CSV\b/i.test(text)) return refuse('load-csv', 'LOAD CSV is not allowed: it reads files and URLs from the database server');
  if (/\b(dbms|apoc|gds)\s*\./i.test(text))
    return refuse(
      'procedure',
      `${/\b(dbms|apoc|gds)\s*\./i.exec(text)![1]!.toLowerCase()}.* procedures are not allowed: only ${ALLOWED_PROCEDURES.join(', ')}`,
    );
  if (/\bTERMINATE\s+TRANSACTIONS?\b/i.test(text))
    return refuse('administration', "TERMINATE TRANSACTIONS is not allowed: analysts' queries read the graph only");
  if (/\bUSE\s+`?system\b/i.test(text))
    return refuse('administration', "USE system is not allowed: analysts' queries run on the graph database only");
  if (/^\s*(EXPLAIN|PROFILE)\b/i.test(text))
    return refuse('administration', 'EXPLAIN / PROFILE are added by the sandbox: give the query alone');
  return { allowed: true };
}

export interface QueryLimits {
  /** Per-query transaction timeout. */
  timeoutMs: number;
  /** Rows returned at most; more are cut off and said so (`truncated`). */
  maxRows: number;
}

export const QUERY_LIMITS = {
  timeout: { defaultS: 30, maxS: 120, env: 'CRATEWATCH_QUERY_TIMEOUT_S' },
  maxRows: { default: 1000, max: 100_000, env: 'CRATEWATCH_QUERY_MAX_ROWS' },
} as const;

export class QueryLimitError extends Error {
  override name = 'QueryLimitError';
}

/** A positive integer no greater than `max`, from a flag or variable named `what`. */
function bounded(raw: string, what: string, max: number): number {
  const n = Number(raw.trim());
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < 1)
    throw new QueryLimitError(`${what} must be a whole number from 1 to ${max}, got ${JSON.stringify(raw)}`);
  if (n > max) throw new QueryLimitError(`${what} is ${n}, above the ceiling of ${max}`);
  return n;
}

/**
 * The limits of one query: a flag (`--timeout`, `--max-rows`) over the environment over the
 * defaults, each within its ceiling (a value above it is an error, not silently lowered).
 */
export function queryLimits(env: Record<string, string | undefined>, flags: { timeout?: string; maxRows?: string } = {}): QueryLimits {
  const t = QUERY_LIMITS.timeout;
  const r = QUERY_LIMITS.maxRows;
  const timeoutS =
    flags.timeout !== undefined
      ? bounded(flags.timeout, '--timeout (seconds)', t.maxS)
      : env[t.env]?.trim()
        ? bounded(env[t.env]!, t.env, t.maxS)
        : t.defaultS;
  const maxRows =
    flags.maxRows !== undefined
      ? bounded(flags.maxRows, '--max-rows', r.max)
      : env[r.env]?.trim()
        ? bounded(env[r.env]!, r.env, r.max)
        : r.default;
  return { timeoutMs: timeoutS * 1000, maxRows };
}
