/**
 * Running what `cratewatch.toml` names (config.ts reads it): each source built through the registry
 * (registry.ts) and polled on its interval, and the workspace endpoint when `[endpoint]` is set.
 */
import type { Kafka, Producer } from 'kafkajs';
import { EnvError, envListen, envString, logger, stateDir, type Env, type Listen, type Logger } from '@cratewatch/runtime';
import { HttpClient } from './http.js';
import { WorkspaceEndpoint } from './endpoint.js';
import { git } from './sources/rustsec-git.js';
import { readWorkspaceFiles } from './sources/workspaces.js';
import { readGitWorkspace } from './sources/workspace-git.js';
import { refreshOnReleases } from './sources/maintainers.js';
import { poolRefs } from './sources/pools.js';
import { lockedCrates } from './sources/crates-io-index.js';
import { Checkpoints, SOURCES, type RustsecSettings, type Source, type SourceContext, type WorkspaceSources } from './registry.js';
import type { IngestConfig } from './config.js';

export interface RunOptions {
  /** 'endpoint': only the workspace endpoint, no polled source. */
  only?: 'endpoint';
  /** Lets the maintainers source react to new releases at once (refreshOnReleases). */
  kafka?: Kafka;
  onPoll?: (source: string, ok: boolean) => void;
}

/** The polled sources' loops: each polls, logs, waits its interval (or until stopped), again. */
class Loops {
  readonly ac = new AbortController();
  readonly running: Promise<void>[] = [];
  constructor(private readonly onPoll?: (source: string, ok: boolean) => void) {}

  every(source: Source, seconds: number, name = source.name): void {
    const l = logger(`ingest/${name}`);
    const signal = this.ac.signal;
    const loop = async () => {
      while (!signal.aborted) {
        try {
          const result = await source.poll(signal);
          l.info(`${name} poll done`, { result });
          this.onPoll?.(name, true);
        } catch (err) {
          if (!signal.aborted) l.error('poll failed; will retry next interval', { error: err });
          if (!signal.aborted) this.onPoll?.(name, false);
        }
        await new Promise<void>((r) => {
          const t = setTimeout(r, seconds * 1000);
          signal.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
        });
      }
    };
    this.running.push(loop());
  }
}

/** The crates every configured workspace locks, plus `maintainers.crates`: what the index and maintainers sources follow. */
function trackedOf(cfg: IngestConfig, log: Logger): () => Promise<string[]> {
  return async () => {
    const names = new Set(cfg.maintainers.crates);
    for (const w of cfg.workspaces) {
      try {
        const files = w.git
          ? await readGitWorkspace(w.git, (await git(['rev-parse', 'HEAD^{commit}'], w.git)).trim(), w.subdir)
          : readWorkspaceFiles(w.path!);
        // Named by its path (repo@commit:path for git), so a refusal says which file to fix.
        for (const n of lockedCrates(files.lockText, files.lockPath)) names.add(n);
      } catch (err) {
        log.warn('workspace unreadable: its crates are not tracked this time', { workspace: w.id, error: err });
      }
    }
    return [...names].sort();
  };
}

function rustsecSettings(r: IngestConfig['rustsec']): RustsecSettings | undefined {
  if (r?.git) return { git: r.git, branch: r.branch };
  if (r?.archive) return { archive: r.archive };
  if (r?.db) return { db: r.db };
  return undefined;
}

/** Every configured workspace, read from disk or at its repository's HEAD, one poll for all. */
function workspacesSource(cfg: IngestConfig, ws: WorkspaceSources, log: Logger): Source {
  const poll = async (signal: AbortSignal) => {
    let sent = 0;
    for (const w of cfg.workspaces) {
      if (signal.aborted) break; // stopping: the rest is read on the next start
      try {
        const ref = { id: w.id, org: cfg.org, ...(w.team ? { team: w.team } : {}) };
        if (
          w.git
            ? await ws.git.poll({ ...ref, git: w.git, ...(w.subdir ? { subdir: w.subdir } : {}) }, signal)
            : await ws.files.submit({ ...ref, path: w.path! })
        )
          sent++;
      } catch (err) {
        log.error('workspace unreadable', { workspace: w.id, error: err });
      }
    }
    return { sent };
  };
  return { name: 'workspaces', poll };
}

/** Starts the polled sources the config names; returns what stops the extra listeners (new releases). */
async function startSources(
  cfg: IngestConfig,
  c: Omit<SourceContext, 'log'>,
  ws: WorkspaceSources,
  loops: Loops,
  log: Logger,
  kafka?: Kafka,
): Promise<(() => Promise<void>)[]> {
  const ctx = (name: string): SourceContext => ({ ...c, log: logger(`ingest/${name}`) });
  const rustsec = rustsecSettings(cfg.rustsec);
  if (rustsec) loops.every(SOURCES.rustsec(rustsec, ctx('rustsec')), cfg.intervals.rustsec);
  const pools = SOURCES.pools(
    poolRefs(
      Object.entries(cfg.pools.trusted).map(([n, u]) => `${n}=${u}`),
      cfg.pools.registry,
    ),
    ctx('pools'),
  );
  if (pools.pools.length) loops.every(pools, cfg.intervals.pools);
  if (cfg.workspaces.length) loops.every(workspacesSource(cfg, ws, log), cfg.intervals.workspaces);
  const follows = cfg.workspaces.length > 0 || cfg.maintainers.crates.length > 0;
  const tracked = trackedOf(cfg, log);
  if (cfg.crates.enabled && follows) {
    const options = { ...(cfg.crates.index ? { base: cfg.crates.index } : {}), followDeps: cfg.crates.followDeps };
    loops.every(SOURCES['crates-index']({ options, tracked }, ctx('crates-index')), cfg.intervals.crates);
  }
  if (!follows) return [];
  const m = cfg.maintainers;
  const options = {
    tokenEnv: cfg.credentials.githubTokenEnv,
    ...(m.cratesApi ? { cratesApi: m.cratesApi } : {}),
    ...(m.githubApi ? { githubApi: m.githubApi } : {}),
    ...(m.commits ? { commits: m.commits } : {}),
  };
  const maintainers = SOURCES.maintainers({ options, tracked }, ctx('maintainers'));
  loops.every(maintainers, cfg.intervals.maintainers);
  // And as soon as a tracked crate publishes a new release.
  return kafka ? [(await refreshOnReleases(kafka, maintainers.upstream, tracked, logger('ingest/maintainers'))).stop] : [];
}

/** CRATEWATCH_INGEST_LISTEN (HOST:PORT) overrides `[endpoint] listen`, e.g. 0.0.0.0:8420 in a container. */
function endpointListen(e: NonNullable<IngestConfig['endpoint']>, env: Env = process.env): Listen {
  const name = 'CRATEWATCH_INGEST_LISTEN';
  const override = envString(env, name);
  if (!override) return { host: e.host, port: e.port };
  const listen = envListen(env, name, override);
  if (!listen) throw new EnvError(name, 'HOST:PORT (the endpoint cannot be off)', override);
  return listen;
}

function endpointOf(cfg: IngestConfig, e: NonNullable<IngestConfig['endpoint']>, ws: WorkspaceSources): WorkspaceEndpoint {
  const teams: Record<string, string> = {};
  for (const w of cfg.workspaces) if (w.team) teams[w.id] = w.team;
  return new WorkspaceEndpoint(ws.files, logger('ingest/endpoint'), {
    ...endpointListen(e),
    maxBodyBytes: e.maxBodyBytes,
    tokenEnv: cfg.credentials.ingestTokenEnv,
    org: cfg.org,
    teams,
  });
}

/**
 * Starts every source the config names, each polling on its own interval until `stop()`:
 * RustSec (git, archive or directory), the audit pools (registry + trusted), each workspace (path or
 * git), the crates.io index and the maintainers of every crate the workspaces lock (plus
 * `maintainers.crates`), and the workspace endpoint when `[endpoint]` is set. A failed poll is
 * logged and retried at the next interval; the others go on.
 */
export async function startConfigured(
  cfg: IngestConfig,
  producer: Producer,
  log: Logger,
  opts: RunOptions = {},
): Promise<{ stop: () => Promise<void>; endpoint?: { url: string } }> {
  const http = new HttpClient({ onRetry: (r) => log.warn('retrying upstream', r) });
  const c = { producer, state: new Checkpoints(stateDir()), http: () => http };
  const ws = SOURCES.workspaces({ ...c, log: logger('ingest/workspace') });
  const loops = new Loops(opts.onPoll);
  const stops = opts.only ? [] : await startSources(cfg, c, ws, loops, log, opts.kafka);
  const endpoint = cfg.endpoint ? endpointOf(cfg, cfg.endpoint, ws) : undefined;
  const endpointUrl = endpoint ? { url: (await endpoint.listen()).url } : undefined;
  log.info('ready', { config: cfg.file, sources: loops.running.length, endpoint: endpointUrl?.url });
  return {
    ...(endpointUrl ? { endpoint: endpointUrl } : {}),
    stop: async () => {
      loops.ac.abort();
      for (const stop of stops) await stop();
      await Promise.all(loops.running);
      await endpoint?.close();
      await http.close();
    },
  };
}
