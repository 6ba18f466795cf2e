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
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import type { Kafka, Producer } from 'kafkajs';
import {
  countProduced,
  ensureTopics,
  kafkaClient,
  logger,
  newProducer,
  onShutdown,
  stateDir,
  withAdmin,
  type Logger,
} from '@cratewatch/runtime';
import { FormatError } from '@cratewatch/shared';
import { IngestMetrics, httpListenFromEnv } from './metrics.js';
import { poolRefs } from './sources/pools.js';
import { HttpClient } from './http.js';
import { lockedCrates } from './sources/crates-io-index.js';
import { Checkpoints, SOURCES, type RustsecSettings, type SourceContext } from './registry.js';
import { ConfigError, endpointOnlyConfig, loadConfig, type IngestConfig } from './config.js';
import { startConfigured } from './config-run.js';

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

const OPTIONS = {
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
} as const;

type Values = ReturnType<typeof parseArgs<{ args: string[]; options: typeof OPTIONS }>>['values'];

/** One command line: its flags, and what its sources are built with. */
interface Cli {
  command: string;
  values: Values;
  /** A flag the command cannot do without. */
  need(k: keyof Values): string;
  ctx: SourceContext;
  /** Aborted on SIGTERM/SIGINT for the sources that stop between acknowledged batches (`stopOnSignal`). */
  stopping: AbortController;
  log: Logger;
}

/** What a command does at each poll (and logs after it). */
type Job = () => Promise<unknown>;

/** Stops a long poll between acknowledged batches on SIGTERM/SIGINT (the checkpoint says where). */
function stopOnSignal(cli: Cli): void {
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => cli.stopping.abort());
}

/** --crate names plus a Cargo.lock's crates.io packages (the file is read again at each poll). */
const trackedCrates = (v: Values) => (): string[] => [
  ...(v.crate ?? []),
  ...(v.lockfile ? lockedCrates(readFileSync(resolve(v.lockfile), 'utf8'), v.lockfile) : []),
];

const batchOf = (v: Values) => (v['batch-size'] ? { batchSize: Number(v['batch-size']) } : {});

function rustsecJob(cli: Cli): Job {
  const v = cli.values;
  const git = v.git && (/^[a-z][a-z0-9+.-]*:\/\//i.test(v.git) || /^[^/]+@[^:]+:/.test(v.git) ? v.git : resolve(v.git));
  const settings: RustsecSettings = git
    ? { git, branch: v.branch ?? 'main', ...batchOf(v) }
    : v.archive
      ? { archive: v.archive, ...batchOf(v) }
      : { db: resolve(cli.need('db')), ...batchOf(v) };
  stopOnSignal(cli);
  const src = SOURCES.rustsec(settings, cli.ctx);
  return async () =>
    cli.log.info('rustsec poll done', {
      ...('db' in settings ? { db: settings.db } : {}),
      ...((await src.poll(cli.stopping.signal)) as object),
    });
}

function maintainersJob(cli: Cli): Job {
  const v = cli.values;
  if (!v.crate?.length && !v.lockfile) throw new UsageError('`maintainers` needs --crate or --lockfile');
  const options = {
    ...(v.api ? { cratesApi: v.api } : {}),
    ...(v['github-api'] ? { githubApi: v['github-api'] } : {}),
    ...(v['token-env'] ? { tokenEnv: v['token-env'] } : {}),
  };
  const src = SOURCES.maintainers({ options, tracked: trackedCrates(v) }, cli.ctx);
  return () => src.poll(cli.stopping.signal);
}

function workspaceGitJob(cli: Cli): Job {
  const { values: v, need } = cli;
  const ref = {
    id: need('id'),
    org: need('org'),
    ...(v.team ? { team: v.team } : {}),
    git: resolve(need('git')),
    ...(v.subdir ? { subdir: v.subdir } : {}),
  };
  const ws = SOURCES.workspaces(cli.ctx);
  stopOnSignal(cli);
  return async () => cli.log.info('workspace-git done', { workspace: ref.id, sent: await ws.git.poll(ref, cli.stopping.signal) });
}

function workspaceJob(cli: Cli): Job {
  const { values: v, need } = cli;
  const ref = { id: need('id'), org: need('org'), ...(v.team ? { team: v.team } : {}), path: resolve(need('lockfile')) };
  const ws = SOURCES.workspaces(cli.ctx);
  return async () => cli.log.info('workspace done', { workspace: ref.id, sent: await ws.files.submit(ref) });
}

function watchJob(cli: Cli): Job {
  const dir = resolve(cli.need('dir'));
  const org = cli.need('org');
  const ws = SOURCES.workspaces(cli.ctx);
  stopOnSignal(cli);
  return async () =>
    cli.log.info('watch poll done', { dir, ...(await ws.files.pollFolder(dir, org, cli.values.team, cli.stopping.signal)) });
}

function poolsJob(cli: Cli): Job {
  // cargo-vet's registry of public pools plus every --url NAME=URL (which overrides a registry name).
  const src = SOURCES.pools(poolRefs(cli.values.url ?? [], !cli.values['no-registry']), cli.ctx);
  return async () => cli.log.info('pools poll done', { pools: await src.poll(cli.stopping.signal) });
}

function cratesJob(cli: Cli): Job {
  const { command, values: v } = cli;
  const feed = command === 'crates-feed';
  if (!v.crate?.length && !v.lockfile && !(feed && v.all))
    throw new UsageError(`\`${command}\` needs --crate or --lockfile${feed ? ' or --all' : ''}`);
  const options = { ...(v.index ? { base: v.index } : {}), followDeps: !!v.deps };
  const src = feed
    ? SOURCES['crates-feed']({ options, tracked: v.all ? 'all' : trackedCrates(v), api: v.api }, cli.ctx)
    : SOURCES['crates-index']({ options, tracked: trackedCrates(v) }, cli.ctx);
  return async () => cli.log.info(`${command} poll done`, { ...((await src.poll(cli.stopping.signal)) as object) });
}

function cratesDumpJob(cli: Cli): Job {
  // A one-shot bootstrap (resumable through its checkpoint); --interval makes no sense here.
  const dump = resolve(cli.need('dump'));
  const src = SOURCES['crates-dump']({ dump, spill: cli.values.spill }, cli.ctx);
  return async () => cli.log.info('crates-dump done', { dump, ...((await src.poll(cli.stopping.signal)) as object) });
}

/** The commands that poll a source (`run` and `endpoint` start what a config names instead). */
const COMMANDS = new Map<string, (cli: Cli) => Job>([
  ['rustsec', rustsecJob],
  ['maintainers', maintainersJob],
  ['workspace-git', workspaceGitJob],
  ['workspace', workspaceJob],
  ['watch', watchJob],
  ['pools', poolsJob],
  ['crates-index', cratesJob],
  ['crates-feed', cratesJob],
  ['crates-dump', cratesDumpJob],
]);

/** Memoised: one HTTP client per command, made only by the sources that need it. */
function httpFor(log: Logger): () => HttpClient {
  let http: HttpClient | undefined;
  return () => (http ??= new HttpClient({ onRetry: (r) => log.warn('retrying upstream', r) }));
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const { values } = parseArgs({ args: rest, options: OPTIONS });
  const need = (k: keyof Values): string => {
    const v = values[k];
    if (typeof v !== 'string' || v === '') throw new UsageError(`--${k} is required for \`${command}\``);
    return v;
  };
  const interval = values.interval ? Number(values.interval) * 1000 : undefined;
  if (interval !== undefined && !(interval > 0)) throw new UsageError('--interval takes a positive number of seconds');

  const log = logger(`ingest/${command}`);
  const state = new Checkpoints(stateDir());
  if (command === 'crates-dump' && values['dry-run']) {
    // Counts what the bootstrap would produce; needs no Kafka.
    const dry = SOURCES['crates-dump'](
      { dump: resolve(need('dump')), spill: values.spill, dryRun: true },
      { producer: null, state, http: httpFor(log), log },
    );
    log.info('crates-dump dry run done', { ...((await dry.poll(new AbortController().signal)) as object) });
    return 0;
  }
  // Long-running: every configured source on its interval (run), or only the workspace endpoint.
  const cfg: IngestConfig | undefined =
    command === 'run'
      ? loadConfig(resolve(need('config')))
      : command === 'endpoint'
        ? endpointOnlyConfig(need('org'), values.listen, values['token-env'])
        : undefined;
  const kafka = kafkaClient(`cratewatch-ingest-${command}`);
  const metrics = new IngestMetrics();
  const producer = countProduced(newProducer(kafka), metrics.shared);
  // Parsed before anything starts: a bad INGEST_HTTP_LISTEN is a usage error, not a late crash.
  const listen = cfg || interval !== undefined ? httpListenFromEnv() : undefined;
  const running: Running = { command: command!, kafka, producer, metrics, listen, log };
  if (cfg) return runConfig(running, cfg);

  const build = command ? COMMANDS.get(command) : undefined;
  if (!build) throw new UsageError(command ? `unknown source "${command}"` : 'no source given');
  const job = build({
    command: command!,
    values,
    need,
    ctx: { producer, state, http: httpFor(log), log },
    stopping: new AbortController(),
    log,
  });
  await withAdmin(kafka, (a) => ensureTopics(a));
  await producer.connect();
  if (interval === undefined) {
    try {
      await job();
    } finally {
      await producer.disconnect();
    }
    return 0;
  }
  return pollEvery(running, job, interval);
}

/** What a long-running command holds. */
interface Running {
  command: string;
  kafka: Kafka;
  producer: Producer;
  metrics: IngestMetrics;
  listen: ReturnType<typeof httpListenFromEnv> | undefined;
  log: Logger;
}

/** `run` and `endpoint`: every source the config names (or only the endpoint), until SIGTERM/SIGINT. */
async function runConfig(r: Running, cfg: IngestConfig): Promise<number> {
  await withAdmin(r.kafka, (a) => ensureTopics(a));
  await r.producer.connect();
  const running = await startConfigured(
    cfg,
    r.producer,
    r.log,
    r.command === 'endpoint' ? { only: 'endpoint' } : { kafka: r.kafka, onPoll: r.metrics.poll },
  );
  const ops = await r.metrics.serve(r.listen, r.kafka, r.log);
  onShutdown(r.log, async () => {
    await ops?.close();
    await running.stop();
    await r.producer.disconnect();
  });
  return await new Promise<number>(() => {});
}

/** --interval: the job again `interval` ms after each poll ends, a failed poll logged and retried at the next. */
async function pollEvery(r: Running, job: Job, interval: number): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  let running = Promise.resolve();
  const tick = () => {
    running = job()
      .then(() => r.metrics.poll(r.command, true))
      .catch((err) => {
        r.metrics.poll(r.command, false);
        r.log.error('poll failed; will retry next interval', { error: err });
      })
      .then(() => {
        timer = setTimeout(tick, interval);
      });
  };
  const ops = await r.metrics.serve(r.listen, r.kafka, r.log);
  onShutdown(r.log, async () => {
    await ops?.close();
    clearTimeout(timer);
    await running;
    await r.producer.disconnect();
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
