#!/usr/bin/env node
// cratewatch against the real peers it replaces, whole process, side by side (A B A B …, each
// pair in turn): `scan` vs `cargo vet --locked`, `scan --advisory-db` vs `cargo audit`, and
// `scan`/`gate` with every check vs (cargo vet + cargo audit + cargo deny) ÷ 3. Prints each side's
// median wall time and the median of the pair ratios. Installs a missing peer with
// `cargo install --locked` (a bench, never CI). Needs ../shared/data and `npx tsc -b` first.
// cargo vet and cargo deny need manifests: libprio-rs is assembled in a temp folder from the
// reconstructed manifests of shared/test/vet/fixtures/differential-real (as its record.sh does);
// its first cargo metadata fetches the index entries of its crates from crates.io.
// RUNS=n (default 7); CACHE=cold runs every cratewatch side with an empty cache folder.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const data = path.resolve(root, '../shared/data');
const bin = path.join(root, 'cli/dist/main.js');
const RUNS = Number(process.env.RUNS ?? 7);
const PEERS = {
  'cargo-vet': ['cargo-vet', '--version', '0.10.3'],
  'cargo-audit': ['cargo-audit'],
  'cargo-deny': ['cargo-deny', '--version', '0.20.2'],
};

if (!existsSync(path.join(data, 'projects'))) {
  console.log(`skipped: ${data} is absent`);
  process.exit(0);
}
if (!existsSync(bin)) {
  console.error('build first: npx tsc -b');
  process.exit(2);
}

/** Installs each peer that is not on PATH (nor in ~/.cargo/bin), as its README says. */
function ensurePeers() {
  for (const [name, args] of Object.entries(PEERS)) {
    const have = spawnSync(name, ['--version'], { stdio: 'ignore' }).status === 0;
    if (have || existsSync(path.join(homedir(), '.cargo/bin', name))) continue;
    console.error(`installing ${name}: cargo install --locked ${args.join(' ')}`);
    execFileSync('cargo', ['install', '--locked', ...args], { stdio: 'inherit' });
  }
}

/** libprio-rs as a real workspace: reconstructed manifests, the data's Cargo.lock and store, empty targets. */
function assembleLibprio(tmp) {
  const ws = path.join(tmp, 'libprio-rs');
  const manifests = path.join(root, 'shared/test/vet/fixtures/differential-real/libprio-rs');
  cpSync(manifests, ws, { recursive: true, filter: (f) => !/\.(json|exit)$/.test(f) });
  cpSync(path.join(data, 'projects/libprio-rs/Cargo.lock'), path.join(ws, 'Cargo.lock'));
  cpSync(path.join(data, 'projects/libprio-rs/supply-chain'), path.join(ws, 'supply-chain'), { recursive: true });
  cpSync(path.join(root, 'shared/test/deny/fixtures/differential/libprio-rs/deny.toml'), path.join(ws, 'deny.toml'));
  execFileSync('chmod', ['-R', 'u+w', ws]);
  const walk = (d) => {
    for (const e of readdirSync(d)) if (statSync(path.join(d, e)).isDirectory() && e !== 'supply-chain') walk(path.join(d, e));
    if (existsSync(path.join(d, 'Cargo.toml'))) {
      mkdirSync(path.join(d, 'src'), { recursive: true });
      if (!existsSync(path.join(d, 'src/lib.rs'))) writeFileSync(path.join(d, 'src/lib.rs'), '');
    }
  };
  walk(ws);
  return ws;
}

/** One whole-process run: wall ms and the exit code. */
function once(cmd, args, cwd, env) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 28 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status === null || r.status > 3) {
    if (cmd !== 'cargo' || r.status === null)
      throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${String(r.stderr).slice(-800)}`);
  }
  return ms;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A runs against B runs (each a list of [cmd, args, cwd, env] run in turn and summed), alternating. */
function pair(name, a, b, divideB = 1) {
  const run = (steps) => steps.reduce((t, s) => t + once(...s()), 0);
  run(a);
  run(b); // warm-up: file cache, index entries, the caches of each side
  const as = [];
  const bs = [];
  for (let i = 0; i < RUNS; i++) {
    as.push(run(a));
    bs.push(run(b) / divideB);
  }
  const ratio = median(as.map((x, i) => x / bs[i]));
  console.log(`${name.padEnd(58)}${median(as).toFixed(0).padStart(8)}${median(bs).toFixed(0).padStart(9)}${ratio.toFixed(2).padStart(8)}`);
}

ensurePeers();
const tmp = mkdtempSync(path.join(tmpdir(), 'cratewatch-peers-'));
const cold = process.env.CACHE === 'cold';
const cacheEnv = () => ({
  CRATEWATCH_QUIET: '1',
  CRATEWATCH_CACHE_DIR: cold ? mkdtempSync(path.join(tmp, 'cache-')) : path.join(tmp, 'cache'),
});
try {
  const lib = assembleLibprio(tmp);
  const spin = path.join(data, 'projects/spin');
  const db = path.join(data, 'rustsec');
  const cw =
    (...args) =>
    () => [process.execPath, [bin, ...args], root, cacheEnv()];
  const vet = () => ['cargo', ['vet', '--locked'], lib, {}];
  const audit = (lock) => () => ['cargo', ['audit', '--db', db, '--no-fetch', '--stale', '--file', lock], root, {}];
  const deny = () => ['cargo', ['deny', '--offline', 'check', 'bans', 'licenses', 'sources'], lib, {}];
  const base = path.join(data, 'projects/ariel-os/Cargo.lock'); // unrelated: every package counts as added
  console.log(
    `${RUNS} runs each, alternating; caches ${cold ? 'cold (a new cache folder every run)' : 'warm'}; load ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' / ')}`,
  );
  console.log(`${'pair (A vs B)'.padEnd(58)}  A ms    B ms  A/B (median of pairs)`);
  pair('scan libprio-rs vs cargo vet --locked', [cw('scan', lib)], [vet]);
  pair('scan spin --advisory-db vs cargo audit', [cw('scan', spin, '--advisory-db', db)], [audit(path.join(spin, 'Cargo.lock'))]);
  pair('scan libprio-rs --advisory-db vs cargo audit', [cw('scan', lib, '--advisory-db', db)], [audit(path.join(lib, 'Cargo.lock'))]);
  const peers3 = [vet, audit(path.join(lib, 'Cargo.lock')), deny];
  pair('scan libprio-rs, every check vs (vet + audit + deny) / 3', [cw('scan', lib, '--advisory-db', db)], peers3, 3);
  const gate = cw('gate', '--base', base, '--head', path.join(lib, 'Cargo.lock'), '--advisory-db', db);
  pair('gate libprio-rs, store + advisory-db vs (vet + audit + deny) / 3', [gate], peers3, 3);
  console.log(
    `load at the end ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' / ')}`,
  );
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
