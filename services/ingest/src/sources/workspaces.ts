/**
 * Org workspace source: a `Cargo.lock` or, in a folder without one, a CycloneDX SBOM (with the
 * `supply-chain/` store, `cargo-metadata.json` and the VEX documents — OpenVEX `vex.json` /
 * `*.openvex.json`, CycloneDX `*.vex.json` / `*.vex.xml`, CSAF `*.csaf.json` — beside it) becomes one
 * `org.workspaces` event. Workspaces come from the command line, or from a watched
 * folder where each `<id>.lock` file or each `<id>/` folder with a Cargo.lock or an SBOM is one workspace.
 * An unchanged workspace (same content hash as in the checkpoint) is not sent again.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';
import type { Producer } from 'kafkajs';
import {
  FormatError,
  TOPICS,
  dlqTopic,
  encodeEvent,
  isSbomFileName,
  METADATA_FILE,
  parseVexFile,
  parseWorkspaceLock,
  readWorkspaceFolder,
  STORE_FILES,
  workspaceEvent,
  workspaceLockIn,
} from '@cratewatch/shared';
import { Checkpoint, type Logger, upstreamDlqValue } from '@cratewatch/runtime';

export interface WorkspaceRef {
  id: string;
  org: string;
  team?: string;
  /** A Cargo.lock file, or a folder holding one (and maybe `supply-chain/`). */
  path: string;
}

export interface WorkspaceCheckpoint {
  workspaces: Record<string, string>; // id -> content hash
  /** For workspaces read from a git repository: id -> the HEAD commit last read. */
  heads?: Record<string, string>;
}

/** A workspace's files as text, wherever they came from (disk, git, HTTP). */
export interface WorkspaceFiles {
  lockPath: string;
  lockText: string;
  store?: { config?: string; audits?: string; importsLock?: string };
  /** `cargo metadata --format-version 1 --all-features` output (JSON text), when the workspace ships it: edge kinds. */
  metadata?: string;
  /**
   * The workspace's VEX documents as text (`name`: the file name beside Cargo.lock, see
   * shared `isVexDocumentFileName`), sorted by name.
   */
  vex?: { name: string; text: string }[];
  /** The workspace's cargo-deny config (`name`: `deny.toml`, `.deny.toml` or `.cargo/deny.toml` beside the lockfile). */
  deny?: { name: string; text: string };
  checksum: string;
}

/** Beside Cargo.lock: `cargo metadata --format-version 1 --all-features > cargo-metadata.json` (as cargo-vet reads it). */
export { METADATA_FILE };

/**
 * The content hash of a workspace: Cargo.lock plus each store file, the metadata and the VEX files
 * present (a workspace without VEX hashes as it did before VEX was read).
 */
export function workspaceChecksum(
  lockText: string,
  store?: WorkspaceFiles['store'],
  metadata?: string,
  vex?: WorkspaceFiles['vex'],
  deny?: WorkspaceFiles['deny'],
): string {
  const hash = createHash('sha256').update(lockText);
  for (const [k, f] of Object.entries(STORE_FILES)) {
    const t = store?.[k as keyof typeof STORE_FILES];
    if (t !== undefined) hash.update(`\0${f}\0`).update(t);
  }
  if (metadata !== undefined) hash.update(`\0${METADATA_FILE}\0`).update(metadata);
  for (const v of sortVex(vex ?? [])) hash.update(`\0vex:${v.name}\0`).update(v.text);
  if (deny) hash.update(`\0deny:${deny.name}\0`).update(deny.text);
  return hash.digest('hex');
}

/** VEX files in name order (code-point order, not the locale's): ties between statements depend on it. */
export const sortVex = <T extends { name: string }>(files: T[]): T[] =>
  [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

/**
 * Reads a workspace from disk by the rules the CLI reads it by (shared `readWorkspaceFolder`): its
 * lockfile, its store and its cargo metadata when present, and a hash over all of it.
 */
export function readWorkspaceFiles(path: string): WorkspaceFiles {
  const { dir, lockPath, lockText, store, metadata: meta, vex: vexFiles, denyConfig } = readWorkspaceFolder(path);
  const metadata = meta?.text;
  const vex = sortVex(vexFiles.map((v) => ({ name: v.name, text: v.text })));
  // The first deny.toml cargo-deny would read, named as it stands in the folder (`.cargo/deny.toml`).
  const deny = denyConfig ? { name: relative(dir, denyConfig.path).split(sep).join('/'), text: denyConfig.text } : undefined;
  return {
    lockPath,
    lockText,
    ...(store ? { store } : {}),
    ...(metadata !== undefined ? { metadata } : {}),
    ...(vex.length ? { vex } : {}),
    ...(deny ? { deny } : {}),
    checksum: workspaceChecksum(lockText, store, metadata, vex, deny),
  };
}

/** A workspace folder's packages come from its `Cargo.lock`, else from its one CycloneDX SBOM (shared `workspaceLockIn`). */
export const lockSourceIn = workspaceLockIn;

export class WorkspaceSource {
  constructor(
    private readonly producer: Producer,
    private readonly checkpoint: Checkpoint<WorkspaceCheckpoint>,
    private readonly log: Logger,
  ) {}

  /** Produces the workspace if it changed since last sent. Returns whether an event was produced. */
  async submit(ref: WorkspaceRef): Promise<boolean> {
    return this.submitFiles(ref, readWorkspaceFiles(ref.path));
  }

  private queue: Promise<unknown> = Promise.resolve();

  /**
   * Produces a workspace given as text (from disk, git or HTTP) if its content changed. Calls are
   * serialized, so concurrent submissions never lose a checkpoint update. `head` (a git commit) is
   * recorded with it.
   */
  submitFiles(ref: Omit<WorkspaceRef, 'path'>, files: WorkspaceFiles, head?: string): Promise<boolean> {
    const run = this.queue.then(() => this.submitNow(ref, files, head));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async submitNow(ref: Omit<WorkspaceRef, 'path'>, files: WorkspaceFiles, head?: string): Promise<boolean> {
    const state = this.checkpoint.load();
    const remember = () => {
      state.workspaces[ref.id] = files.checksum;
      if (head) (state.heads ??= {})[ref.id] = head;
      this.checkpoint.save(state);
    };
    if (state.workspaces[ref.id] === files.checksum) {
      if (head && state.heads?.[ref.id] !== head) remember();
      return false;
    }
    let value: string;
    // A file beside the lockfile, named as the lockfile's path names it (folder, git commit, endpoint).
    const besideLock = (name: string) =>
      isSbomFileName(files.lockPath) ? join(dirname(files.lockPath), name) : `${files.lockPath.replace(/Cargo\.lock$/, '')}${name}`;
    try {
      const lock = parseWorkspaceLock(files.lockText, files.lockPath);
      const metadataFile = besideLock(METADATA_FILE);
      let metadata: unknown;
      if (files.metadata !== undefined) {
        try {
          metadata = JSON.parse(files.metadata);
        } catch (err) {
          throw new FormatError(metadataFile, `not JSON: ${(err as Error).message}`);
        }
      }
      // A bad VEX file refuses the whole event, as a bad Cargo.lock does: the last good event (with
      // the statements it had) stays the truth rather than a workspace whose suppressions vanished.
      const vex = sortVex(files.vex ?? []).map((v) => parseVexFile(v.text, besideLock(v.name)));
      value = encodeEvent(
        TOPICS.workspaces,
        workspaceEvent({
          id: ref.id,
          org: ref.org,
          ...(ref.team ? { team: ref.team } : {}),
          lock,
          ...(files.store ? { store: files.store } : {}),
          ...(metadata !== undefined ? { metadata, metadataFile } : {}),
          ...(vex.length ? { vex } : {}),
          ...(files.deny ? { deny: { file: besideLock(files.deny.name), text: files.deny.text } } : {}),
          origin: { path: files.lockPath, checksum: files.checksum },
          observedAt: new Date().toISOString(),
        }),
      );
    } catch (err) {
      if (!(err instanceof FormatError)) throw err;
      // The raw bytes of the file at fault, for whoever fixes it: a VEX file's own text, else the lockfile.
      const bad =
        files.vex?.find((v) => besideLock(v.name) === err.file) ??
        (files.deny && besideLock(files.deny.name) === err.file ? files.deny : undefined);
      this.log.warn('refused workspace', { upstream: 'workspace', workspace: ref.id, file: err.file, reason: err.message });
      await this.producer.send({
        topic: dlqTopic(TOPICS.workspaces),
        messages: [
          {
            key: ref.id,
            value: upstreamDlqValue({
              topic: TOPICS.workspaces,
              key: ref.id,
              value: bad ? bad.text : files.lockText,
              error: err.message,
              service: 'ingest/workspace',
            }),
          },
        ],
      });
      remember();
      return false;
    }
    await this.producer.send({ topic: TOPICS.workspaces, messages: [{ key: ref.id, value }] });
    remember();
    this.log.info('workspace sent', { workspace: ref.id, file: files.lockPath });
    return true;
  }

  /**
   * One poll of a watched folder: each workspace in it (see `discover`) that changed is produced,
   * one at a time, its checkpoint written once Kafka acknowledged it. When `signal` fires the poll
   * stops before the next workspace; the next poll sends what is still unsent (the checkpoint says
   * what is through), so a stop neither loses nor repeats a change. An unreadable workspace is
   * logged and the others go on.
   */
  async pollFolder(
    dir: string,
    org: string,
    team?: string,
    signal?: AbortSignal,
  ): Promise<{ sent: number; failed: number; complete: boolean }> {
    let sent = 0;
    let failed = 0;
    for (const ref of WorkspaceSource.discover(dir, org, team)) {
      if (signal?.aborted) return { sent, failed, complete: false };
      try {
        if (await this.submit(ref)) sent++;
      } catch (err) {
        failed++;
        this.log.error('workspace unreadable', { workspace: ref.id, error: err });
      }
    }
    return { sent, failed, complete: true };
  }

  /** Every workspace in a watched folder: `<id>.lock` files, and `<id>/` folders with a Cargo.lock or a CycloneDX SBOM. */
  static discover(dir: string, org: string, team?: string): WorkspaceRef[] {
    const refs: WorkspaceRef[] = [];
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.name.startsWith('.')) continue;
      const p = join(dir, e.name);
      if (e.isFile() && e.name.endsWith('.lock')) refs.push({ id: basename(e.name, '.lock'), org, ...(team ? { team } : {}), path: p });
      else if (e.isDirectory() && (existsSync(join(p, 'Cargo.lock')) || readdirSync(p).some(isSbomFileName)))
        refs.push({ id: e.name, org, ...(team ? { team } : {}), path: p });
    }
    return refs.sort((a, b) => a.id.localeCompare(b.id));
  }
}
