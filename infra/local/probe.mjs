#!/usr/bin/env node
// Waits until the local Kafka and/or Neo4j answer real protocol requests (not just a TCP accept):
// Kafka: a Metadata request through kafkajs (the client the services use); Neo4j: Bolt handshake
// (verifyConnectivity) plus `RETURN 1` on the default database.
//
//   node infra/local/probe.mjs [--kafka HOST:PORT [--kafka-pid PID]] [--neo4j URI [--neo4j-pid PID]]
//                              [--timeout SECONDS]
// Exit 0 when every named server answered; 1 otherwise. Prints one line per server:
//   "kafka ready after 3.1s" / "kafka NOT READY: <last error>" / "kafka DIED (pid 123 exited)".
// With a pid, gives up on that server as soon as the process is gone.
// NEO4J_USER / NEO4J_PASSWORD: basic auth when NEO4J_PASSWORD is non-empty, else no auth.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// Resolve packages from the repo root's node_modules, wherever the script is run from.
const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', '..', 'package.json'));

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const timeoutMs = Number(opt('--timeout') ?? '120') * 1000;
const deadline = Date.now() + timeoutMs;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function alive(pid) {
  if (!pid) return true;
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

async function waitFor(name, pid, once) {
  const t0 = Date.now();
  let last = 'no attempt';
  while (Date.now() < deadline) {
    if (!alive(pid)) return { name, ok: false, msg: `${name} DIED (pid ${pid} exited)` };
    try {
      await once();
      return { name, ok: true, msg: `${name} ready after ${((Date.now() - t0) / 1000).toFixed(1)}s` };
    } catch (e) {
      last = e?.message ?? String(e);
    }
    await sleep(500);
  }
  return { name, ok: false, msg: `${name} NOT READY after ${timeoutMs / 1000}s: ${last}` };
}

async function kafkaOnce(broker) {
  const { Kafka, logLevel } = require('kafkajs');
  const kafka = new Kafka({
    clientId: 'cratewatch-probe',
    brokers: [broker],
    connectionTimeout: 2000,
    requestTimeout: 5000,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin({ retry: { retries: 0 } });
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    if (!cluster.brokers.length) throw new Error('no brokers in metadata');
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

async function neo4jOnce(uri) {
  const neo4j = require('neo4j-driver');
  const password = process.env.NEO4J_PASSWORD ?? '';
  const auth = password ? neo4j.auth.basic(process.env.NEO4J_USER || 'neo4j', password) : neo4j.auth.none();
  const driver = neo4j.driver(uri, auth, {
    connectionTimeout: 2000,
    maxConnectionPoolSize: 1,
    logging: { level: 'error', logger: () => {} },
  });
  try {
    await driver.verifyConnectivity();
    await driver.executeQuery('RETURN 1');
  } finally {
    await driver.close().catch(() => {});
  }
}

const jobs = [];
const kafka = opt('--kafka');
const neo = opt('--neo4j');
if (kafka) jobs.push(waitFor('kafka', opt('--kafka-pid'), () => kafkaOnce(kafka)));
if (neo) jobs.push(waitFor('neo4j', opt('--neo4j-pid'), () => neo4jOnce(neo)));
if (!jobs.length) {
  console.error('usage: probe.mjs [--kafka HOST:PORT] [--neo4j URI] [--timeout S]');
  process.exit(2);
}
const results = await Promise.all(jobs);
for (const r of results) console.log(r.msg);
process.exit(results.every((r) => r.ok) ? 0 : 1);
