/**
 * The Neo4j side of the scorer: schema and idempotent writes. Every write is a MERGE over an UNWIND
 * batch keyed by a uniquely-constrained property, so replaying an event changes nothing.
 *
 * Versions are keyed by one `id` property (`name@version`, or with the source for a git fork; a
 * first-party path package is prefixed by its workspace, since two workspaces may each have their
 * own `utils@0.1.0`). One property because composite node keys are an Enterprise feature.
 */
import { createHash } from 'node:crypto';
import type { Driver, ManagedTransaction } from 'neo4j-driver';
import {
  CRATES_IO_SOURCES,
  TOPICS,
  encodeEvent,
  type Advisory,
  type VexDocument,
  type WorkspaceEvent,
  type FindingEvent,
} from '@cratewatch/shared';
import type { AuditRow, CriteriaSet, MaintainerRow, PoolCrateSet, Prop, ReleaseRow } from './facts.js';
import type { CrateFactsRow, LockedCrate } from './maintainer.js';
import type { AdvisoryFindingContext } from './advisory.js';
import type { RiskInput, RiskRow } from './risk.js';

/** The source given to Version nodes that a release or an audit creates (crates.io versions). */
export const CRATES_IO_SOURCE = 'registry+https://github.com/rust-lang/crates.io-index';

/** The hash of a workspace event as stored (`Workspace.event`). */
export const eventHash = (json: string): string => createHash('sha256').update(json).digest('hex');

export const SCHEMA = [
  'CREATE CONSTRAINT crate_name IF NOT EXISTS FOR (n:Crate) REQUIRE n.name IS UNIQUE',
  'CREATE CONSTRAINT version_id IF NOT EXISTS FOR (n:Version) REQUIRE n.id IS UNIQUE',
  'CREATE CONSTRAINT workspace_id IF NOT EXISTS FOR (n:Workspace) REQUIRE n.id IS UNIQUE',
  'CREATE CONSTRAINT advisory_id IF NOT EXISTS FOR (n:Advisory) REQUIRE n.id IS UNIQUE',
  'CREATE CONSTRAINT finding_id IF NOT EXISTS FOR (n:Finding) REQUIRE n.id IS UNIQUE',
  'CREATE CONSTRAINT pool_name IF NOT EXISTS FOR (n:Pool) REQUIRE n.name IS UNIQUE',
  'CREATE CONSTRAINT maintainer_login IF NOT EXISTS FOR (n:Maintainer) REQUIRE n.login IS UNIQUE',
  'CREATE CONSTRAINT repository_url IF NOT EXISTS FOR (n:Repository) REQUIRE n.url IS UNIQUE',
  'CREATE CONSTRAINT audit_id IF NOT EXISTS FOR (n:Audit) REQUIRE n.id IS UNIQUE',
  'CREATE CONSTRAINT criteria_id IF NOT EXISTS FOR (n:Criteria) REQUIRE n.id IS UNIQUE',
  'CREATE INDEX version_crate IF NOT EXISTS FOR (n:Version) ON (n.crate)',
  'CREATE INDEX audit_pool_crate IF NOT EXISTS FOR (n:Audit) ON (n.pool, n.crate)',
  'CREATE INDEX criteria_pool IF NOT EXISTS FOR (n:Criteria) ON (n.pool)',
  'CREATE INDEX advisory_package IF NOT EXISTS FOR (n:Advisory) ON (n.package)',
  'CREATE INDEX finding_workspace_kind IF NOT EXISTS FOR (n:Finding) ON (n.workspace, n.kind)',
  'CREATE INDEX finding_crate_kind IF NOT EXISTS FOR (n:Finding) ON (n.crate, n.kind)',
];

export interface LockedVersion {
  id: string;
  crate: string;
  version: string;
  source: string | null;
}

export interface AdvisoryLink {
  advisoryId: string;
  versionIds: string[];
}

/** A mark of work owed to a workspace (`Graph.markDue`). */
export type DueMark = 'riskDue' | 'coverageDue';
/** The property name of a mark: one of two literals, so it can be written into the query text. */
const prop = (what: DueMark): DueMark => (what === 'riskDue' ? 'riskDue' : 'coverageDue');

export interface StoredFinding {
  id: string;
  state: string;
  crate: string;
  version: string;
  severity: FindingEvent['severity'];
  score: number;
  why: FindingEvent['why'];
  vet?: FindingEvent['vet'];
  maintainer?: FindingEvent['maintainer'];
}

/** The fields every stored Finding has, from a row returning them under their own names. */
function storedFindingOf(rec: { get: (key: string) => unknown }): StoredFinding {
  return {
    id: rec.get('id') as string,
    state: rec.get('state') as string,
    crate: rec.get('crate') as string,
    version: rec.get('version') as string,
    severity: rec.get('severity') as FindingEvent['severity'],
    score: Number(rec.get('score')),
    why: JSON.parse((rec.get('why') as string | null) ?? '[]') as FindingEvent['why'],
  };
}

// A package from another source (a git fork) gets its source in the id even when its own lockfile
// has no crates.io twin (parseLockfile adds it only then): else a workspace locking `half@1.8.2` from
// git and another locking it from crates.io share one node, whose source is whichever came last.
export const versionNodeId = (workspaceId: string, p: { id: string; source?: string }): string =>
  p.source === undefined
    ? `${workspaceId}:${p.id}`
    : CRATES_IO_SOURCES.has(p.source) || p.id.endsWith(` (${p.source})`)
      ? p.id
      : `${p.id} (${p.source})`;

export class Graph {
  constructor(
    private readonly driver: Driver,
    private readonly database?: string,
    /** Told each transaction's duration and outcome (the scorer's metrics). */
    private readonly onTx?: (mode: 'read' | 'write', seconds: number, ok: boolean) => void,
  ) {}

  private session() {
    return this.driver.session({ database: this.database });
  }

  /** One transaction: a handler composes several of the queries below so it commits once. */
  async run<T>(mode: 'read' | 'write', fn: (tx: ManagedTransaction) => Promise<T>): Promise<T> {
    const s = this.session();
    const t0 = performance.now();
    let ok = false;
    try {
      const r = mode === 'write' ? await s.executeWrite(fn) : await s.executeRead(fn);
      ok = true;
      return r;
    } finally {
      this.onTx?.(mode, (performance.now() - t0) / 1000, ok);
      await s.close();
    }
  }

  async ensureSchema(): Promise<void> {
    for (const q of SCHEMA) await this.run('write', (tx) => tx.run(q));
  }

  /** Writes a workspace's locked packages and edges; drops LOCKS of versions it no longer locks. */
  static async upsertWorkspace(tx: ManagedTransaction, ev: WorkspaceEvent): Promise<LockedVersion[]> {
    const members = new Set(ev.members);
    const packages = ev.packages.map((p) => ({
      id: versionNodeId(ev.id, p),
      crate: p.name,
      version: p.version,
      source: p.source ?? null,
      checksum: p.checksum ?? null,
      firstParty: members.has(p.id) || p.source === undefined,
    }));
    const idOf = new Map(ev.packages.map((p) => [p.id, versionNodeId(ev.id, p)]));
    const edges = ev.edges.map((e) => ({ from: idOf.get(e.from), to: idOf.get(e.to), kind: e.kind })).filter((e) => e.from && e.to);
    // The event itself is kept: audit coverage is recomputed from it when a trusted pool changes
    // (and its hash, which tells a scorer whether the resolution it kept is of this event).
    const event = JSON.stringify(ev);
    // Its VEX documents also on their own (`vex`, JSON), read whenever an advisory changes.
    await tx.run(
      `MERGE (w:Workspace {id: $id}) SET w.org = $org, w.team = $team, w.checksum = $checksum, w.observedAt = $observedAt, w.event = $event, w.eventHash = $hash, w.vex = $vex`,
      {
        id: ev.id,
        org: ev.org,
        team: ev.team ?? null,
        checksum: ev.origin.checksum,
        observedAt: ev.observedAt,
        event,
        hash: eventHash(event),
        vex: ev.vex?.length ? JSON.stringify(ev.vex) : null,
      },
    );
    await tx.run(
      `MATCH (w:Workspace {id: $id})
       UNWIND $packages AS p
       MERGE (c:Crate {name: p.crate})
       MERGE (v:Version {id: p.id})
         SET v.crate = p.crate, v.version = p.version, v.source = p.source, v.checksum = p.checksum
       MERGE (c)-[:HAS_VERSION]->(v)
       MERGE (w)-[l:LOCKS]->(v) SET l.firstParty = p.firstParty`,
      { id: ev.id, packages },
    );
    await tx.run(`MATCH (w:Workspace {id: $id})-[l:LOCKS]->(v:Version) WHERE NOT v.id IN $ids DELETE l`, {
      id: ev.id,
      ids: packages.map((p) => p.id),
    });
    await tx.run(
      `UNWIND $edges AS e
       MATCH (a:Version {id: e.from}), (b:Version {id: e.to})
       MERGE (a)-[:DEPENDS_ON {kind: e.kind}]->(b)`,
      { edges },
    );
    return packages.map((p) => ({ id: p.id, crate: p.crate, version: p.version, source: p.source }));
  }

  static async upsertAdvisories(tx: ManagedTransaction, list: Advisory[]): Promise<void> {
    await tx.run(
      `UNWIND $rows AS r
       MERGE (a:Advisory {id: r.id})
       SET a.package = r.package, a.collection = r.collection, a.title = r.title, a.date = r.date,
           a.informational = r.informational, a.withdrawn = r.withdrawn, a.cvss = r.cvss,
           a.aliases = r.aliases, a.patched = r.patched, a.unaffected = r.unaffected, a.json = r.json`,
      {
        rows: list.map((a) => ({
          id: a.id,
          package: a.package,
          collection: a.collection,
          title: a.title,
          date: a.date,
          informational: a.informational ?? null,
          withdrawn: a.withdrawn ?? null,
          cvss: a.cvss ?? null,
          aliases: a.aliases,
          patched: a.versions.patched,
          unaffected: a.versions.unaffected,
          json: JSON.stringify(a),
        })),
      },
    );
  }

  /** Removes an advisory whose file was deleted; returns the workspaces it touched. */
  static async deleteAdvisory(tx: ManagedTransaction, id: string): Promise<string[]> {
    const r = await tx.run(
      `MATCH (a:Advisory {id: $id})
       OPTIONAL MATCH (a)-[:AFFECTS]->(:Version)<-[:LOCKS]-(w:Workspace)
       WITH a, collect(DISTINCT w.id) AS ws
       DETACH DELETE a
       RETURN ws`,
      { id },
    );
    return (r.records[0]?.get('ws') as string[] | undefined) ?? [];
  }

  static async advisoriesFor(tx: ManagedTransaction, crates: string[]): Promise<Advisory[]> {
    const r = await tx.run(`MATCH (a:Advisory) WHERE a.package IN $crates RETURN a.json AS json`, { crates });
    return r.records.map((rec) => JSON.parse(rec.get('json') as string) as Advisory);
  }

  /** Every version node of these crates (what some workspace locks or once locked). */
  static async versionsOf(tx: ManagedTransaction, crates: string[]): Promise<LockedVersion[]> {
    const r = await tx.run(
      `UNWIND $crates AS name
       MATCH (:Crate {name: name})-[:HAS_VERSION]->(v:Version)
       RETURN v.id AS id, v.crate AS crate, v.version AS version, v.source AS source`,
      { crates },
    );
    return r.records.map((rec) => rec.toObject() as LockedVersion);
  }

  /** Sets exactly which versions each advisory affects: removes stale AFFECTS edges, adds new ones. */
  static async setAffects(tx: ManagedTransaction, rows: { advisory: string; versions: string[] }[]): Promise<void> {
    await tx.run(
      `UNWIND $rows AS r
       MATCH (a:Advisory {id: r.advisory})-[e:AFFECTS]->(v:Version) WHERE NOT v.id IN r.versions DELETE e`,
      { rows },
    );
    await Graph.addAffects(
      tx,
      rows.flatMap((r) => r.versions.map((version) => ({ advisory: r.advisory, version }))),
    );
  }

  /** Adds AFFECTS edges (advisory id → version id) in one batch. */
  static async addAffects(tx: ManagedTransaction, pairs: { advisory: string; version: string }[]): Promise<void> {
    if (pairs.length === 0) return;
    await tx.run(`UNWIND $pairs AS p MATCH (a:Advisory {id: p.advisory}), (v:Version {id: p.version}) MERGE (a)-[:AFFECTS]->(v)`, {
      pairs,
    });
  }

  /** Workspaces that lock a version these advisories affect (their AFFECTS edges as they stand). */
  static async workspacesAffectedBy(tx: ManagedTransaction, advisories: string[]): Promise<string[]> {
    const r = await tx.run(
      `UNWIND $advisories AS id
       MATCH (:Advisory {id: id})-[:AFFECTS]->(:Version)<-[:LOCKS]-(w:Workspace)
       RETURN collect(DISTINCT w.id) AS ws`,
      { advisories },
    );
    return (r.records[0]?.get('ws') as string[] | undefined) ?? [];
  }

  /** Workspaces that lock any version of these crates. */
  static async workspacesLocking(tx: ManagedTransaction, crates: string[]): Promise<string[]> {
    const r = await tx.run(
      `UNWIND $crates AS name
       MATCH (:Crate {name: name})-[:HAS_VERSION]->(:Version)<-[:LOCKS]-(w:Workspace)
       RETURN collect(DISTINCT w.id) AS ws`,
      { crates },
    );
    return (r.records[0]?.get('ws') as string[] | undefined) ?? [];
  }

  /**
   * All the advisory findings of these workspaces need, read at once (a constant number of queries
   * however many workspaces an advisory reaches): per workspace, the (version, advisory) pairs it is
   * exposed to now (locked, affected, not withdrawn), its current findings (state, severity and score
   * as last sent, so a moved severity or score is seen) with the advisory each is about (null when
   * that advisory was deleted), and its VEX documents. Each advisory's JSON is read once.
   * `only`: the exposure to and findings of these advisories alone (an advisory's findings depend on it
   * alone, so one that changed is decided without reading the workspaces' hundred others).
   */
  static async advisoryFindingContexts(
    tx: ManagedTransaction,
    ids: string[],
    only?: string[],
  ): Promise<Map<string, AdvisoryFindingContext>> {
    const ws = await tx.run(
      `UNWIND $ids AS wid MATCH (w:Workspace {id: wid}) RETURN w.id AS id, w.org AS org, w.team AS team, w.vex AS vex`,
      { ids },
    );
    const exposure = await tx.run(
      `UNWIND $ids AS id
       MATCH (:Workspace {id: id})-[:LOCKS]->(v:Version)<-[:AFFECTS]-(a:Advisory)
       WHERE a.withdrawn IS NULL AND a.collection = 'crates'${only ? ' AND a.id IN $only' : ''}
       RETURN id, v.version AS version, a.id AS advisory`,
      { ids, only: only ?? [] },
    );
    const current = await tx.run(
      `UNWIND $ids AS ws
       MATCH (f:Finding {workspace: ws, kind: 'advisory'})${only ? ' WHERE f.advisory IN $only' : ''}
       RETURN ws, f.id AS id, f.state AS state, f.severity AS severity, f.score AS score, f.crate AS crate, f.version AS version, f.advisory AS advisoryId`,
      { ids, only: only ?? [] },
    );
    const wanted = [
      ...new Set([
        ...exposure.records.map((r) => r.get('advisory') as string),
        ...current.records.map((r) => r.get('advisoryId') as string),
      ]),
    ];
    const json = await tx.run(`UNWIND $ids AS id MATCH (a:Advisory {id: id}) RETURN a.id AS id, a.json AS json`, { ids: wanted });
    const advisories = new Map(json.records.map((r) => [r.get('id') as string, JSON.parse(r.get('json') as string) as Advisory]));
    const out = new Map<string, AdvisoryFindingContext>();
    for (const rec of ws.records) {
      const team = rec.get('team') as string | null;
      out.set(rec.get('id') as string, {
        workspace: { id: rec.get('id') as string, org: rec.get('org') as string, ...(team ? { team } : {}) },
        exposure: [],
        current: [],
        vex: rec.get('vex') ? (JSON.parse(rec.get('vex') as string) as VexDocument[]) : [],
      });
    }
    for (const r of exposure.records) {
      const a = advisories.get(r.get('advisory') as string);
      if (a) out.get(r.get('id') as string)?.exposure.push({ version: r.get('version') as string, advisory: a });
    }
    for (const r of current.records) {
      const id = r.get('id') as string;
      const advisoryId = r.get('advisoryId') as string;
      out.get(r.get('ws') as string)?.current.push({
        id,
        state: r.get('state') as string,
        severity: r.get('severity') as FindingEvent['severity'],
        score: Number(r.get('score')),
        // (a finding stored before `crate` was written: the crate its id names)
        crate: (r.get('crate') as string | null) ?? id.split('|')[1] ?? '',
        version: r.get('version') as string,
        advisoryId,
        advisory: advisories.get(advisoryId) ?? null,
      });
    }
    return out;
  }

  /**
   * Writes the Finding nodes of the events a transaction decided, each with its event appended to
   * `pendingEvents` (the outbox: sent and cleared after the commit by `takePendingEvents`; what a
   * crash leaves there is sent by whoever touches the workspace next, or at start). In id order, so
   * two transactions lock Finding nodes in one order and never wait on each other in a cycle.
   */
  static async writeFindings(tx: ManagedTransaction, findings: FindingEvent[]): Promise<void> {
    if (findings.length === 0) return;
    const sorted = [...findings].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const rows = sorted.map((f) => ({
      id: f.id,
      kind: f.kind,
      state: f.state,
      severity: f.severity,
      score: f.score,
      workspace: f.workspace.id,
      crate: f.crate,
      version: f.version,
      advisory: f.advisory?.id ?? null,
      vet: f.vet ? JSON.stringify(f.vet) : null,
      maintainer: f.maintainer ? JSON.stringify(f.maintainer) : null,
      why: JSON.stringify(f.why),
      observedAt: f.observedAt,
      event: encodeEvent(TOPICS.findings, f),
    }));
    await tx.run(
      `UNWIND $rows AS f
       MERGE (n:Finding {id: f.id})
         SET n.kind = f.kind, n.state = f.state, n.severity = f.severity, n.score = f.score,
             n.workspace = f.workspace, n.crate = f.crate, n.version = f.version,
             n.advisory = f.advisory, n.vet = f.vet, n.maintainer = f.maintainer, n.why = f.why, n.observedAt = f.observedAt,
             n.pendingEvents = coalesce(n.pendingEvents, []) + f.event
       WITH n, f
       MATCH (w:Workspace {id: f.workspace})
       SET w.riskDue = true
       MERGE (n)-[:IN]->(w)
       WITH n, f, w
       OPTIONAL MATCH (w)-[:LOCKS]->(v:Version {crate: f.crate, version: f.version})
       FOREACH (_ IN CASE WHEN v IS NULL THEN [] ELSE [1] END | MERGE (n)-[:ABOUT]->(v))`,
      { rows },
    );
  }

  // ---- several scorers: the workspace lock and the finding outbox ------------------------------

  /**
   * Takes the write lock of these Workspace nodes, held until the transaction ends (setting and
   * removing a property leaves the node as it was). Every transaction that decides a workspace's
   * findings or writes its risk takes it first and only then reads, so two scorers deciding for the
   * same workspace run one after the other and the second sees what the first wrote (Neo4j reads
   * the latest committed state). In id order: two transactions never wait on each other in a cycle.
   */
  static async lockWorkspaces(tx: ManagedTransaction, ids: string[]): Promise<void> {
    const sorted = [...new Set(ids)].sort();
    if (sorted.length) await tx.run(`UNWIND $ids AS id MATCH (w:Workspace {id: id}) SET w._lock = true REMOVE w._lock`, { ids: sorted });
  }

  /**
   * What is owed to these workspaces that a scorer may have left undone (it crashed, or stopped):
   * findings whose events are not sent yet, and the workspaces marked `riskDue`. Read at the end of
   * each deciding transaction, so the replay of a message a crashed scorer was handling finishes its
   * work on whichever scorer gets the partition.
   */
  static async owedWork(tx: ManagedTransaction, ids: string[]): Promise<{ pending: string[]; riskDue: string[] }> {
    if (ids.length === 0) return { pending: [], riskDue: [] };
    const r = await tx.run(
      `UNWIND $ids AS id
       MATCH (w:Workspace {id: id})
       RETURN [(f:Finding)-[:IN]->(w) WHERE f.pendingEvents IS NOT NULL | f.id] AS pending, w.riskDue = true AS due, w.id AS id`,
      { ids: [...new Set(ids)] },
    );
    return {
      pending: r.records.flatMap((rec) => rec.get('pending') as string[]),
      riskDue: r.records.filter((rec) => rec.get('due') === true).map((rec) => rec.get('id') as string),
    };
  }

  /** Every Finding with events not sent yet (at start: what a previous run left). */
  static async pendingFindings(tx: ManagedTransaction): Promise<string[]> {
    const r = await tx.run(`MATCH (f:Finding) WHERE f.pendingEvents IS NOT NULL RETURN f.id AS id ORDER BY id`);
    return r.records.map((rec) => rec.get('id') as string);
  }

  /**
   * Locks these Finding nodes (in id order, as `writeFindings` does) and returns the events still
   * pending on them, oldest first; `clearPendingEvents` in the same transaction, after the send,
   * empties them. Under the lock, two scorers (or a scorer and one starting) never both send the
   * same pending event, and events of one finding go out in the order they were decided.
   */
  static async takePendingEvents(tx: ManagedTransaction, ids: string[]): Promise<{ id: string; events: string[] }[]> {
    const sorted = [...new Set(ids)].sort();
    if (sorted.length === 0) return [];
    await tx.run(`UNWIND $ids AS id MATCH (f:Finding {id: id}) WHERE f.pendingEvents IS NOT NULL SET f._lock = true REMOVE f._lock`, {
      ids: sorted,
    });
    const r = await tx.run(
      `UNWIND $ids AS id MATCH (f:Finding {id: id}) WHERE f.pendingEvents IS NOT NULL RETURN f.id AS id, f.pendingEvents AS events`,
      { ids: sorted },
    );
    return r.records.map((rec) => ({ id: rec.get('id') as string, events: rec.get('events') as string[] }));
  }

  static async clearPendingEvents(tx: ManagedTransaction, ids: string[]): Promise<void> {
    if (ids.length) await tx.run(`UNWIND $ids AS id MATCH (f:Finding {id: id}) SET f.pendingEvents = null`, { ids });
  }

  /** The workspaces a maintainer recompute of these crates decides for: those locking them, and those with a maintainer finding on them. */
  static async maintainerScope(tx: ManagedTransaction, crates: string[]): Promise<string[]> {
    const r = await tx.run(
      `UNWIND $crates AS name MATCH (f:Finding {crate: name, kind: 'maintainer'}) RETURN collect(DISTINCT f.workspace) AS ws`,
      { crates },
    );
    return [...new Set([...(await Graph.workspacesLocking(tx, crates)), ...((r.records[0]?.get('ws') as string[] | undefined) ?? [])])];
  }

  // ---- risk --------------------------------------------------------------------------------------

  /**
   * Work owed to workspaces, kept on the Workspace node so that it survives a crash: `riskDue` (set
   * with the findings it follows from, in the same transaction) and `coverageDue` (set with the
   * trusted-pool facts it follows from). The scorer clears a mark in the transaction that writes
   * the work, and at start does whatever marks it finds.
   */
  static async markDue(tx: ManagedTransaction, what: DueMark, ids: string[]): Promise<void> {
    if (ids.length) await tx.run(`UNWIND $ids AS id MATCH (w:Workspace {id: id}) SET w.${prop(what)} = true`, { ids });
  }

  static async clearDue(tx: ManagedTransaction, what: DueMark, ids: string[]): Promise<void> {
    if (ids.length)
      await tx.run(`UNWIND $ids AS id MATCH (w:Workspace {id: id}) WHERE w.${prop(what)} = true SET w.${prop(what)} = null`, { ids });
  }

  static async dueWorkspaces(tx: ManagedTransaction, what: DueMark): Promise<string[]> {
    const r = await tx.run(`MATCH (w:Workspace) WHERE w.${prop(what)} = true RETURN w.id AS id ORDER BY id`);
    return r.records.map((rec) => rec.get('id') as string);
  }

  /**
   * One read for the risk of these workspaces (shared `workspaceRisk`): each one's open findings
   * (through their `IN` edge), the risk stored on it, and the LOCKS edges that carry a risk now.
   * A workspace not in the graph is left out.
   */
  static async riskInputs(tx: ManagedTransaction, ids: string[]): Promise<RiskInput[]> {
    if (ids.length === 0) return [];
    const r = await tx.run(
      `UNWIND $ids AS id
       MATCH (w:Workspace {id: id})
       RETURN w.id AS id, w.risk AS risk, w.riskSeverity AS severity, w.riskWhy AS why,
              [(f:Finding)-[:IN]->(w) WHERE f.state = 'open' | f {.kind, .state, .score, .severity, .crate, .version, .advisory, .vet, .why}] AS findings,
              [(w)-[l:LOCKS]->(v:Version) WHERE l.risk IS NOT NULL | {crate: v.crate, version: v.version, risk: l.risk, severity: l.riskSeverity, why: l.riskWhy}] AS edges`,
      { ids },
    );
    const num = (x: unknown) => (x === null || x === undefined ? null : Number(x));
    return r.records.map((rec) => ({
      workspace: rec.get('id') as string,
      stored: { risk: num(rec.get('risk')), severity: rec.get('severity') as string | null, why: rec.get('why') as string | null },
      findings: (rec.get('findings') as Record<string, unknown>[]).map((f) => ({
        kind: f.kind as string,
        state: f.state as string,
        score: Number(f.score),
        severity: f.severity as string | null,
        crate: f.crate as string,
        version: f.version as string,
        advisory: f.advisory as string | null,
        vet: f.vet ? (JSON.parse(f.vet as string) as NonNullable<FindingEvent['vet']>) : null,
        why: JSON.parse((f.why as string | null) ?? '[]') as FindingEvent['why'],
      })),
      edges: (rec.get('edges') as Record<string, unknown>[]).map((e) => ({
        crate: e.crate as string,
        version: e.version as string,
        risk: num(e.risk),
        severity: e.severity as string | null,
        why: e.why as string | null,
      })),
    }));
  }

  /**
   * Writes workspaces' risk (one UNWIND batch each step, in the caller's transaction): on the
   * Workspace `risk`, `riskSeverity`, `riskWhy` (JSON); on each LOCKS edge to a version with an
   * open finding the same three for that version; on the workspace's other LOCKS edges null.
   */
  static async writeRisk(tx: ManagedTransaction, rows: RiskRow[]): Promise<void> {
    if (rows.length === 0) return;
    await tx.run(`UNWIND $rows AS r MATCH (w:Workspace {id: r.id}) SET w.risk = r.risk, w.riskSeverity = r.severity, w.riskWhy = r.why`, {
      rows,
    });
    await tx.run(
      `UNWIND $rows AS r
       MATCH (w:Workspace {id: r.id})
       UNWIND r.cleared AS x
       MATCH (w)-[l:LOCKS]->(v:Version {crate: x.crate, version: x.version})
       SET l.risk = null, l.riskSeverity = null, l.riskWhy = null`,
      { rows },
    );
    await tx.run(
      `UNWIND $rows AS r
       MATCH (w:Workspace {id: r.id})
       UNWIND r.versions AS x
       MATCH (w)-[l:LOCKS]->(v:Version {crate: x.crate, version: x.version})
       SET l.risk = x.risk, l.riskSeverity = x.severity, l.riskWhy = x.why`,
      { rows },
    );
  }

  // ---- audit coverage ----------------------------------------------------------------------------

  /** The events these workspaces were last written from (coverage is recomputed from them), with their hash, by id. */
  static async workspaceEvents(tx: ManagedTransaction, ids: string[]): Promise<Map<string, { event: WorkspaceEvent; hash: string }>> {
    if (ids.length === 0) return new Map();
    const r = await tx.run(
      `UNWIND $ids AS wid MATCH (w:Workspace {id: wid}) WHERE w.event IS NOT NULL RETURN w.id AS id, w.event AS event`,
      { ids },
    );
    return new Map(
      r.records.map((rec) => {
        const json = rec.get('event') as string;
        return [rec.get('id') as string, { event: JSON.parse(json) as WorkspaceEvent, hash: eventHash(json) }];
      }),
    );
  }

  /** What tells whether a kept resolution is still the graph's: the event's hash and the last coverage write's stamp. */
  static async coverageStamps(
    tx: ManagedTransaction,
    ids: string[],
  ): Promise<Map<string, { eventHash: string | null; stamp: string | null }>> {
    const r = await tx.run(
      `UNWIND $ids AS wid MATCH (w:Workspace {id: wid}) RETURN w.id AS id, w.eventHash AS eventHash, w.coverageStamp AS stamp`,
      { ids },
    );
    return new Map(
      r.records.map((rec) => [
        rec.get('id') as string,
        { eventHash: rec.get('eventHash') as string | null, stamp: rec.get('stamp') as string | null },
      ]),
    );
  }

  /**
   * What trusted pools record for these crates: each entry as the pool wrote it (`table`, `entry`),
   * and each pool's criteria definitions with what they imply.
   */
  static async trustedPoolEntries(
    tx: ManagedTransaction,
    pools: string[],
    crates: string[],
  ): Promise<{
    entries: { pool: string; crate: string; table: string; entry: string }[];
    criteria: { pool: string; name: string; description: string | null; descriptionUrl: string | null; implies: string[] }[];
  }> {
    if (pools.length === 0) return { entries: [], criteria: [] };
    const e = await tx.run(
      `MATCH (a:Audit) WHERE a.pool IN $pools AND a.crate IN $crates AND a.entry IS NOT NULL
       RETURN a.pool AS pool, a.crate AS crate, a.table AS table, a.entry AS entry ORDER BY a.id`,
      { pools, crates },
    );
    const c = await tx.run(
      `MATCH (c:Criteria) WHERE c.pool IN $pools AND c.defined
       OPTIONAL MATCH (c)-[:IMPLIES]->(i:Criteria)
       RETURN c.pool AS pool, c.name AS name, c.description AS description, c.descriptionUrl AS descriptionUrl, collect(i.name) AS implies`,
      { pools },
    );
    return {
      entries: e.records.map((r) => r.toObject() as { pool: string; crate: string; table: string; entry: string }),
      criteria: c.records.map(
        (r) => r.toObject() as { pool: string; name: string; description: string | null; descriptionUrl: string | null; implies: string[] },
      ),
    };
  }

  /** Workspaces whose coverage a trusted pool's change can move: those locking these crates (all, for `null`). */
  static async workspacesForPoolChange(tx: ManagedTransaction, crates: string[] | null): Promise<string[]> {
    if (crates !== null) return Graph.workspacesLocking(tx, crates);
    const r = await tx.run(`MATCH (w:Workspace) RETURN collect(w.id) AS ws`);
    return (r.records[0]?.get('ws') as string[] | undefined) ?? [];
  }

  /**
   * Writes the coverage of several workspaces, in two queries: the LOCKS verdicts given, and each
   * Workspace's summary with the stamp of this write and the hash of the event it was resolved from.
   */
  static async writeCoverage(
    tx: ManagedTransaction,
    items: {
      workspace: string;
      rows: { id: string; vetted: string; needs: string[]; via: string[] }[];
      summary: Record<string, Prop>;
      stamp: string;
      eventHash: string;
    }[],
  ): Promise<void> {
    if (items.length === 0) return;
    await tx.run(
      `UNWIND $rows AS r
       MATCH (:Workspace {id: r.workspace})-[l:LOCKS]->(:Version {id: r.id})
       SET l.vetted = r.vetted, l.needs = r.needs, l.via = r.via`,
      { rows: items.flatMap((it) => it.rows.map((r) => ({ ...r, workspace: it.workspace }))) },
    );
    await tx.run(
      `UNWIND $items AS it MATCH (w:Workspace {id: it.id}) SET w += it.summary, w.coverageStamp = it.stamp, w.eventHash = it.eventHash`,
      {
        items: items.map((it) => ({ id: it.workspace, summary: it.summary, stamp: it.stamp, eventHash: it.eventHash })),
      },
    );
  }

  /**
   * These workspaces' unvetted findings as stored (to resolve one with what was said when it opened),
   * by workspace; with `crates`, only those on these crates.
   */
  static async unvettedFindings(tx: ManagedTransaction, ids: string[], crates?: string[]): Promise<Map<string, StoredFinding[]>> {
    const r = await tx.run(
      `UNWIND $ids AS ws
       MATCH (f:Finding {workspace: ws, kind: 'unvetted'}) ${crates ? 'WHERE f.crate IN $crates' : ''}
       RETURN ws, f.id AS id, f.state AS state, f.crate AS crate, f.version AS version, f.severity AS severity,
              f.score AS score, f.why AS why, f.vet AS vet`,
      { ids, crates: crates ?? null },
    );
    const out = new Map<string, StoredFinding[]>(ids.map((id) => [id, []]));
    for (const rec of r.records) {
      out.get(rec.get('ws') as string)?.push({
        ...storedFindingOf(rec),
        vet: rec.get('vet') ? (JSON.parse(rec.get('vet') as string) as NonNullable<FindingEvent['vet']>) : undefined,
      });
    }
    return out;
  }

  // ---- maintainer risk ---------------------------------------------------------------------------

  /**
   * The crates.io versions locked in a scope, with their workspace: one workspace's, or every
   * workspace's versions of some crates (what a maintainers or release event touches).
   */
  static async lockedCrates(
    tx: ManagedTransaction,
    scope: { workspace: string } | { crates: string[] },
    sources: string[],
  ): Promise<LockedCrate[]> {
    const r =
      'workspace' in scope
        ? await tx.run(
            `MATCH (w:Workspace {id: $id})-[l:LOCKS]->(v:Version) WHERE v.source IN $sources AND NOT coalesce(l.firstParty, false)
             RETURN w.id AS id, w.org AS org, w.team AS team, v.crate AS crate, v.version AS version`,
            { id: scope.workspace, sources },
          )
        : await tx.run(
            `UNWIND $crates AS name
             MATCH (:Crate {name: name})-[:HAS_VERSION]->(v:Version)<-[l:LOCKS]-(w:Workspace)
             WHERE v.source IN $sources AND NOT coalesce(l.firstParty, false)
             RETURN w.id AS id, w.org AS org, w.team AS team, v.crate AS crate, v.version AS version`,
            { crates: scope.crates, sources },
          );
    return r.records.map((rec) => {
      const team = rec.get('team') as string | null;
      return {
        workspace: { id: rec.get('id') as string, org: rec.get('org') as string, ...(team ? { team } : {}) },
        crate: rec.get('crate') as string,
        version: rec.get('version') as string,
      };
    });
  }

  /**
   * What the graph holds about these crates for maintainer risk: the maintainers source's
   * observation (owners, ownership change, repository and its signals) and the releases with a
   * publish time.
   */
  static async crateFacts(tx: ManagedTransaction, crates: string[]): Promise<CrateFactsRow[]> {
    if (crates.length === 0) return [];
    const r = await tx.run(
      `UNWIND $crates AS name
       MATCH (c:Crate {name: name})
       RETURN c.name AS crate, c.maintainersObservedAt AS observedAt,
              c.ownershipChange AS ownershipChange, c.ownershipChangeObservedAt AS ownershipChangeObservedAt,
              [(m:Maintainer)-[:OWNS]->(c) | m {.login, .kind}] AS owners,
              head([(c)-[:HOSTED_AT]->(p:Repository) | properties(p)]) AS repo,
              [(c)-[:HAS_VERSION]->(v:Version) WHERE v.publishedAt IS NOT NULL | v {.version, .publishedAt, .publisher, .yanked}] AS releases,
              c.maintainerDecided AS decided`,
      { crates },
    );
    return r.records.map((rec) => rec.toObject() as CrateFactsRow);
  }

  /** Records on each Crate the `maintainerDecisionStamp` every workspace locking it was just decided with. */
  static async markMaintainerDecided(tx: ManagedTransaction, rows: { crate: string; stamp: string }[]): Promise<void> {
    if (rows.length) await tx.run(`UNWIND $rows AS r MATCH (c:Crate {name: r.crate}) SET c.maintainerDecided = r.stamp`, { rows });
  }

  /** The maintainer findings stored for a scope (a workspace's, or every workspace's for some crates). */
  static async maintainerFindings(
    tx: ManagedTransaction,
    scope: { workspace: string } | { crates: string[] },
  ): Promise<(StoredFinding & { workspace: { id: string; org: string; team?: string } })[]> {
    const r = await tx.run(
      `${'workspace' in scope ? `MATCH (f:Finding {workspace: $id, kind: 'maintainer'})` : `UNWIND $crates AS name MATCH (f:Finding {crate: name, kind: 'maintainer'})`}
       MATCH (f)-[:IN]->(w:Workspace)
       RETURN f.id AS id, f.state AS state, f.crate AS crate, f.version AS version, f.severity AS severity,
              f.score AS score, f.why AS why, f.maintainer AS maintainer, w.id AS wid, w.org AS org, w.team AS team`,
      'workspace' in scope ? { id: scope.workspace } : { crates: scope.crates },
    );
    return r.records.map((rec) => {
      const team = rec.get('team') as string | null;
      return {
        ...storedFindingOf(rec),
        ...(rec.get('maintainer')
          ? { maintainer: JSON.parse(rec.get('maintainer') as string) as NonNullable<FindingEvent['maintainer']> }
          : {}),
        workspace: { id: rec.get('wid') as string, org: rec.get('org') as string, ...(team ? { team } : {}) },
      };
    });
  }

  // ---- audits.pool -------------------------------------------------------------------------------

  /**
   * Replaces each (pool, crate)'s audits with the given set: audits of that pair not in the set are
   * deleted, the others MERGEd by their content-derived id, and each linked to the version it
   * certifies (a full audit's version, a delta's target; the Version node is MERGEd so a workspace
   * that locks it later links up).
   */
  static async replacePoolCrates(tx: ManagedTransaction, sets: PoolCrateSet[]): Promise<void> {
    if (sets.length === 0) return;
    const pools = [...new Map(sets.map((s) => [s.pool, { name: s.pool, url: s.url }])).values()];
    await tx.run(`UNWIND $pools AS p MERGE (n:Pool {name: p.name}) SET n.url = CASE WHEN p.url = '' THEN n.url ELSE p.url END`, { pools });
    await tx.run(
      `UNWIND $groups AS g
       MATCH (a:Audit {pool: g.pool, crate: g.crate}) WHERE NOT a.id IN g.ids
       DETACH DELETE a`,
      { groups: sets.map((s) => ({ pool: s.pool, crate: s.crate, ids: s.audits.map((a) => a.id) })) },
    );
    const audits: AuditRow[] = sets.flatMap((s) => s.audits);
    if (audits.length === 0) return;
    await tx.run(
      `UNWIND $audits AS x
       MATCH (p:Pool {name: x.pool})
       MERGE (a:Audit {id: x.id})
       SET a += x.props
       MERGE (p)-[:PUBLISHED]->(a)`,
      { audits: audits.map((a) => ({ id: a.id, pool: a.props.pool, props: a.props })) },
    );
    const links = audits
      .filter((a) => a.certifies !== undefined)
      .map((a) => ({ audit: a.id, crate: a.props.crate, version: a.certifies! }));
    await Graph.dropStaleCertifies(tx, audits, links);
    await Graph.mergeVersions(
      tx,
      links.map((l) => ({ crate: l.crate, version: l.version })),
    );
    await tx.run(
      `UNWIND $links AS l
       MATCH (a:Audit {id: l.audit}), (v:Version {id: l.crate + '@' + l.version})
       MERGE (a)-[:CERTIFIES]->(v)`,
      { links },
    );
  }

  /**
   * Removes CERTIFIES edges of these audits that their rows no longer ask for. An Audit's id comes
   * from its entry, so this only happens when the reading of an entry changed: a git audit
   * (`0.1.5@git:<commit>`) was once written as certifying a Version `oneshot@0.1.5@git:<commit>`.
   * Such a Version, named by no release and locked by no workspace, is deleted with its AFFECTS.
   */
  private static async dropStaleCertifies(
    tx: ManagedTransaction,
    audits: AuditRow[],
    links: { audit: string; crate: string; version: string }[],
  ): Promise<void> {
    const wanted = new Map(links.map((l) => [l.audit, `${l.crate}@${l.version}`]));
    const rows = audits.map((a) => ({ audit: a.id, keep: wanted.get(a.id) ?? null }));
    const r = await tx.run(
      `UNWIND $rows AS r
       MATCH (:Audit {id: r.audit})-[c:CERTIFIES]->(v:Version) WHERE r.keep IS NULL OR v.id <> r.keep
       DELETE c
       RETURN collect(DISTINCT v.id) AS ids`,
      { rows },
    );
    const ids = (r.records[0]?.get('ids') as string[] | undefined) ?? [];
    if (ids.length === 0) return;
    await tx.run(
      `UNWIND $ids AS id
       MATCH (v:Version {id: id}) WHERE v.yanked IS NULL AND v.publishedAt IS NULL AND NOT (v)<-[:LOCKS]-() AND NOT (v)<-[:CERTIFIES]-()
       DETACH DELETE v`,
      { ids },
    );
  }

  /**
   * MERGEs crates.io Version nodes (id `name@version`) and their crate's HAS_VERSION edge; a node
   * that exists (say, locked by a workspace) keeps its properties and LOCKS.
   */
  static async mergeVersions(tx: ManagedTransaction, versions: { crate: string; version: string }[]): Promise<void> {
    if (versions.length === 0) return;
    await tx.run(
      `UNWIND $versions AS r
       MERGE (c:Crate {name: r.crate})
       MERGE (v:Version {id: r.crate + '@' + r.version})
         ON CREATE SET v.crate = r.crate, v.version = r.version, v.source = $source
       MERGE (c)-[:HAS_VERSION]->(v)`,
      { versions, source: CRATES_IO_SOURCE },
    );
  }

  /**
   * Replaces each pool's criteria definitions: `(Criteria {id: pool/name})-[:IMPLIES]->(Criteria)`.
   * A criterion only implied (a built-in such as safe-to-run) exists with `defined: false` while
   * something implies it; one no longer defined nor implied is deleted.
   */
  static async replaceCriteria(tx: ManagedTransaction, sets: CriteriaSet[]): Promise<void> {
    if (sets.length === 0) return;
    const pools = [...new Map(sets.map((s) => [s.pool, { name: s.pool, url: s.url }])).values()];
    await tx.run(`UNWIND $pools AS p MERGE (n:Pool {name: p.name}) SET n.url = CASE WHEN p.url = '' THEN n.url ELSE p.url END`, { pools });
    const idOf = (pool: string, name: string) => `${pool}/${name}`;
    const rows = sets.map((s) => ({
      pool: s.pool,
      ids: s.criteria.map((c) => idOf(s.pool, c.name)),
      pairs: s.criteria.flatMap((c) => c.implies.map((i) => `${idOf(s.pool, c.name)}>${idOf(s.pool, i)}`)),
    }));
    await tx.run(
      `UNWIND $rows AS r
       MATCH (a:Criteria {pool: r.pool})-[e:IMPLIES]->(b:Criteria) WHERE NOT (a.id + '>' + b.id) IN r.pairs
       DELETE e`,
      { rows },
    );
    const defs = sets.flatMap((s) =>
      s.criteria.map((c) => ({
        id: idOf(s.pool, c.name),
        pool: s.pool,
        name: c.name,
        description: c.description ?? null,
        descriptionUrl: c.descriptionUrl ?? null,
        aggregatedFrom: c.aggregatedFrom,
      })),
    );
    await tx.run(
      `UNWIND $defs AS d
       MERGE (c:Criteria {id: d.id})
       SET c.pool = d.pool, c.name = d.name, c.description = d.description, c.descriptionUrl = d.descriptionUrl,
           c.aggregatedFrom = d.aggregatedFrom, c.defined = true`,
      { defs },
    );
    const implies = sets.flatMap((s) =>
      s.criteria.flatMap((c) => c.implies.map((i) => ({ from: idOf(s.pool, c.name), to: idOf(s.pool, i), pool: s.pool, name: i }))),
    );
    await tx.run(
      `UNWIND $implies AS i
       MATCH (a:Criteria {id: i.from})
       MERGE (b:Criteria {id: i.to}) ON CREATE SET b.pool = i.pool, b.name = i.name, b.defined = false
       MERGE (a)-[:IMPLIES]->(b)`,
      { implies },
    );
    await tx.run(
      `UNWIND $rows AS r
       MATCH (c:Criteria {pool: r.pool}) WHERE NOT c.id IN r.ids
       SET c.defined = false
       WITH c WHERE NOT ()-[:IMPLIES]->(c)
       DETACH DELETE c`,
      { rows },
    );
  }

  // ---- maintainers.signals -----------------------------------------------------------------------

  /**
   * Replaces each crate's owners (`(Maintainer)-[:OWNS]->(Crate)`) and hosting
   * (`(Crate)-[:HOSTED_AT]->(Repository)`, the repository's signals as its properties). A maintainer
   * or repository left with no crate is deleted.
   */
  static async replaceMaintainers(tx: ManagedTransaction, rows: MaintainerRow[]): Promise<void> {
    if (rows.length === 0) return;
    const params = rows.map((r) => ({ ...r, logins: r.owners.map((o) => o.login) }));
    const dropped = await tx.run(
      `UNWIND $rows AS r
       MERGE (c:Crate {name: r.crate})
       SET c += r.crateProps
       WITH c, r
       OPTIONAL MATCH (m:Maintainer)-[o:OWNS]->(c) WHERE NOT m.login IN r.logins
       DELETE o
       RETURN collect(DISTINCT m.login) AS logins`,
      { rows: params },
    );
    await tx.run(
      `UNWIND $rows AS r
       MATCH (c:Crate {name: r.crate})
       UNWIND r.owners AS o
       MERGE (m:Maintainer {login: o.login})
       SET m.kind = o.kind
       MERGE (m)-[e:OWNS]->(c)
       SET e.since = o.since`,
      { rows: params },
    );
    await tx.run(`MATCH (m:Maintainer) WHERE m.login IN $logins AND NOT (m)-[:OWNS]->() DELETE m`, {
      logins: (dropped.records[0]?.get('logins') as string[] | undefined) ?? [],
    });
    const unhosted = await tx.run(
      `UNWIND $rows AS r
       MATCH (c:Crate {name: r.crate})-[h:HOSTED_AT]->(p:Repository) WHERE r.repo IS NULL OR p.url <> r.repo
       DELETE h
       RETURN collect(DISTINCT p.url) AS urls`,
      { rows: params },
    );
    await tx.run(
      `UNWIND $rows AS r
       WITH r WHERE r.repo IS NOT NULL
       MATCH (c:Crate {name: r.crate})
       MERGE (p:Repository {url: r.repo})
       SET p = r.repoProps
       MERGE (c)-[:HOSTED_AT]->(p)`,
      { rows: params },
    );
    await tx.run(`MATCH (p:Repository) WHERE p.url IN $urls AND NOT ()-[:HOSTED_AT]->(p) DELETE p`, {
      urls: (unhosted.records[0]?.get('urls') as string[] | undefined) ?? [],
    });
  }

  // ---- crates.releases ---------------------------------------------------------------------------

  /** Writes released versions (`(Crate)-[:HAS_VERSION]->(Version)`); LOCKS and DEPENDS_ON are untouched. */
  static async upsertReleases(tx: ManagedTransaction, rows: ReleaseRow[]): Promise<void> {
    if (rows.length === 0) return;
    await tx.run(
      `UNWIND $rows AS r
       MERGE (c:Crate {name: r.crate})
       MERGE (v:Version {id: r.crate + '@' + r.version})
         ON CREATE SET v.source = $source
       SET v.crate = r.crate, v.version = r.version, v.yanked = r.yanked,
           v.publishedAt = coalesce(r.publishedAt, v.publishedAt),
           v.checksum = coalesce(r.checksum, v.checksum),
           v.publisher = coalesce(r.publisher, v.publisher)
       MERGE (c)-[:HAS_VERSION]->(v)`,
      { rows, source: CRATES_IO_SOURCE },
    );
  }
}
