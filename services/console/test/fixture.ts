/**
 * The console's test graph, written by the real scorer process from real data (../shared/data):
 * two real workspaces of one org (libprio-rs for team alpha, ariel-os for team beta) with their
 * cargo-vet stores, every RustSec advisory on a crate they lock, the google pool's audits of the
 * crates they share, and maintainer events (one owner or two) for the crates they share. Then the
 * console itself, in this process, on a free loopback port, with an org token and a token per team.
 * The expected figures of the tests come from elsewhere: `cratewatch scan` on the same lockfiles,
 * the scorer's finding events, the lockfiles themselves.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import neo4j, { type Driver } from 'neo4j-driver';
import {
  parseAdvisory,
  parseAuditsFile,
  parseLockfile,
  workspaceEvent,
  type Advisory,
  type Lockfile,
  type MaintainerEvent,
  type PoolEvent,
} from '@cratewatch/shared';
import { crateEntries, criteriaEntries } from '../../ingest/src/sources/pools.js';
import { scorerProbe, sharedData, startService, tempDir, unique, type ScorerProbe, type Service } from '../../../test/pipeline-harness.js';
import { neo4jAuth, neo4jUri } from '../../../test/helpers.js';
import { startConsole, type ConsoleHandle } from '../src/index.js';

export const hasData = existsSync(join(sharedData, 'projects/libprio-rs/Cargo.lock'));
export const PROJECTS = { alpha: 'libprio-rs', beta: 'ariel-os' } as const;
export const NOW = new Date().toISOString();

export interface Fixture {
  run: string;
  org: string;
  ws: { alpha: string; beta: string };
  locks: { alpha: Lockfile; beta: Lockfile };
  tokens: { org: string; alpha: string; beta: string };
  pool: string;
  /** Crates both lock, and of those the ones given a single owner. */
  shared: string[];
  singleOwner: string[];
  advisories: Advisory[];
  probe: ScorerProbe;
  driver: Driver;
  console: ConsoleHandle;
  close: () => Promise<void>;
}

const project = (p: string, f: string) => readFileSync(join(sharedData, 'projects', p, f), 'utf8');

function workspaceOf(id: string, org: string, team: string, p: string) {
  return workspaceEvent({
    id,
    org,
    team,
    lock: parseLockfile(project(p, 'Cargo.lock')),
    store: {
      config: project(p, 'supply-chain/config.toml'),
      audits: project(p, 'supply-chain/audits.toml'),
      importsLock: project(p, 'supply-chain/imports.lock'),
    },
    origin: { path: `${p}/Cargo.lock`, checksum: 'sha256:test' },
    observedAt: NOW,
  });
}

/** Every RustSec advisory (crates collection) on a crate these lockfiles lock. */
function advisoriesFor(crates: Set<string>): Advisory[] {
  const dir = join(sharedData, 'rustsec/crates');
  return readdirSync(dir)
    .filter((c) => crates.has(c))
    .flatMap((c) => readdirSync(join(dir, c)).map((f) => parseAdvisory(readFileSync(join(dir, c, f), 'utf8'), `crates/${c}/${f}`)));
}

function poolEvents(pool: string, crates: string[]): PoolEvent[] {
  const file = parseAuditsFile(readFileSync(join(sharedData, 'audit-pools/google.audits.toml'), 'utf8'), 'google.audits.toml');
  const url = `https://example.test/${pool}/audits.toml`;
  return [
    { v: 1, pool, url, crate: '*criteria*', entries: criteriaEntries(file), observedAt: NOW },
    ...crates
      .filter((c) => file.audits.has(c))
      .map((crate) => ({ v: 1 as const, pool, url, crate, entries: crateEntries(file, crate), observedAt: NOW })),
  ];
}

function maintainerEvents(run: string, crates: string[]): MaintainerEvent[] {
  return crates.map((crate, i) => ({
    v: 1,
    crate,
    // Every other shared crate has one owner; the rest two.
    owners: (i % 2 === 0 ? [`${run}-solo-${i}`] : [`${run}-a-${i}`, `${run}-b-${i}`]).map((login) => ({
      login,
      kind: 'user' as const,
      observedAt: NOW,
    })),
    signals: { ownerCount: { value: i % 2 === 0 ? 1 : 2, observedAt: NOW } },
    observedAt: NOW,
  }));
}

const TOKEN = (who: string, run: string) => `${who}-${run}-console-token`;

export async function startFixture(consoleEnv: Record<string, string> = {}): Promise<Fixture> {
  const run = unique('console');
  const prefix = `${run}.`;
  const org = `org-${run}`;
  const ws = { alpha: `${org}/libprio-rs`, beta: `${org}/ariel-os` };
  const locks = { alpha: parseLockfile(project(PROJECTS.alpha, 'Cargo.lock')), beta: parseLockfile(project(PROJECTS.beta, 'Cargo.lock')) };
  const names = (l: Lockfile) => new Set(l.packages.filter((p) => p.source).map((p) => p.name));
  const [a, b] = [names(locks.alpha), names(locks.beta)];
  const shared = [...a].filter((c) => b.has(c)).sort();
  const advisories = advisoriesFor(new Set([...a, ...b]));
  const pool = `${run}-google`;
  const env = { CRATEWATCH_TOPIC_PREFIX: prefix, SCORER_GROUP: `${run}-scorer`, CRATEWATCH_STATE_DIR: tempDir('console-scorer') };
  const scorer: Service = await startService('scorer', env);
  const probe = await scorerProbe({ prefix, scorerGroup: env.SCORER_GROUP });
  await probe.send(
    'audits.pool',
    poolEvents(pool, shared).map((e) => ({ key: `${e.pool}/${e.crate}`, value: e })),
  );
  await probe.send(
    'maintainers.signals',
    maintainerEvents(run, shared).map((e) => ({ key: e.crate, value: e })),
  );
  await probe.send(
    'rustsec.advisories',
    advisories.map((adv) => ({
      key: adv.id,
      value: { v: 1, advisory: adv, origin: { path: `crates/${adv.package}/${adv.id}.md` }, observedAt: NOW },
    })),
  );
  await probe.drained(['audits.pool', 'maintainers.signals', 'rustsec.advisories'], 180_000);
  await probe.send('org.workspaces', [
    { key: ws.alpha, value: workspaceOf(ws.alpha, org, 'alpha', PROJECTS.alpha) },
    { key: ws.beta, value: workspaceOf(ws.beta, org, 'beta', PROJECTS.beta) },
  ]);
  await probe.drained(['org.workspaces'], 180_000);
  await probe.findingsSettled();
  const tokens = { org: TOKEN('org', run), alpha: TOKEN('alpha', run), beta: TOKEN('beta', run) };
  const driver = neo4j.driver(neo4jUri(), neo4jAuth(), { disableLosslessIntegers: true });
  const console = await startConsole({
    driver,
    listen: { host: '127.0.0.1', port: 0 },
    env: {
      CRATEWATCH_CONSOLE_TOKENS: JSON.stringify([
        { name: 'org', org, token: tokens.org },
        { name: 'alpha', org, teams: ['alpha'], token: tokens.alpha },
        { name: 'beta', org, teams: ['beta'], token: tokens.beta },
      ]),
      ...consoleEnv,
    },
  });
  const singleOwner = shared.filter((_, i) => i % 2 === 0);
  return {
    run,
    org,
    ws,
    locks,
    tokens,
    pool,
    shared,
    singleOwner,
    advisories,
    probe,
    driver,
    console,
    close: async () => {
      await console.close();
      await driver.close();
      await probe.close();
      await scorer.stop();
    },
  };
}

/** The latest state of each finding the scorer sent for a workspace. */
export function latestFindings(probe: ScorerProbe, workspace: string) {
  const by = new Map<string, (typeof probe.findings)[number]>();
  for (const f of probe.findings) if (f.workspace.id === workspace) by.set(f.id, f);
  return [...by.values()];
}

/** GET a console path with a bearer token (or none). */
export async function get(
  c: ConsoleHandle,
  path: string,
  token?: string,
): Promise<{ status: number; body: unknown; text: string; headers: Headers }> {
  const r = await fetch(`${c.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await r.text();
  let body: unknown = undefined;
  try {
    body = JSON.parse(text);
  } catch {
    /* CSV or HTML */
  }
  return { status: r.status, body, text, headers: r.headers };
}
