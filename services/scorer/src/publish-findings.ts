/**
 * How every kind of finding is decided and sent (docs/adr/0002-several-scorers.md): in ONE write
 * transaction that first locks the workspaces, then reads, decides and writes the findings, each
 * with its event in the Finding's outbox (`pendingEvents`). Two scorers deciding for one workspace
 * therefore run one after the other, and the second sees the first's findings: one event per
 * change. The events are sent after the commit and cleared from the outbox (under the Finding's
 * lock); a crash in between leaves them for whoever touches the workspace next, or for the next
 * start: repeated at worst (the notifier drops the repeat), never lost.
 */
import type { Producer } from 'kafkajs';
import type { ManagedTransaction } from 'neo4j-driver';
import { TOPICS, type FindingEvent } from '@cratewatch/shared';
import type { Logger } from '@cratewatch/runtime';
import { clearPendingEvents, lockWorkspaces, owedWork, takePendingEvents, writeFindings, type Graph } from './graph/index.js';

/** Findings whose outbox is sent in one transaction (at start, a crashed run may have left many). */
const OUTBOX_CHUNK = 500;

/** What a recompute rule needs: the graph, the publisher of what it decides, the log and the clock. */
export interface DecideContext {
  graph: Graph;
  publisher: FindingPublisher;
  log: Logger;
  now: () => string;
}

export class FindingPublisher {
  constructor(
    private readonly graph: Graph,
    private readonly producer: Producer,
    /** Told the workspaces whose risk the findings (this scorer's, or a crashed one's) made due. */
    private readonly riskDue: Set<string>,
  ) {}

  /**
   * Decides findings for every kind, in one write transaction: locks the workspaces, then `decide`
   * reads what it needs and returns the finding events; they are written (`riskDue` marked, each
   * event in its Finding's outbox) before the commit. After it: the events are sent from the outbox,
   * with any a crashed scorer left on these workspaces, and their workspaces' risk is due (written at
   * the end of the batch). `decide` is given the workspaces locked and must decide for those only;
   * it may run again when Neo4j retries the transaction (a deadlock with another scorer), so it has
   * no effect outside the transaction.
   */
  async publish<T extends { changes: FindingEvent[] }>(
    workspaces: (tx: ManagedTransaction) => Promise<string[]>,
    decide: (tx: ManagedTransaction, locked: Set<string>) => Promise<T | undefined>,
  ): Promise<T | undefined> {
    const done = await this.graph.run('write', async (tx) => {
      const ids = await workspaces(tx);
      await lockWorkspaces(tx, ids);
      const r = await decide(tx, new Set(ids));
      if (r) await writeFindings(tx, r.changes);
      return { r, owed: await owedWork(tx, ids) };
    });
    await this.sendPending(done.owed.pending);
    for (const id of done.owed.riskDue) this.riskDue.add(id);
    return done.r;
  }

  /**
   * Sends the events pending in these findings' outboxes, oldest first, and empties them, in one
   * transaction holding the findings' locks (`takePendingEvents`): of two scorers sending for one
   * finding, the second finds nothing left. A crash between the send and the commit sends them
   * again (at-least-once, as before). Returns how many were sent.
   */
  async sendPending(ids: string[]): Promise<number> {
    let sent = 0;
    for (let i = 0; i < ids.length; i += OUTBOX_CHUNK) {
      const chunk = ids.slice(i, i + OUTBOX_CHUNK);
      sent += await this.graph.run('write', async (tx) => {
        const pending = await takePendingEvents(tx, chunk);
        const messages = pending.flatMap((p) => p.events.map((value) => ({ key: p.id, value })));
        if (messages.length === 0) return 0;
        await this.producer.send({ topic: TOPICS.findings, messages });
        await clearPendingEvents(
          tx,
          pending.map((p) => p.id),
        );
        return messages.length;
      });
    }
    return sent;
  }
}

/**
 * For the log lines: of the finding events sent, how many open a finding (or reopen it), re-send an
 * open one with a new severity or score (`rescored`; which ones to send is shared `findingMoved`'s
 * call, this only tells them apart by what was stored), and resolve one.
 */
export function changeCounts(
  changes: FindingEvent[],
  stored: { id: string; state: string }[],
): { opened: number; rescored: number; resolved: number } {
  const wasOpen = new Set(stored.filter((f) => f.state === 'open').map((f) => f.id));
  const open = changes.filter((f) => f.state === 'open');
  const rescored = open.filter((f) => wasOpen.has(f.id)).length;
  return { opened: open.length - rescored, rescored, resolved: changes.length - open.length };
}
