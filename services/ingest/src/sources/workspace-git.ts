/**
 * Org workspaces from a git repository path: `Cargo.lock`, `supply-chain/{config.toml,
 * audits.toml,imports.lock}`, `cargo-metadata.json` and the VEX files beside the Cargo.lock
 * (`vex.json`, `*.openvex.json`) are read at HEAD with `git cat-file` (the working tree is never
 * touched, uncommitted edits are not a change). When HEAD moved since the checkpoint, the files are
 * read again; an `org.workspaces` event goes out only when their content changed.
 */
import { readBlobs, git } from './rustsec-git.js';
import { isVexFileName } from '@cratewatch/shared';
import {
  METADATA_FILE,
  sortVex,
  workspaceChecksum,
  type WorkspaceFiles,
  type WorkspaceSource,
  type WorkspaceCheckpoint,
} from './workspaces.js';
import type { Checkpoint } from '@cratewatch/runtime';

export interface GitWorkspaceRef {
  id: string;
  org: string;
  team?: string;
  /** Path of a git repository (work tree or bare). */
  git: string;
  /** Folder of Cargo.lock inside the repository (default: its root). */
  subdir?: string;
}

const STORE = { config: 'config.toml', audits: 'audits.toml', importsLock: 'imports.lock' } as const;

/** Reads the workspace's files at a commit of a git repository. */
export async function readGitWorkspace(repo: string, commit: string, subdir = ''): Promise<WorkspaceFiles> {
  const dir = subdir.replace(/^\.?\/*|\/+$/g, '');
  const at = (p: string) => (dir ? `${dir}/${p}` : p);
  // The VEX files are found by name: list the folder's blobs at the commit (not recursive).
  const listing = await git(['ls-tree', '-z', commit, ...(dir ? ['--', `${dir}/`] : [])], repo);
  const vexNames = listing
    .split('\0')
    .map((l) => /^\d+ blob [0-9a-f]+\t(.+)$/.exec(l)?.[1])
    .map((p) => p?.slice(p.lastIndexOf('/') + 1))
    .filter((n): n is string => n !== undefined && isVexFileName(n));
  const specs = [at('Cargo.lock'), ...Object.values(STORE).map((f) => at(`supply-chain/${f}`)), at(METADATA_FILE), ...vexNames.map(at)].map(
    (p) => `${commit}:${p}`,
  );
  const blobs = await readBlobs(repo, specs);
  const lock = blobs.get(specs[0]!);
  if (!lock) throw new Error(`${repo}: no ${at('Cargo.lock')} at ${commit.slice(0, 12)}`);
  let store: WorkspaceFiles['store'];
  Object.keys(STORE).forEach((k, i) => {
    const b = blobs.get(specs[i + 1]!);
    if (b) (store ??= {})[k as keyof typeof STORE] = b.text;
  });
  const metadata = blobs.get(specs[1 + Object.keys(STORE).length]!)?.text;
  const vex = sortVex(
    vexNames.flatMap((name) => {
      const b = blobs.get(`${commit}:${at(name)}`);
      return b ? [{ name, text: b.text }] : [];
    }),
  );
  return {
    lockPath: `${repo}@${commit.slice(0, 12)}:${at('Cargo.lock')}`,
    lockText: lock.text,
    ...(store ? { store } : {}),
    ...(metadata !== undefined ? { metadata } : {}),
    ...(vex.length ? { vex } : {}),
    checksum: workspaceChecksum(lock.text, store, metadata, vex),
  };
}

export class WorkspaceGitSource {
  constructor(
    private readonly workspaces: WorkspaceSource,
    private readonly checkpoint: Checkpoint<WorkspaceCheckpoint>,
  ) {}

  /**
   * Re-reads the workspace if HEAD moved; returns whether an event was produced. A `signal` that
   * fires before the event is sent stops the poll with nothing sent and the checkpoint untouched
   * (the next poll reads HEAD again).
   */
  async poll(ref: GitWorkspaceRef, signal?: AbortSignal): Promise<boolean> {
    const head = (await git(['rev-parse', 'HEAD^{commit}'], ref.git)).trim();
    if (this.checkpoint.load().heads?.[ref.id] === head) return false;
    const files = await readGitWorkspace(ref.git, head, ref.subdir);
    if (signal?.aborted) return false;
    return this.workspaces.submitFiles({ id: ref.id, org: ref.org, ...(ref.team ? { team: ref.team } : {}) }, files, head);
  }
}
