/**
 * The Neo4j side of the scorer: schema and idempotent writes. Every write is a MERGE over an UNWIND
 * batch keyed by a uniquely-constrained property, so replaying an event changes nothing.
 *
 * Versions are keyed by one `id` property (`name@version`, or with the source for a git fork; a
 * first-party path package is prefixed by its workspace, since two workspaces may each have their
 * own `utils@0.1.0`). One property because composite node keys are an Enterprise feature.
 */
import type { Driver, ManagedTransaction } from 'neo4j-driver';
import type { Advisory, WorkspaceEvent, FindingEvent } from '@cratewatch/shared';

export const SCHEMA = [
  'CREATE CONSTRAINT crate_name IF NOT EXISTS FOR (n:Crate) REQUIRE n.name IS UNIQUE',
  'CREATE CONSTRAINT version_id IF NOT EXISTS FOR (n:Version) REQUIRE n.id IS UNIQUE',
  'CREATE CONSTRAINT workspace_id IF NOT EXISTS FOR (n:Workspace) REQUIRE n.id IS UNIQUE',
  'CREATE CONSTRAINT advisory_id IF NOT EXISTS FOR (n:Advisory) REQUIRE n.id IS UNIQUE',
  'CREATE CONSTRAINT finding_id IF NOT EXISTS FOR (n:Finding) REQUIRE n.id IS UNIQUE',
  'CREATE CONSTRAINT pool_name IF NOT EXISTS FOR (n:Pool) REQUIRE n.name IS UNIQUE',
  'CREATE CONSTRAINT maintainer_login IF NOT EXISTS FOR (n:Maintainer) REQUIRE n.login IS UNIQUE',
  'CREATE CONSTRAINT repository_url IF NOT EXISTS FOR (n:Repository) REQUIRE n.url IS UNIQUE',
  'CREATE INDEX version_crate IF NOT EXISTS FOR (n:Version) ON (n.crate)',
  'CREATE INDEX advisory_package IF NOT EXISTS FOR (n:Advisory) ON (n.package)',
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

export const versionNodeId = (workspaceId: string, p: { id: string; source?: string }): string =>
  p.source === undefined ? `${workspaceId}:${p.id}` : p.id;

export class Graph {
  constructor(private readonly driver: Driver, private readonly database?: string) {}

  private session() {
    return this.driver.session({ database: this.database });
  }

  /** One transaction: a handler composes several of the queries below so it commits once. */
  async run<T>(mode: 'read' | 'write', fn: (tx: ManagedTransaction) => Promise<T>): Promise<T> {
    const s = this.session();
    try {
      return mode === 'write' ? await s.executeWrite(fn) : await s.executeRead(fn);
    } finally {
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
    await tx.run(
      `MERGE (w:Workspace {id: $id}) SET w.org = $org, w.team = $team, w.checksum = $checksum, w.observedAt = $observedAt`,
      { id: ev.id, org: ev.org, team: ev.team ?? null, checksum: ev.origin.checksum, observedAt: ev.observedAt },
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
    await Graph.addAffects(tx, rows.flatMap((r) => r.versions.map((version) => ({ advisory: r.advisory, version }))));
  }

  /** Adds AFFECTS edges (advisory id → version id) in one batch. */
  static async addAffects(tx: ManagedTransaction, pairs: { advisory: string; version: string }[]): Promise<void> {
    if (pairs.length === 0) return;
    await tx.run(
      `UNWIND $pairs AS p MATCH (a:Advisory {id: p.advisory}), (v:Version {id: p.version}) MERGE (a)-[:AFFECTS]->(v)`,
      { pairs },
    );
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
   * All a workspace's advisory findings need, read at once: the workspace, the (version, advisory)
   * pairs it is exposed to now (locked, affected, not withdrawn), and its current findings with the
   * advisory each is about (null when that advisory was deleted).
   */
  static async advisoryFindingContext(
    tx: ManagedTransaction,
    workspaceId: string,
  ): Promise<
    | {
        workspace: { id: string; org: string; team?: string };
        exposure: { version: string; advisory: Advisory }[];
        current: { id: string; state: string; version: string; advisory: Advisory | null; advisoryId: string }[];
      }
    | undefined
  > {
    const w = await tx.run(`MATCH (w:Workspace {id: $id}) RETURN w.org AS org, w.team AS team`, { id: workspaceId });
    const rec = w.records[0];
    if (!rec) return undefined;
    const team = rec.get('team') as string | null;
    const exposure = await tx.run(
      `MATCH (:Workspace {id: $id})-[:LOCKS]->(v:Version)<-[:AFFECTS]-(a:Advisory)
       WHERE a.withdrawn IS NULL AND a.collection = 'crates'
       RETURN v.version AS version, a.json AS json`,
      { id: workspaceId },
    );
    const current = await tx.run(
      `MATCH (f:Finding {workspace: $id, kind: 'advisory'})
       OPTIONAL MATCH (a:Advisory {id: f.advisory})
       RETURN f.id AS id, f.state AS state, f.version AS version, f.advisory AS advisoryId, a.json AS json`,
      { id: workspaceId },
    );
    return {
      workspace: { id: workspaceId, org: rec.get('org') as string, ...(team ? { team } : {}) },
      exposure: exposure.records.map((r) => ({ version: r.get('version') as string, advisory: JSON.parse(r.get('json') as string) as Advisory })),
      current: current.records.map((r) => ({
        id: r.get('id') as string,
        state: r.get('state') as string,
        version: r.get('version') as string,
        advisoryId: r.get('advisoryId') as string,
        advisory: r.get('json') ? (JSON.parse(r.get('json') as string) as Advisory) : null,
      })),
    };
  }

  static async writeFindings(tx: ManagedTransaction, findings: FindingEvent[]): Promise<void> {
    if (findings.length === 0) return;
    const rows = findings.map((f) => ({
      id: f.id,
      kind: f.kind,
      state: f.state,
      severity: f.severity,
      score: f.score,
      workspace: f.workspace.id,
      crate: f.crate,
      version: f.version,
      advisory: f.advisory?.id ?? null,
      why: JSON.stringify(f.why),
      observedAt: f.observedAt,
    }));
    await tx.run(
      `UNWIND $rows AS f
       MERGE (n:Finding {id: f.id})
         SET n.kind = f.kind, n.state = f.state, n.severity = f.severity, n.score = f.score,
             n.workspace = f.workspace, n.crate = f.crate, n.version = f.version,
             n.advisory = f.advisory, n.why = f.why, n.observedAt = f.observedAt
       WITH n, f
       MATCH (w:Workspace {id: f.workspace})
       MERGE (n)-[:IN]->(w)
       WITH n, f, w
       OPTIONAL MATCH (w)-[:LOCKS]->(v:Version {crate: f.crate, version: f.version})
       FOREACH (_ IN CASE WHEN v IS NULL THEN [] ELSE [1] END | MERGE (n)-[:ABOUT]->(v))`,
      { rows },
    );
  }
}
