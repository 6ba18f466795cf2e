/**
 * Advisory findings brought in line with the graph (the rule is `decide-advisory.ts`): an advisory
 * change touches the workspaces it hit before and those locking its crate now; a workspace event,
 * that workspace. Each one's exposure, VEX statements and stored findings are read, decided and
 * written with their events (`publish`).
 */
import type { Advisory, FindingEvent } from '@cratewatch/shared';
import { advisoryChanges } from './decide-advisory.js';
import { advisoryFindingContexts, deleteAdvisory, writeAdvisories } from './graph/index.js';
import { changeCounts, type DecideContext } from './publish-findings.js';

/** Workspaces whose advisory findings are decided in one transaction (an advisory reaching many). */
const FANOUT_CHUNK = 200;

/**
 * Opens, rescores, resolves or reopens the workspaces' advisory findings to match the graph and each
 * workspace's VEX statements (a hit a `not_affected` / `fixed` statement covers opens nothing, and
 * an open finding it comes to cover resolves; see `decide-advisory.ts`). Depends only on the
 * workspace's lock, its VEX documents and the advisories, so a replay changes nothing. `advisories`:
 * decide the findings of these only (those that changed); none given: every advisory's (a
 * workspace event).
 */
export async function recomputeAdvisoryFindings(
  ctx: DecideContext,
  workspaces: string | string[],
  advisories?: string[],
): Promise<FindingEvent[]> {
  const ids = [...new Set(typeof workspaces === 'string' ? [workspaces] : workspaces)].sort();
  const all: FindingEvent[] = [];
  // An advisory on a crate half the org locks: a chunk of workspaces per transaction, each chunk
  // read, decided and written in a constant number of queries, its events sent in one batch.
  for (let i = 0; i < ids.length; i += FANOUT_CHUNK) {
    const chunk = ids.slice(i, i + FANOUT_CHUNK);
    const done = await ctx.publisher.publish(
      async () => chunk,
      async (tx) => {
        const decided = [...(await advisoryFindingContexts(tx, chunk, advisories)).values()].map((c) => ({
          ctx: c,
          ...advisoryChanges(c, ctx.now()),
        }));
        return { decided, changes: decided.flatMap((d) => d.changes) };
      },
    );
    for (const d of done?.decided ?? []) {
      if (d.changes.length === 0) continue;
      ctx.log.info('findings changed', {
        workspace: d.ctx.workspace.id,
        ...changeCounts(d.changes, d.ctx.current),
        suppressedByVex: d.suppressed.size,
      });
    }
    all.push(...(done?.changes ?? []));
  }
  return all;
}

/**
 * Advisories added or changed: one transaction writes them all and sets exactly which locked
 * versions each affects (set-based: a handful of queries however many advisories); then the
 * findings of the workspaces it touched are recomputed, each once, for these advisories only.
 */
export async function applyAdvisories(ctx: DecideContext, list: Advisory[]): Promise<void> {
  const latest = [...new Map(list.map((a) => [a.id, a])).values()]; // a later version of the same advisory wins
  const touched = await ctx.graph.run('write', (tx) => writeAdvisories(tx, latest));
  ctx.log.info('advisories applied', { advisories: latest.length, workspaces: touched.length });
  await recomputeAdvisoryFindings(
    ctx,
    touched,
    latest.map((a) => a.id),
  );
}

/** An advisory deleted from the database: its findings resolve in the workspaces it affected. */
export async function applyAdvisoryDeleted(ctx: DecideContext, id: string): Promise<void> {
  const workspaces = await ctx.graph.run('write', (tx) => deleteAdvisory(tx, id));
  ctx.log.info('advisory deleted', { advisory: id, workspaces: workspaces.length });
  await recomputeAdvisoryFindings(ctx, workspaces, [id]);
}
