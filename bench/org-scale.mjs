#!/usr/bin/env node
/**
 * Org scale (issue 9): an org of N workspaces derived from the four shared ones, loaded into real
 * scorer and notifier processes on real Kafka and Neo4j (six pools trusted, the whole advisory-db),
 * then each event class timed from produce to the LAST alert it causes at a loopback webhook:
 *
 *   advisory-one    a new advisory on a crate exactly one workspace locks
 *   advisory-half   a new advisory on a crate exactly half the org locks (k = N/2)
 *   lockfile        one workspace's Cargo.lock changes by one version (tar 0.4.43 <-> 0.4.45 in a
 *                   spin workspace: two real advisories resolve or reopen), until its coverage is
 *                   written and every finding it moved has alerted
 *   pool-audit      one new audit in a trusted pool for a crate unvetted in many workspaces, until
 *                   every affected workspace's coverage is recomputed (no `coverageDue` mark left)
 *                   and every unvetted finding it resolved has alerted; another crate each round
 *   sustained       `--rate` events/s (releases, 1 in 20 a maintainers event) for `--seconds`, a
 *                   probe advisory every 2 s: probe latency, the scorer's lag at the end, time to 0
 *
 * Beside them, the limits of the parts on this machine: Kafka's own ProducerPerformance (from
 * infra/local/lib/kafka), a plain batched UNWIND … MERGE through neo4j-driver, and the peer: a
 * `cargo audit` sweep over the same N lockfiles, whole processes, when cargo-audit is installed.
 *
 *   npx tsc -b && node bench/org-scale.mjs [--workspaces 10,100,300] [--rounds 10] [--rate 1000]
 *     [--seconds 60] [--drain-timeout 600] [--seed 9] [--skip sustained,peer,...] [--logs DIR]
 *
 * `--logs DIR` keeps each service's whole log (JSON lines) as DIR/<name>-<pid>.log, to see where a
 * round's time went; `--cpu-prof DIR` writes the scorer's CPU profile there (node --cpu-prof) when
 * it stops.
 *
 * Uses KAFKA_BROKERS / NEO4J_URI when set, else starts infra/local. CLEARS THE GRAPH before each N
 * (use throwaway servers). Each N has its own topic prefix, groups and state dir. Needs
 * ../shared/data. Progress on stderr, the tables on stdout, JSON in bench/out/org-scale-<time>.json.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { parse as parseToml, stringify as stringifyToml } from 'smol-toml';
import { caughtUp as groupCaughtUp, ensureInfra, wait } from './lib.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const data = resolve(root, '../shared/data');
const CLASSES = ['advisory-one', 'advisory-half', 'lockfile', 'pool-audit', 'sustained'];
const SKIPPABLE = [...CLASSES, 'limits', 'peer'];
const { values } = parseArgs({
  options: {
    workspaces: { type: 'string', default: '10,100,300' },
    rounds: { type: 'string', default: '10' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '60' },
    seed: { type: 'string', default: '9' },
    'drain-timeout': { type: 'string', default: '600' },
    skip: { type: 'string', multiple: true, default: [] },
    logs: { type: 'string' },
    'cpu-prof': { type: 'string' },
  },
});
const sizes = values.workspaces.split(',').map(Number);
const rounds = Number(values.rounds);
const skip = new Set(values.skip.flatMap((s) => s.split(',')).filter(Boolean));
for (const s of skip) if (!SKIPPABLE.includes(s)) throw new Error(`--skip: unknown "${s}" (one of ${SKIPPABLE.join(', ')})`);
if (sizes.some((n) => !Number.isInteger(n) || n < 4))
  throw new Error('--workspaces: whole numbers >= 4 (each of the four projects at least once)');
if (!existsSync(join(data, 'rustsec'))) {
  console.error('org-scale: needs ../shared/data');
  process.exit(2);
}
const say = (m) => console.error(`org-scale ${new Date().toISOString().slice(11, 19)}: ${m}`);

ensureInfra(root);
// This process sends to each N's own prefix; its own TOPICS stay unprefixed (schema keys only).
delete process.env.CRATEWATCH_TOPIC_PREFIX;
const { Kafka, logLevel } = await import('kafkajs');
const neo4j = (await import('neo4j-driver')).default;
const shared = await import('../shared/dist/index.js');
const { diffPool, crateEntries } = await import('../services/ingest/dist/index.js');
const T = shared.TOPICS;

const run = `bench-os-${Date.now().toString(36)}`;
const kafka = new Kafka({ clientId: 'bench-org-scale', brokers: process.env.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const producer = kafka.producer();
await producer.connect();
const driver = neo4j.driver(
  process.env.NEO4J_URI,
  process.env.NEO4J_PASSWORD ? neo4j.auth.basic(process.env.NEO4J_USER ?? 'neo4j', process.env.NEO4J_PASSWORD) : undefined,
  { disableLosslessIntegers: true },
);
const q = async (cypher, params = {}) => (await driver.executeQuery(cypher, params)).records.map((r) => r.toObject());
/** `CALL { … } IN TRANSACTIONS` needs an implicit (auto-commit) transaction. */
async function qAuto(cypher) {
  const s = driver.session();
  try {
    await s.run(cypher);
  } finally {
    await s.close();
  }
}

// ---- statistics ------------------------------------------------------------------------------
/** Nearest-rank percentiles: with 10 rounds p99 is the slowest round. */
function stats(xs) {
  const s = xs.filter((x) => x !== null).sort((a, b) => a - b);
  if (s.length === 0) return { p50: null, p99: null, max: null, rounds: 0, incomplete: xs.length };
  const at = (p) => Math.round(s[Math.ceil(p * s.length) - 1]);
  return { p50: at(0.5), p99: at(0.99), max: Math.round(s[s.length - 1]), rounds: s.length, incomplete: xs.length - s.length };
}
const load = () => loadavg().map((x) => +x.toFixed(2));

// ---- the org: four real projects, N perturbed copies ------------------------------------------
/** A small seeded generator, so the org of a given seed is the same in every run. */
function rng(seed) {
  let s = seed >>> 0 || 1;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

function readProjects() {
  return readdirSync(join(data, 'projects'))
    .filter((p) => existsSync(join(data, 'projects', p, 'Cargo.lock')))
    .sort()
    .map((name) => {
      const dir = join(data, 'projects', name);
      const opt = (f) => (existsSync(join(dir, 'supply-chain', f)) ? readFileSync(join(dir, 'supply-chain', f), 'utf8') : undefined);
      const store = opt('config.toml')
        ? {
            config: opt('config.toml'),
            ...(opt('audits.toml') ? { audits: opt('audits.toml') } : {}),
            ...(opt('imports.lock') ? { importsLock: opt('imports.lock') } : {}),
          }
        : undefined;
      return { name, text: readFileSync(join(dir, 'Cargo.lock'), 'utf8'), store };
    });
}

const isRegistry = (p) => typeof p.source === 'string' && p.source.startsWith('registry+');
/** Crates.io packages of a lockfile document, by name (a name locked at two versions has two). */
function byName(doc) {
  const m = new Map();
  for (const p of doc.package.filter(isRegistry)) m.set(p.name, [...(m.get(p.name) ?? []), p]);
  return m;
}

/**
 * The crates the timed classes hang on, chosen from the real lockfiles (and checked, so a change
 * to shared/data fails here rather than measuring something else):
 * half: locked once by ariel-os and spin (projects 1 and 3) and by no other, so exactly the odd
 * workspaces lock it (N/2 for an even N); one: locked once by libprio-rs (project 2) only, with no
 * dependencies, kept in workspace 2 and dropped from the other libprio-rs copies; lockfile: tar in
 * spin, whose 0.4.43 two real advisories hit and 0.4.45 neither.
 */
function choosePlan(projects) {
  const maps = projects.map((p) => byName(parseToml(p.text)));
  const only = (want) =>
    [...maps[want[0]].keys()].filter((n) => maps.every((m, i) => (want.includes(i) ? m.get(n)?.length === 1 : !m.has(n)))).sort();
  const half = only([1, 3])[0];
  const one = only([2]).find((n) => !(maps[2].get(n)[0].dependencies ?? []).length);
  const spin = projects.findIndex((p) => p.name === 'spin');
  const tar = maps[spin]?.get('tar');
  if (!half || !one || spin !== 3 || tar?.length !== 1 || tar[0].version !== '0.4.43')
    throw new Error('org-scale: shared/data is not the one this benchmark was written for');
  return { half, one, oneProject: 2, lockfile: { project: spin, crate: 'tar', from: '0.4.43', to: '0.4.45' } };
}

/** Removes packages (by object) and every dependency entry naming them. */
function dropPackages(doc, gone) {
  const names = new Map();
  for (const p of gone) names.set(p.name, [...(names.get(p.name) ?? []), p.version]);
  doc.package = doc.package.filter((p) => !gone.includes(p));
  for (const p of doc.package) {
    if (!p.dependencies) continue;
    p.dependencies = p.dependencies.filter((d) => {
      const [n, v] = d.split(' ');
      return !(names.has(n) && (v === undefined || names.get(n).includes(v)));
    });
  }
}

/**
 * Workspace i: project i mod 4, three crates dropped and three bumped one patch version
 * (x.y.z -> x.y.z+1, still SemVer), chosen by the seed among crates.io packages locked at one
 * version with a plain x.y.z (so dependency entries name them without a version). The crates the
 * classes hang on are never touched, except `one`, dropped from every copy but workspace 2.
 */
function perturb(project, i, seed, plan) {
  const doc = parseToml(project.text);
  const random = rng(seed * 1_000_003 + i);
  const counts = byName(doc);
  const keep = new Set([plan.half, plan.one, plan.lockfile.crate]);
  const pool = doc.package.filter(
    (p) => isRegistry(p) && counts.get(p.name).length === 1 && /^\d+\.\d+\.\d+$/.test(p.version) && !keep.has(p.name),
  );
  const pick = () => pool.splice(Math.floor(random() * pool.length), 1)[0];
  const dropped = [pick(), pick(), pick()];
  for (const p of [pick(), pick(), pick()]) {
    const [x, y, z] = p.version.split('.').map(Number);
    p.version = `${x}.${y}.${z + 1}`;
  }
  if (i % 4 === plan.oneProject && i !== plan.oneProject) dropped.push(...doc.package.filter((p) => p.name === plan.one));
  dropPackages(doc, dropped);
  return doc;
}

function buildOrg(n, seed, projects, plan) {
  return Array.from({ length: n }, (_, i) => {
    const project = projects[i % projects.length];
    return { i, id: `org-scale/ws-${i}`, project: project.name, store: project.store, doc: perturb(project, i, seed, plan) };
  });
}

/** The workspace's Cargo.lock as text (what cargo-audit reads) and as cratewatch parses it. */
function lockOf(w) {
  const text = stringifyToml(w.doc);
  return { text, lock: shared.parseLockfile(text, `${w.id}/Cargo.lock`) };
}

function workspaceMessage(w) {
  const { text, lock } = lockOf(w);
  const checksum = `sha256:${createHash('sha256').update(text).digest('hex')}`;
  const ev = shared.workspaceEvent({
    id: w.id,
    org: 'org-scale',
    lock,
    ...(w.store ? { store: w.store } : {}),
    origin: { path: `${w.id}/Cargo.lock`, checksum },
    observedAt: new Date().toISOString(),
  });
  return { key: w.id, value: shared.encodeEvent(T.workspaces, ev) };
}

const versionsOf = (w, crate) => w.doc.package.filter((p) => isRegistry(p) && p.name === crate).map((p) => p.version);

// ---- the data every N loads --------------------------------------------------------------------
function readAdvisories() {
  const out = [];
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(dir, e.name));
      else if (e.name.endsWith('.md'))
        out.push(shared.parseAdvisory(readFileSync(join(dir, e.name), 'utf8'), join(dir, e.name).slice(join(data, 'rustsec').length + 1)));
    }
  };
  walk(join(data, 'rustsec/crates'));
  walk(join(data, 'rustsec/rust'));
  return out;
}

function readPools() {
  const dir = join(data, 'audit-pools');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.audits.toml'))
    .sort()
    .map((f) => {
      const name = f.replace('.audits.toml', '');
      return { name, url: `https://pools.invalid/${f}`, file: shared.parseAuditsFile(readFileSync(join(dir, f), 'utf8'), f) };
    });
}

/** Every pool's entries as ingest's pool source sends them (its own diff against an empty checkpoint). */
function poolMessages(pools) {
  const observedAt = new Date().toISOString();
  return pools.flatMap((p) =>
    diffPool({}, p.file).map((c) => ({
      key: `${p.name}/${c.crate}`,
      value: shared.encodeEvent(T.audits, { v: 1, pool: p.name, url: p.url, crate: c.crate, entries: c.entries, observedAt }),
    })),
  );
}

let advisorySeq = 0;
/** A fresh advisory on `crate` with no patched version: it hits every locked version of the crate. */
function newAdvisory(crate) {
  const id = `RUSTSEC-2097-${String(++advisorySeq).padStart(4, '0')}`;
  const advisory = {
    id,
    package: crate,
    collection: 'crates',
    title: `org-scale probe ${id}`,
    description: 'bench/org-scale.mjs',
    date: new Date().toISOString().slice(0, 10),
    aliases: [],
    related: [],
    categories: [],
    keywords: [],
    references: [],
    affected: { arch: [], os: [], functions: {} },
    versions: { patched: [], unaffected: [] },
  };
  return {
    id,
    message: {
      key: id,
      value: shared.encodeEvent(T.advisories, {
        v: 1,
        advisory,
        origin: { path: `crates/${crate}/${id}.md` },
        observedAt: new Date().toISOString(),
      }),
    },
  };
}

// ---- processes and the webhook -----------------------------------------------------------------
function service(name, env) {
  const prof = name === 'scorer' && values['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', values['cpu-prof']] : [];
  const p = spawn(process.execPath, [...prof, join(root, 'services', name, 'dist', 'main.js')], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (values.logs) {
    mkdirSync(values.logs, { recursive: true });
    p.stderr.pipe(createWriteStream(join(values.logs, `${name}-${p.pid}.log`)));
  }
  p.problems = new Map();
  p.coverageFlushes = [];
  let tail = '';
  let ready;
  p.ready = new Promise((res, rej) => {
    ready = res;
    p.on('exit', (c) => rej(new Error(`${name} exited ${c}: ${tail}`)));
  });
  p.ready.catch(() => undefined);
  let partial = '';
  p.stderr.on('data', (c) => {
    tail = (tail + c).slice(-20_000);
    const lines = (partial + c).split('\n');
    partial = lines.pop();
    for (const l of lines) watchLine(p, l, ready);
  });
  p.exited = new Promise((r) => p.on('exit', r));
  return p;
}

/** What the benchmark reads from a service's log: ready, its warnings and errors, coverage flushes. */
function watchLine(p, line, ready) {
  if (line.includes('"msg":"ready"')) ready();
  const level = /"level":"(warn|error)"/.exec(line)?.[1];
  if (level) {
    const msg = `${level}: ${/"msg":"([^"]*)"/.exec(line)?.[1] ?? line.slice(0, 200)}`;
    p.problems.set(msg, { n: (p.problems.get(msg)?.n ?? 0) + 1, first: p.problems.get(msg)?.first ?? line.slice(0, 800) });
  }
  if (line.includes('"msg":"pool changes applied to coverage"')) {
    try {
      const j = JSON.parse(line);
      p.coverageFlushes.push({ at: performance.now(), workspaces: j.workspaces, waitedMs: j.waitedMs, ms: j.ms });
    } catch {
      // not a whole JSON line: nothing to count
    }
  }
}

/** The webhook route's receiver: its body is the FindingEvent, so each alert names its finding. */
async function webhook() {
  const received = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const at = performance.now();
      try {
        const v = JSON.parse(body);
        for (const f of v.digest ? v.findings : [v]) received.push({ at, id: f.id, state: f.state });
      } catch {
        // not a FindingEvent: not an alert to count
      }
      res.end('ok');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { received, url: `http://127.0.0.1:${server.address().port}/hook`, close: () => server.close() };
}

/** Resolves with the arrival time of the last of `expected` ({id, state}) after index `from`, or null on timeout. */
async function alertsArrived(hook, from, expected, timeoutMs) {
  const want = new Set(expected.map((e) => `${e.id}|${e.state}`));
  let last = 0;
  const end = performance.now() + timeoutMs;
  for (let i = from; ;) {
    for (; i < hook.received.length; i++) {
      const r = hook.received[i];
      if (want.delete(`${r.id}|${r.state}`)) last = Math.max(last, r.at);
    }
    if (want.size === 0) return last;
    if (performance.now() > end) return null;
    await wait(5);
  }
}

// ---- one N ---------------------------------------------------------------------------------------
class Run {
  constructor(n, hook) {
    this.n = n;
    this.hook = hook;
    this.prefix = `${run}-n${n}.`;
    this.topic = (t) => `${this.prefix}${t}`;
    this.env = {
      ...process.env,
      CRATEWATCH_TOPIC_PREFIX: this.prefix,
      SCORER_GROUP: `${run}-n${n}-scorer`,
      NOTIFIER_GROUP: `${run}-n${n}-notifier`,
      SCORER_TRUSTED_POOLS: '',
      NOTIFIER_DIGEST_THRESHOLD: 'off',
      NOTIFIER_FEED_LISTEN: '127.0.0.1:0',
      SCORER_HTTP_LISTEN: '127.0.0.1:0',
      NOTIFIER_ROUTES: JSON.stringify([
        { name: 'bench', type: 'webhook', webhookEnv: 'ORG_SCALE_HOOK_URL', secretEnv: 'ORG_SCALE_HOOK_SECRET' },
      ]),
      ORG_SCALE_HOOK_URL: hook.url,
      ORG_SCALE_HOOK_SECRET: 'org-scale-bench-secret-0123456789',
      CRATEWATCH_STATE_DIR: mkdtempSync(join(tmpdir(), 'cw-org-scale-')),
      LOG_LEVEL: 'info',
    };
    this.inputs = [T.advisories, T.audits, T.workspaces, T.releases, T.maintainers].map(this.topic);
  }

  send(topic, messages) {
    return producer.send({ topic: this.topic(topic), messages });
  }

  /** Messages the scorer group has not committed, over its input topics. */
  async lag() {
    let n = 0;
    for (const t of await admin.fetchOffsets({ groupId: this.env.SCORER_GROUP, topics: this.inputs })) {
      const ends = await admin.fetchTopicOffsets(t.topic);
      for (const p of t.partitions) n += Number(ends.find((e) => e.partition === p.partition).high) - Math.max(0, Number(p.offset));
    }
    return n;
  }

  async marks() {
    const [r] = await q('MATCH (w:Workspace) WHERE w.coverageDue = true OR w.riskDue = true RETURN count(w) AS n');
    return r.n;
  }

  /** Idle: every input committed by the scorer, no coverage or risk owed, every finding taken by the notifier. */
  async settle(timeoutMs = 600_000) {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (
        (await groupCaughtUp(admin, this.env.SCORER_GROUP, this.inputs)) &&
        (await this.marks()) === 0 &&
        (!this.notifier || (await groupCaughtUp(admin, this.env.NOTIFIER_GROUP, [this.topic(T.findings)])))
      )
        return true;
      await wait(200);
    }
    say(`N=${this.n}: not settled after ${timeoutMs} ms`);
    return false;
  }
}

async function wipeGraph() {
  // 1,000 rows a transaction: after a large N, 10,000 nodes with their finding events and workspace
  // events as properties exceed Neo4j's default transaction memory pool.
  await qAuto('MATCH (n) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 1000 ROWS');
}

/**
 * Pools, then the advisory-db through `ingest rustsec`, then the N workspaces, into a running scorer.
 * The notifier is started once before (so its route exists while nothing is open), stopped during
 * the load and restarted at the end of risk.findings: the load raises thousands of alerts, none of
 * them measured, and delivering them one webhook call each would only delay the rounds.
 */
async function loadOrg(r, org, pools) {
  r.env.SCORER_TRUSTED_POOLS = pools.map((p) => p.name).join(',');
  r.scorer = service('scorer', r.env);
  await r.scorer.ready;
  const first = service('notifier', r.env);
  await first.ready;
  first.kill('SIGTERM');
  await first.exited;
  const t0 = performance.now();
  const pm = poolMessages(pools);
  for (let i = 0; i < pm.length; i += 500) await r.send(T.audits, pm.slice(i, i + 500));
  await promisify(execFile)(process.execPath, [join(root, 'services/ingest/dist/main.js'), 'rustsec', '--db', join(data, 'rustsec')], {
    env: r.env,
    maxBuffer: 1 << 26,
  });
  await r.settle();
  const tFacts = performance.now() - t0;
  say(`N=${r.n}: ${pm.length} pool events and the advisory-db applied in ${Math.round(tFacts)} ms; producing ${org.length} workspaces`);
  const t1 = performance.now();
  for (const w of org) await r.send(T.workspaces, [workspaceMessage(w)]);
  // A progress line every 15 s, fire-and-forget: both reads fall back to '?', so it never rejects.
  const progress = setInterval(
    () =>
      void (async () =>
        say(
          `N=${r.n}: loading, scorer lag ${await r.lag().catch(() => '?')} messages, ${await r.marks().catch(() => '?')} workspaces owed work`,
        ))(),
    15_000,
  );
  await r.settle(3_600_000);
  clearInterval(progress);
  const tWs = performance.now() - t1;
  const [open] = await q(`MATCH (f:Finding {state: 'open'}) RETURN count(f) AS n`);
  await skipToEnd(r.env.NOTIFIER_GROUP, r.topic(T.findings));
  r.notifier = service('notifier', r.env);
  await r.notifier.ready;
  say(`N=${r.n}: ${org.length} workspaces applied in ${Math.round(tWs)} ms, ${open.n} findings open`);
  return { poolEvents: pm.length, factsMs: Math.round(tFacts), workspacesMs: Math.round(tWs), openFindings: open.n };
}

async function skipToEnd(groupId, topic) {
  const ends = await admin.fetchTopicOffsets(topic);
  await admin.setOffsets({ groupId, topic, partitions: ends.map((e) => ({ partition: e.partition, offset: e.high })) });
}

// ---- the timed classes ---------------------------------------------------------------------------
/** A new advisory on `crate`: every (workspace, locked version) gets one opened alert. */
async function advisoryRound(r, org, crate) {
  const { id, message } = newAdvisory(crate);
  const expected = org.flatMap((w) =>
    versionsOf(w, crate).map((v) => ({ id: shared.findingId(w.id, crate, v, `advisory:${id}`), state: 'open' })),
  );
  const from = r.hook.received.length;
  const t0 = performance.now();
  await r.send(T.advisories, [message]);
  const last = await alertsArrived(r.hook, from, expected, 600_000);
  return { ms: last === null ? null : last - t0, alerts: expected.length };
}

const findingStates = async (where, params) =>
  new Map((await q(`MATCH (f:Finding) WHERE ${where} RETURN f.id AS id, f.state AS state`, params)).map((f) => [f.id, f.state]));
const changed = (before, after) => [...after].filter(([id, s]) => before.get(id) !== s).map(([id, state]) => ({ id, state }));

async function until(what, fn, timeoutMs, everyMs = 20) {
  const end = performance.now() + timeoutMs;
  for (;;) {
    if (await fn()) return performance.now();
    if (performance.now() > end) return null;
    await wait(everyMs);
  }
}

/** Toggles tar in one spin workspace; done when its coverage is written and every finding it moved has alerted. */
async function lockfileRound(r, org, plan, advisories, round) {
  const spins = org.filter((w) => w.i % 4 === plan.lockfile.project);
  const w = spins[round % spins.length];
  const pkg = w.doc.package.find((p) => isRegistry(p) && p.name === plan.lockfile.crate);
  const to = pkg.version === plan.lockfile.from ? plan.lockfile.to : plan.lockfile.from;
  const hitsBefore = new Set(
    shared
      .matchLockfile(advisories, lockOf(w).lock)
      .map((h) => shared.findingId(w.id, h.package.name, h.package.version, `advisory:${h.advisory.id}`)),
  );
  pkg.version = to;
  const hitsAfter = new Set(
    shared
      .matchLockfile(advisories, lockOf(w).lock)
      .map((h) => shared.findingId(w.id, h.package.name, h.package.version, `advisory:${h.advisory.id}`)),
  );
  const advisoryAlerts = [
    ...[...hitsBefore].filter((id) => !hitsAfter.has(id)).map((id) => ({ id, state: 'resolved' })),
    ...[...hitsAfter].filter((id) => !hitsBefore.has(id)).map((id) => ({ id, state: 'open' })),
  ];
  const other = `f.workspace = $ws AND f.kind <> 'advisory'`;
  const before = await findingStates(other, { ws: w.id });
  const from = r.hook.received.length;
  const t0 = performance.now();
  await r.send(T.workspaces, [workspaceMessage(w)]);
  const id = `${plan.lockfile.crate}@${to}`;
  const tCov = await until(
    'coverage',
    async () =>
      (await q('MATCH (:Workspace {id: $ws})-[l:LOCKS]->(:Version {id: $id}) RETURN l.vetted AS v', { ws: w.id, id }))[0]?.v != null,
    600_000,
  );
  const expected = [...advisoryAlerts, ...changed(before, await findingStates(other, { ws: w.id }))];
  const last = tCov === null ? null : await alertsArrived(r.hook, from, expected, 600_000);
  return { ms: last === null ? null : Math.max(last, tCov) - t0, alerts: expected.length, workspace: w.id, version: id };
}

/**
 * The (crate, version) pairs with the most open unvetted findings whose needs a trusted pool's
 * full audit can meet (the built-in criteria only), one per crate, crates the other classes use left out.
 */
async function poolCandidates(plan) {
  const rows = await q(
    `MATCH (f:Finding {kind: 'unvetted', state: 'open'}) RETURN f.crate AS crate, f.version AS version, collect(f.vet) AS vets, count(f) AS n ORDER BY n DESC, crate`,
  );
  const seen = new Set([plan.half, plan.one, plan.lockfile.crate]);
  const out = [];
  for (const row of rows) {
    const needs = [...new Set(row.vets.flatMap((v) => JSON.parse(v).needs))].sort();
    if (seen.has(row.crate) || !needs.every((c) => c === 'safe-to-deploy' || c === 'safe-to-run')) continue;
    seen.add(row.crate);
    out.push({
      crate: row.crate,
      version: row.version,
      open: row.n,
      criteria: needs.includes('safe-to-deploy') ? 'safe-to-deploy' : 'safe-to-run',
    });
  }
  return out;
}

/** One new full audit in the google pool; done when no coverage is owed and every finding it moved has alerted. */
async function poolRound(r, pools, cand, round) {
  const google = pools.find((p) => p.name === 'google');
  const entries = crateEntries(google.file, cand.crate);
  const notes = `${run} round ${round}`;
  entries.audits.push({ who: 'org-scale bench <bench@example.com>', criteria: cand.criteria, version: cand.version, notes });
  const value = shared.encodeEvent(T.audits, {
    v: 1,
    pool: google.name,
    url: google.url,
    crate: cand.crate,
    entries,
    observedAt: new Date().toISOString(),
  });
  const scope = "f.crate = $crate AND f.kind = 'unvetted'";
  const before = await findingStates(scope, { crate: cand.crate });
  const flushes = r.scorer.coverageFlushes.length;
  const from = r.hook.received.length;
  const t0 = performance.now();
  await r.send(T.audits, [{ key: `${google.name}/${cand.crate}`, value }]);
  const applied = await until(
    'audit',
    async () =>
      (
        await q('MATCH (a:Audit {pool: $pool, crate: $crate}) WHERE a.notes = $notes RETURN count(a) AS n', {
          pool: google.name,
          crate: cand.crate,
          notes,
        })
      )[0].n > 0,
    600_000,
    50,
  );
  const tMarks =
    applied === null
      ? null
      : await until(
          'coverage',
          async () => (await q('MATCH (w:Workspace) WHERE w.coverageDue = true RETURN count(w) AS n'))[0].n === 0,
          1_200_000,
          50,
        );
  const expected = changed(before, await findingStates(scope, { crate: cand.crate }));
  const last = tMarks === null ? null : await alertsArrived(r.hook, from, expected, 600_000);
  // The flush's log line comes after its last finding is sent: wait for it (not timed) to report it.
  await until('flush logged', () => r.scorer.coverageFlushes.length > flushes, 10_000);
  const flush = r.scorer.coverageFlushes.slice(flushes);
  return {
    ms: last === null ? null : Math.max(last || 0, tMarks) - t0,
    alerts: expected.length,
    crate: `${cand.crate}@${cand.version}`,
    openBefore: cand.open,
    recomputed: flush.reduce((n, f) => n + f.workspaces, 0),
    settleWaitMs: flush[0]?.waitedMs,
    recomputeMs: flush.reduce((n, f) => n + f.ms, 0),
  };
}

/** Runs `rounds` of a class, the scorer and notifier idle before each. */
async function timed(r, label, fn) {
  const out = [];
  for (let i = 0; i < rounds; i++) {
    await r.settle();
    const res = await fn(i);
    out.push(res);
    say(`N=${r.n} ${label} round ${i + 1}/${rounds}: ${res.ms === null ? 'TIMED OUT' : `${Math.round(res.ms)} ms`} (${res.alerts} alerts)`);
  }
  return { ...stats(out.map((x) => x.ms)), perRound: out.map((x) => ({ ...x, ms: x.ms === null ? null : Math.round(x.ms) })) };
}

// ---- the sustained mix ---------------------------------------------------------------------------
/** Release (and 1 in 20 maintainers) events for crates the org locks, new versions each, at `rate`/s. */
function mixMessages(crates, count, seq) {
  const now = new Date().toISOString();
  const out = { releases: [], maintainers: [] };
  for (let k = 0; k < count; k++, seq.n++) {
    const c = crates[seq.n % crates.length];
    if (seq.n % 20 === 19) {
      const ev = {
        v: 1,
        crate: c.name,
        owners: [
          { login: `owner-${seq.n % 97}`, kind: 'user', observedAt: now },
          { login: 'org-scale-team', kind: 'user', observedAt: now },
        ],
        repository: `https://github.com/org-scale/${c.name}`,
        signals: {},
        observedAt: now,
      };
      out.maintainers.push({ key: c.name, value: shared.encodeEvent(T.maintainers, ev) });
    } else {
      const ev = {
        v: 1,
        crate: c.name,
        version: `${c.major}.${c.minor}.${1000 + Math.floor(seq.n / crates.length)}`,
        yanked: false,
        features: {},
        dependencies: [],
        publishedAt: now,
        observedAt: now,
      };
      out.releases.push({ key: c.name, value: shared.encodeEvent(T.releases, ev) });
    }
  }
  return out;
}

async function sustained(r, org, plan) {
  const seen = new Map();
  for (const w of org) for (const p of w.doc.package) if (isRegistry(p) && /^\d+\.\d+\.\d+$/.test(p.version)) seen.set(p.name, p.version);
  const crates = [...seen].sort().map(([name, v]) => ({ name, major: v.split('.')[0], minor: v.split('.')[1] }));
  const rate = Number(values.rate);
  const ms = Number(values.seconds) * 1000;
  const seq = { n: 0 };
  const probes = [];
  const oneWs = org.find((w) => w.i === plan.oneProject);
  await r.settle();
  const t0 = performance.now();
  let nextProbe = 0;
  while (performance.now() - t0 < ms) {
    const due = Math.floor(((performance.now() - t0) / 1000) * rate) - seq.n;
    const m = mixMessages(crates, Math.max(0, due), seq);
    const topicMessages = [
      { topic: r.topic(T.releases), messages: m.releases },
      { topic: r.topic(T.maintainers), messages: m.maintainers },
    ].filter((t) => t.messages.length);
    if (topicMessages.length) await producer.sendBatch({ topicMessages });
    if (performance.now() - t0 >= nextProbe) {
      nextProbe += 2000;
      const { id, message } = newAdvisory(plan.one);
      probes.push({
        from: r.hook.received.length,
        t0: performance.now(),
        expected: versionsOf(oneWs, plan.one).map((v) => ({
          id: shared.findingId(oneWs.id, plan.one, v, `advisory:${id}`),
          state: 'open',
        })),
      });
      await r.send(T.advisories, [message]);
    }
    await wait(20);
  }
  const produced = seq.n;
  const tEnd = performance.now();
  const lagAtEnd = await r.lag();
  say(`N=${r.n} sustained: ${produced} events in ${Math.round(tEnd - t0)} ms (+${probes.length} probes); scorer lag ${lagAtEnd}`);
  // A scorer far behind may take longer to drain than a run can wait: then the lag left is the figure.
  const deadline = tEnd + Number(values['drain-timeout']) * 1000;
  const tZero = await until('lag 0', async () => (await r.lag()) === 0, deadline - performance.now(), 500);
  const lagLeft = tZero === null ? await r.lag() : 0;
  const lat = [];
  for (const p of probes) {
    const last = await alertsArrived(r.hook, p.from, p.expected, Math.max(1000, deadline - performance.now()));
    lat.push(last === null ? null : last - p.t0);
  }
  const applied = tZero === null ? null : Math.round((produced + probes.length) / ((tZero - t0) / 1000));
  return {
    produced,
    producedPerSec: Math.round(produced / ((tEnd - t0) / 1000)),
    probes: stats(lat),
    probeMs: lat.map((x) => (x === null ? null : Math.round(x))),
    lagAtEnd,
    drainedMsAfterEnd: tZero === null ? null : Math.round(tZero - tEnd),
    lagLeftAtDeadline: lagLeft,
    scorerEventsPerSec: applied,
  };
}

// ---- limits of the parts, and the peer -------------------------------------------------------------
/** Kafka's own producer perf test, from the jars infra/local runs the broker with. */
async function kafkaPerf() {
  const cp = join(root, 'infra/local/lib/kafka');
  if (!existsSync(cp) || !readdirSync(cp).some((f) => f.startsWith('kafka-tools-')))
    return { skipped: 'no kafka-tools jar in infra/local/lib/kafka (run infra/local/start)' };
  const topic = `${run}.perf`;
  const java = process.env.JAVA ?? (process.env.JAVA_HOME ? join(process.env.JAVA_HOME, 'bin/java') : 'java');
  const args = [
    '-cp',
    `${cp}/*`,
    'org.apache.kafka.tools.ProducerPerformance',
    '--topic',
    topic,
    '--num-records',
    '100000',
    '--record-size',
    '200',
    '--throughput',
    '-1',
    '--producer-props',
    `bootstrap.servers=${process.env.KAFKA_BROKERS}`,
    'acks=all',
  ];
  const { stdout } = await promisify(execFile)(java, args, { maxBuffer: 1 << 24 });
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  const line = stdout.trim().split('\n').pop();
  const m = /([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency.* (\d+) ms 99th/.exec(line);
  return {
    records: 100000,
    recordBytes: 200,
    acks: 'all',
    recordsPerSec: m ? Math.round(Number(m[1])) : null,
    mbPerSec: m ? Number(m[2]) : null,
    avgLatencyMs: m ? Number(m[3]) : null,
    p99LatencyMs: m ? Number(m[4]) : null,
    line,
  };
}

/** A plain batched UNWIND … MERGE (10k rows, batches of 1,000) on a label of this run's, deleted after. */
async function neo4jMerge() {
  const label = `OrgScale_${run.replace(/[^A-Za-z0-9]/g, '_')}`;
  const constraint = `${label}_id`;
  await q(`CREATE CONSTRAINT ${constraint} IF NOT EXISTS FOR (n:${label}) REQUIRE n.id IS UNIQUE`);
  const pass = async () => {
    const t0 = performance.now();
    for (let b = 0; b < 10; b++) {
      const rows = Array.from({ length: 1000 }, (_, k) => ({
        id: `row-${b * 1000 + k}`,
        crate: `crate-${k % 97}`,
        version: `1.0.${k}`,
        at: new Date().toISOString(),
      }));
      await q(`UNWIND $rows AS r MERGE (n:${label} {id: r.id}) SET n.crate = r.crate, n.version = r.version, n.at = r.at`, { rows });
    }
    return Math.round(10000 / ((performance.now() - t0) / 1000));
  };
  const created = await pass();
  const matched = await pass();
  await qAuto(`MATCH (n:${label}) CALL { WITH n DELETE n } IN TRANSACTIONS OF 5000 ROWS`);
  await q(`DROP CONSTRAINT ${constraint} IF EXISTS`);
  return { rows: 10000, batch: 1000, createRowsPerSec: created, mergeExistingRowsPerSec: matched };
}

/** `cargo audit` over the org's N lockfiles against the same advisory-db, one process each, in turn. */
async function peer(org) {
  try {
    await promisify(execFile)('cargo', ['audit', '--version']);
  } catch {
    return { skipped: 'cargo-audit is not installed (cargo install cargo-audit)' };
  }
  const dir = mkdtempSync(join(tmpdir(), 'cw-org-scale-audit-'));
  const codes = {};
  const t0 = performance.now();
  for (const w of org) {
    const file = join(dir, `ws-${w.i}.lock`);
    writeFileSync(file, lockOf(w).text);
    const code = await new Promise((res) =>
      execFile('cargo', ['audit', '--db', join(data, 'rustsec'), '--no-fetch', '--stale', '--file', file], { maxBuffer: 1 << 26 }, (err) =>
        res(err ? err.code : 0),
      ),
    );
    codes[code] = (codes[code] ?? 0) + 1;
  }
  const ms = performance.now() - t0;
  rmSync(dir, { recursive: true, force: true });
  return { lockfiles: org.length, totalMs: Math.round(ms), perLockfileMs: Math.round(ms / org.length), exitCodes: codes };
}

// ---- the run ---------------------------------------------------------------------------------------
async function oneN(n, projects, plan, pools, advisories) {
  say(`N=${n}: building the org, clearing the graph`);
  const org = buildOrg(n, Number(values.seed), projects, plan);
  await wipeGraph();
  const hook = await webhook();
  const r = new Run(n, hook);
  const res = {
    n,
    loadAvgStart: load(),
    plan: {
      half: plan.half,
      halfWorkspaces: org.filter((w) => versionsOf(w, plan.half).length).length,
      one: plan.one,
      oneWorkspaces: org.filter((w) => versionsOf(w, plan.one).length).length,
    },
    classes: {},
  };
  try {
    if (CLASSES.every((c) => skip.has(c))) {
      res.peer = skip.has('peer') ? { skipped: '--skip peer' } : await peer(org);
      return res;
    }
    res.load = await loadOrg(r, org, pools);
    const run1 = (name, fn) => (skip.has(name) ? undefined : timed(r, name, fn));
    res.classes['advisory-one'] = await run1('advisory-one', () => advisoryRound(r, org, plan.one));
    res.classes['advisory-half'] = await run1('advisory-half', () => advisoryRound(r, org, plan.half));
    res.classes.lockfile = await run1('lockfile', (i) => lockfileRound(r, org, plan, advisories, i));
    if (!skip.has('pool-audit')) {
      const cands = await poolCandidates(plan);
      say(
        `N=${n}: pool-audit candidates ${cands
          .slice(0, rounds)
          .map((c) => `${c.crate}@${c.version} (${c.open} open)`)
          .join(', ')}`,
      );
      res.classes['pool-audit'] = await run1('pool-audit', (i) => poolRound(r, pools, cands[i % cands.length], i));
    }
    if (!skip.has('sustained')) res.sustained = await sustained(r, org, plan);
    res.peer = skip.has('peer') ? { skipped: '--skip peer' } : await peer(org);
  } finally {
    for (const p of [r.scorer, r.notifier]) if (p) p.kill('SIGTERM');
    await Promise.all([r.scorer?.exited, r.notifier?.exited]);
    hook.close();
    res.scorerLog = Object.fromEntries(r.scorer?.problems ?? []);
    res.notifierLog = Object.fromEntries(r.notifier?.problems ?? []);
    res.loadAvgEnd = load();
  }
  return res;
}

const fmt = (x) => (x === null || x === undefined ? '—' : x.toLocaleString('en-US'));
function printN(res) {
  const row = (name, s) =>
    s
      ? `| ${name} | ${fmt(s.p50)} | ${fmt(s.p99)} | ${fmt(s.max)} | ${s.rounds}${s.incomplete ? ` (+${s.incomplete} timed out)` : ''} |`
      : `| ${name} | skipped | | | |`;
  const names = {
    'advisory-one': `new advisory, ${res.plan.oneWorkspaces} workspace locks ${res.plan.one}`,
    'advisory-half': `new advisory, ${res.plan.halfWorkspaces} of ${res.n} lock ${res.plan.half}`,
    lockfile: "one workspace's lockfile changes by one version",
    'pool-audit': 'one new audit in a trusted pool',
  };
  console.log(
    `\nN = ${res.n}: load average ${res.loadAvgStart.join(' ')} at start, ${res.loadAvgEnd.join(' ')} at end; workspaces loaded in ${fmt(res.load?.workspacesMs)} ms (${fmt(res.load?.openFindings)} findings open)`,
  );
  console.log('| event class | p50 ms | p99 ms | max ms | rounds |\n| --- | --- | --- | --- | --- |');
  for (const c of CLASSES.slice(0, 4)) console.log(row(names[c], res.classes[c]));
  const s = res.sustained;
  if (s) {
    const drained =
      s.drainedMsAfterEnd === null
        ? `still ${fmt(s.lagLeftAtDeadline)} after the ${values['drain-timeout']} s drain timeout`
        : `back to 0 after ${fmt(s.drainedMsAfterEnd)} ms; scorer took ${fmt(s.scorerEventsPerSec)} events/s`;
    console.log(
      `| sustained ${fmt(s.producedPerSec)} events/s for ${values.seconds} s, probe every 2 s | ${fmt(s.probes.p50)} | ${fmt(s.probes.p99)} | ${fmt(s.probes.max)} | ${s.probes.rounds} probes${s.probes.incomplete ? ` (+${s.probes.incomplete} not alerted)` : ''} |\n  scorer lag at the end ${fmt(s.lagAtEnd)}, ${drained}`,
    );
  }
  const pa = res.classes['pool-audit'];
  if (pa) console.log(`  pool-audit: ${pa.perRound.map((x) => `${x.crate} ${x.alerts} resolved/${x.recomputed} recomputed`).join('; ')}`);
  console.log(
    res.peer?.skipped
      ? `  peer: ${res.peer.skipped}`
      : `  peer: cargo audit over ${res.peer.lockfiles} lockfiles, ${fmt(res.peer.totalMs)} ms in all (${fmt(res.peer.perLockfileMs)} ms each), exit codes ${JSON.stringify(res.peer.exitCodes)}`,
  );
  const logged = (m) =>
    Object.entries(m)
      .map(([k, v]) => `${k} x${v.n}`)
      .join('; ') || 'none';
  console.log(`  scorer warnings/errors: ${logged(res.scorerLog)}\n  notifier warnings/errors: ${logged(res.notifierLog)}`);
}

const started = new Date();
const out = { date: started.toISOString(), cpus: cpus().length, seed: Number(values.seed), rounds, loadAvgStart: load(), results: [] };
say(`run ${run}, N = ${sizes.join(', ')}, ${rounds} rounds, load average ${out.loadAvgStart.join(' ')}`);
const projects = readProjects();
const plan = choosePlan(projects);
const pools = readPools();
const advisories = readAdvisories();
if (!skip.has('limits')) {
  say('limits: Kafka ProducerPerformance, Neo4j UNWIND … MERGE');
  out.limits = {
    kafka: await kafkaPerf().catch((e) => ({ error: String(e) })),
    neo4j: await neo4jMerge().catch((e) => ({ error: String(e) })),
  };
  console.log(
    `limits: Kafka ProducerPerformance ${fmt(out.limits.kafka.recordsPerSec)} records/s (100k x 200 B, acks=all); Neo4j UNWIND MERGE ${fmt(out.limits.neo4j.createRowsPerSec)} rows/s created, ${fmt(out.limits.neo4j.mergeExistingRowsPerSec)} rows/s matched (10k rows, batches of 1,000)`,
  );
}
for (const n of sizes) {
  const res = await oneN(n, projects, plan, pools, advisories);
  out.results.push(res);
  printN(res);
}
out.loadAvgEnd = load();
console.log(`\nload average: ${out.loadAvgStart.join(' ')} at start, ${out.loadAvgEnd.join(' ')} at end (${out.cpus} cores)`);
mkdirSync(join(root, 'bench/out'), { recursive: true });
const file = join(root, 'bench/out', `org-scale-${started.toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify(out, null, 2));
console.log(`wrote ${file}`);
await producer.disconnect();
await admin.disconnect();
await driver.close();
