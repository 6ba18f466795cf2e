#!/usr/bin/env node
/**
 * cratewatch ingest: source adapters that turn upstream changes into Kafka events.
 *
 *   cratewatch-ingest rustsec   (--db <advisory-db dir> | --git <url|path> [--branch main] | --archive <url of .tar.gz>) [--interval <s>]
 *   cratewatch-ingest maintainers (--crate NAME ... | --lockfile Cargo.lock) [--api URL] [--github-api URL] [--token-env NAME] [--interval <s>]
 *   cratewatch-ingest workspace-git --git <repo path> [--subdir DIR] --id <id> --org <org> [--team <team>] [--interval <s>]
 *   cratewatch-ingest endpoint  --org <org> [--listen HOST:PORT] [--token-env NAME]
 *   cratewatch-ingest run       --config cratewatch.toml
 *   cratewatch-ingest workspace --lockfile <Cargo.lock | dir> --id <id> --org <org> [--team <team>]
 *   cratewatch-ingest watch     --dir <folder> --org <org> [--team <team>] [--interval <s>]
 *   cratewatch-ingest pools     [--url NAME=URL ...] [--no-registry] [--interval <s>]
 *   cratewatch-ingest crates-index (--crate NAME ... | --lockfile Cargo.lock) [--deps] [--index URL] [--interval <s>]
 *   cratewatch-ingest crates-feed  (--crate NAME ... | --lockfile Cargo.lock | --all) [--api URL] [--index URL] [--interval <s>]
 *   cratewatch-ingest crates-dump  --dump db-dump.tar.gz [--dry-run] [--spill <dir>]
 *
 * Without --interval a source polls once and exits. Env: KAFKA_BROKERS, CRATEWATCH_STATE_DIR;
 * while a command runs on (run, endpoint, --interval): INGEST_HTTP_LISTEN (default 127.0.0.1:8423,
 * or off) serves /healthz, /readyz and /metrics, the last two with CRATEWATCH_OPS_TOKEN.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { Checkpoint, countProduced, ensureTopics, kafkaClient, logger, newProducer, onShutdown, stateDir, withAdmin } from '@cratewatch/runtime';
import { FormatError } from '@cratewatch/shared';
import { IngestMetrics, httpListenFromEnv } from './metrics.js';
import { RustsecSource, type RustsecCheckpoint } from './sources/rustsec.js';
import { WorkspaceSource, type WorkspaceCheckpoint } from './sources/workspaces.js';
import { PoolsSource, poolRefs } from './sources/pools.js';
import { HttpClient } from './http.js';
import { CratesIndexSource, lockedCrates, type CratesIndexCheckpoint } from './sources/crates-io-index.js';
import { CratesFeedSource, type CratesFeedCheckpoint } from './sources/crates-io-feed.js';
import { DumpBootstrap, type DumpCheckpoint } from './sources/crates-io-dump.js';
import { RustsecGitSource, type RustsecGitCheckpoint } from './sources/rustsec-git.js';
import { RustsecArchiveSource, type ArchiveCheckpoint } from './sources/rustsec-archive.js';
import { MaintainersSource, type MaintainersCheckpoint } from './sources/maintainers.js';
import { WorkspaceGitSource } from './sources/workspace-git.js';
import { ConfigError, endpointOnlyConfig, loadConfig, startConfigured, type IngestConfig } from './config.js';

const USAGE = `usage:
  cratewatch-ingest rustsec   (--db <advisory-db dir> | --git <url|path> [--branch main] | --archive <url of .tar.gz>) [--batch-size N] [--interval <seconds>]
  cratewatch-ingest maintainers (--crate NAME ... | --lockfile Cargo.lock) [--api URL] [--github-api URL] [--token-env NAME] [--interval <seconds>]
  cratewatch-ingest workspace-git --git <repo path> [--subdir DIR] --id <id> --org <org> [--team <team>] [--interval <seconds>]
  cratewatch-ingest endpoint  --org <org> [--listen HOST:PORT] [--token-env NAME]
  cratewatch-ingest run       --config cratewatch.toml
  cratewatch-ingest workspace --lockfile <Cargo.lock | dir> --id <id> --org <org> [--team <team>]
  cratewatch-ingest watch     --dir <folder> --org <org> [--team <team>] [--interval <seconds>]
  cratewatch-ingest pools     [--url NAME=URL ...] [--no-registry] [--interval <seconds>]
  cratewatch-ingest crates-index (--crate NAME ... | --lockfile Cargo.lock) [--deps] [--index URL] [--interval <seconds>]
  cratewatch-ingest crates-feed  (--crate NAME ... | --lockfile Cargo.lock | --all) [--api URL] [--index URL] [--interval <seconds>]
  cratewatch-ingest crates-dump  --dump db-dump.tar.gz [--dry-run] [--spill <dir>]`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({
    args: rest,
    options: {
      db: { type: 'string' },
      lockfile: { type: 'string' },
      dir: { type: 'string' },
      id: { type: 'string' },
      org: { type: 'string' },
      team: { type: 'string' },
      interval: { type: 'string' },
      url: { type: 'string', multiple: true },
      'no-registry': { type: 'boolean' },
      crate: { type: 'string', multiple: true },
      deps: { type: 'boolean' },
      index: { type: 'string' },
      api: { type: 'string' },
      all: { type: 'boolean' },
      dump: { type: 'string' },
      'dry-run': { type: 'boolean' },
      spill: { type: 'string' },
      git: { type: 'string' },
      branch: { type: 'string' },
      archive: { type: 'string' },
      'batch-size': { type: 'string' },
      'github-api': { type: 'string' },
      'token-env': { type: 'string' },
      subdir: { type: 'string' },
      listen: { type: 'string' },
      config: { type: 'string' },
    },
  });
  const need = (k: keyof typeof values): string => {
    const v = values[k];
    if (typeof v !== 'string' || v === '') throw new UsageError(`--${k} is required for \`${command}\``);
    return v;
  };
  const interval = values.interval ? Number(values.interval) * 1000 : undefined;
  if (interval !== undefined && !(interval > 0)) throw new UsageError('--interval takes a positive number of seconds');

  const log = logger(`ingest/${command}`);
  if (command === 'crates-dump' && values['dry-run']) {
    // Counts what the bootstrap would produce; needs no Kafka.
    const cp = new Checkpoint<DumpCheckpoint>(join(stateDir(), 'crates-dump-dry-run.json'), { bucketsDone: 0, inBucket: 0 });
    log.info('crates-dump dry run done', { ...(await new DumpBootstrap(null, cp, log).run(resolve(need('dump')), values.spill ? { spillDir: values.spill } : {})) });
    return 0;
  }
  // Long-running: every configured source on its interval (run), or only the workspace endpoint.
  const cfg: IngestConfig | undefined = command === 'run' ? loadConfig(resolve(need('config'))) : command === 'endpoint' ? endpointOnlyConfig(need('org'), values.listen, values['token-env']) : undefined;
  const kafka = kafkaClient(`cratewatch-ingest-${command}`);
  const metrics = new IngestMetrics();
  const producer = countProduced(newProducer(kafka), metrics.shared);
  // Parsed before anything starts: a bad INGEST_HTTP_LISTEN is a usage error, not a late crash.
  const listen = cfg || interval !== undefined ? httpListenFromEnv() : undefined;
  if (cfg) {
    await withAdmin(kafka, (a) => ensureTopics(a));
    await producer.connect();
    const running = await startConfigured(cfg, producer, log, command === 'endpoint' ? { only: 'endpoint' } : { kafka, onPoll: metrics.poll });
    const ops = await metrics.serve(listen, kafka, log);
    onShutdown(log, async () => {
      await ops?.close();
      await running.stop();
      await producer.disconnect();
    });
    return await new Promise<number>(() => {});
  }
  // Stops a long poll between acknowledged batches on SIGTERM/SIGINT (the checkpoint says where).
  const stopping = new AbortController();

  let pollOnce: () => Promise<unknown>;
  switch (command) {
    case 'rustsec': {
      if (values.git || values.archive) {
        for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => stopping.abort());
        if (values.git) {
          const git = /^[a-z][a-z0-9+.-]*:\/\//i.test(values.git) || /^[^/]+@[^:]+:/.test(values.git) ? values.git : resolve(values.git);
          const src = new RustsecGitSource({ url: git, branch: values.branch ?? 'main', repoDir: join(stateDir(), 'rustsec-git'), ...(values['batch-size'] ? { batchSize: Number(values['batch-size']) } : {}) }, producer, new Checkpoint<RustsecGitCheckpoint>(join(stateDir(), 'rustsec-git.json'), { files: {} }), log);
          pollOnce = async () => log.info('rustsec poll done', { ...(await src.poll(stopping.signal)) });
        } else {
          const http = new HttpClient({ onRetry: (r) => log.warn('retrying upstream', r) });
          const src = new RustsecArchiveSource(values.archive!, http, producer, new Checkpoint<ArchiveCheckpoint>(join(stateDir(), 'rustsec-archive.json'), {}), new Checkpoint<RustsecCheckpoint>(join(stateDir(), 'rustsec-archive-files.json'), { files: {} }), log, values['batch-size'] ? { batchSize: Number(values['batch-size']) } : {});
          pollOnce = async () => log.info('rustsec poll done', { ...(await src.poll(stopping.signal)) });
        }
        break;
      }
      const db = resolve(need('db'));
      for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => stopping.abort());
      const source = new RustsecSource(db, producer, new Checkpoint<RustsecCheckpoint>(join(stateDir(), 'rustsec.json'), { files: {} }), log, values['batch-size'] ? { batchSize: Number(values['batch-size']) } : {});
      pollOnce = async () => log.info('rustsec poll done', { db, ...(await source.poll(stopping.signal)) });
      break;
    }
    case 'maintainers': {
      const tracked = (): string[] => [...(values.crate ?? []), ...(values.lockfile ? lockedCrates(readFileSync(resolve(values.lockfile), 'utf8'), values.lockfile) : [])];
      if (!values.crate?.length && !values.lockfile) throw new UsageError('`maintainers` needs --crate or --lockfile');
      const http = new HttpClient({ onRetry: (r) => log.warn('retrying upstream', r) });
      const src = new MaintainersSource(producer, http, new Checkpoint<MaintainersCheckpoint>(join(stateDir(), 'maintainers.json'), { crates: {} }), log, {
        ...(values.api ? { cratesApi: values.api } : {}),
        ...(values['github-api'] ? { githubApi: values['github-api'] } : {}),
        ...(values['token-env'] ? { tokenEnv: values['token-env'] } : {}),
      });
      pollOnce = async () => src.poll(tracked());
      break;
    }
    case 'workspace-git': {
      const ref = { id: need('id'), org: need('org'), ...(values.team ? { team: values.team } : {}), git: resolve(need('git')), ...(values.subdir ? { subdir: values.subdir } : {}) };
      const cp = new Checkpoint<WorkspaceCheckpoint>(join(stateDir(), 'workspaces.json'), { workspaces: {} });
      const src = new WorkspaceGitSource(new WorkspaceSource(producer, cp, log), cp);
      for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => stopping.abort());
      pollOnce = async () => log.info('workspace-git done', { workspace: ref.id, sent: await src.poll(ref, stopping.signal) });
      break;
    }
    case 'workspace': {
      const ref = { id: need('id'), org: need('org'), ...(values.team ? { team: values.team } : {}), path: resolve(need('lockfile')) };
      const source = new WorkspaceSource(producer, new Checkpoint<WorkspaceCheckpoint>(join(stateDir(), 'workspaces.json'), { workspaces: {} }), log);
      pollOnce = async () => log.info('workspace done', { workspace: ref.id, sent: await source.submit(ref) });
      break;
    }
    case 'watch': {
      const dir = resolve(need('dir'));
      const org = need('org');
      const source = new WorkspaceSource(producer, new Checkpoint<WorkspaceCheckpoint>(join(stateDir(), 'workspaces.json'), { workspaces: {} }), log);
      for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => stopping.abort());
      pollOnce = async () => log.info('watch poll done', { dir, ...(await source.pollFolder(dir, org, values.team, stopping.signal)) });
      break;
    }
    case 'pools': {
      // cargo-vet's registry of public pools plus every --url NAME=URL (which overrides a registry name).
      const http = new HttpClient({ onRetry: (r) => log.warn('retrying upstream', r) });
      const source = new PoolsSource(poolRefs(values.url ?? [], !values['no-registry']), producer, http, join(stateDir(), 'pools'), log);
      pollOnce = async () => log.info('pools poll done', { pools: await source.poll() });
      break;
    }
    case 'crates-index':
    case 'crates-feed': {
      // Tracked crates: --crate names plus a Cargo.lock's crates.io packages (re-read each poll).
      const tracked = (): string[] => [...(values.crate ?? []), ...(values.lockfile ? lockedCrates(readFileSync(resolve(values.lockfile), 'utf8'), values.lockfile) : [])];
      if (!values.crate?.length && !values.lockfile && !(command === 'crates-feed' && values.all)) throw new UsageError(`\`${command}\` needs --crate or --lockfile${command === 'crates-feed' ? ' or --all' : ''}`);
      const http = new HttpClient({ onRetry: (r) => log.warn('retrying upstream', r) });
      const index = new CratesIndexSource(producer, http, new Checkpoint<CratesIndexCheckpoint>(join(stateDir(), 'crates-index.json'), { crates: {} }), log, {
        ...(values.index ? { base: values.index } : {}),
        followDeps: !!values.deps,
      });
      if (command === 'crates-index') {
        pollOnce = async () => log.info('crates-index poll done', { ...(await index.poll(tracked())) });
      } else {
        const feed = new CratesFeedSource(index, http, new Checkpoint<CratesFeedCheckpoint>(join(stateDir(), 'crates-feed.json'), { seen: {} }), log, values.api);
        pollOnce = async () => log.info('crates-feed poll done', { ...(await feed.poll(values.all ? 'all' : new Set(tracked().map((n) => n.toLowerCase())))) });
      }
      break;
    }
    case 'crates-dump': {
      // A one-shot bootstrap (resumable through its checkpoint); --interval makes no sense here.
      const dump = resolve(need('dump'));
      const boot = new DumpBootstrap(producer, new Checkpoint<DumpCheckpoint>(join(stateDir(), 'crates-dump.json'), { bucketsDone: 0, inBucket: 0 }), log);
      pollOnce = async () => log.info('crates-dump done', { dump, ...(await boot.run(dump, values.spill ? { spillDir: values.spill } : {})) });
      break;
    }
    default:
      throw new UsageError(command ? `unknown source "${command}"` : 'no source given');
  }

  await withAdmin(kafka, (a) => ensureTopics(a));
  await producer.connect();
  if (interval === undefined) {
    try {
      await pollOnce();
    } finally {
      await producer.disconnect();
    }
    return 0;
  }
  let timer: NodeJS.Timeout | undefined;
  let running = Promise.resolve();
  const tick = () => {
    running = pollOnce()
      .then(() => metrics.poll(command!, true))
      .catch((err) => {
        metrics.poll(command!, false);
        log.error('poll failed; will retry next interval', { error: err });
      })
      .then(() => {
        timer = setTimeout(tick, interval);
      });
  };
  const ops = await metrics.serve(listen, kafka, log);
  onShutdown(log, async () => {
    await ops?.close();
    clearTimeout(timer);
    await running;
    await producer.disconnect();
  });
  tick();
  return await new Promise<number>(() => {});
}

export class UsageError extends Error {}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      if (err instanceof ConfigError) {
        process.stderr.write(`cratewatch-ingest: ${err.message}\n`);
        process.exit(2);
      }
      if (err instanceof FormatError) {
        // A --lockfile that cannot be read (not TOML, a version that is not SemVer): say where, no stack.
        process.stderr.write(`cratewatch-ingest: ${err.message}\n`);
        process.exit(2);
      }
      if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
        process.stderr.write(`cratewatch-ingest: ${(err as Error).message}\n${USAGE}\n`);
        process.exit(2);
      }
      logger('ingest').error('ingest failed', { error: err });
      process.exit(1);
    },
  );
}
