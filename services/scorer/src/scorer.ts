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
import { Graph } from './graph.js';

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

  async onAdvisory(a: Advisory): Promise<void> {
    let intervals;
    try {
      intervals = unaffectedIntervals(a);
    } catch (err) {
      throw new BadMessageError(`advisory ${a.id}: ${(err as Error).message}`);
    }
    await this.graph.upsertAdvisory(a);
    const matchable = a.collection === 'crates' && !a.withdrawn;
    const versions = matchable ? await this.graph.lockedVersionsOf(a.package) : [];
    const hit = versions
      .filter((v) => v.source !== null && CRATES_IO_SOURCES.has(v.source) && isAffected(a, v.version, intervals))
      .map((v) => v.id);
    const workspaces = await this.graph.setAffects(a.id, a.package, hit);
    this.log.info('advisory applied', { advisory: a.id, crate: a.package, affectedVersions: hit.length, workspaces: workspaces.length });
    for (const ws of workspaces) await this.recomputeAdvisoryFindings(ws);
  }

  async onAdvisoryDeleted(id: string): Promise<void> {
    const workspaces = await this.graph.deleteAdvisory(id);
    this.log.info('advisory deleted', { advisory: id, workspaces: workspaces.length });
    for (const ws of workspaces) await this.recomputeAdvisoryFindings(ws);
  }

  async onWorkspace(ev: WorkspaceEvent): Promise<void> {
    await this.graph.upsertWorkspace(ev);
    const crates = [...new Set(ev.packages.filter((p) => p.source && CRATES_IO_SOURCES.has(p.source)).map((p) => p.name))];
    const advisories = await this.graph.advisoriesFor(crates);
    for (const a of advisories) {
      if (a.collection !== 'crates' || a.withdrawn) continue;
      // Recompute the advisory's edges over every locked version of its crate, this workspace's included.
      const versions = await this.graph.lockedVersionsOf(a.package);
      const intervals = unaffectedIntervals(a);
      const hit = versions.filter((v) => v.source !== null && CRATES_IO_SOURCES.has(v.source) && isAffected(a, v.version, intervals)).map((v) => v.id);
      await this.graph.setAffects(a.id, a.package, hit);
    }
    this.log.info('workspace applied', { workspace: ev.id, packages: ev.packages.length, advisoriesChecked: advisories.length });
    await this.recomputeAdvisoryFindings(ev.id);
  }

  /** Opens, resolves or reopens the workspace's advisory findings to match the graph. */
  async recomputeAdvisoryFindings(workspaceId: string): Promise<FindingEvent[]> {
    const ws = await this.graph.workspace(workspaceId);
    if (!ws) return [];
    const at = this.now();
    const desired = new Map<string, FindingEvent>();
    for (const { version, advisory } of await this.graph.advisoryExposure(workspaceId)) {
      const f = advisoryFinding(ws, advisory, version, 'open', at);
      desired.set(f.id, f);
    }
    const current = await this.graph.findingStates(workspaceId, 'advisory');
    const changes: FindingEvent[] = [];
    for (const [id, f] of desired) if (current.get(id) !== 'open') changes.push(f);
    for (const [id, state] of current) {
      if (state === 'open' && !desired.has(id)) changes.push(await this.resolved(id, ws, at));
    }
    if (changes.length === 0) return [];
    await this.producer.send({
      topic: TOPICS.findings,
      messages: changes.map((f) => ({ key: f.id, value: encodeEvent(TOPICS.findings, f) })),
    });
    await this.graph.writeFindings(changes);
    this.log.info('findings changed', { workspace: workspaceId, opened: changes.filter((c) => c.state === 'open').length, resolved: changes.filter((c) => c.state === 'resolved').length });
    return changes;
  }

  private async resolved(id: string, ws: { id: string; org: string; team?: string }, at: string): Promise<FindingEvent> {
    const [, crate, version, kind] = id.split('|') as [string, string, string, string];
    const advisoryId = kind.replace(/^advisory:/, '');
    const [advisory] = (await this.graph.advisoriesFor([crate])).filter((a) => a.id === advisoryId);
    if (advisory) return advisoryFinding(ws, advisory, version, 'resolved', at);
    // The advisory itself was deleted: the finding is resolved with what the id tells.
    return {
      v: 1,
      id,
      kind: 'advisory',
      state: 'resolved',
      severity: 'info',
      score: 0,
      workspace: ws,
      crate,
      version,
      why: [{ signal: 'advisory.deleted', contribution: 0, detail: `${advisoryId} was removed from the advisory database` }],
      advisory: { id: advisoryId, title: '(removed from the advisory database)', patched: [], aliases: [] },
      observedAt: at,
    };
  }
}
