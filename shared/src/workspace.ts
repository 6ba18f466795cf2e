/**
 * Turning an org's workspace (its Cargo.lock and, when present, its cargo-vet store) into the
 * `org.workspaces` event. Pure: the ingest service reads the files and hashes them.
 */
import type { WorkspaceEvent } from './events.js';
import { isFirstParty, type Lockfile } from './lockfile.js';

export interface WorkspaceInput {
  id: string;
  org: string;
  team?: string;
  lock: Lockfile;
  store?: { config?: string; audits?: string; importsLock?: string };
  origin: { path: string; checksum: string };
  observedAt: string;
}

/** Workspace ids become Kafka keys and graph keys: keep them to a readable, path-safe alphabet. */
export const WORKSPACE_ID = /^[A-Za-z0-9][A-Za-z0-9._\/-]{0,199}$/;

export function workspaceEvent(w: WorkspaceInput): WorkspaceEvent {
  if (!WORKSPACE_ID.test(w.id)) throw new Error(`workspace id "${w.id}" must match ${WORKSPACE_ID}`);
  return {
    v: 1,
    id: w.id,
    org: w.org,
    ...(w.team ? { team: w.team } : {}),
    packages: w.lock.packages.map((p) => ({
      id: p.id,
      name: p.name,
      version: p.version,
      ...(p.source ? { source: p.source } : {}),
      ...(p.checksum ? { checksum: p.checksum } : {}),
    })),
    // A lockfile does not say whether an edge is normal, build or dev.
    edges: w.lock.packages.flatMap((p) => p.dependencies.map((to) => ({ from: p.id, to, kind: 'unknown' as const }))),
    members: w.lock.packages.filter(isFirstParty).map((p) => p.id),
    ...(w.store ? { store: w.store } : {}),
    origin: w.origin,
    observedAt: w.observedAt,
  };
}
