#!/usr/bin/env node
/**
 * Chaos: the whole real advisory-db, the six real audit pools (all trusted) and the four real
 * workspaces are loaded AT THE SAME TIME into a real scorer and notifier, which are SIGKILLed and
 * restarted at random (at least `--kills` times each) until everything is applied. Then the graph's
 * canonical dump is compared with a clean run's (same inputs, no kills) and the loopback Slack
 * webhook must have received every alert of the clean run exactly once.
 *
 *   npx tsc -b && node bench/chaos.mjs [--kills 10] [--seed 42]
 *
 * Uses KAFKA_BROKERS / NEO4J_URI when set, else starts infra/local; CLEARS THE GRAPH before each
 * run (use throwaway servers). Each run has its own topic prefix, groups and state dir. Needs
 * ../shared/data. Exit 1 when the dumps differ or an alert is missing or repeated.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { caughtUp as groupCaughtUp, ensureInfra, wait } from './lib.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const data = resolve(root, '../shared/data');
const { values } = parseArgs({
  options: { kills: { type: 'string', default: '10' }, seed: { type: 'string', default: String(Date.now() % 100000) } },
});
if (!existsSync(join(data, 'audit-pools'))) {
  console.error('chaos: needs ../shared/data');
  process.exit(2);
}
ensureInfra(root);
const { Kafka, logLevel } = await import('kafkajs');
const neo4j = (await import('neo4j-driver')).default;
const shared = await import('../shared/dist/index.js');

// A small seeded generator, so a failing run can be replayed with --seed.
let seed = Number(values.seed) >>> 0 || 1;
const random = () => (seed = (seed * 1664525 + 1013904223) >>> 0) / 2 ** 32;
const say = (m) => console.error(`chaos: ${m}`);

const poolDir = join(data, 'audit-pools');
const poolNames = readdirSync(poolDir)
  .filter((f) => f.endsWith('.audits.toml'))
  .map((f) => f.replace('.audits.toml', ''));
const poolServer = createServer((req, res) => {
  const name = (req.url ?? '').replace(/^\//, '').replace('.audits.toml', '');
  if (!poolNames.includes(name)) return void res.writeHead(404).end();
  res.writeHead(200, { 'content-type': 'text/plain' }).end(readFileSync(join(poolDir, `${name}.audits.toml`)));
});
await new Promise((r) => poolServer.listen(0, '127.0.0.1', r));
const poolBase = `http://127.0.0.1:${poolServer.address().port}`;

const driver = neo4j.driver(
  process.env.NEO4J_URI,
  process.env.NEO4J_PASSWORD ? neo4j.auth.basic(process.env.NEO4J_USER ?? 'neo4j', process.env.NEO4J_PASSWORD) : undefined,
  { disableLosslessIntegers: true },
);
const kafka = new Kafka({ clientId: 'bench-chaos', brokers: process.env.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const q = async (cypher) => {
  const s = driver.session();
  try {
    return (await s.run(cypher)).records.map((r) => r.toObject());
  } finally {
    await s.close();
  }
};

/** The four real workspaces (with their cargo-vet store where they have one), as ingest sends them; fixed observation time. */
function workspaceMessages() {
  return readdirSync(join(data, 'projects'))
    .filter((p) => existsSync(join(data, 'projects', p, 'Cargo.lock')))
    .map((p) => {
      const dir = join(data, 'projects', p);
      const opt = (f) => (existsSync(join(dir, 'supply-chain', f)) ? readFileSync(join(dir, 'supply-chain', f), 'utf8') : undefined);
      const store = opt('config.toml')
        ? {
            config: opt('config.toml'),
            ...(opt('audits.toml') ? { audits: opt('audits.toml') } : {}),
            ...(opt('imports.lock') ? { importsLock: opt('imports.lock') } : {}),
          }
        : undefined;
      const id = `acme/${p}`;
      const lock = shared.parseLockfile(readFileSync(join(dir, 'Cargo.lock'), 'utf8'), `${p}/Cargo.lock`);
      const ev = shared.workspaceEvent({
        id,
        org: 'acme',
        lock,
        ...(store ? { store } : {}),
        origin: { path: `${p}/Cargo.lock`, checksum: `sha256:${p}` },
        observedAt: '2026-12-01T00:00:00.000Z',
      });
      return { key: id, value: shared.encodeEvent(shared.TOPICS.workspaces, ev) };
    });
}

function service(name, env) {
  const p = spawn(process.execPath, [join(root, 'services', name, 'dist', 'main.js')], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  p.stderr.on('data', (c) => (log = (log + c).slice(-50_000)));
  p.exited = new Promise((r) => p.on('exit', r));
  p.log = () => log;
  return p;
}

/** Observation times differ between runs by design; everything else must be equal. */
const VOLATILE = /^(at|observedAt|updatedAt)$|ObservedAt$/;
const stripTimes = (v) => (typeof v === 'string' ? v.replace(/"observedAt":"[^"]*"/g, '"observedAt":"-"') : v);
const canonical = (props) =>
  JSON.stringify(
    Object.keys(props)
      .filter((k) => !VOLATILE.test(k))
      .sort()
      .map((k) => [k, stripTimes(props[k])]),
  );

/** Every node and relationship, canonical and sorted (a node is named by its label and key). */
async function dump() {
  const key = (n) => `${n}.id, ${n}.name, ${n}.login, ${n}.url`;
  const nodes = await q(`MATCH (n) RETURN labels(n) AS l, properties(n) AS p`);
  const rels = await q(
    `MATCH (a)-[r]->(b) RETURN labels(a) AS la, [${key('a')}] AS ka, type(r) AS t, properties(r) AS p, labels(b) AS lb, [${key('b')}] AS kb`,
  );
  const name = (l, k) => `${l.sort().join(':')}(${k.find((x) => x !== null)})`;
  const finding = (p) => canonical({ id: p.id, kind: p.kind, severity: p.severity, score: p.score });
  return [
    ...nodes
      .filter((n) => !n.l.includes('Finding') || n.p.state === 'open')
      .map((n) => `${n.l.sort().join(':')} ${n.l.includes('Finding') ? finding(n.p) : canonical(n.p)}`),
    ...rels
      .filter((r) => !r.la.includes('Finding') && !r.lb.includes('Finding'))
      .map((r) => `${name(r.la, r.ka)} -${r.t}-> ${name(r.lb, r.kb)} ${canonical(r.p)}`),
  ].sort();
}

async function once(label, kills) {
  const run = `bench-chaos-${label}-${Date.now().toString(36)}`;
  const prefix = `${run}.`;
  const received = [];
  const hook = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const v = JSON.parse(body);
      for (const f of v.digest ? v.findings : [v]) received.push({ id: f.id, state: f.state, severity: f.severity });
      res.end('ok');
    });
  });
  await new Promise((r) => hook.listen(0, '127.0.0.1', r));
  const env = {
    ...process.env,
    CRATEWATCH_TOPIC_PREFIX: prefix,
    SCORER_GROUP: `${run}-scorer`,
    NOTIFIER_GROUP: `${run}-notifier`,
    SCORER_TRUSTED_POOLS: poolNames.join(','),
    NOTIFIER_DIGEST_THRESHOLD: 'off',
    NOTIFIER_FEED_LISTEN: '127.0.0.1:0',
    SCORER_HTTP_LISTEN: '127.0.0.1:0',
    // A signed generic webhook: its body is the FindingEvent, so each alert names its finding.
    NOTIFIER_ROUTES: JSON.stringify([{ name: 'chaos', type: 'webhook', webhookEnv: 'CHAOS_HOOK_URL', secretEnv: 'CHAOS_HOOK_SECRET' }]),
    CHAOS_HOOK_URL: `http://127.0.0.1:${hook.address().port}/hook`,
    CHAOS_HOOK_SECRET: 'chaos-bench-secret-0123456789',
    KAFKA_SESSION_TIMEOUT_MS: '6000',
    CRATEWATCH_STATE_DIR: mkdtempSync(join(tmpdir(), 'cw-chaos-')),
    LOG_LEVEL: 'info',
  };
  await q('MATCH (n) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS');
  const t0 = performance.now();
  const procs = { scorer: service('scorer', env), notifier: service('notifier', env) };
  const pools = () =>
    spawnIngest(env, ['pools', '--no-registry', ...poolNames.flatMap((n) => ['--url', `${n}=${poolBase}/${n}.audits.toml`])]);
  const advisories = () => spawnIngest(env, ['rustsec', '--db', join(data, 'rustsec')]);
  const workspaces = async () => {
    const producer = kafka.producer();
    await producer.connect();
    await waitForTopic(`${prefix}org.workspaces`);
    for (const m of workspaceMessages()) await producer.send({ topic: `${prefix}org.workspaces`, messages: [m] });
    await producer.disconnect();
  };
  // Chaos: everything at once. Clean: one source after the other, each applied before the next.
  const loads =
    kills > 0
      ? [advisories(), pools(), workspaces()]
      : [
          (async () => {
            for (const load of [pools, advisories, workspaces]) {
              await load();
              while (!(await settledRun(env, prefix, false))) await wait(300);
            }
          })(),
        ];
  const killed = { scorer: 0, notifier: 0 };
  let loaded = false;
  // Fire-and-forget on purpose: the loads run while the loop below kills services; a load that
  // fails rejects unhandled and ends the bench, as it should.
  void Promise.all(loads).then(() => (loaded = true));
  const settled = () => settledRun(env, prefix);
  while (killed.scorer < kills || killed.notifier < kills || !loaded || !(await settled())) {
    if (killed.scorer >= kills && killed.notifier >= kills) {
      await wait(500);
      continue;
    }
    await wait(500 + random() * 3000);
    const name = killed.scorer >= kills ? 'notifier' : killed.notifier >= kills ? 'scorer' : random() < 0.5 ? 'scorer' : 'notifier';
    procs[name].kill('SIGKILL');
    await procs[name].exited;
    killed[name]++;
    procs[name] = service(name, env);
  }
  await Promise.all(loads);
  // Quiet: no alert for 5 s after everything is committed.
  for (let n = received.length; ; n = received.length) {
    await wait(5000);
    if (received.length === n && (await settled())) break;
  }
  const ms = performance.now() - t0;
  for (const p of Object.values(procs)) p.kill('SIGTERM');
  await Promise.all(Object.values(procs).map((p) => p.exited));
  hook.close();
  const states = new Map((await q('MATCH (f:Finding) RETURN f.id AS id, f.state AS state, f.severity AS severity')).map((f) => [f.id, f]));
  return { label, ms: Math.round(ms), killed, alerts: received, states, graph: await dump() };
}

function spawnIngest(env, args) {
  const p = spawn(process.execPath, [join(root, 'services/ingest/dist/main.js'), ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  p.stderr.on('data', (c) => (log = (log + c).slice(-20_000)));
  return new Promise((res, rej) => p.on('exit', (c) => (c === 0 ? res() : rej(new Error(`ingest ${args[0]} exited ${c}: ${log}`)))));
}

async function waitForTopic(topic) {
  while (!(await admin.listTopics()).includes(topic)) await wait(200);
}

/** Every input committed by the scorer, every finding by the notifier, and no coverage or risk owed. */
async function settledRun(env, prefix, all = true) {
  const topics = await admin.listTopics();
  const inputs = ['rustsec.advisories', 'audits.pool', 'org.workspaces']
    .map((t) => `${prefix}${t}`)
    .filter((t) => all || topics.includes(t));
  if (!inputs.every((t) => topics.includes(t))) return false;
  if (!(await groupCaughtUp(admin, env.SCORER_GROUP, inputs))) return false;
  if (!(await groupCaughtUp(admin, env.NOTIFIER_GROUP, [`${prefix}risk.findings`]))) return false;
  const [owed] = await q('MATCH (w:Workspace) WHERE w.coverageDue = true OR w.riskDue = true RETURN count(w) AS n');
  return owed.n === 0;
}

say(`seed ${values.seed}`);
const clean = await once('clean', 0);
say(`clean run: ${clean.ms} ms, ${clean.alerts.length} alerts, ${clean.graph.length} graph rows`);
const chaos = await once('chaos', Number(values.kills));
say(`chaos run: ${chaos.ms} ms, kills ${JSON.stringify(chaos.killed)}, ${chaos.alerts.length} alerts, ${chaos.graph.length} graph rows`);

/**
 * Alerts that break "once per state change": the same state twice in a row for a finding (an
 * escalation — open again at a higher severity — is a change), a finding whose last alert is not
 * its final state in the graph, and an open finding never alerted.
 */
function alertProblems(run) {
  const byId = new Map();
  for (const a of run.alerts) byId.set(a.id, [...(byId.get(a.id) ?? []), a]);
  const problems = [];
  const rank = ['none', 'low', 'medium', 'high', 'critical'];
  for (const [id, as] of byId) {
    for (let i = 1; i < as.length; i++) {
      const [a, b] = [as[i - 1], as[i]];
      if (a.state === b.state && !(b.state === 'open' && rank.indexOf(b.severity) > rank.indexOf(a.severity)))
        problems.push(`repeated: ${id} ${b.state}`);
    }
    const final = run.states.get(id);
    if (final && as[as.length - 1].state !== final.state)
      problems.push(`last alert ${as[as.length - 1].state}, graph says ${final.state}: ${id}`);
  }
  for (const [id, f] of run.states) if (f.state === 'open' && !byId.has(id)) problems.push(`never alerted: ${id}`);
  return problems;
}
const cleanProblems = alertProblems(clean);
const chaosProblems = alertProblems(chaos);
const cleanRows = new Set(clean.graph);
const chaosRows = new Set(chaos.graph);
const onlyClean = clean.graph.filter((r) => !chaosRows.has(r));
const onlyChaos = chaos.graph.filter((r) => !cleanRows.has(r));
const openAtEnd = (run) => [...run.states.values()].filter((f) => f.state === 'open').length;
const result = {
  seed: Number(values.seed),
  cleanMs: clean.ms,
  chaosMs: chaos.ms,
  killed: chaos.killed,
  alertsClean: clean.alerts.length,
  alertsChaos: chaos.alerts.length,
  openClean: openAtEnd(clean),
  openChaos: openAtEnd(chaos),
  alertProblemsClean: cleanProblems.length,
  alertProblemsChaos: chaosProblems.length,
  graphRows: clean.graph.length,
  onlyClean: onlyClean.length,
  onlyChaos: onlyChaos.length,
};
console.log(JSON.stringify(result));
for (const p of [...cleanProblems.map((p) => `clean ${p}`), ...chaosProblems.map((p) => `chaos ${p}`)].slice(0, 10))
  say(`alert problem: ${p}`);
for (const r of onlyClean.slice(0, 5)) say(`only in the clean graph: ${r.slice(0, 300)}`);
for (const r of onlyChaos.slice(0, 5)) say(`only in the chaos graph: ${r.slice(0, 300)}`);
await admin.disconnect();
await driver.close();
poolServer.close();
process.exit(cleanProblems.length || chaosProblems.length || onlyClean.length || onlyChaos.length ? 1 : 0);
