/**
 * vitest globalSetup: finds (or starts) the Kafka and Neo4j that the test run uses, once per run.
 *
 * Order, for each of Kafka and Neo4j:
 *   1. `KAFKA_BROKERS` / `NEO4J_URI` (+ `NEO4J_USER`, `NEO4J_PASSWORD`) already set: use them.
 *   2. A Docker engine answers: start `apache/kafka:3.9.1` / `neo4j:5.26-community` with
 *      testcontainers, stopped at teardown.
 *   3. Else infra/local (Kafka + Neo4j from Maven Central jars on 127.0.0.1, see infra/README.md):
 *      - by default servers of this run's own: three free ports picked now and a fresh data dir
 *        under os.tmpdir() (`cratewatch-infra-<pid>-*`), never the default ports or
 *        infra/local/.data that a person or `npm run demo` uses. Nothing else knows them, so no
 *        other run or demo can see or disturb the run's topics and graph. Stopped and removed at
 *        teardown; a watchdog (infra/local/reap.mjs) does the same if this process dies first.
 *      - when the environment names infra/local settings (CRATEWATCH_KAFKA_PORT,
 *        CRATEWATCH_KAFKA_CONTROLLER_PORT, CRATEWATCH_NEO4J_PORT, CRATEWATCH_INFRA_DATA): those
 *        servers, shared: `infra/local/start --lease <pid>`, at teardown `infra/local/stop
 *        --release <pid>`, which stops them only if a test run launched them and no other test run
 *        still holds a lease. Servers someone started by hand keep running.
 * `CRATEWATCH_INFRA=local|docker|none` forces a way (none: start nothing; tests that need a server
 * then fail with a clear message from test/helpers.ts).
 *
 * What tests get (both, so plain `process.env` readers and `inject` users work alike):
 *   - process.env.KAFKA_BROKERS (comma-separated), NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD (empty =
 *     no auth); set here before vitest forks its workers, which inherit them;
 *   - provide/inject keys `kafkaBrokers` (string[]), `neo4jUri`, `neo4jUser`, `neo4jPassword`,
 *     `infraSource`.
 * Use the helpers in test/helpers.ts rather than reading these directly.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

export type InfraSource = 'env' | 'docker' | 'local' | 'none';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string[];
    neo4jUri: string;
    neo4jUser: string;
    /** '' when the server has auth disabled. */
    neo4jPassword: string;
    infraSource: string;
  }
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const KAFKA_IMAGE = 'apache/kafka:3.9.1';
const NEO4J_IMAGE = 'neo4j:5.26-community';

const log = (msg: string) => process.stderr.write(`[test/infra] ${msg}\n`);

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const t0 = Date.now();
  const teardowns: Array<() => Promise<void>> = [];
  const mode = (process.env.CRATEWATCH_INFRA ?? '').trim().toLowerCase();

  let kafkaBrokers = splitBrokers(process.env.KAFKA_BROKERS);
  let neo4jUri = process.env.NEO4J_URI?.trim() ?? '';
  const neo4jUser = process.env.NEO4J_USER?.trim() || 'neo4j';
  const neo4jPassword = process.env.NEO4J_PASSWORD ?? '';
  const sources = new Set<InfraSource>();
  if (kafkaBrokers.length) sources.add('env');
  if (neo4jUri) sources.add('env');

  const needKafka = !kafkaBrokers.length;
  const needNeo4j = !neo4jUri;
  if ((needKafka || needNeo4j) && mode !== 'none') {
    const useDocker = mode === 'docker' || (mode !== 'local' && (await dockerAnswers()));
    if (useDocker) {
      const started = await startContainers({ kafka: needKafka, neo4j: needNeo4j, neo4jPassword });
      teardowns.push(started.stop);
      if (started.kafkaBrokers) kafkaBrokers = started.kafkaBrokers;
      if (started.neo4jUri) neo4jUri = started.neo4jUri;
      sources.add('docker');
    } else {
      const started = await startLocal();
      teardowns.push(started.stop);
      if (needKafka) kafkaBrokers = splitBrokers(started.env.KAFKA_BROKERS);
      if (needNeo4j) neo4jUri = started.env.NEO4J_URI ?? '';
      sources.add('local');
    }
  } else if (needKafka || needNeo4j) {
    sources.add('none');
  }

  const source = [...sources].join('+') || 'env';
  // Workers are forked after globalSetup returns and inherit this process's environment.
  if (kafkaBrokers.length) process.env.KAFKA_BROKERS = kafkaBrokers.join(',');
  if (neo4jUri) process.env.NEO4J_URI = neo4jUri;
  process.env.NEO4J_USER = neo4jUser;
  process.env.NEO4J_PASSWORD = neo4jPassword;
  process.env.CRATEWATCH_INFRA_SOURCE = source;

  project.provide('kafkaBrokers', kafkaBrokers);
  project.provide('neo4jUri', neo4jUri);
  project.provide('neo4jUser', neo4jUser);
  project.provide('neo4jPassword', neo4jPassword);
  project.provide('infraSource', source);
  log(
    `kafka ${kafkaBrokers.join(',') || '(none)'}, neo4j ${neo4jUri || '(none)'} ` +
      `[${source}] ready in ${((Date.now() - t0) / 1000).toFixed(1)}s`,
  );

  return async () => {
    for (const td of teardowns.reverse()) {
      try {
        await td();
      } catch (e) {
        log(`teardown failed: ${(e as Error).message}`);
      }
    }
  };
}

function splitBrokers(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

// ---------------------------------------------------------------------------------------------
// Docker (testcontainers). Must fall through fast when there is no engine.

/** Cheap pre-check (no testcontainers import) for any hint of a container engine. */
function dockerHinted(): boolean {
  if (process.env.DOCKER_HOST || process.env.TESTCONTAINERS_HOST_OVERRIDE) return true;
  const home = os.homedir();
  const candidates = [
    '/var/run/docker.sock',
    '/run/docker.sock',
    path.join(home, '.docker', 'run', 'docker.sock'),
    path.join(home, '.docker', 'desktop', 'docker.sock'),
    path.join(home, '.colima', 'default', 'docker.sock'),
    path.join(home, '.rd', 'docker.sock'),
    process.env.XDG_RUNTIME_DIR ? path.join(process.env.XDG_RUNTIME_DIR, 'docker.sock') : '',
    process.env.XDG_RUNTIME_DIR ? path.join(process.env.XDG_RUNTIME_DIR, 'podman', 'podman.sock') : '',
    `/run/user/${process.getuid?.() ?? 0}/docker.sock`,
  ].filter(Boolean);
  if (candidates.some((p) => existsSync(p))) return true;
  const props = path.join(home, '.testcontainers.properties');
  return existsSync(props) && /docker\.host\s*=/.test(readFileSync(props, 'utf8'));
}

async function dockerAnswers(): Promise<boolean> {
  if (!dockerHinted()) return false;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await withTimeout(getContainerRuntimeClient(), 15_000, 'container runtime probe');
    return true;
  } catch (e) {
    log(`no usable container runtime (${(e as Error).message}); using infra/local`);
    return false;
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '0.0.0.0', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

async function startContainers(want: { kafka: boolean; neo4j: boolean; neo4jPassword: string }): Promise<{
  kafkaBrokers?: string[];
  neo4jUri?: string;
  stop: () => Promise<void>;
}> {
  const { GenericContainer, Wait, getContainerRuntimeClient } = await import('testcontainers');
  const client = await getContainerRuntimeClient();
  const host = client.info.containerRuntime.host;
  const started: Array<{ stop: () => Promise<unknown> }> = [];
  const out: { kafkaBrokers?: string[]; neo4jUri?: string } = {};
  try {
    const jobs: Promise<void>[] = [];
    if (want.kafka) {
      jobs.push(
        (async () => {
          // Clients must be told an address they can reach, i.e. the host port, which therefore
          // has to be fixed before the broker starts. Inside the container the broker talks to
          // itself on a separate BROKER listener.
          const hostPort = await freePort();
          log(`starting ${KAFKA_IMAGE} on ${host}:${hostPort}`);
          const c = await new GenericContainer(KAFKA_IMAGE)
            .withExposedPorts({ container: 9092, host: hostPort })
            .withEnvironment({
              CLUSTER_ID: 'Y3JhdGV3YXRjaC10ZXN0cw',
              KAFKA_NODE_ID: '1',
              KAFKA_PROCESS_ROLES: 'broker,controller',
              KAFKA_LISTENERS: 'PLAINTEXT://0.0.0.0:9092,BROKER://0.0.0.0:9094,CONTROLLER://0.0.0.0:9093',
              KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://${host}:${hostPort},BROKER://localhost:9094`,
              KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,BROKER:PLAINTEXT',
              KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
              KAFKA_INTER_BROKER_LISTENER_NAME: 'BROKER',
              KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9093',
              KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
              KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS: '10',
              KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
              KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
              KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
              KAFKA_NUM_PARTITIONS: '3',
              KAFKA_AUTO_CREATE_TOPICS_ENABLE: 'true',
              KAFKA_HEAP_OPTS: '-Xms256m -Xmx512m',
            })
            .withWaitStrategy(Wait.forLogMessage(/Kafka Server started/))
            .withStartupTimeout(180_000)
            .start();
          started.push(c);
          out.kafkaBrokers = [`${host}:${hostPort}`];
        })(),
      );
    }
    if (want.neo4j) {
      jobs.push(
        (async () => {
          log(`starting ${NEO4J_IMAGE}`);
          const c = await new GenericContainer(NEO4J_IMAGE)
            .withExposedPorts(7687)
            .withEnvironment({
              NEO4J_AUTH: want.neo4jPassword ? `neo4j/${want.neo4jPassword}` : 'none',
              NEO4J_server_memory_heap_initial__size: '256m',
              NEO4J_server_memory_heap_max__size: '768m',
              NEO4J_server_memory_pagecache_size: '128m',
              // The hardening docker-compose.yml and infra/local apply (test/neo4j-hardening.test.ts).
              NEO4J_dbms_security_allow__csv__import__from__file__urls: 'false',
              NEO4J_server_directories_import: '/var/lib/neo4j/import',
              NEO4J_internal_dbms_cypher__ip__blocklist: '0.0.0.0/0,::/0',
              NEO4J_db_transaction_timeout: '5m',
            })
            .withWaitStrategy(Wait.forLogMessage(/Started\./))
            .withStartupTimeout(180_000)
            .start();
          started.push(c);
          out.neo4jUri = `bolt://${c.getHost()}:${c.getMappedPort(7687)}`;
        })(),
      );
    }
    const results = await Promise.allSettled(jobs);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  } catch (e) {
    await Promise.allSettled(started.map((c) => c.stop()));
    throw e;
  }
  return {
    ...out,
    stop: async () => {
      await Promise.allSettled(started.map((c) => c.stop()));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// infra/local (JDK + Maven; no Docker)

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    // stderr (progress, log tails on failure) goes straight to ours.
    const child = spawn(cmd, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout }));
  });
}

/** The infra/local settings a person may set to point the tests at a set of servers of theirs. */
const LOCAL_SETTINGS = [
  'CRATEWATCH_KAFKA_PORT',
  'CRATEWATCH_KAFKA_CONTROLLER_PORT',
  'CRATEWATCH_NEO4J_PORT',
  'CRATEWATCH_INFRA_DATA',
] as const;

/** `n` distinct ports free on 127.0.0.1 right now (all held open at once, so never the same twice). */
async function freeLocalPorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const srv = createServer();
          srv.on('error', reject);
          srv.listen(0, '127.0.0.1', () => resolve(srv));
        }),
    ),
  );
  const ports = servers.map((srv) => {
    const addr = srv.address();
    return typeof addr === 'object' && addr ? addr.port : 0;
  });
  await Promise.all(servers.map((srv) => new Promise((r) => srv.close(r))));
  return ports;
}

/**
 * infra/local for this run: servers of its own (see the header) unless the environment names
 * infra/local settings, then those (shared, leased). Returns the addresses and how to give them back.
 */
async function startLocal(): Promise<{ env: Record<string, string>; stop: () => Promise<void> }> {
  const named = LOCAL_SETTINGS.filter((v) => process.env[v]?.trim());
  return named.length ? startShared(named) : startPrivate();
}

/** Servers on free ports with a fresh data dir: nobody else's, removed at teardown. */
async function startPrivate(): Promise<{ env: Record<string, string>; stop: () => Promise<void> }> {
  const [kafkaPort, controllerPort, neo4jPort] = await freeLocalPorts(3);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `cratewatch-infra-${process.pid}-`));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CRATEWATCH_KAFKA_PORT: String(kafkaPort),
    CRATEWATCH_KAFKA_CONTROLLER_PORT: String(controllerPort),
    CRATEWATCH_NEO4J_PORT: String(neo4jPort),
    CRATEWATCH_INFRA_DATA: dataDir,
  };
  log(
    `no KAFKA_BROKERS/NEO4J_URI and no Docker: starting infra/local servers of this run's own ` +
      `(kafka ${kafkaPort}, controller ${controllerPort}, neo4j ${neo4jPort}, data ${dataDir})`,
  );
  // If this process dies without its teardown (SIGKILL, a crash), the watchdog stops and removes them.
  const reaper = spawn(process.execPath, [path.join(ROOT, 'infra', 'local', 'reap.mjs'), String(process.pid), dataDir], {
    cwd: ROOT,
    env,
    detached: true,
    stdio: 'ignore',
  });
  reaper.unref();
  const stop = async () => {
    const { code } = await run('bash', [path.join(ROOT, 'infra', 'local', 'stop'), '--wipe'], env);
    if (code !== 0) log(`infra/local/stop --wipe exited ${code}`);
    rmSync(dataDir, { recursive: true, force: true });
    if (reaper.pid !== undefined && reaper.exitCode === null) {
      try {
        process.kill(reaper.pid, 'SIGTERM');
      } catch {
        // already gone: it saw the data dir go
      }
    }
  };
  const { code, stdout } = await run('bash', [path.join(ROOT, 'infra', 'local', 'start')], env);
  if (code !== 0) {
    await stop(); // nobody else will ever use them: do not leave them running
    throw new Error(
      `infra/local/start failed (exit ${code}); see its output above. ` +
        'Set KAFKA_BROKERS and NEO4J_URI to use servers you run yourself.',
    );
  }
  try {
    return { env: parseStartOutput(stdout), stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** The servers the environment's CRATEWATCH_* settings name, leased (other runs may share them). */
async function startShared(named: readonly string[]): Promise<{ env: Record<string, string>; stop: () => Promise<void> }> {
  log(`no KAFKA_BROKERS/NEO4J_URI and no Docker: infra/local/start --lease with ${named.map((v) => `${v}=${process.env[v]}`).join(' ')}`);
  const { code, stdout } = await run('bash', [path.join(ROOT, 'infra', 'local', 'start'), '--lease', String(process.pid)]);
  if (code !== 0) {
    throw new Error(
      `infra/local/start failed (exit ${code}); see its output above. ` +
        'Set KAFKA_BROKERS and NEO4J_URI to use servers you run yourself.',
    );
  }
  const env = parseStartOutput(stdout);
  const launched = (env.CRATEWATCH_INFRA_STARTED ?? '').split(',').filter(Boolean);
  log(launched.length ? `launched ${launched.join(', ')}` : 'servers were already running');
  // `stop --release` stops them only if a test run launched them and no other test run still holds
  // a lease (concurrent runs on the same settings share the servers), never servers started by hand.
  return {
    env,
    stop: async () => {
      const r = await run('bash', [path.join(ROOT, 'infra', 'local', 'stop'), '--release', String(process.pid)]);
      if (r.code !== 0) log(`infra/local/stop --release exited ${r.code}`);
    },
  };
}

function parseStartOutput(stdout: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) env[m[1]!] = m[2]!;
  }
  if (!env.KAFKA_BROKERS || !env.NEO4J_URI) throw new Error(`infra/local/start printed no addresses:\n${stdout}`);
  return env;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
      timer.unref();
    }),
  ]);
}
