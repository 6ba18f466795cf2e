/** File-system side of the CLI: everything shared/ refuses to do (it has no I/O). */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  checkDeny,
  denyPackages,
  parseDenyConfig,
  type DenyConfig,
  type DenyReport,
  graphForLockfile,
  graphFromLockfile,
  denyConfigFileOf,
  ownsFolder,
  readStoreFolder,
  readWorkspaceFolder,
  vexFilesIn,
  workspaceLockIn,
  WorkspaceFolderError,
  type WorkspaceFolder,
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
import { indexedAdvisories } from './advisory-index.js';
import { cargoMetadata, type CargoMetadata } from './cargo-metadata.js';

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
export { METADATA_FILE, DENY_CONFIG_FILES } from '@cratewatch/shared';

/** The shared reader of a workspace on disk, its refusals as input errors (exit 2). */
function readFolder<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof WorkspaceFolderError) throw new UsageError(err.message);
    throw err;
  }
}

/**
 * `<workspace dir | Cargo.lock | CycloneDX SBOM>` read by shared `readWorkspaceFolder` (the rules
 * ingest reads it by): its packages, its `supply-chain/` (or `--store`), and its dependency kinds:
 * the `--metadata` JSON, else the `cargo-metadata.json` beside the lockfile (a folder, or a file
 * named Cargo.lock or as CycloneDX names an SBOM, as for VEX files), else none (the Cargo.lock's
 * edges, of unknown kind). Metadata from another lockfile is refused, naming both files.
 */
export function loadWorkspace(target: string, storeArg?: string, metadataArg?: string, o: { runCargo?: boolean } = {}): Workspace {
  const folder = readFolder(() => readWorkspaceFolder(target, { store: storeArg, metadata: metadataArg }));
  const fromCargo = o.runCargo && metadataArg === undefined && folder.manifestPath ? metadataFromCargo(folder) : undefined;
  return workspaceOf(folder, fromCargo ?? folder.metadata);
}

/**
 * A workspace's locked packages alone (`gate --base`): read as `loadWorkspace` reads them, with
 * their dependency kinds, but its store is not judged (a base is compared, not vetted on its own).
 */
export function loadLocked(target: string, metadataArg?: string): Omit<Workspace, 'store' | 'storeDir'> {
  const folder = readFolder(() => readWorkspaceFolder(target, { metadata: metadataArg }));
  const { store: _store, storeDir: _dir, ...locked } = workspaceOf({ ...folder, store: undefined, storeDir: undefined }, folder.metadata);
  return locked;
}

/**
 * With `runCargo` (scan) and a root Cargo.toml: `cargo metadata` as cargo vet runs it (cached,
 * `./cargo-metadata.ts`). When cargo is absent the saved `cargo-metadata.json` (or the Cargo.lock
 * alone) is used and said; when cargo fails, a warning with cargo's error.
 */
function metadataFromCargo(folder: WorkspaceFolder): CargoMetadata | undefined {
  const r = cargoMetadata(folder.manifestPath!, folder.lockText);
  if ('metadata' in r) {
    progress(`dependency kinds from cargo metadata${r.from === 'cache' ? ' (cached: Cargo.lock and manifests unchanged)' : ''}`);
    return r.metadata;
  }
  const instead = folder.metadata ? `dependency kinds from ${folder.metadata.path}` : 'dependency kinds from the Cargo.lock alone';
  if (r.failed) process.stderr.write(`cratewatch: warning: ${folder.manifestPath}: ${r.why}; ${instead}\n`);
  else progress(`cargo metadata not run (${r.why}): ${instead}`);
  return undefined;
}

/** The parsed workspace from what was read, with `metadata` (a file's text, or cargo's output) when there is one. */
export function workspaceOf(folder: WorkspaceFolder, metadata: { path: string; text: string; value?: unknown } | undefined): Workspace {
  const { lockPath, lockText, storeDir } = folder;
  const lockfile = parseWorkspaceLock(lockText, lockPath);
  let graph: DepGraph;
  let meta: unknown;
  if (metadata !== undefined) {
    try {
      meta = metadata.value ?? JSON.parse(metadata.text);
    } catch (err) {
      throw new UsageError(
        `${metadata.path}: not JSON (${(err as Error).message}); expected the output of cargo metadata --format-version 1 --all-features`,
      );
    }
    graph = graphForLockfile(lockfile, meta, metadata.path, lockPath);
  } else graph = graphFromLockfile(lockfile);
  return {
    lockPath,
    lockText,
    lockfile,
    graph,
    store: folder.store ? readStore(folder.store, storeDir!) : undefined,
    storeDir,
    ...(metadata !== undefined ? { metadataPath: metadata.path, metadata: meta } : {}),
  };
}

/** A workspace folder's lockfile: its Cargo.lock, else its one CycloneDX SBOM (shared `workspaceLockIn`). */
export const lockfileIn = (dir: string): string => readFolder(() => workspaceLockIn(dir));

export function loadStore(dir: string): VetStore {
  return readStore(
    readFolder(() => readStoreFolder(dir)),
    dir,
  );
}

/**
 * The workspace's deny.toml: `--deny-config FILE` (a missing file is an input error), else the
 * first of `deny.toml`, `.deny.toml`, `.cargo/deny.toml` beside its packages (shared
 * `denyConfigFileOf`: the scanned folder, or that of a Cargo.lock or an SBOM named by path), else none.
 */
export function loadDenyConfig(target: string, configArg?: string): DenyConfig | undefined {
  if (configArg !== undefined && !existsSync(configArg)) throw new UsageError(`--deny-config ${configArg}: no such file`);
  const file = configArg ?? (existsSync(target) ? denyConfigFileOf(target) : undefined);
  return file === undefined ? undefined : parseDenyConfig(read(file), file);
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
 * beside its Cargo.lock or SBOM (shared `vexFilesIn`, when `ownsFolder`: the folder, a file named
 * Cargo.lock or an SBOM file name), in file-name order, then each `--vex FILE` in the order given
 * (a file named both ways is read once).
 * The order only breaks ties between statements of the same instant (shared `vexStatementFor`).
 */
export function loadVex(target: string, files: string[]): VexDocument[] {
  const found: string[] = [];
  if (existsSync(target) && ownsFolder(target)) found.push(...vexFilesIn(statSync(target).isDirectory() ? target : path.dirname(target)));
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

/**
 * A local RustSec advisory-db checkout: `crates/<name>/RUSTSEC-*.md` (and `rust/`), parsed once per
 * checkout commit (or content) into the cached index of `./advisory-index.ts`.
 */
export function loadAdvisoryDb(dir: string): Advisory[] {
  if (!existsSync(path.join(dir, 'crates'))) throw new UsageError(`--advisory-db ${dir}: no crates/ directory`);
  return indexedAdvisories(
    dir,
    (files) => files.map((f) => parseAdvisory(read(f), f)),
    progress,
    (msg) => process.stderr.write(`cratewatch: warning: ${msg}\n`),
  );
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
