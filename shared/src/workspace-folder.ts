/**
 * "A workspace on disk", read by one set of rules for the CLI and for ingest: its packages (a
 * `Cargo.lock`, else its one CycloneDX SBOM), its cargo-vet store (`supply-chain/`), its
 * `cargo-metadata.json`, its VEX documents, its `deny.toml`, and whether it has a root `Cargo.toml`
 * (so `cargo metadata` can be run on it). The one module of shared that reads files: the rules of
 * which file belongs to a workspace are domain rules, and two readers had drifted apart.
 * Parsing stays with the callers (each has its own error policy: exit 2, or a dead letter).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { isSbomFileName } from './cyclonedx/bom.js';
import { isVexDocumentFileName } from './vexfile.js';
import { DENY_CONFIG_FILES } from './deny/facts.js';

/** `cargo metadata --format-version 1 --all-features` saved beside a Cargo.lock (as cargo-vet computes it). */
export const METADATA_FILE = 'cargo-metadata.json';
/** The cargo-vet store's folder beside the lockfile, and its files. */
export const STORE_DIR = 'supply-chain';
export const STORE_FILES = { config: 'config.toml', audits: 'audits.toml', importsLock: 'imports.lock' } as const;

/** A workspace's folder or one of its files cannot be read as a workspace; the message names the path. */
export class WorkspaceFolderError extends Error {
  override name = 'WorkspaceFolderError';
  constructor(
    readonly file: string,
    detail: string,
  ) {
    super(`${file}: ${detail}`);
  }
}

export interface FolderFile {
  path: string;
  text: string;
}

export type StoreTexts = { -readonly [K in keyof typeof STORE_FILES]?: string };

export interface WorkspaceFolder {
  /** The folder the other files are looked for in. */
  dir: string;
  /** The file the locked packages come from: a Cargo.lock, or a CycloneDX SBOM. */
  lockPath: string;
  lockText: string;
  /** Whether the files beside the lockfile are this workspace's (see `ownsFolder`). */
  ownsFolder: boolean;
  storeDir?: string;
  store?: StoreTexts;
  metadata?: FolderFile;
  /** VEX documents beside the lockfile in file-name (code-point) order, then the extra ones asked for. */
  vex: (FolderFile & { name: string })[];
  denyConfig?: FolderFile;
  /** The root `Cargo.toml` beside the lockfile, when there is one. */
  manifestPath?: string;
}

export interface WorkspaceFolderOptions {
  /** A store folder instead of `supply-chain/` beside the lockfile. */
  store?: string;
  /** A cargo metadata file instead of `cargo-metadata.json` beside the lockfile. */
  metadata?: string;
  /** A deny.toml instead of the first of `DENY_CONFIG_FILES` in the folder. */
  denyConfig?: string;
  /** VEX files read after those beside the lockfile (one named both ways is read once). */
  vex?: string[];
}

/** A file's text, or an error naming it (`cannot read F: ENOENT`). */
export function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new WorkspaceFolderError(file, `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

const isFile = (p: string): boolean => existsSync(p) && statSync(p).isFile();
const isDir = (p: string): boolean => existsSync(p) && statSync(p).isDirectory();
const byCodePoint = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Where a workspace folder's packages are read from: its `Cargo.lock` when it has one (the SBOM is
 * made from it and may be older), else its one CycloneDX SBOM (`bom.json`, `bom.xml`, `*.cdx.json`,
 * `*.cdx.xml`); several SBOMs and no Cargo.lock is an error naming them; neither, the Cargo.lock path.
 */
export function workspaceLockIn(dir: string): string {
  const lock = path.join(dir, 'Cargo.lock');
  if (existsSync(lock)) return lock;
  const sboms = readdirSync(dir)
    .filter((n) => isSbomFileName(n) && isFile(path.join(dir, n)))
    .sort(byCodePoint);
  if (sboms.length > 1)
    throw new WorkspaceFolderError(dir, `no Cargo.lock, and ${sboms.length} CycloneDX SBOMs (${sboms.join(', ')}): name the one to read`);
  return sboms.length === 1 ? path.join(dir, sboms[0]!) : lock;
}

/**
 * Whether the files beside `target`'s packages belong to it: a folder, a file named Cargo.lock, or
 * an SBOM named as CycloneDX names them do; the lone `<id>.lock` files of a watched folder do not
 * (every one of them would share the folder's metadata, VEX and deny.toml).
 */
export function ownsFolder(target: string): boolean {
  const base = path.basename(target);
  return isDir(target) || base === 'Cargo.lock' || isSbomFileName(base);
}

/** The VEX files (shared `isVexDocumentFileName`) in a folder, in code-point order of their names. */
export function vexFilesIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => isVexDocumentFileName(n) && isFile(path.join(dir, n)))
    .sort(byCodePoint)
    .map((n) => path.join(dir, n));
}

/** The workspace's deny.toml: the first of `DENY_CONFIG_FILES` in its folder, when it owns the folder. */
export function denyConfigFileOf(target: string): string | undefined {
  if (!ownsFolder(target)) return undefined;
  const dir = isDir(target) ? target : path.dirname(target);
  return DENY_CONFIG_FILES.map((f) => path.join(dir, ...f.split('/'))).find(isFile);
}

/**
 * A cargo-vet store's files as text. Its `config.toml` is required (cargo vet refuses a store
 * without it); the others are read when present and judged by the store checks.
 */
export function readStoreFolder(dir: string): StoreTexts {
  if (!isFile(path.join(dir, STORE_FILES.config))) throw new WorkspaceFolderError(dir, 'not a cargo-vet store (no config.toml)');
  const store: StoreTexts = {};
  for (const [k, f] of Object.entries(STORE_FILES) as [keyof StoreTexts, string][])
    if (isFile(path.join(dir, f))) store[k] = readText(path.join(dir, f));
  return store;
}

/**
 * Reads a workspace: `target` is its folder or its lockfile (a Cargo.lock, an SBOM, a watched
 * folder's `<id>.lock`). The store is `options.store`, else `supply-chain/` beside the lockfile;
 * the metadata, VEX files and deny.toml beside it only when the workspace owns the folder
 * (`ownsFolder`). Files asked for by option must exist.
 */
export function readWorkspaceFolder(target: string, o: WorkspaceFolderOptions = {}): WorkspaceFolder {
  if (!existsSync(target)) throw new WorkspaceFolderError(target, 'no such file or directory');
  const folder = isDir(target);
  const dir = folder ? target : path.dirname(target);
  const lockPath = folder ? workspaceLockIn(target) : target;
  if (!existsSync(lockPath)) throw new WorkspaceFolderError(dir, 'no Cargo.lock (nor CycloneDX SBOM) there');
  const owns = ownsFolder(target);
  const storeDir = o.store ?? (isDir(path.join(dir, STORE_DIR)) ? path.join(dir, STORE_DIR) : undefined);
  const metadataPath = o.metadata ?? (owns && isFile(path.join(dir, METADATA_FILE)) ? path.join(dir, METADATA_FILE) : undefined);
  const denyPath = o.denyConfig ?? denyConfigFileOf(target);
  const vexPaths = owns ? vexFilesIn(dir) : [];
  for (const f of o.vex ?? []) if (!vexPaths.some((g) => path.resolve(g) === path.resolve(f))) vexPaths.push(f);
  const manifest = path.join(dir, 'Cargo.toml');
  return {
    dir,
    lockPath,
    lockText: readText(lockPath),
    ownsFolder: owns,
    ...(storeDir !== undefined ? { storeDir, store: readStoreFolder(storeDir) } : {}),
    ...(metadataPath !== undefined ? { metadata: { path: metadataPath, text: readText(metadataPath) } } : {}),
    vex: vexPaths.map((p) => ({ path: p, name: path.basename(p), text: readText(p) })),
    ...(denyPath !== undefined ? { denyConfig: { path: denyPath, text: readText(denyPath) } } : {}),
    ...(owns && isFile(manifest) ? { manifestPath: manifest } : {}),
  };
}
