/**
 * The ingest package's library surface: every source adapter, the HTTP client they share, the
 * workspace endpoint, the registry that builds the sources, and the `cratewatch.toml` loader and
 * runner (the CLI is `main.ts`).
 */
export { RustsecSource, type RustsecCheckpoint, type PollResult } from './sources/rustsec.js';
export {
  RustsecGitSource,
  readBlobs,
  type RustsecGitCheckpoint,
  type RustsecGitOptions,
  type GitPollResult,
  type GitFileState,
} from './sources/rustsec-git.js';
export { RustsecArchiveSource, unpackArchive, type ArchiveCheckpoint, type ArchivePollResult } from './sources/rustsec-archive.js';
export {
  WorkspaceSource,
  readWorkspaceFiles,
  workspaceChecksum,
  type WorkspaceRef,
  type WorkspaceCheckpoint,
  type WorkspaceFiles,
} from './sources/workspaces.js';
export { WorkspaceGitSource, readGitWorkspace, type GitWorkspaceRef } from './sources/workspace-git.js';
export { WorkspaceEndpoint, type EndpointOptions } from './endpoint.js';
export {
  MaintainersSource,
  refreshOnReleases,
  githubRepo,
  cadence,
  UpstreamFormatError,
  type MaintainersCheckpoint,
  type MaintainersOptions,
  type MaintainersPollResult,
  type RepoRef,
  type RepoSignals,
} from './sources/maintainers.js';
export {
  PoolsSource,
  poolRefs,
  parsePoolArg,
  diffPool,
  crateEntries,
  criteriaEntries,
  decodePoolBody,
  CARGO_VET_REGISTRY,
  CRITERIA_KEY,
  type PoolRef,
  type PoolEntries,
  type PoolState,
  type PoolPollResult,
  type PoolsSourceOptions,
} from './sources/pools.js';
export {
  CratesIndexSource,
  CRATES_IO_SPARSE,
  indexPath,
  lockedCrates,
  parseIndexLine,
  parseIndexFile,
  releaseFromIndex,
  IndexLineError,
  type CratesIndexCheckpoint,
  type IndexPollResult,
  type IndexSourceOptions,
} from './sources/crates-io-index.js';
export { CratesFeedSource, CRATES_IO_API, parseSummary, type CratesFeedCheckpoint, type FeedItem } from './sources/crates-io-feed.js';
export { DumpBootstrap, type DumpCheckpoint, type DumpResult, type DumpOptions } from './sources/crates-io-dump.js';
export { generateDump, type GenOptions, type GenResult } from './sources/crates-io-dump-gen.js';
export {
  HttpClient,
  HttpError,
  parseRetryAfter,
  safeUrl,
  type GetOptions,
  type GetResult,
  type HttpClientOptions,
  type Validator,
} from './http.js';
export { loadConfig, parseConfig, endpointOnlyConfig, ConfigError, type IngestConfig, type WorkspaceConfig } from './config.js';
export { startConfigured, type RunOptions } from './config-run.js';
export {
  SOURCES,
  STATE_FILES,
  Checkpoints,
  type Source,
  type SourceContext,
  type RustsecSettings,
  type Tracked,
  type WorkspaceSources,
} from './registry.js';
