/**
 * Risk (docs/ARCHITECTURE.md: "a risk score per crate-version and per workspace that shows each
 * signal's contribution"; the rule is shared `workspaceRisk`, laid out as properties by
 * `decide-risk.ts`): for each workspace whose findings changed since, recomputed from its open
 * findings as stored and written on the Workspace and its LOCKS edges.
 */
import type { Logger } from '@cratewatch/runtime';
import { riskWrites } from './decide-risk.js';
import { clearDue, lockWorkspaces, riskInputs, writeRisk, type Graph } from './graph/index.js';

/** Workspaces whose risk is read and written in one query each (`flushRisk`). */
const RISK_CHUNK = 100;

/**
 * The risk of the workspaces in `riskDue`, each taken out of it once written. Once per workspace per
 * handled batch (or message), after its findings are written; one read and one write per chunk of
 * workspaces; a workspace whose stored risk already reads the same is not written. Sends nothing:
 * risk is graph state for analysts, not an event.
 */
export async function flushRisk(graph: Graph, log: Logger, riskDue: Set<string>): Promise<void> {
  while (riskDue.size) {
    const ids = [...riskDue].slice(0, RISK_CHUNK);
    // Read, written and the mark cleared under the workspaces' lock: another scorer's findings
    // (and the `riskDue` they set) commit either before the read, so they count, or after the
    // clear, so the mark stays for that scorer. Reading outside the lock let a risk computed from
    // findings another scorer had since changed clear that scorer's mark.
    const rows = await graph.run('write', async (tx) => {
      await lockWorkspaces(tx, ids);
      const written = riskWrites(await riskInputs(tx, ids));
      await writeRisk(tx, written);
      await clearDue(tx, 'riskDue', ids);
      return written;
    });
    for (const id of ids) riskDue.delete(id);
    log.info('risk applied', {
      workspaces: ids.length,
      written: rows.length,
      ...(ids.length === 1 && rows[0] ? { workspace: rows[0].id, risk: rows[0].risk, severity: rows[0].severity } : {}),
    });
  }
}
