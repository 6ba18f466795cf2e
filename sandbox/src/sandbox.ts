/**
 * The query sandbox: how every analyst query reaches the graph (`cratewatch query`, later the
 * console's API and its saved queries). In order:
 *   1. the text pre-check (shared `precheckQueryText`), an extra layer that spares the server the
 *      obvious cases;
 *   2. EXPLAIN of the query, in a READ transaction, and the plan judged (shared `judgeQueryPlan`):
 *      this is what decides — LOAD CSV, procedures outside the allow-list, administration commands
 *      and writes are refused before the query runs;
 *   3. the query itself in a READ transaction with a timeout, its rows streamed and cut off after
 *      the row limit (the rest is never fetched; the result says it was truncated).
 * Every refusal is one line naming what was refused and why.
 */
import neo4j, { type Driver, type Session } from 'neo4j-driver';
import {
  judgeQueryPlan,
  precheckQueryText,
  type PlanOperator,
  type PlanVerdict,
  type QueryLimits,
  type RefusedFamily,
} from '@cratewatch/shared';

export interface SandboxQuery {
  cypher: string;
  params?: Record<string, unknown>;
}

export interface SandboxOptions {
  limits: QueryLimits;
  /** The database (NEO4J_DATABASE); default: the server's default one. */
  database?: string;
}

export interface SandboxResult {
  rows: Record<string, unknown>[];
  /** True when the query had more than `limits.maxRows` rows: `rows` holds the first ones. */
  truncated: boolean;
}

/** The query was refused before it ran (`family`: what kind of thing it tried). */
export class QueryRefusedError extends Error {
  override name = 'QueryRefusedError';
  constructor(
    readonly family: RefusedFamily | 'invalid',
    readonly reason: string,
  ) {
    super(`query refused: ${reason}`);
  }
}

/** The query ran past its timeout and the server stopped it. */
export class QueryTimeoutError extends Error {
  override name = 'QueryTimeoutError';
  constructor(readonly timeoutMs: number) {
    super(`query stopped: it ran past its ${timeoutMs / 1000} s timeout`);
  }
}

const firstLine = (s: string) =>
  s
    .split('\n')
    .find((l) => l.trim())
    ?.trim() ?? s;

const TIMED_OUT = /^Neo\.ClientError\.Transaction\.TransactionTimedOut/;

function refused(v: PlanVerdict): void {
  if (!v.allowed) throw new QueryRefusedError(v.family, v.reason);
}

/** EXPLAIN's plan and query type (nothing runs). A query the server cannot plan is refused with its reason. */
async function explain(
  session: Session,
  q: SandboxQuery,
  timeoutMs: number,
): Promise<{ plan: PlanOperator | undefined; queryType: string | undefined; database: string | undefined }> {
  try {
    const r = await session.executeRead((tx) => tx.run(`EXPLAIN ${q.cypher}`, q.params ?? {}), { timeout: timeoutMs });
    const plan = r.summary.plan === false ? undefined : (r.summary.plan as unknown as PlanOperator);
    return { plan, queryType: r.summary.queryType, database: r.summary.database.name ?? undefined };
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code?.startsWith('Neo.ClientError'))
      throw new QueryRefusedError('invalid', `the server cannot plan it: ${firstLine(e.message ?? '')}`);
    throw err;
  }
}

/** Refuses (QueryRefusedError) what an analyst may not run; resolves when the query may run. */
export async function checkQuery(driver: Driver, q: SandboxQuery, o: SandboxOptions): Promise<void> {
  refused(precheckQueryText(q.cypher));
  const session = driver.session({ defaultAccessMode: neo4j.session.READ, ...(o.database ? { database: o.database } : {}) });
  try {
    // The database the session ran on: a plan that wanders to another (through USE) is refused.
    const { plan, queryType, database } = await explain(session, q, o.limits.timeoutMs);
    if (!plan) throw new QueryRefusedError('invalid', 'the server returned no plan for it, so it cannot be judged');
    refused(judgeQueryPlan(plan, queryType, o.database ?? database));
  } finally {
    await session.close();
  }
}

/** Checks the query, then runs it read-only within the limits. */
export async function runSandboxed(driver: Driver, q: SandboxQuery, o: SandboxOptions): Promise<SandboxResult> {
  await checkQuery(driver, q, o);
  const { maxRows, timeoutMs } = o.limits;
  // One more row than the limit tells whether there were more; the rest is never fetched.
  const session = driver.session({
    defaultAccessMode: neo4j.session.READ,
    fetchSize: Math.min(maxRows + 1, 1000),
    ...(o.database ? { database: o.database } : {}),
  });
  try {
    return await session.executeRead(
      async (tx) => {
        const rows: Record<string, unknown>[] = [];
        let truncated = false;
        for await (const record of tx.run(q.cypher, q.params ?? {})) {
          if (rows.length === maxRows) {
            truncated = true;
            break;
          }
          rows.push(record.toObject());
        }
        return { rows, truncated };
      },
      { timeout: timeoutMs },
    );
  } catch (err) {
    const e = err as { code?: string };
    if (e.code && TIMED_OUT.test(e.code)) throw new QueryTimeoutError(timeoutMs);
    throw err;
  } finally {
    await session.close();
  }
}
