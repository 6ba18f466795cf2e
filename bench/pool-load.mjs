#!/usr/bin/env node
/**
 * A bulk load of the six real audit pools, all trusted, into a scorer that already holds the real
 * workspaces with their cargo-vet stores: how long until every workspace's coverage reflects the
 * pools, and how many coverage recomputes it took. Two runs side by side, each a fresh graph, a
 * fresh topic namespace and a real scorer process:
 *   baseline  SCORER_COVERAGE_MAX_DELAY_MS=0      coverage after every batch (the scorer before)
 *   deferred  the defaults (SCORER_COVERAGE_SETTLE_MS=2000, _MAX_DELAY_MS=30000): once the load is over
 *
 *   npx tsc -b && node bench/pool-load.mjs [--copies 2]
 *
 * `--copies n` registers each of the four real workspaces n times (ids differ, content the same),
 * for more workspaces per pool change. Uses KAFKA_BROKERS / NEO4J_URI when set, else starts
 * infra/local. Clears the graph (use throwaway servers). Needs ../shared/data. The pools are
 * served to `ingest pools` by an HTTP server on loopback.
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { caughtUp as groupCaughtUp, ensureInfra, wait } from './lib.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const data = resolve(root, '../shared/data');
const { values } = parseArgs({ options: { copies: { type: 'string', default: '2' } } });
const copies = Number(values.copies);
if (!existsSync(join(data, 'audit-pools'))) {
  console.error('pool-load: needs ../shared/data');
  process.exit(2);
}
ensureInfra(root);
const { Kafka, logLevel } = await import('kafkajs');
const neo4j = (await import('neo4j-driver')).default;
const shared = await import('../shared/dist/index.js');

const poolDir = join(data, 'audit-pools');
const pools = readdirSync(poolDir)
  .filter((f) => f.endsWith('.audits.toml'))
  .map((f) => f.replace('.audits.toml', ''));
const server = createServer((req, res) => {
  const name = (req.url ?? '').replace(/^\//, '');
  if (!pools.includes(name.replace('.audits.toml', ''))) return void res.writeHead(404).end();
  res.writeHead(200, { 'content-type': 'text/plain' }).end(readFileSync(join(poolDir, name)));
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${server.address().port}`;

const projects = readdirSync(join(data, 'projects')).filter((p) => existsSync(join(data, 'projects', p, 'supply-chain', 'config.toml')));
const driver = neo4j.driver(
  process.env.NEO4J_URI,
  process.env.NEO4J_PASSWORD ? neo4j.auth.basic(process.env.NEO4J_USER ?? 'neo4j', process.env.NEO4J_PASSWORD) : undefined,
);
const kafka = new Kafka({ clientId: 'bench-pool-load', brokers: process.env.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();

const caughtUp = (group, topics) => groupCaughtUp(admin, group, topics);

async function once(label, delay) {
  const run = `bench-pl-${label}-${Date.now().toString(36)}`;
  const prefix = `${run}.`;
  const env = {
    ...process.env,
    CRATEWATCH_TOPIC_PREFIX: prefix,
    SCORER_GROUP: `${run}-scorer`,
    SCORER_TRUSTED_POOLS: pools.join(','),
    SCORER_COVERAGE_MAX_DELAY_MS: String(delay),
    CRATEWATCH_STATE_DIR: mkdtempSync(join(tmpdir(), 'cw-bench-pl-')),
    LOG_LEVEL: 'info',
  };
  const wipe = driver.session();
  await wipe.run('MATCH (n) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS');
  await wipe.close();

  const scorer = spawn(process.execPath, [join(root, 'services/scorer/dist/main.js')], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let recomputes = 0;
  let tail = '';
  let ready;
  const isReady = new Promise((r) => (ready = r));
  scorer.stderr.on('data', (c) => {
    const text = tail + c;
    const lines = text.split('\n');
    tail = lines.pop();
    for (const l of lines) {
      if (l.includes('"msg":"coverage applied"')) recomputes++;
      if (l.includes('"msg":"ready"')) ready();
    }
  });
  await isReady;
  console.error(`pool-load ${label}: scorer ready`);

  // The workspaces, as ingest would send them (lockfile + store), each `copies` times.
  const producer = kafka.producer();
  await producer.connect();
  const messages = [];
  for (const p of projects) {
    const dir = join(data, 'projects', p);
    const lockText = readFileSync(join(dir, 'Cargo.lock'), 'utf8');
    const opt = (f) => (existsSync(join(dir, 'supply-chain', f)) ? readFileSync(join(dir, 'supply-chain', f), 'utf8') : undefined);
    const store = {
      config: opt('config.toml'),
      ...(opt('audits.toml') ? { audits: opt('audits.toml') } : {}),
      ...(opt('imports.lock') ? { importsLock: opt('imports.lock') } : {}),
    };
    for (let i = 0; i < copies; i++) {
      const id = `acme/${p}-${i}`;
      const ev = shared.workspaceEvent({
        id,
        org: 'acme',
        lock: shared.parseLockfile(lockText, `${p}/Cargo.lock`),
        store,
        origin: { path: `${p}/Cargo.lock`, checksum: `sha256:${p}` },
        observedAt: new Date().toISOString(),
      });
      messages.push({ key: id, value: shared.encodeEvent(shared.TOPICS.workspaces, ev) });
    }
  }
  for (const m of messages) await producer.send({ topic: `${prefix}org.workspaces`, messages: [m] });
  await producer.disconnect();
  while (!(await caughtUp(env.SCORER_GROUP, [`${prefix}org.workspaces`]))) await wait(200);
  const before = recomputes;
  console.error(`pool-load ${label}: ${messages.length} workspaces applied (${before} coverage recomputes)`);

  // The pools through ingest, then until every workspace's coverage is written and none is owed.
  const t0 = performance.now();
  // Not execFileSync: this process serves the pools, so its event loop must keep running.
  await promisify(execFile)(
    process.execPath,
    [
      join(root, 'services/ingest/dist/main.js'),
      'pools',
      '--no-registry',
      ...pools.flatMap((n) => ['--url', `${n}=${base}/${n}.audits.toml`]),
    ],
    { env, maxBuffer: 1 << 26 },
  );
  const tIngest = performance.now() - t0;
  console.error(`pool-load ${label}: pools ingested in ${Math.round(tIngest)} ms`);
  const offsets = await admin.fetchTopicOffsets(`${prefix}audits.pool`);
  const events = offsets.reduce((n, o) => n + Number(o.high), 0);
  for (;;) {
    if (await caughtUp(env.SCORER_GROUP, [`${prefix}audits.pool`])) {
      const s = driver.session();
      const owed = (await s.run('MATCH (w:Workspace) WHERE w.coverageDue = true RETURN count(w) AS n')).records[0].get('n').toNumber();
      await s.close();
      if (owed === 0) break;
    }
    await wait(100);
  }
  const ms = performance.now() - t0;
  const s = driver.session();
  const vetted = (await s.run('MATCH (w:Workspace) RETURN sum(w.vetVetted) AS n')).records[0].get('n');
  await s.close();
  scorer.kill('SIGTERM');
  await new Promise((r) => scorer.on('exit', r));
  return {
    label,
    delay,
    workspaces: projects.length * copies,
    poolEvents: events,
    ingestMs: Math.round(tIngest),
    appliedMs: Math.round(ms),
    coverageRecomputes: recomputes - before,
    vettedAfter: Number(vetted),
  };
}

const rows = [await once('baseline', 0), await once('deferred', 30_000)];
for (const r of rows) console.log(JSON.stringify(r));
const [b, d] = rows;
console.log(
  `pool load, ${d.workspaces} workspaces, ${d.poolEvents} pool events: baseline ${(b.appliedMs / 1000).toFixed(1)} s / ${b.coverageRecomputes} recomputes, deferred ${(d.appliedMs / 1000).toFixed(1)} s / ${d.coverageRecomputes} recomputes (${(b.appliedMs / d.appliedMs).toFixed(1)}x); same coverage: ${b.vettedAfter === d.vettedAfter}`,
);
await admin.disconnect();
await driver.close();
server.close();
