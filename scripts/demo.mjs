#!/usr/bin/env node
/**
 * `npm run demo`: brings the pipeline up on this machine and shows it working on examples/.
 *
 * 1. Kafka and Neo4j: KAFKA_BROKERS / NEO4J_URI when set, else `infra/local/start` (real servers
 *    from Maven Central jars on loopback; they stay up afterwards — `infra/local/stop` stops them).
 * 2. Starts the scorer and the notifier (alerts go to SLACK_WEBHOOK_URL when set, else to this terminal).
 * 3. Ingests examples/advisory-db and examples/workspaces/demo-app, waits for the alerts, stops the services.
 *
 * Each run registers the example workspace under a fresh id, so every run shows its alerts.
 *
 * Its Kafka traffic stays under its own topic prefix (CRATEWATCH_TOPIC_PREFIX, default `demo.`):
 * the example advisories (RUSTSEC-2099-*) and workspaces never reach another instance on the same
 * broker, and a fresh scorer group reads only the demo's own backlog. The graph has no such
 * namespace (Neo4j Community has one database; advisories are keyed by id, crates by name): on a
 * shared Neo4j the demo's advisories would raise findings for any workspace locking smallvec or
 * left-pad-rs. So the tests never use these servers: test/infra.ts starts servers of their own.
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const say = (m) => process.stderr.write(`\x1b[1mdemo:\x1b[0m ${m}\n`);

function infra() {
  if (process.env.KAFKA_BROKERS && process.env.NEO4J_URI) {
    say(`using KAFKA_BROKERS=${process.env.KAFKA_BROKERS} NEO4J_URI=${process.env.NEO4J_URI}`);
    return {};
  }
  say('no KAFKA_BROKERS/NEO4J_URI: starting local Kafka and Neo4j (infra/local/start; the first run fetches jars from Maven Central)…');
  const out = execFileSync(join(root, 'infra/local/start'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const env = {};
  for (const m of out.matchAll(/^(KAFKA_BROKERS|NEO4J_URI)=(\S+)$/gm)) env[m[1]] = m[2];
  if (!env.KAFKA_BROKERS || !env.NEO4J_URI) throw new Error(`infra/local/start did not print KAFKA_BROKERS and NEO4J_URI:\n${out}`);
  say(`Kafka at ${env.KAFKA_BROKERS}, Neo4j at ${env.NEO4J_URI} (stop them with infra/local/stop)`);
  return env;
}

const run = `demo-${Date.now().toString(36)}`;
const env = {
  ...process.env,
  ...infra(),
  CRATEWATCH_TOPIC_PREFIX: process.env.CRATEWATCH_TOPIC_PREFIX ?? 'demo.', // the demo's topics only (see above)
  NOTIFIER_FEED_LISTEN: process.env.NOTIFIER_FEED_LISTEN ?? '127.0.0.1:0', // the risk feed on a free port
  SCORER_GROUP: `${run}-scorer`,
  NOTIFIER_GROUP: `${run}-notifier`,
  CRATEWATCH_STATE_DIR: mkdtempSync(join(tmpdir(), 'cratewatch-demo-')),
  LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
};

function service(name) {
  const p = spawn(process.execPath, [join(root, 'services', name, 'dist', 'main.js')], {
    env: { ...env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  p.stderr.on('data', (c) => (log += c));
  p.ready = new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error(`${name} did not start:\n${log}`)), 120_000);
    p.stderr.on('data', () => /"msg":"ready"/.test(log) && (clearTimeout(t), res()));
    p.on('exit', (c) => rej(new Error(`${name} exited (${c}):\n${log}`)));
  });
  p.log = () => log;
  return p;
}

function ingest(args) {
  execFileSync(process.execPath, [join(root, 'services/ingest/dist/main.js'), ...args], { env, stdio: ['ignore', 'inherit', 'inherit'] });
}

const scorer = service('scorer');
const notifier = service('notifier');
// The notifier prints every alert it has not delivered yet; the demo counts those of its workspace.
let alerts = 0;
let unvetted = false;
let printed = '';
notifier.stdout.on('data', (c) => {
  process.stdout.write(c);
  printed += c;
  alerts = printed.split(`${run}-app`).length - 1 > 0 ? new Set(printed.match(/RUSTSEC-2099-\d{4}/g) ?? []).size : 0;
  unvetted = printed.includes(`${run}-app|old-time|0.1.44|unvetted`); // its finding id, in a block or a digest line
});
try {
  await Promise.all([scorer.ready, notifier.ready]);
  say('scorer and notifier are up; ingesting examples/advisory-db and examples/workspaces/demo-app…');
  ingest(['rustsec', '--db', join(root, 'examples/advisory-db')]);
  ingest([
    'workspace',
    '--lockfile',
    join(root, 'examples/workspaces/demo-app'),
    '--id',
    `${run}-app`,
    '--org',
    'example',
    '--team',
    'demo',
  ]);
  const deadline = Date.now() + 60_000;
  while ((alerts < 2 || !unvetted) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
  await new Promise((r) => setTimeout(r, 1500));
  if (process.env.SLACK_WEBHOOK_URL) say('alerts were posted to SLACK_WEBHOOK_URL (see the notifier log above)');
  const ok = alerts >= 2 && unvetted;
  say(
    ok
      ? `done: workspace ${run}-app got ${alerts} advisory alerts (smallvec: critical vulnerability; left-pad-rs: unmaintained; none for the withdrawn old-time advisory) and 1 unvetted alert (old-time 0.1.44: a build-dependency no audit in its supply-chain/ covers). Its audit coverage: NEO4J_URI=${env.NEO4J_URI} node cli/dist/main.js query coverage ${run}-app`
      : `expected 2 advisory alerts and 1 unvetted alert, saw ${alerts} and ${unvetted ? 1 : 0}; scorer log:\n${scorer.log()}\nnotifier log:\n${notifier.log()}`,
  );
  process.exitCode = ok ? 0 : 1;
} finally {
  scorer.kill('SIGTERM');
  notifier.kill('SIGTERM');
}
