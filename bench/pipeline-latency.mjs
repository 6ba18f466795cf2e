#!/usr/bin/env node
/**
 * End-to-end latency of the pipeline, from producing an event to the Slack webhook receiving the
 * alert, on real Kafka and Neo4j with the real scorer and notifier processes.
 *
 *   npm run build && node bench/pipeline-latency.mjs [--rounds 10]
 *
 * Uses KAFKA_BROKERS / NEO4J_URI when set, else starts infra/local. Runs under its own topic prefix
 * and clears the graph first (use throwaway servers). Needs ../shared/data (real advisories and lockfiles).
 *
 * 1. loads the whole real advisory-db through `ingest rustsec` and waits for the scorer to apply it
 *    (prints advisories/s through ingest → Kafka → scorer → Neo4j);
 * 2. workspace latency: produces a real lockfile as a new workspace, times until all its alerts arrive;
 * 3. advisory latency: produces one new advisory that hits an existing workspace, times until its alert arrives.
 * 4. audit coverage: produces a real workspace WITH its cargo-vet store (ariel-os, libprio-rs, spin),
 *    times until its packages are in the graph (Workspace written) and until its coverage is (every
 *    LOCKS verdict and the summary written by the cargo-vet resolver): the difference is what
 *    coverage costs the scorer per workspace event.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { caughtUp as groupCaughtUp, ensureInfra, wait } from './lib.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const data = resolve(root, '../shared/data');
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '8' } } });
const rounds = Number(values.rounds);
if (!existsSync(join(data, 'rustsec'))) {
  console.error('pipeline-latency: needs ../shared/data');
  process.exit(2);
}

ensureInfra(root);
const run = `bench-${Date.now().toString(36)}`;
process.env.CRATEWATCH_TOPIC_PREFIX = `${run}.`;
const { Kafka, logLevel } = await import('kafkajs');
const neo4j = (await import('neo4j-driver')).default;
const shared = await import('../shared/dist/index.js');

// One Slack message per alert (no digests): steps 2 and 3 count the messages.
const env = {
  ...process.env,
  NOTIFIER_DIGEST_THRESHOLD: 'off',
  NOTIFIER_FEED_LISTEN: '127.0.0.1:0',
  SCORER_GROUP: `${run}-scorer`,
  NOTIFIER_GROUP: `${run}-notifier`,
  CRATEWATCH_STATE_DIR: mkdtempSync(join(tmpdir(), 'cw-bench-')),
  LOG_LEVEL: 'warn',
};

// The webhook: a real HTTP server on loopback that timestamps what it receives.
const received = [];
const server = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    received.push({ at: performance.now(), body });
    res.end('ok');
  });
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
env.SLACK_WEBHOOK_URL = `http://127.0.0.1:${server.address().port}/hook`;

const driver = neo4j.driver(
  process.env.NEO4J_URI,
  process.env.NEO4J_PASSWORD ? neo4j.auth.basic(process.env.NEO4J_USER ?? 'neo4j', process.env.NEO4J_PASSWORD) : undefined,
);
const wipe = driver.session();
await wipe.run('MATCH (n) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS');
await wipe.close();

function service(name) {
  const p = spawn(process.execPath, [join(root, 'services', name, 'dist', 'main.js')], {
    env: { ...env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  p.stderr.on('data', (c) => (log = (log + c).slice(-20000)));
  p.ready = new Promise((res, rej) => {
    p.stderr.on('data', () => /"msg":"ready"/.test(log) && res());
    p.on('exit', (c) => rej(new Error(`${name} exited ${c}: ${log}`)));
  });
  return p;
}
const scorer = service('scorer');
const notifier = service('notifier');
await Promise.all([scorer.ready, notifier.ready]);

const kafka = new Kafka({ clientId: 'bench', brokers: process.env.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const caughtUp = (group, topics) => groupCaughtUp(admin, group, topics);

// 1. The whole advisory-db through ingest and the scorer.
let t0 = performance.now();
execFileSync(process.execPath, [join(root, 'services/ingest/dist/main.js'), 'rustsec', '--db', join(data, 'rustsec')], {
  env,
  stdio: 'ignore',
});
const tIngest = performance.now() - t0;
while (!(await caughtUp(env.SCORER_GROUP, [shared.TOPICS.advisories]))) await wait(200);
const tApplied = performance.now() - t0;
const advisories = [];
for (const line of execFileSync('find', [join(data, 'rustsec/crates'), join(data, 'rustsec/rust'), '-name', '*.md'], { encoding: 'utf8' })
  .trim()
  .split('\n')) {
  advisories.push(shared.parseAdvisory(readFileSync(line, 'utf8'), line.slice(join(data, 'rustsec').length + 1)));
}
console.log(
  JSON.stringify({
    step: 'advisory-db load',
    advisories: advisories.length,
    ingestMs: Math.round(tIngest),
    appliedMs: Math.round(tApplied),
    advisoriesPerSec: Math.round(advisories.length / (tApplied / 1000)),
  }),
);

// 2. Workspace latency: produce → every alert of that workspace at the webhook.
const producer = kafka.producer();
await producer.connect();
const projects = ['libprio-rs', 'ariel-os', 'application-services', 'spin'];
const lat = [];
for (let i = 0; i < rounds; i++) {
  const project = projects[i % projects.length];
  const lockText = readFileSync(join(data, 'projects', project, 'Cargo.lock'), 'utf8');
  const lock = shared.parseLockfile(lockText);
  const expected = shared.matchLockfile(advisories, lock).length;
  const id = `${run}-ws${i}-${project}`;
  const ev = shared.workspaceEvent({
    id,
    org: 'bench',
    lock,
    origin: { path: project, checksum: String(i) },
    observedAt: new Date().toISOString(),
  });
  const before = received.length;
  const start = performance.now();
  await producer.send({
    topic: shared.TOPICS.workspaces,
    messages: [{ key: id, value: shared.encodeEvent(shared.TOPICS.workspaces, ev) }],
  });
  const mine = () => received.slice(before).filter((r) => r.body.includes(id));
  while (mine().length < expected) await wait(5);
  const m = mine();
  lat.push({ project, packages: lock.packages.length, alerts: expected, firstMs: m[0].at - start, lastMs: m[m.length - 1].at - start });
}
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { p50: Math.round(s[Math.floor(s.length / 2)]), max: Math.round(s[s.length - 1]) };
};
console.log(
  JSON.stringify({
    step: 'workspace → alerts',
    rounds,
    firstAlertMs: stats(lat.map((l) => l.firstMs)),
    allAlertsMs: stats(lat.map((l) => l.lastMs)),
    perRound: lat.map((l) => ({ ...l, firstMs: Math.round(l.firstMs), lastMs: Math.round(l.lastMs) })),
  }),
);

// 3. Advisory latency: a new advisory (a real one re-issued under a fresh id) hitting libprio-rs.
const base = advisories.find((a) => a.id === 'RUSTSEC-2026-0204');
const advLat = [];
for (let i = 0; i < rounds; i++) {
  const a = { ...base, id: `RUSTSEC-9${String(Date.now()).slice(-3)}-${String(1000 + i)}` };
  const before = received.length;
  const start = performance.now();
  await producer.send({
    topic: shared.TOPICS.advisories,
    messages: [
      {
        key: a.id,
        value: shared.encodeEvent(shared.TOPICS.advisories, {
          v: 1,
          advisory: a,
          origin: { path: 'bench' },
          observedAt: new Date().toISOString(),
        }),
      },
    ],
  });
  // every libprio-rs workspace of step 2 gets one alert
  const want = lat.filter((l) => l.project === 'libprio-rs').length + lat.filter((l) => l.project === 'spin').length;
  const mine = () => received.slice(before).filter((r) => r.body.includes(a.id));
  while (mine().length < want) await wait(5);
  advLat.push({ firstMs: mine()[0].at - start, lastMs: mine()[want - 1].at - start, alerts: want });
}
console.log(
  JSON.stringify({
    step: 'advisory → alerts',
    rounds,
    firstAlertMs: stats(advLat.map((l) => l.firstMs)),
    allAlertsMs: stats(advLat.map((l) => l.lastMs)),
    alertsPerAdvisory: advLat[0]?.alerts,
  }),
);

// 4. Audit coverage: a workspace with its store → packages in the graph → coverage in the graph.
const cov = [];
const one = async (cypher, params) => {
  const r = await driver.executeQuery(cypher, params);
  return r.records[0]?.get(0) ?? null;
};
for (let i = 0; i < rounds; i++) {
  const project = ['ariel-os', 'libprio-rs', 'spin'][i % 3];
  const r = (f) => readFileSync(join(data, 'projects', project, f), 'utf8');
  const lock = shared.parseLockfile(r('Cargo.lock'));
  const id = `${run}-cov${i}-${project}`;
  const store = {
    config: r('supply-chain/config.toml'),
    audits: r('supply-chain/audits.toml'),
    importsLock: r('supply-chain/imports.lock'),
  };
  const ev = shared.workspaceEvent({
    id,
    org: 'bench',
    lock,
    store,
    origin: { path: project, checksum: `cov${i}` },
    observedAt: new Date().toISOString(),
  });
  const start = performance.now();
  await producer.send({
    topic: shared.TOPICS.workspaces,
    messages: [{ key: id, value: shared.encodeEvent(shared.TOPICS.workspaces, ev) }],
  });
  let graphMs;
  for (;;) {
    const [w, c] = [
      await one('MATCH (w:Workspace {id: $id}) RETURN w.id', { id }),
      await one('MATCH (w:Workspace {id: $id}) RETURN w.vetConclusion', { id }),
    ];
    if (w && graphMs === undefined) graphMs = performance.now() - start;
    if (c) {
      cov.push({ project, packages: lock.packages.length, graphMs, coverageMs: performance.now() - start, conclusion: c });
      break;
    }
    await wait(5);
  }
}
for (const project of ['ariel-os', 'libprio-rs', 'spin']) {
  const mine = cov.filter((c) => c.project === project);
  if (!mine.length) continue;
  const g = stats(mine.map((c) => c.graphMs));
  const c = stats(mine.map((c) => c.coverageMs));
  console.log(
    JSON.stringify({
      step: 'workspace with store → coverage',
      project,
      packages: mine[0].packages,
      rounds: mine.length,
      workspaceInGraphMs: g,
      coverageWrittenMs: c,
      ratio: +(c.p50 / g.p50).toFixed(2),
      conclusion: mine[0].conclusion,
    }),
  );
}

await producer.disconnect();
await admin.disconnect();
scorer.kill('SIGTERM');
notifier.kill('SIGTERM');
await driver.close();
server.close();
