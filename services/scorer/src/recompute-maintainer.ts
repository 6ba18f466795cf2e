/**
 * Maintainer-risk findings brought in line with the graph (the rule is `decide-maintainer.ts`):
 * for one workspace (its lockfile changed) or for every workspace locking some crates (their
 * owners, repository or releases changed). A crate whose score, severity and threshold read as
 * when every workspace locking it was last decided (`maintainerDecisionStamp`) reaches none.
 */
import { CRATES_IO_SOURCES, maintainerRisk, type FindingEvent, type MaintainerFacts } from '@cratewatch/shared';
import { factsFromGraph, maintainerChanges, maintainerDecisionStamp } from './decide-maintainer.js';
import { crateFacts, lockedCrates, maintainerFindings, maintainerScope, markMaintainerDecided } from './graph/index.js';
import { changeCounts, type DecideContext } from './publish-findings.js';

/**
 * A locked version of a crate raises a maintainer finding from this maintainer-risk score up (see
 * shared `maintainerRisk`): no single signal reaches it, so it takes two independent reasons.
 */
export const DEFAULT_MIN_MAINTAINER_SCORE = 5;

export interface MaintainerOptions {
  /** 0–10: a crate's maintainer risk from which each workspace locking it gets a finding. */
  minScore: number;
}

export type MaintainerScope = { workspace: string } | { crates: string[] };

export class MaintainerRecompute {
  constructor(
    private readonly ctx: DecideContext,
    private readonly options: MaintainerOptions,
  ) {}

  /**
   * Maintainer-risk findings of a scope, opened, rescored or resolved to match the graph: one
   * workspace (its lockfile changed) or every workspace locking some crates (their maintainers or
   * release facts changed). A finding depends only on its crate's facts and on the workspace
   * locking the version, never on other workspaces or on arrival order, so a replay changes nothing.
   */
  async recompute(scope: MaintainerScope): Promise<FindingEvent[]> {
    if ('workspace' in scope) return this.decide(scope);
    const moved = await this.moved(scope.crates);
    return moved.length ? this.decide({ crates: moved }) : [];
  }

  /** The decision itself, for a workspace or for crates already known to have moved (`moved`). */
  async decide(scope: MaintainerScope): Promise<FindingEvent[]> {
    const fanOut = 'crates' in scope;
    const done = await this.ctx.publisher.publish(
      async (tx) => ('workspace' in scope ? [scope.workspace] : maintainerScope(tx, scope.crates)),
      async (tx, mine) => {
        // A workspace that came to lock the crates after the scope was read is not locked: its own
        // event, committed after these facts, decides it.
        const locked = (await lockedCrates(tx, scope, [...CRATES_IO_SOURCES])).filter((l) => mine.has(l.workspace.id));
        const rows = await crateFacts(tx, 'crates' in scope ? scope.crates : [...new Set(locked.map((l) => l.crate))]);
        const current = (await maintainerFindings(tx, scope)).filter((f) => mine.has(f.workspace.id));
        const input = { locked, facts: new Map(rows.map((r) => [r.crate, factsFromGraph(r)])), current };
        // Every workspace locking these crates is decided here: what it was decided from is kept.
        if (fanOut)
          await markMaintainerDecided(
            tx,
            rows.map((r) => ({ crate: r.crate, stamp: this.stampOf(input.facts.get(r.crate)!) })),
          );
        return { current: input.current, changes: maintainerChanges(input, this.options.minScore, this.ctx.now()) };
      },
    );
    const changes = done?.changes ?? [];
    if (changes.length === 0) return [];
    this.ctx.log.info('maintainer findings changed', {
      ...('workspace' in scope ? { workspace: scope.workspace } : { crates: scope.crates.length }),
      ...changeCounts(changes, done!.current),
    });
    return changes;
  }

  /**
   * Of these crates, those whose maintainer findings may move: their score, severity or the
   * threshold differ from what every workspace locking them was last decided with (or nothing was
   * recorded). One read; a release of a crate whose risk it leaves alone costs no fan-out.
   */
  async moved(crates: string[]): Promise<string[]> {
    const rows = await this.ctx.graph.run('read', (tx) => crateFacts(tx, crates));
    const same = new Set(rows.filter((r) => r.decided === this.stampOf(factsFromGraph(r))).map((r) => r.crate));
    return crates.filter((c) => !same.has(c));
  }

  private stampOf(facts: MaintainerFacts): string {
    return maintainerDecisionStamp(maintainerRisk(facts), this.options.minScore);
  }
}
