/** File-system side of the CLI: everything shared/ refuses to do (it has no I/O). */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  checkDeny,
  DENY_CONFIG_FILES as SHARED_DENY_CONFIG_FILES,
  denyPackages,
  parseDenyConfig,
  type DenyConfig,
  type DenyReport,
  graphForLockfile,
  graphFromLockfile,
  isSbomFileName,
  isVexDocumentFileName,
  parseAdvisory,
  parseVexFile,
  parseAuditsFile,
  parseWorkspaceLock,
  readStore,
  type Advisory,
  type AuditsFile,
  type DepGraph,
  type Lockfile,
  type StoreProblem,
  type VetReport,
  type VetStore,
  type VexDocument,
  type VexedHit,
  type VexMatch,
  vexWhy,
} from '@cratewatch/shared';

/** Wrong invocation or unreadable input: exit code 2. */
export class UsageError extends Error {}

let quiet = false;
/** `-q/--quiet`: progress off for this process (as `CRATEWATCH_QUIET=1`). */
export const setQuiet = (): void => {
  quiet = true;
};

export const progress = (msg: string): void => {
  if (!quiet && !process.env.CRATEWATCH_QUIET) process.stderr.write(`cratewatch: ${msg}\n`);
};

export function read(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

export interface Workspace {
  /** The file the locked packages were read from: a Cargo.lock, or a CycloneDX SBOM. */
  lockPath: string;
  lockText: string;
  lockfile: Lockfile;
  graph: DepGraph;
  store?: VetStore;
  storeDir?: string;
  /** The cargo metadata JSON the graph (with dependency kinds) came from. */
  metadataPath?: string;
  /** That JSON, parsed (the deny checks read licenses and declared requirements from it). */
  metadata?: unknown;
}

/** What `cargo metadata --format-version 1 --all-features` is saved as beside a Cargo.lock (as ingest reads it). */
export const METADATA_FILE = 'cargo-metadata.json';

/**
 * `<workspace dir | Cargo.lock | CycloneDX SBOM>` (a folder: `lockfileIn`), its `supply-chain/` (or `--store`), and its dependency kinds: the
 * `--metadata` JSON, else the `cargo-metadata.json` beside the lockfile (a folder, or a file named
 * Cargo.lock, as for VEX files), else none (the Cargo.lock's edges, of unknown kind). Metadata from
 * another lockfile is refused, naming both files.
 */
export function loadWorkspace(target: string, storeArg?: string, metadataArg?: string): Workspace {
  const locked = loadLocked(target, metadataArg);
  const dir = statSync(target).isDirectory() ? target : path.dirname(target);
  const storeDir = storeArg ?? (existsSync(path.join(dir, 'supply-chain', 'config.toml')) ? path.join(dir, 'supply-chain') : undefined);
  return { ...locked, store: storeDir ? loadStore(storeDir) : undefined, storeDir };
}

/**
 * A workspace's locked packages alone (no store): `<workspace dir | Cargo.lock | CycloneDX SBOM>`
 * with its dependency kinds from `--metadata` or the `cargo-metadata.json` beside it, as
 * `loadWorkspace` reads them (also `gate --base`).
 */
export function loadLocked(target: string, metadataArg?: string): Omit<Workspace, 'store' | 'storeDir'> {
  if (!existsSync(target)) throw new UsageError(`${target}: no such file or directory`);
  const isDir = statSync(target).isDirectory();
  const dir = isDir ? target : path.dirname(target);
  const lockPath = isDir ? lockfileIn(target) : target;
  const lockText = read(lockPath);
  const lockfile = parseWorkspaceLock(lockText, lockPath);
  const beside = path.join(dir, METADATA_FILE);
  const metadataPath = metadataArg ?? (readsBeside(target, isDir) && existsSync(beside) ? beside : undefined);
  if (metadataPath === undefined) return { lockPath, lockText, lockfile, graph: graphFromLockfile(lockfile) };
  let metadata: unknown;
  try {
    metadata = JSON.parse(read(metadataPath));
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(
      `${metadataPath}: not JSON (${(err as Error).message}); expected the output of cargo metadata --format-version 1 --all-features`,
    );
  }
  return { lockPath, lockText, lockfile, graph: graphForLockfile(lockfile, metadata, metadataPath, lockPath), metadataPath, metadata };
}

/**
 * Where a workspace folder's packages are read from: its `Cargo.lock` when it has one (the SBOM is
 * made from it and may be older), else its one CycloneDX SBOM (`bom.json`, `bom.xml`, `*.cdx.json`,
 * `*.cdx.xml`); several SBOMs and no Cargo.lock is an input error naming them.
 */
export function lockfileIn(dir: string): string {
  const lock = path.join(dir, 'Cargo.lock');
  if (existsSync(lock)) return lock;
  const sboms = readdirSync(dir)
    .filter((n) => isSbomFileName(n) && statSync(path.join(dir, n)).isFile())
    .sort();
  if (sboms.length > 1)
    throw new UsageError(`${dir}: no Cargo.lock, and ${sboms.length} CycloneDX SBOMs (${sboms.join(', ')}): name the one to read`);
  return sboms.length === 1 ? path.join(dir, sboms[0]!) : lock;
}

/** The files beside the packages' source belong to the workspace when it is a folder, a Cargo.lock or an SBOM named as CycloneDX names them. */
const readsBeside = (target: string, isDir: boolean): boolean =>
  isDir || path.basename(target) === 'Cargo.lock' || isSbomFileName(path.basename(target));

export function loadStore(dir: string): VetStore {
  const f = (n: string) => path.join(dir, n);
  if (!existsSync(f('config.toml'))) throw new UsageError(`${dir}: not a cargo-vet store (no config.toml)`);
  const opt = (n: string) => (existsSync(f(n)) ? read(f(n)) : undefined);
  return readStore({ config: read(f('config.toml')), audits: opt('audits.toml'), importsLock: opt('imports.lock') }, dir);
}

/** Where cargo-deny looks for its config in a workspace folder, in its order (shared, as ingest reads it too). */
export const DENY_CONFIG_FILES = SHARED_DENY_CONFIG_FILES.map((f) => f.split('/').join(path.sep));

/**
 * The workspace's deny.toml: `--deny-config FILE` (a missing file is an input error), else the
 * first of `deny.toml`, `.deny.toml`, `.cargo/deny.toml` in the folder of the Cargo.lock (the
 * scanned folder, or the folder of a path named Cargo.lock or as an SBOM, as for VEX files), else none.
 */
export function loadDenyConfig(target: string, configArg?: string): DenyConfig | undefined {
  let file = configArg;
  if (file !== undefined && !existsSync(file)) throw new UsageError(`--deny-config ${file}: no such file`);
  if (file === undefined) {
    const isDir = existsSync(target) && statSync(target).isDirectory();
    if (!readsBeside(target, isDir)) return undefined;
    const dir = isDir ? target : path.dirname(target);
    file = DENY_CONFIG_FILES.map((f) => path.join(dir, f)).find((f) => existsSync(f) && statSync(f).isFile());
    if (file === undefined) return undefined;
  }
  return parseDenyConfig(read(file), file);
}

/** The deny checks on a loaded workspace (licenses and declared requirements from its cargo metadata, when it has one). */
export function runDeny(ws: Pick<Workspace, 'lockfile' | 'lockPath' | 'metadataPath' | 'metadata'>, config: DenyConfig): DenyReport {
  const pkgs = denyPackages(
    ws.lockfile,
    ws.metadataPath !== undefined ? { value: ws.metadata, file: ws.metadataPath, lockPath: ws.lockPath } : undefined,
  );
  return checkDeny(pkgs, config);
}

/** The deny.toml keys that are not supported, as warnings on stderr (printed also with -q). */
export function denyConfigWarnings(config: DenyConfig): void {
  for (const w of config.warnings)
    process.stderr.write(`cratewatch: warning: ${config.file}${w.line ? `:${w.line}` : ''}: ${w.key}: ${w.message}\n`);
}

/**
 * The workspace's VEX documents (OpenVEX, CycloneDX VEX, CSAF VEX: shared `parseVexFile`): the
 * `vex.json`, `<name>.openvex.json`, `<name>.vex.json`, `<name>.vex.xml` and `<name>.csaf.json` files
 * beside its Cargo.lock or SBOM (as ingest reads them: when `target` is the folder, a file named
 * Cargo.lock or an SBOM file name), in file-name order, then each `--vex FILE` in the order given
 * (a file named both ways is read once).
 * The order only breaks ties between statements of the same instant (shared `vexStatementFor`).
 */
export function loadVex(target: string, files: string[]): VexDocument[] {
  const found: string[] = [];
  const isDir = existsSync(target) && statSync(target).isDirectory();
  if (readsBeside(target, isDir)) {
    const dir = isDir ? target : path.dirname(target);
    for (const name of readdirSync(dir)
      .filter(isVexDocumentFileName)
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (statSync(path.join(dir, name)).isFile()) found.push(path.join(dir, name));
    }
  }
  for (const f of files) {
    if (!existsSync(f)) throw new UsageError(`--vex ${f}: no such file`);
    if (!found.some((g) => path.resolve(g) === path.resolve(f))) found.push(f);
  }
  return found.map((f) => parseVexFile(read(f), f));
}

/**
 * `--pools DIR|file[,file...]`: every `*.toml` in a directory, named after the file. A folder with
 * none is an input error: the pools were asked for as trusted sources, and judging without them
 * would report as unvetted what the team believes its pools vet (a typo in a path, a checkout
 * that did not happen).
 */
export function loadPools(args: string[]): Map<string, AuditsFile> {
  const pools = new Map<string, AuditsFile>();
  for (const arg of args.flatMap((a) => a.split(','))) {
    if (!existsSync(arg)) throw new UsageError(`--pools ${arg}: no such file or directory`);
    const files = statSync(arg).isDirectory()
      ? readdirSync(arg)
          .filter((f) => f.endsWith('.toml'))
          .sort()
          .map((f) => path.join(arg, f))
      : [arg];
    if (files.length === 0)
      throw new UsageError(`--pools ${arg}: no audit pool in this folder (no *.toml file; expected e.g. mozilla.audits.toml)`);
    for (const file of files) pools.set(path.basename(file).replace(/(\.audits)?\.toml$/, ''), parseAuditsFile(read(file), file));
  }
  return pools;
}

/** A local RustSec advisory-db checkout: `crates/<name>/RUSTSEC-*.md` (and `rust/`). */
export function loadAdvisoryDb(dir: string): Advisory[] {
  if (!existsSync(path.join(dir, 'crates'))) throw new UsageError(`--advisory-db ${dir}: no crates/ directory`);
  const out: Advisory[] = [];
  for (const coll of ['crates', 'rust']) {
    const base = path.join(dir, coll);
    if (!existsSync(base)) continue;
    for (const name of readdirSync(base)) {
      const sub = path.join(base, name);
      if (!statSync(sub).isDirectory()) continue;
      for (const f of readdirSync(sub)) if (f.endsWith('.md')) out.push(parseAdvisory(read(path.join(sub, f)), path.join(sub, f)));
    }
  }
  return out;
}

/**
 * Minimal flag parser: `--flag value`, `--flag=value`, boolean flags, repeated flags.
 * @deprecated The commands parse with commander (`newCommand` in args.ts, which gives `--help`);
 * kept so that a command module written against it still works through main.ts.
 */
export function parseArgs(argv: string[], spec: { values: string[]; bools: string[] }) {
  const values = new Map<string, string[]>();
  const bools = new Set<string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const [name, inline] = a.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (spec.bools.includes(name)) bools.add(name);
    else if (spec.values.includes(name)) {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`--${name} needs a value`);
      values.set(name, [...(values.get(name) ?? []), v]);
    } else throw new UsageError(`unknown option --${name}`);
  }
  return { positional, bools, one: (n: string) => values.get(n)?.at(-1), all: (n: string) => values.get(n) ?? [] };
}

/** Where a store problem is: the real file under the store directory, and the line of its table. */
export function problemLocation(p: StoreProblem, storeDir: string | undefined): { file: string; line: number } {
  const file = storeDir ? path.join(storeDir, path.basename(p.file)) : p.file;
  let line = 1;
  if (existsSync(file)) {
    const header = p.table.replace(/ #\d+$/, '');
    const n = readFileSync(file, 'utf8')
      .split('\n')
      .findIndex((l) => l.trim() === header);
    if (n >= 0) line = n + 1;
  }
  return { file, line };
}

/**
 * The lines to print when cargo-vet would refuse the store (report.conclusion `fail (store)`):
 * what `cargo vet --locked` reports, then what it would report once those are fixed.
 */
export function storeErrorLines(report: VetReport, storeDir: string | undefined): string[] {
  const c = report.store;
  if (!c?.fatal) return [];
  const where = (p: StoreProblem) => {
    const l = problemLocation(p, storeDir);
    return `${l.file}:${l.line}, ${p.table}${p.key ? `, ${p.key}` : ''}: ${p.message}`;
  };
  const out = [`invalid cargo-vet store${storeDir ? ` ${storeDir}` : ''}: cargo vet --locked stops with "${c.message}" (${c.fatal} stage)`];
  for (const p of c.reported) out.push(`  ${where(p)}`);
  const later = c.problems.filter((p) => !c.reported.includes(p));
  if (later.length) {
    out.push(`  then, once those are fixed:`);
    for (const p of later) out.push(`  ${where(p)}`);
  }
  return out;
}

/** A statement as `--json` gives it (scan and gate alike). */
export function vexJson(m: VexMatch | undefined) {
  if (!m) return null;
  const s = m.statement;
  return {
    status: s.status,
    justification: s.justification ?? null,
    impactStatement: s.impactStatement ?? null,
    actionStatement: s.actionStatement ?? null,
    statusNotes: s.statusNotes ?? null,
    file: m.document.file,
    statement: s.index,
    timestamp: s.timestamp,
  };
}

/** A RustSec hit as `--json` gives it. */
export function hitJson(h: VexedHit) {
  return {
    id: h.advisory.id,
    package: h.package.id,
    informational: h.advisory.informational ?? null,
    title: h.advisory.title,
    vex: vexJson(h.vex),
  };
}

/** A RustSec hit as text: `  RUSTSEC-… crate@version [kind]: title`, and the VEX statement under it when one applies. */
export function hitLines(h: VexedHit, prefix = '  '): string[] {
  const lines = [
    `${prefix}${h.advisory.id} ${h.package.id}${h.advisory.informational ? ` [${h.advisory.informational}]` : ''}: ${h.advisory.title}`,
  ];
  if (h.vex) {
    const w = vexWhy(h.vex);
    lines.push(`      ${w.signal}: ${w.detail}`);
  }
  return lines;
}
