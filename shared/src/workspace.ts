/**
 * Turning an org's workspace (its Cargo.lock and, when present, its cargo-vet store) into the
 * `org.workspaces` event. Pure: the ingest service reads the files and hashes them.
 */
import { denyFacts } from './deny/facts.js';
import { parseDenyConfig } from './deny/config.js';
import { denyPackages } from './deny/packages.js';
import type { VexDocument, WorkspaceEvent } from './events.js';
import { isFirstParty, type Lockfile } from './lockfile.js';
import { graphForLockfile } from './vet/graph.js';

export interface WorkspaceInput {
  id: string;
  org: string;
  team?: string;
  lock: Lockfile;
  store?: { config?: string; audits?: string; importsLock?: string };
  /**
   * `cargo metadata --format-version 1 --all-features` output, parsed, when the workspace ships it: it gives each
   * edge its kind (normal, build, dev), which a Cargo.lock does not. `metadataFile` names it in errors.
   */
  metadata?: unknown;
  metadataFile?: string;
  /**
   * The workspace's OpenVEX documents, read with `parseVexDocument` (ingest reads `vex.json` and
   * `*.openvex.json` beside the Cargo.lock), in file-name order: the order breaks ties between
   * statements of the same instant, so it must not depend on how the files were listed.
   */
  vex?: VexDocument[];
  /**
   * The workspace's deny.toml as text (`file`: its name beside the lockfile). Checked here (a bad
   * value is a `FormatError` naming line and key) and sent with the crates its checks judge.
   */
  deny?: { file: string; text: string };
  origin: { path: string; checksum: string };
  observedAt: string;
}

/** Workspace ids become Kafka keys and graph keys: keep them to a readable, path-safe alphabet. */
export const WORKSPACE_ID = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$/;

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
    ...edgesAndMembers(w),
    ...(w.store ? { store: w.store } : {}),
    ...(w.vex?.length ? { vex: w.vex } : {}),
    ...(w.deny ? { deny: denyOf(w, w.deny) } : {}),
    origin: w.origin,
    observedAt: w.observedAt,
  };
}

/**
 * The resolved edges and the first-party members. From `cargo metadata` when given — one edge per
 * kind, so a crate that is both a normal and a dev dependency has both — else from the lockfile,
 * where every edge is of unknown kind. The metadata must describe the same packages as the lockfile.
 */
function edgesAndMembers(w: WorkspaceInput): Pick<WorkspaceEvent, 'edges' | 'members'> {
  if (w.metadata === undefined) {
    return {
      edges: w.lock.packages.flatMap((p) => p.dependencies.map((to) => ({ from: p.id, to, kind: 'unknown' as const }))),
      members: w.lock.packages.filter(isFirstParty).map((p) => p.id),
    };
  }
  const graph = graphForLockfile(w.lock, w.metadata, w.metadataFile ?? 'cargo metadata', w.origin.path);
  const edges: WorkspaceEvent['edges'] = [];
  for (const n of graph.nodes.values()) for (const d of n.deps) for (const kind of d.kinds) edges.push({ from: n.id, to: d.to, kind });
  return { edges, members: [...graph.nodes.values()].filter((n) => n.workspaceMember).map((n) => n.id) };
}

/** The event's `deny`: the config (refused here when it does not read), and the crates judged with cargo metadata's facts. */
function denyOf(w: WorkspaceInput, config: { file: string; text: string }): NonNullable<WorkspaceEvent['deny']> {
  parseDenyConfig(config.text, config.file);
  const meta =
    w.metadata !== undefined ? { value: w.metadata, file: w.metadataFile ?? 'cargo metadata', lockPath: w.origin.path } : undefined;
  return denyFacts(config, denyPackages(w.lock, meta));
}
