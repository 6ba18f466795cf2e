/**
 * The scorer's rules wired to its inputs: each fact event updates the graph, then only the
 * workspaces the event touches get their findings recomputed. A finding event is produced only
 * when a finding's state changes (opened, resolved, reopened), so replays send nothing new.
 *
 * Order matters for restarts: finding events are produced BEFORE the Finding nodes are written.
 * A crash in between repeats the event on replay (the notifier drops the repeat), whereas the other
 * order could record a finding as sent that never was.
 */
import type { Producer } from 'kafkajs';
import {
  TOPICS,
  advisoryFinding,
  decodeEvent,
  encodeEvent,
  isAffected,
  unaffectedIntervals,
  CRATES_IO_SOURCES,
  type Advisory,
  type FindingEvent,
  type WorkspaceEvent,
} from '@cratewatch/shared';
import { BadMessageError, type ConsumedMessage, type Logger } from '@cratewatch/runtime';
import { Graph, type LockedVersion } from './graph.js';

export class Scorer {
  constructor(
    private readonly graph: Graph,
    private readonly producer: Producer,
    private readonly log: Logger,
    private readonly now: () => string = () => new Date().toISOString(),
  ) {}

  async handle(m: ConsumedMessage): Promise<void> {
    if (m.topic === TOPICS.advisories) {
      const ev = decodeEvent(TOPICS.advisories, m.message.value);
      if (ev === null) {
        if (!m.key) throw new BadMessageError('tombstone without a key');
        return this.onAdvisoryDeleted(m.key);
      }
      if (m.key !== null && m.key !== ev.advisory.id) {
        throw new BadMessageError(`key "${m.key}" is not the advisory id "${ev.advisory.id}"`);
      }
      return this.onAdvisory(ev.advisory);
    }
    if (m.topic === TOPICS.workspaces) {
      const ev = decodeEvent(TOPICS.workspaces, m.message.value);
      if (ev === null) return; // a removed workspace: findings stay until it is re-registered (noted in README)
      if (m.key !== null && m.key !== ev.id) throw new BadMessageError(`key "${m.key}" is not the workspace id "${ev.id}"`);
      return this.onWorkspace(ev);
    }
  }

  /** An advisory added or changed: one transaction sets what it affects; then the touched workspaces. */
  async onAdvisory(a: Advisory): Promise<void> {
    let intervals: ReturnType<typeof unaffectedIntervals>;
    try {
      intervals = unaffectedIntervals(a);
    } catch (err) {
      throw new BadMessageError(`advisory ${a.id}: ${(err as Error).message}`);
    }
    const { hit, workspaces } = await this.graph.run('write', async (tx) => {
      await Graph.upsertAdvisory(tx, a);
      const matchable = a.collection === 'crates' && !a.withdrawn;
      const versions = matchable ? await Graph.versionsOf(tx, a.package) : [];
      const hit = versions.filter((v) => affects(a, v, intervals)).map((v) => v.id);
      await Graph.setAffects(tx, a.id, hit);
      return { hit, workspaces: await Graph.workspacesLocking(tx, a.package) };
    });
    this.log.info('advisory applied', { advisory: a.id, crate: a.package, affectedVersions: hit.length, workspaces: workspaces.length });
    for (const ws of workspaces) await this.recomputeAdvisoryFindings(ws);
  }

  async onAdvisoryDeleted(id: string): Promise<void> {
    const workspaces = await this.graph.run('write', (tx) => Graph.deleteAdvisory(tx, id));
    this.log.info('advisory deleted', { advisory: id, workspaces: workspaces.length });
    for (const ws of workspaces) await this.recomputeAdvisoryFindings(ws);
  }

  /**
   * A workspace registered or changed: one transaction writes its packages and the AFFECTS edges of
   * the advisories on the crates it locks. Edges of versions it shares with other workspaces were
   * set when those advisories arrived, so only this workspace's versions are matched here.
   */
  async onWorkspace(ev: WorkspaceEvent): Promise<void> {
    const checked = await this.graph.run('write', async (tx) => {
      const locked = await Graph.upsertWorkspace(tx, ev);
      const byCrate = new Map<string, typeof locked>();
      for (const v of locked) if (v.source !== null && CRATES_IO_SOURCES.has(v.source)) byCrate.set(v.crate, [...(byCrate.get(v.crate) ?? []), v]);
      const advisories = await Graph.advisoriesFor(tx, [...byCrate.keys()]);
      const pairs: { advisory: string; version: string }[] = [];
      for (const a of advisories) {
        if (a.collection !== 'crates' || a.withdrawn) continue;
        const intervals = unaffectedIntervals(a);
        for (const v of byCrate.get(a.package) ?? []) if (affects(a, v, intervals)) pairs.push({ advisory: a.id, version: v.id });
      }
      await Graph.addAffects(tx, pairs);
      return advisories.length;
    });
    this.log.info('workspace applied', { workspace: ev.id, packages: ev.packages.length, advisoriesChecked: checked });
    await this.recomputeAdvisoryFindings(ev.id);
  }

  /** Opens, resolves or reopens the workspace's advisory findings to match the graph. */
  async recomputeAdvisoryFindings(workspaceId: string): Promise<FindingEvent[]> {
    const ctx = await this.graph.run('read', (tx) => Graph.advisoryFindingContext(tx, workspaceId));
    if (!ctx) return [];
    const at = this.now();
    const desired = new Map<string, FindingEvent>();
    for (const { version, advisory } of ctx.exposure) {
      const f = advisoryFinding(ctx.workspace, advisory, version, 'open', at);
      desired.set(f.id, f);
    }
    const changes: FindingEvent[] = [];
    const current = new Map(ctx.current.map((c) => [c.id, c]));
    for (const [id, f] of desired) if (current.get(id)?.state !== 'open') changes.push(f);
    for (const c of ctx.current) {
      if (c.state === 'open' && !desired.has(c.id)) changes.push(resolvedFinding(ctx.workspace, c, at));
    }
    if (changes.length === 0) return [];
    await this.producer.send({
      topic: TOPICS.findings,
      messages: changes.map((f) => ({ key: f.id, value: encodeEvent(TOPICS.findings, f) })),
    });
    await this.graph.run('write', (tx) => Graph.writeFindings(tx, changes));
    this.log.info('findings changed', {
      workspace: workspaceId,
      opened: changes.filter((c) => c.state === 'open').length,
      resolved: changes.filter((c) => c.state === 'resolved').length,
    });
    return changes;
  }
}

/** Only crates.io versions are matched against RustSec (a git fork or path crate is another crate). */
function affects(a: Advisory, v: LockedVersion, intervals: ReturnType<typeof unaffectedIntervals>): boolean {
  return v.source !== null && CRATES_IO_SOURCES.has(v.source) && isAffected(a, v.version, intervals);
}

function resolvedFinding(
  ws: { id: string; org: string; team?: string },
  c: { id: string; version: string; advisory: Advisory | null; advisoryId: string },
  at: string,
): FindingEvent {
  if (c.advisory) return advisoryFinding(ws, c.advisory, c.version, 'resolved', at);
  // The advisory itself was deleted from the database: resolved with what the finding id tells.
  const crate = c.id.split('|')[1] ?? '';
  return {
    v: 1,
    id: c.id,
    kind: 'advisory',
    state: 'resolved',
    severity: 'info',
    score: 0,
    workspace: ws,
    crate,
    version: c.version,
    why: [{ signal: 'advisory.deleted', contribution: 0, detail: `${c.advisoryId} was removed from the advisory database` }],
    advisory: { id: c.advisoryId, title: '(removed from the advisory database)', patched: [], aliases: [] },
    observedAt: at,
  };
}
