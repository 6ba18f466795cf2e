/**
 * `cratewatch.toml`: the org, its workspaces, the pools it trusts, each source's poll interval,
 * and credentials by environment variable NAME only. A secret-looking literal (a key named like a
 * token/secret/password, a value shaped like a GitHub or Slack token, a URL with a password) is an
 * error telling to use an env var. Every error names the file, the line and the key.
 *
 * See examples/cratewatch.toml for every key. Running what it names: config-run.ts.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse, TomlError } from 'smol-toml';

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

/** Reads typed values out of the parsed file; every failure names the file, the line and the key. */
class Fields {
  private readonly base: string;
  constructor(
    private readonly text: string,
    private readonly file: string,
    readonly doc: Obj,
  ) {
    this.base = dirname(resolve(file));
  }
  fail(table: string, key: string, detail: string): never {
    throw new ConfigError(this.file, lineOf(this.text, table, key), table ? `${table}.${key}` : key, detail);
  }
  known(table: string, o: Obj, keys: string[]): void {
    for (const k of Object.keys(o)) if (!keys.includes(k)) this.fail(table, k, `unknown key (known: ${keys.join(', ')})`);
  }
  str(table: string, o: Obj, key: string, required = false): string | undefined {
    const v = o[key];
    if (v === undefined) return required ? this.fail(table, key, 'is required') : undefined;
    if (typeof v !== 'string' || v.trim() === '') return this.fail(table, key, 'expected a non-empty string');
    return v;
  }
  num(table: string, o: Obj, key: string, min: number): number | undefined {
    const v = o[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min) return this.fail(table, key, `expected a number >= ${min}`);
    return v;
  }
  bool(table: string, o: Obj, key: string): boolean | undefined {
    const v = o[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'boolean') return this.fail(table, key, 'expected true or false');
    return v;
  }
  /** A top-level table (absent: empty). */
  table(key: string): Obj {
    const v = this.doc[key];
    if (v === undefined) return {};
    if (!isObj(v)) return this.fail('', key, 'expected a table');
    return v;
  }
  /** A path in the file, relative to the file's folder. */
  path(p: string): string {
    return isAbsolute(p) ? p : resolve(this.base, p);
  }
}

/** Secrets first: anywhere in the file, before anything else can echo them. */
function refuseSecrets(f: Fields, v: unknown, table: string, key: string): void {
  if (isObj(v)) {
    for (const [k, x] of Object.entries(v)) refuseSecrets(f, x, table ? (key ? `${table}.${key}` : table) : key, k);
    return;
  }
  if (Array.isArray(v)) {
    v.forEach((x, i) =>
      isObj(x)
        ? Object.entries(x).forEach(([k2, y]) => refuseSecrets(f, y, `${table ? `${table}.` : ''}${key}[${i}]`, k2))
        : refuseSecrets(f, x, table, key),
    );
    return;
  }
  if (typeof v !== 'string') return;
  const env = /-env$/.test(key);
  if (!env && SECRET_KEY.test(key))
    f.fail(
      table,
      key,
      `looks like a secret written in the file; put it in an environment variable and name that variable instead (\`${key}-env = "NAME"\`)`,
    );
  if (SECRET_VALUE.some((re) => re.test(v.trim())))
    f.fail(
      table,
      key,
      'holds what looks like a secret (a token or webhook URL); put it in an environment variable and name that variable instead',
    );
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/@\s:]*:[^/@\s]+@/i.test(v))
    f.fail(table, key, 'is a URL with a password in it; put the credential in an environment variable instead');
  if (env && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(v))
    f.fail(table, key, `must be the NAME of an environment variable (letters, digits, _), not its value`);
}

function credentialsOf(f: Fields): IngestConfig['credentials'] {
  const cred = f.table('credentials');
  f.known('credentials', cred, ['github-token-env', 'ingest-token-env']);
  return {
    githubTokenEnv: f.str('credentials', cred, 'github-token-env') ?? 'GITHUB_TOKEN',
    ingestTokenEnv: f.str('credentials', cred, 'ingest-token-env') ?? 'CRATEWATCH_INGEST_TOKEN',
  };
}

function intervalsOf(f: Fields): IngestConfig['intervals'] {
  const iv = f.table('intervals');
  f.known('intervals', iv, Object.keys(DEFAULT_INTERVALS));
  const intervals = { ...DEFAULT_INTERVALS };
  for (const k of Object.keys(DEFAULT_INTERVALS) as (keyof typeof DEFAULT_INTERVALS)[])
    intervals[k] = f.num('intervals', iv, k, 1) ?? intervals[k];
  return intervals;
}

function rustsecOf(f: Fields): IngestConfig['rustsec'] {
  if (f.doc.rustsec === undefined) return undefined;
  const r = f.table('rustsec');
  f.known('rustsec', r, ['git', 'branch', 'archive', 'db']);
  const git = f.str('rustsec', r, 'git');
  const archive = f.str('rustsec', r, 'archive');
  const db = f.str('rustsec', r, 'db');
  if ([git, archive, db].filter(Boolean).length !== 1) f.fail('', 'rustsec', 'set exactly one of `git`, `archive` or `db`');
  if (archive && !/^https?:\/\//.test(archive)) f.fail('rustsec', 'archive', 'expected an http(s) URL of a .tar.gz');
  return {
    branch: f.str('rustsec', r, 'branch') ?? 'main',
    ...(git ? { git: /^[a-z]+:\/\//.test(git) || git.includes('@') ? git : f.path(git) } : {}),
    ...(archive ? { archive } : {}),
    ...(db ? { db: f.path(db) } : {}),
  };
}

function poolsOf(f: Fields): IngestConfig['pools'] {
  const p = f.table('pools');
  f.known('pools', p, ['registry', 'trusted']);
  const trusted: Record<string, string> = {};
  if (p.trusted !== undefined) {
    if (!isObj(p.trusted)) f.fail('pools', 'trusted', 'expected a table of name = "url"');
    for (const [name, url] of Object.entries(p.trusted as Obj)) {
      if (typeof url !== 'string' || !/^https?:\/\//.test(url)) f.fail('pools.trusted', name, 'expected an http(s) URL of an audits.toml');
      trusted[name] = url as string;
    }
  }
  return { registry: f.bool('pools', p, 'registry') ?? true, trusted };
}

function maintainersOf(f: Fields): IngestConfig['maintainers'] {
  const m = f.table('maintainers');
  f.known('maintainers', m, ['crates-api', 'github-api', 'commits', 'crates']);
  const extraCrates =
    m.crates === undefined
      ? []
      : Array.isArray(m.crates) && m.crates.every((c) => typeof c === 'string')
        ? (m.crates as string[])
        : f.fail('maintainers', 'crates', 'expected an array of crate names');
  const commits = f.num('maintainers', m, 'commits', 1);
  const cratesApi = f.str('maintainers', m, 'crates-api');
  const githubApi = f.str('maintainers', m, 'github-api');
  return { ...(cratesApi ? { cratesApi } : {}), ...(githubApi ? { githubApi } : {}), ...(commits ? { commits } : {}), crates: extraCrates };
}

function cratesOf(f: Fields): IngestConfig['crates'] {
  const c = f.table('crates');
  f.known('crates', c, ['index', 'follow-deps', 'enabled']);
  const index = f.str('crates', c, 'index');
  return {
    ...(index ? { index } : {}),
    followDeps: f.bool('crates', c, 'follow-deps') ?? false,
    enabled: f.bool('crates', c, 'enabled') ?? true,
  };
}

function endpointOf(f: Fields): IngestConfig['endpoint'] {
  if (f.doc.endpoint === undefined) return undefined;
  const e = f.table('endpoint');
  f.known('endpoint', e, ['listen', 'max-body-bytes']);
  const listen = f.str('endpoint', e, 'listen') ?? '127.0.0.1:8420';
  const lm = /^(.*):(\d+)$/.exec(listen);
  if (!lm || Number(lm[2]) > 65535) f.fail('endpoint', 'listen', 'expected HOST:PORT');
  return {
    host: lm![1]!.replace(/^\[|\]$/g, ''),
    port: Number(lm![2]),
    maxBodyBytes: f.num('endpoint', e, 'max-body-bytes', 1024) ?? 16 * 1024 * 1024,
  };
}

function workspaceOf(f: Fields, w: unknown, i: number, ids: Set<string>): WorkspaceConfig {
  const t = `workspaces[${i}]`;
  if (!isObj(w)) return f.fail('', t, 'expected a table');
  f.known(t, w, ['id', 'team', 'path', 'git', 'subdir']);
  const id = f.str(t, w, 'id', true)!;
  if (!/^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$/.test(id)) f.fail(t, 'id', 'letters, digits and . _ / - only');
  if (ids.has(id)) f.fail(t, 'id', `workspace "${id}" is configured twice`);
  ids.add(id);
  const wp = f.str(t, w, 'path');
  const wg = f.str(t, w, 'git');
  if (!wp === !wg) f.fail(t, 'id', `workspace "${id}": set exactly one of \`path\` or \`git\``);
  const team = f.str(t, w, 'team');
  const subdir = f.str(t, w, 'subdir');
  return {
    id,
    ...(team ? { team } : {}),
    ...(wp ? { path: f.path(wp) } : {}),
    ...(wg ? { git: f.path(wg) } : {}),
    ...(subdir ? { subdir } : {}),
  };
}

function workspacesOf(f: Fields): WorkspaceConfig[] {
  const ws = f.doc.workspaces ?? [];
  if (!Array.isArray(ws)) f.fail('', 'workspaces', 'expected an array of tables ([[workspaces]])');
  const ids = new Set<string>();
  return (ws as unknown[]).map((w, i) => workspaceOf(f, w, i, ids));
}

export function parseConfig(text: string, file: string): IngestConfig {
  let doc: Obj;
  try {
    doc = parse(text) as Obj;
  } catch (err) {
    if (err instanceof TomlError) throw new ConfigError(file, err.line, '(syntax)', err.message.split('\n')[0]!);
    throw err;
  }
  const f = new Fields(text, file, doc);
  for (const [k, v] of Object.entries(doc)) refuseSecrets(f, v, '', k);
  f.known('', doc, ['org', 'credentials', 'intervals', 'rustsec', 'pools', 'maintainers', 'crates', 'endpoint', 'workspaces']);
  const org = f.str('', doc, 'org', true)!;
  const credentials = credentialsOf(f);
  const intervals = intervalsOf(f);
  const rustsec = rustsecOf(f);
  const pools = poolsOf(f);
  const maintainers = maintainersOf(f);
  const crates = cratesOf(f);
  const endpoint = endpointOf(f);
  const workspaces = workspacesOf(f);
  return {
    file,
    org,
    credentials,
    intervals,
    ...(rustsec ? { rustsec } : {}),
    pools,
    maintainers,
    crates,
    ...(endpoint ? { endpoint } : {}),
    workspaces,
  };
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
