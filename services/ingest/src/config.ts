/**
 * `cratewatch.toml`: the org, its workspaces, the pools it trusts, each source's poll interval,
 * and credentials by environment variable NAME only. A secret-looking literal (a key named like a
 * token/secret/password, a value shaped like a GitHub or Slack token, a URL with a password) is an
 * error telling to use an env var. Every error names the file, the line and the key.
 *
 * See examples/cratewatch.toml for every key.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { Kafka, Producer } from 'kafkajs';
import { parse, TomlError } from 'smol-toml';
import { Checkpoint, logger, stateDir, type Logger } from '@cratewatch/runtime';
import { HttpClient } from './http.js';
import { WorkspaceEndpoint } from './endpoint.js';
import { RustsecSource, type RustsecCheckpoint } from './sources/rustsec.js';
import { RustsecGitSource, git, type RustsecGitCheckpoint } from './sources/rustsec-git.js';
import { RustsecArchiveSource, type ArchiveCheckpoint } from './sources/rustsec-archive.js';
import { WorkspaceSource, readWorkspaceFiles, type WorkspaceCheckpoint } from './sources/workspaces.js';
import { WorkspaceGitSource, readGitWorkspace } from './sources/workspace-git.js';
import { MaintainersSource, refreshOnReleases, type MaintainersCheckpoint } from './sources/maintainers.js';
import { PoolsSource, poolRefs } from './sources/pools.js';
import { CratesIndexSource, lockedCrates, type CratesIndexCheckpoint } from './sources/crates-io-index.js';

export interface WorkspaceConfig {
  id: string;
  team?: string;
  /** A Cargo.lock, or a folder holding one (and maybe supply-chain/). */
  path?: string;
  /** A git repository path: Cargo.lock and supply-chain/ are read at HEAD. */
  git?: string;
  /** Inside the git repository, the folder holding Cargo.lock (default: the root). */
  subdir?: string;
}

export interface IngestConfig {
  file: string;
  org: string;
  credentials: { githubTokenEnv: string; ingestTokenEnv: string };
  intervals: { rustsec: number; pools: number; maintainers: number; workspaces: number; crates: number };
  rustsec?: { git?: string; branch: string; archive?: string; db?: string };
  pools: { registry: boolean; trusted: Record<string, string> };
  maintainers: { cratesApi?: string; githubApi?: string; commits?: number; crates: string[] };
  crates: { index?: string; followDeps: boolean; enabled: boolean };
  endpoint?: { host: string; port: number; maxBodyBytes: number };
  workspaces: WorkspaceConfig[];
}

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | undefined,
    readonly key: string,
    readonly detail: string,
  ) {
    super(`${file}${line !== undefined ? `:${line}` : ''}: \`${key}\`: ${detail}`);
    this.name = 'ConfigError';
  }
}

const DEFAULT_INTERVALS = { rustsec: 3600, pools: 3600, maintainers: 86_400, workspaces: 300, crates: 900 };

/** Key names that would hold a secret as a literal. */
const SECRET_KEY = /(^|[-_])(token|secret|password|passwd|api[-_]?key|key|auth|webhook|credential)s?$/i;
/** Values shaped like real secrets. */
const SECRET_VALUE = [
  /^gh[pousr]_[A-Za-z0-9]{20,}$/, // GitHub tokens
  /^github_pat_[A-Za-z0-9_]{20,}$/,
  /^xox[abposr]-[A-Za-z0-9-]{10,}$/, // Slack
  /^https:\/\/hooks\.slack\.com\/services\//,
  /^sk-[A-Za-z0-9]{20,}$/,
  /^-----BEGIN [A-Z ]*PRIVATE KEY-----/,
];

/** Line (1-based) of `key` in the table `table` (e.g. `workspaces[1]`, `pools.trusted`), best effort. */
export function lineOf(text: string, table: string, key?: string): number | undefined {
  const lines = text.split('\n');
  const m = /^(.*?)(?:\[(\d+)\])?$/.exec(table)!;
  const name = m[1]!;
  const nth = m[2] === undefined ? -1 : Number(m[2]);
  let start = -1;
  if (name === '') start = 0;
  else {
    let seen = 0;
    for (let i = 0; i < lines.length; i++) {
      const h = /^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$/.exec(lines[i]!);
      if (h && h[1]!.replace(/["\s]/g, '') === name) {
        if (nth < 0 || seen === nth) {
          start = i;
          break;
        }
        seen++;
      }
    }
    if (start < 0) {
      // An inline or dotted form (`pools.trusted.x = ...` at top level): search the key anywhere.
      start = 0;
    }
  }
  if (key === undefined) return start + 1;
  const keyRe = new RegExp(`^\\s*(?:[\\w.-]+\\.)?"?${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"?\\s*=`);
  for (let i = start + (name === '' ? 0 : 1); i < lines.length; i++) {
    if (name !== '' && i > start && /^\s*\[/.test(lines[i]!) && start !== 0) break;
    if (name === '' && /^\s*\[/.test(lines[i]!)) break;
    if (keyRe.test(lines[i]!)) return i + 1;
  }
  // A key that is itself a table: its header.
  const full = name === '' ? key : `${name}.${key}`;
  for (let i = 0; i < lines.length; i++) {
    const h = /^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$/.exec(lines[i]!);
    if (h && h[1]!.replace(/["\s]/g, '') === full) return i + 1;
  }
  return start >= 0 ? start + 1 : undefined;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

export function parseConfig(text: string, file: string): IngestConfig {
  let doc: Obj;
  try {
    doc = parse(text) as Obj;
  } catch (err) {
    if (err instanceof TomlError) throw new ConfigError(file, err.line, '(syntax)', err.message.split('\n')[0]!);
    throw err;
  }
  const fail = (table: string, key: string, detail: string): never => {
    throw new ConfigError(file, lineOf(text, table, key), table ? `${table}.${key}` : key, detail);
  };

  // Secrets first: anywhere in the file, before anything else can echo them.
  const scan = (v: unknown, table: string, key: string) => {
    if (isObj(v)) {
      for (const [k, x] of Object.entries(v)) scan(x, table ? (key ? `${table}.${key}` : table) : key, k);
      return;
    }
    if (Array.isArray(v)) {
      v.forEach((x, i) => (isObj(x) ? Object.entries(x).forEach(([k2, y]) => scan(y, `${table ? `${table}.` : ''}${key}[${i}]`, k2)) : scan(x, table, key)));
      return;
    }
    if (typeof v !== 'string') return;
    const env = /-env$/.test(key);
    if (!env && SECRET_KEY.test(key)) fail(table, key, `looks like a secret written in the file; put it in an environment variable and name that variable instead (\`${key}-env = "NAME"\`)`);
    if (SECRET_VALUE.some((re) => re.test(v.trim()))) fail(table, key, 'holds what looks like a secret (a token or webhook URL); put it in an environment variable and name that variable instead');
    if (/^[a-z][a-z0-9+.-]*:\/\/[^/@\s:]*:[^/@\s]+@/i.test(v)) fail(table, key, 'is a URL with a password in it; put the credential in an environment variable instead');
    if (env && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(v)) fail(table, key, `must be the NAME of an environment variable (letters, digits, _), not its value`);
  };
  for (const [k, v] of Object.entries(doc)) scan(v, '', k);

  const known = (table: string, o: Obj, keys: string[]) => {
    for (const k of Object.keys(o)) if (!keys.includes(k)) fail(table, k, `unknown key (known: ${keys.join(', ')})`);
  };
  const str = (table: string, o: Obj, key: string, required = false): string | undefined => {
    const v = o[key];
    if (v === undefined) return required ? fail(table, key, 'is required') : undefined;
    if (typeof v !== 'string' || v.trim() === '') return fail(table, key, 'expected a non-empty string');
    return v;
  };
  const num = (table: string, o: Obj, key: string, min: number): number | undefined => {
    const v = o[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) return fail(table, key, `expected a number >= ${min}`);
    return v;
  };
  const bool = (table: string, o: Obj, key: string): boolean | undefined => {
    const v = o[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') return fail(table, key, 'expected true or false');
    return v;
  };
  const table = (key: string): Obj => {
    const v = doc[key];
    if (v === undefined) return {};
    if (!isObj(v)) return fail('', key, 'expected a table');
    return v;
  };
  const base = dirname(resolve(file));
  const path = (p: string) => (isAbsolute(p) ? p : resolve(base, p));

  known('', doc, ['org', 'credentials', 'intervals', 'rustsec', 'pools', 'maintainers', 'crates', 'endpoint', 'workspaces']);
  const org = str('', doc, 'org', true)!;

  const cred = table('credentials');
  known('credentials', cred, ['github-token-env', 'ingest-token-env']);
  const credentials = {
    githubTokenEnv: str('credentials', cred, 'github-token-env') ?? 'GITHUB_TOKEN',
    ingestTokenEnv: str('credentials', cred, 'ingest-token-env') ?? 'CRATEWATCH_INGEST_TOKEN',
  };

  const iv = table('intervals');
  known('intervals', iv, Object.keys(DEFAULT_INTERVALS));
  const intervals = { ...DEFAULT_INTERVALS };
  for (const k of Object.keys(DEFAULT_INTERVALS) as (keyof typeof DEFAULT_INTERVALS)[]) intervals[k] = num('intervals', iv, k, 1) ?? intervals[k];

  let rustsec: IngestConfig['rustsec'];
  if (doc.rustsec !== undefined) {
    const r = table('rustsec');
    known('rustsec', r, ['git', 'branch', 'archive', 'db']);
    const git = str('rustsec', r, 'git');
    const archive = str('rustsec', r, 'archive');
    const db = str('rustsec', r, 'db');
    if ([git, archive, db].filter(Boolean).length !== 1) fail('', 'rustsec', 'set exactly one of `git`, `archive` or `db`');
    if (archive && !/^https?:\/\//.test(archive)) fail('rustsec', 'archive', 'expected an http(s) URL of a .tar.gz');
    rustsec = { branch: str('rustsec', r, 'branch') ?? 'main', ...(git ? { git: /^[a-z]+:\/\//.test(git) || git.includes('@') ? git : path(git) } : {}), ...(archive ? { archive } : {}), ...(db ? { db: path(db) } : {}) };
  }

  const p = table('pools');
  known('pools', p, ['registry', 'trusted']);
  const trusted: Record<string, string> = {};
  if (p.trusted !== undefined) {
    if (!isObj(p.trusted)) fail('pools', 'trusted', 'expected a table of name = "url"');
    for (const [name, url] of Object.entries(p.trusted as Obj)) {
      if (typeof url !== 'string' || !/^https?:\/\//.test(url)) fail('pools.trusted', name, 'expected an http(s) URL of an audits.toml');
      trusted[name] = url as string;
    }
  }
  const pools = { registry: bool('pools', p, 'registry') ?? true, trusted };

  const m = table('maintainers');
  known('maintainers', m, ['crates-api', 'github-api', 'commits', 'crates']);
  const extraCrates = m.crates === undefined ? [] : Array.isArray(m.crates) && m.crates.every((c) => typeof c === 'string') ? (m.crates as string[]) : fail('maintainers', 'crates', 'expected an array of crate names');
  const commits = num('maintainers', m, 'commits', 1);
  const cratesApi = str('maintainers', m, 'crates-api');
  const githubApi = str('maintainers', m, 'github-api');
  const maintainers = { ...(cratesApi ? { cratesApi } : {}), ...(githubApi ? { githubApi } : {}), ...(commits ? { commits } : {}), crates: extraCrates };

  const c = table('crates');
  known('crates', c, ['index', 'follow-deps', 'enabled']);
  const index = str('crates', c, 'index');
  const crates = { ...(index ? { index } : {}), followDeps: bool('crates', c, 'follow-deps') ?? false, enabled: bool('crates', c, 'enabled') ?? true };

  let endpoint: IngestConfig['endpoint'];
  if (doc.endpoint !== undefined) {
    const e = table('endpoint');
    known('endpoint', e, ['listen', 'max-body-bytes']);
    const listen = str('endpoint', e, 'listen') ?? '127.0.0.1:8420';
    const lm = /^(.*):(\d+)$/.exec(listen);
    if (!lm || Number(lm[2]) > 65535) fail('endpoint', 'listen', 'expected HOST:PORT');
    endpoint = { host: lm![1]!.replace(/^\[|\]$/g, ''), port: Number(lm![2]), maxBodyBytes: num('endpoint', e, 'max-body-bytes', 1024) ?? 16 * 1024 * 1024 };
  }

  const ws = doc.workspaces ?? [];
  if (!Array.isArray(ws)) fail('', 'workspaces', 'expected an array of tables ([[workspaces]])');
  const ids = new Set<string>();
  const workspaces = (ws as unknown[]).map((w, i): WorkspaceConfig => {
    const t = `workspaces[${i}]`;
    if (!isObj(w)) return fail('', t, 'expected a table');
    known(t, w, ['id', 'team', 'path', 'git', 'subdir']);
    const id = str(t, w, 'id', true)!;
    if (!/^[A-Za-z0-9][A-Za-z0-9._\/-]{0,199}$/.test(id)) fail(t, 'id', 'letters, digits and . _ / - only');
    if (ids.has(id)) fail(t, 'id', `workspace "${id}" is configured twice`);
    ids.add(id);
    const wp = str(t, w, 'path');
    const wg = str(t, w, 'git');
    if (!wp === !wg) fail(t, 'id', `workspace "${id}": set exactly one of \`path\` or \`git\``);
    const team = str(t, w, 'team');
    const subdir = str(t, w, 'subdir');
    return { id, ...(team ? { team } : {}), ...(wp ? { path: path(wp) } : {}), ...(wg ? { git: path(wg) } : {}), ...(subdir ? { subdir } : {}) };
  });

  return { file, org, credentials, intervals, ...(rustsec ? { rustsec } : {}), pools, maintainers, crates, ...(endpoint ? { endpoint } : {}), workspaces };
}

export function loadConfig(file: string): IngestConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, undefined, '(file)', `cannot read: ${(err as Error).message}`);
  }
  return parseConfig(text, file);
}

// ---- running every configured source -----------------------------------------------------------

/**
 * Starts every source the config names, each polling on its own interval until `stop()`:
 * RustSec (git, archive or directory), the audit pools (registry + trusted), each workspace (path or
 * git), the crates.io index and the maintainers of every crate the workspaces lock (plus
 * `maintainers.crates`), and the workspace endpoint when `[endpoint]` is set. A failed poll is
 * logged and retried at the next interval; the others go on.
 */
export async function startConfigured(
  cfg: IngestConfig,
  producer: Producer,
  log: Logger,
  opts: { only?: 'endpoint'; kafka?: Kafka; onPoll?: (source: string, ok: boolean) => void } = {},
): Promise<{ stop: () => Promise<void>; endpoint?: { url: string } }> {
  const stops: (() => Promise<void>)[] = [];
  const sd = stateDir();
  const http = new HttpClient({ onRetry: (r) => log.warn('retrying upstream', r) });
  const ac = new AbortController();
  const loops: Promise<void>[] = [];
  const wsCheckpoint = new Checkpoint<WorkspaceCheckpoint>(join(sd, 'workspaces.json'), { workspaces: {} });
  const wsSource = new WorkspaceSource(producer, wsCheckpoint, logger('ingest/workspace'));
  const every = (name: string, seconds: number, fn: (signal: AbortSignal) => Promise<unknown>) => {
    const l = logger(`ingest/${name}`);
    loops.push(
      (async () => {
        while (!ac.signal.aborted) {
          try {
            const result = await fn(ac.signal);
            l.info(`${name} poll done`, { result });
            opts.onPoll?.(name, true);
          } catch (err) {
            if (!ac.signal.aborted) l.error('poll failed; will retry next interval', { error: err });
            if (!ac.signal.aborted) opts.onPoll?.(name, false);
          }
          await new Promise<void>((r) => {
            const t = setTimeout(r, seconds * 1000);
            ac.signal.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
          });
        }
      })(),
    );
  };

  const tracked = async (): Promise<string[]> => {
    const names = new Set(cfg.maintainers.crates);
    for (const w of cfg.workspaces) {
      try {
        const files = w.git ? await readGitWorkspace(w.git, (await git(['rev-parse', 'HEAD^{commit}'], w.git)).trim(), w.subdir) : readWorkspaceFiles(w.path!);
        // Named by its path (repo@commit:path for git), so a refusal says which file to fix.
        for (const n of lockedCrates(files.lockText, files.lockPath)) names.add(n);
      } catch (err) {
        log.warn('workspace unreadable: its crates are not tracked this time', { workspace: w.id, error: err });
      }
    }
    return [...names].sort();
  };

  if (!opts.only) {
    const r = cfg.rustsec;
    if (r?.git) {
      const src = new RustsecGitSource({ url: r.git, branch: r.branch, repoDir: join(sd, 'rustsec-git') }, producer, new Checkpoint<RustsecGitCheckpoint>(join(sd, 'rustsec-git.json'), { files: {} }), logger('ingest/rustsec'));
      every('rustsec', cfg.intervals.rustsec, (s) => src.poll(s));
    } else if (r?.archive) {
      const src = new RustsecArchiveSource(r.archive, http, producer, new Checkpoint<ArchiveCheckpoint>(join(sd, 'rustsec-archive.json'), {}), new Checkpoint<RustsecCheckpoint>(join(sd, 'rustsec-archive-files.json'), { files: {} }), logger('ingest/rustsec'));
      every('rustsec', cfg.intervals.rustsec, (s) => src.poll(s));
    } else if (r?.db) {
      const src = new RustsecSource(r.db, producer, new Checkpoint<RustsecCheckpoint>(join(sd, 'rustsec.json'), { files: {} }), logger('ingest/rustsec'));
      every('rustsec', cfg.intervals.rustsec, (s) => src.poll(s));
    }

    const pools = new PoolsSource(poolRefs(Object.entries(cfg.pools.trusted).map(([n, u]) => `${n}=${u}`), cfg.pools.registry), producer, http, join(sd, 'pools'), logger('ingest/pools'));
    if (pools.pools.length) every('pools', cfg.intervals.pools, (s) => pools.poll(s));

    if (cfg.workspaces.length) {
      const gitSource = new WorkspaceGitSource(wsSource, wsCheckpoint);
      every('workspaces', cfg.intervals.workspaces, async (signal) => {
        let sent = 0;
        for (const w of cfg.workspaces) {
          if (signal.aborted) break; // stopping: the rest is read on the next start
          try {
            const ref = { id: w.id, org: cfg.org, ...(w.team ? { team: w.team } : {}) };
            if (w.git ? await gitSource.poll({ ...ref, git: w.git, ...(w.subdir ? { subdir: w.subdir } : {}) }, signal) : await wsSource.submit({ ...ref, path: w.path! })) sent++;
          } catch (err) {
            log.error('workspace unreadable', { workspace: w.id, error: err });
          }
        }
        return { sent };
      });
    }

    if (cfg.crates.enabled && (cfg.workspaces.length || cfg.maintainers.crates.length)) {
      const index = new CratesIndexSource(producer, http, new Checkpoint<CratesIndexCheckpoint>(join(sd, 'crates-index.json'), { crates: {} }), logger('ingest/crates-index'), {
        ...(cfg.crates.index ? { base: cfg.crates.index } : {}),
        followDeps: cfg.crates.followDeps,
      });
      every('crates-index', cfg.intervals.crates, async (s) => index.poll(await tracked(), s));
    }

    if (cfg.workspaces.length || cfg.maintainers.crates.length) {
      const m = new MaintainersSource(producer, http, new Checkpoint<MaintainersCheckpoint>(join(sd, 'maintainers.json'), { crates: {} }), logger('ingest/maintainers'), {
        tokenEnv: cfg.credentials.githubTokenEnv,
        ...(cfg.maintainers.cratesApi ? { cratesApi: cfg.maintainers.cratesApi } : {}),
        ...(cfg.maintainers.githubApi ? { githubApi: cfg.maintainers.githubApi } : {}),
        ...(cfg.maintainers.commits ? { commits: cfg.maintainers.commits } : {}),
      });
      every('maintainers', cfg.intervals.maintainers, async (s) => m.poll(await tracked(), s));
      // And as soon as a tracked crate publishes a new release.
      if (opts.kafka) stops.push((await refreshOnReleases(opts.kafka, m, tracked, logger('ingest/maintainers'))).stop);
    }
  }

  let endpoint: WorkspaceEndpoint | undefined;
  let endpointUrl: { url: string } | undefined;
  if (cfg.endpoint) {
    const teams: Record<string, string> = {};
    for (const w of cfg.workspaces) if (w.team) teams[w.id] = w.team;
    // CRATEWATCH_INGEST_LISTEN (HOST:PORT) overrides `[endpoint] listen`, e.g. 0.0.0.0:8420 in a container.
    const override = process.env.CRATEWATCH_INGEST_LISTEN?.trim();
    let { host, port } = cfg.endpoint;
    if (override) {
      const m = /^(.*):(\d+)$/.exec(override);
      if (!m || Number(m[2]) > 65535) throw new ConfigError('CRATEWATCH_INGEST_LISTEN', undefined, 'listen', 'expected HOST:PORT');
      host = m[1]!.replace(/^\[|\]$/g, '');
      port = Number(m[2]);
    }
    endpoint = new WorkspaceEndpoint(wsSource, logger('ingest/endpoint'), { host, port, maxBodyBytes: cfg.endpoint.maxBodyBytes, tokenEnv: cfg.credentials.ingestTokenEnv, org: cfg.org, teams });
    endpointUrl = { url: (await endpoint.listen()).url };
  }
  log.info('ready', { config: cfg.file, sources: loops.length, endpoint: endpointUrl?.url });
  return {
    ...(endpointUrl ? { endpoint: endpointUrl } : {}),
    stop: async () => {
      ac.abort();
      for (const stop of stops) await stop();
      await Promise.all(loops);
      await endpoint?.close();
      await http.close();
    },
  };
}

/** The config of `cratewatch-ingest endpoint --org ORG [--listen HOST:PORT] [--token-env NAME]`. */
export function endpointOnlyConfig(org: string, listen = '127.0.0.1:8420', tokenEnv = 'CRATEWATCH_INGEST_TOKEN'): IngestConfig {
  const m = /^(.*):(\d+)$/.exec(listen);
  if (!m) throw new ConfigError('--listen', undefined, 'listen', 'expected HOST:PORT');
  return {
    file: '(command line)',
    org,
    credentials: { githubTokenEnv: 'GITHUB_TOKEN', ingestTokenEnv: tokenEnv },
    intervals: { ...DEFAULT_INTERVALS },
    pools: { registry: false, trusted: {} },
    maintainers: { crates: [] },
    crates: { followDeps: false, enabled: false },
    endpoint: { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]), maxBodyBytes: 16 * 1024 * 1024 },
    workspaces: [],
  };
}
