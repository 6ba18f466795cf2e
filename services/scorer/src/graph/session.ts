/**
 * The scorer's way into Neo4j: one transaction per call (`run`), each composing the query functions
 * of the files beside this one so that a handler commits once, and the schema they rely on.
 *
 * Versions are keyed by one `id` property (`name@version`, or with the source for a git fork; a
 * first-party path package is prefixed by its workspace, since two workspaces may each have their
 * own `utils@0.1.0`). One property because composite node keys are an Enterprise feature.
 */
import type { Driver, ManagedTransaction } from 'neo4j-driver';
import { NODE_KEYS } from '@cratewatch/shared';

/** A uniqueness constraint per node key (every write MERGEs on one), and the indexes reads look up by. */
export const SCHEMA = [
  // The node keys are the schema module's (shared graph-schema.ts), which the graph's readers import too.
  ...Object.entries(NODE_KEYS).map(
    ([label, key]) => `CREATE CONSTRAINT ${label.toLowerCase()}_${key} IF NOT EXISTS FOR (n:${label}) REQUIRE n.${key} IS UNIQUE`,
  ),
  'CREATE INDEX version_crate IF NOT EXISTS FOR (n:Version) ON (n.crate)',
  'CREATE INDEX audit_pool_crate IF NOT EXISTS FOR (n:Audit) ON (n.pool, n.crate)',
  'CREATE INDEX criteria_pool IF NOT EXISTS FOR (n:Criteria) ON (n.pool)',
  'CREATE INDEX advisory_package IF NOT EXISTS FOR (n:Advisory) ON (n.package)',
  'CREATE INDEX finding_workspace_kind IF NOT EXISTS FOR (n:Finding) ON (n.workspace, n.kind)',
  'CREATE INDEX finding_crate_kind IF NOT EXISTS FOR (n:Finding) ON (n.crate, n.kind)',
];

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

  /** One transaction: a handler composes several of the graph queries so it commits once. */
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
}
