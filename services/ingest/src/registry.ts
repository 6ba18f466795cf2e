/**
 * The ingest sources, in one place: the `Source` shape every polled source has, the checkpoint
 * files they keep in CRATEWATCH_STATE_DIR (named here only), and `SOURCES`, the registry that
 * builds each source from its settings. The command line (main.ts) and `cratewatch.toml`
 * (config-run.ts) both build their sources through it, so a source is wired once.
 */
import { join } from 'node:path';
import type { Producer } from 'kafkajs';
import { Checkpoint, type Logger } from '@cratewatch/runtime';
import type { HttpClient } from './http.js';
import { RustsecSource, type RustsecCheckpoint } from './sources/rustsec.js';
import { RustsecGitSource, type RustsecGitCheckpoint } from './sources/rustsec-git.js';
import { RustsecArchiveSource, type ArchiveCheckpoint } from './sources/rustsec-archive.js';
import { WorkspaceSource, type WorkspaceCheckpoint } from './sources/workspaces.js';
import { WorkspaceGitSource } from './sources/workspace-git.js';
import { MaintainersSource, type MaintainersCheckpoint, type MaintainersOptions } from './sources/maintainers.js';
import { PoolsSource, type PoolRef } from './sources/pools.js';
import { CratesIndexSource, type CratesIndexCheckpoint, type IndexSourceOptions } from './sources/crates-io-index.js';
import { CratesFeedSource, type CratesFeedCheckpoint } from './sources/crates-io-feed.js';
import { DumpBootstrap, type DumpCheckpoint } from './sources/crates-io-dump.js';

/** A source that polls: reads its upstream, produces what changed, and says what it did. */
export interface Source {
  /** Its name in logs and metrics (`ingest_polls_total{source}`). */
  readonly name: string;
  /** One poll; `signal` stops it between acknowledged batches (its checkpoint says where). */
  poll(signal: AbortSignal): Promise<unknown>;
}

/** The files and folders in the state directory, one per source (a folder: a clone, or a checkpoint per pool). */
export const STATE_FILES = {
  rustsec: 'rustsec.json',
  rustsecGit: 'rustsec-git.json',
  rustsecGitClone: 'rustsec-git',
  rustsecArchive: 'rustsec-archive.json',
  rustsecArchiveFiles: 'rustsec-archive-files.json',
  workspaces: 'workspaces.json',
  maintainers: 'maintainers.json',
  pools: 'pools',
  cratesIndex: 'crates-index.json',
  cratesFeed: 'crates-feed.json',
  cratesDump: 'crates-dump.json',
  cratesDumpDryRun: 'crates-dump-dry-run.json',
} as const;

/** Each source's checkpoint in `dir`, with the state it starts from. */
export class Checkpoints {
  constructor(readonly dir: string) {}
  path(name: keyof typeof STATE_FILES): string {
    return join(this.dir, STATE_FILES[name]);
  }
  rustsec = () => new Checkpoint<RustsecCheckpoint>(this.path('rustsec'), { files: {} });
  rustsecGit = () => new Checkpoint<RustsecGitCheckpoint>(this.path('rustsecGit'), { files: {} });
  rustsecArchive = () => new Checkpoint<ArchiveCheckpoint>(this.path('rustsecArchive'), {});
  rustsecArchiveFiles = () => new Checkpoint<RustsecCheckpoint>(this.path('rustsecArchiveFiles'), { files: {} });
  workspaces = () => new Checkpoint<WorkspaceCheckpoint>(this.path('workspaces'), { workspaces: {} });
  maintainers = () => new Checkpoint<MaintainersCheckpoint>(this.path('maintainers'), { crates: {} });
  cratesIndex = () => new Checkpoint<CratesIndexCheckpoint>(this.path('cratesIndex'), { crates: {} });
  cratesFeed = () => new Checkpoint<CratesFeedCheckpoint>(this.path('cratesFeed'), { seen: {} });
  cratesDump = (dryRun = false) =>
    new Checkpoint<DumpCheckpoint>(this.path(dryRun ? 'cratesDumpDryRun' : 'cratesDump'), { bucketsDone: 0, inBucket: 0 });
}

/** What building a source needs besides its settings. */
export interface SourceContext {
  producer: Producer;
  state: Checkpoints;
  /** The HTTP client, for the sources that read over HTTP (made on first use). */
  http: () => HttpClient;
  log: Logger;
}

/** The crate names a source follows, read again at each poll (a Cargo.lock may change). */
export type Tracked = () => string[] | Promise<string[]>;

/** The RustSec advisory database: a git clone, a .tar.gz archive, or a directory. */
export type RustsecSettings = ({ git: string; branch: string } | { archive: string } | { db: string }) & { batchSize?: number };

export interface WorkspaceSources {
  /** Reads a Cargo.lock (or a folder of them) from disk; also what the endpoint submits to. */
  files: WorkspaceSource;
  /** Reads a workspace at a git repository's HEAD; shares the files source's checkpoint. */
  git: WorkspaceGitSource;
}

function rustsec(s: RustsecSettings, c: SourceContext): Source {
  const batch = s.batchSize ? { batchSize: s.batchSize } : {};
  const src =
    'git' in s
      ? new RustsecGitSource(
          { url: s.git, branch: s.branch, repoDir: c.state.path('rustsecGitClone'), ...batch },
          c.producer,
          c.state.rustsecGit(),
          c.log,
        )
      : 'archive' in s
        ? new RustsecArchiveSource(s.archive, c.http(), c.producer, c.state.rustsecArchive(), c.state.rustsecArchiveFiles(), c.log, batch)
        : new RustsecSource(s.db, c.producer, c.state.rustsec(), c.log, batch);
  return { name: 'rustsec', poll: (signal) => src.poll(signal) };
}

function pools(refs: PoolRef[], c: SourceContext): Source & { readonly pools: PoolRef[] } {
  const src = new PoolsSource(refs, c.producer, c.http(), c.state.path('pools'), c.log);
  return { name: 'pools', pools: src.pools, poll: (signal) => src.poll(signal) };
}

function maintainers(
  s: { options: MaintainersOptions; tracked: Tracked },
  c: SourceContext,
): Source & { readonly upstream: MaintainersSource } {
  const src = new MaintainersSource(c.producer, c.http(), c.state.maintainers(), c.log, s.options);
  return { name: 'maintainers', upstream: src, poll: async (signal) => src.poll(await s.tracked(), signal) };
}

function cratesIndex(
  s: { options: IndexSourceOptions; tracked: Tracked },
  c: SourceContext,
): Source & { readonly index: CratesIndexSource } {
  const index = new CratesIndexSource(c.producer, c.http(), c.state.cratesIndex(), c.log, s.options);
  return { name: 'crates-index', index, poll: async (signal) => index.poll(await s.tracked(), signal) };
}

/** crates.io's updates feed, a trigger for index reads of the crates it lists that are followed (or all). */
function cratesFeed(s: { options: IndexSourceOptions; tracked: Tracked | 'all'; api?: string | undefined }, c: SourceContext): Source {
  const { index } = cratesIndex({ options: s.options, tracked: () => [] }, c);
  const feed = new CratesFeedSource(index, c.http(), c.state.cratesFeed(), c.log, s.api);
  const tracked = s.tracked;
  return {
    name: 'crates-feed',
    poll: async (signal) => feed.poll(tracked === 'all' ? 'all' : new Set((await tracked()).map((n) => n.toLowerCase())), signal),
  };
}

/** The crates.io database dump, read once (resumable); a dry run only counts, with its own checkpoint and no Kafka. */
function cratesDump(
  s: { dump: string; spill?: string | undefined; dryRun?: boolean },
  c: Omit<SourceContext, 'producer'> & { producer: Producer | null },
): Source {
  const boot = new DumpBootstrap(s.dryRun ? null : c.producer, c.state.cratesDump(s.dryRun), c.log);
  return { name: 'crates-dump', poll: () => boot.run(s.dump, s.spill ? { spillDir: s.spill } : {}) };
}

function workspaces(c: SourceContext): WorkspaceSources {
  const cp = c.state.workspaces();
  const files = new WorkspaceSource(c.producer, cp, c.log);
  return { files, git: new WorkspaceGitSource(files, cp) };
}

/** Every source, by the name its command and its `cratewatch.toml` table go by. */
export const SOURCES = {
  rustsec,
  pools,
  maintainers,
  'crates-index': cratesIndex,
  'crates-feed': cratesFeed,
  'crates-dump': cratesDump,
  workspaces,
} as const;
