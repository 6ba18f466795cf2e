#!/usr/bin/env node
// Watchdog for servers that belong to one process (test/infra.ts starts a private set per test run):
//
//   node infra/local/reap.mjs OWNER_PID DATA_DIR      (CRATEWATCH_* settings of that set in the env)
//
// Waits while OWNER_PID lives. When it is gone and DATA_DIR still exists (the owner died without
// its teardown: SIGKILL, a crash), runs `infra/local/stop --wipe` with this environment, which stops
// that set's servers and deletes DATA_DIR. Exits as soon as DATA_DIR is gone (the owner's teardown
// ran). Run detached, so a signal to the owner's process group does not end it first.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const [ownerArg, dataDir] = process.argv.slice(2);
const owner = Number(ownerArg);
if (!Number.isInteger(owner) || owner <= 0 || !dataDir) {
  console.error('usage: reap.mjs OWNER_PID DATA_DIR');
  process.exit(2);
}
if (path.resolve(process.env.CRATEWATCH_INFRA_DATA ?? '') !== path.resolve(dataDir)) {
  console.error('reap.mjs: CRATEWATCH_INFRA_DATA must name DATA_DIR (the set to stop)');
  process.exit(2);
}
const here = path.dirname(fileURLToPath(import.meta.url));

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
};

process.on('SIGTERM', () => process.exit(0)); // the owner's teardown did the work
const timer = setInterval(() => {
  if (!existsSync(dataDir)) process.exit(0);
  if (alive(owner)) return;
  clearInterval(timer);
  try {
    execFileSync('bash', [path.join(here, 'stop'), '--wipe'], { stdio: 'ignore', env: process.env });
  } finally {
    process.exit(0);
  }
}, 1000);
