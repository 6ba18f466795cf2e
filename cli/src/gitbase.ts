/**
 * `gate --base-ref REF`: the base of a change read from git rather than from a file, as CI has it
 * (a checkout of the head, the base as a ref). Reads, at REF, the files the head has at the same
 * place in its repository: the Cargo.lock, and when REF has them the cargo-vet store and the
 * `cargo-metadata.json`. Errors name the ref and the path.
 */
import { execFileSync } from 'node:child_process';
import { realpathSync } from 'node:fs';
import path from 'node:path';
import {
  graphForLockfile,
  graphFromLockfile,
  parseWorkspaceLock,
  readStore,
  type DepGraph,
  type Lockfile,
  type VetStore,
} from '@cratewatch/shared';
import { progress, UsageError } from './io.js';

export interface GitBase {
  /** How the base is named in output: `REF:path/Cargo.lock`. */
  label: string;
  lockfile: Lockfile;
  graph: DepGraph;
  /** The store as REF has it; undefined when REF has none at the head store's place (or it does not read). */
  store?: VetStore;
  /** The cargo metadata REF has beside the lockfile, parsed, when it describes REF's lockfile. */
  metadata?: { value: unknown; file: string };
  /** The deny.toml REF has at the head deny.toml's place, as text (`file`: `REF:path`). */
  denyConfig?: { file: string; text: string };
}

/** Runs git in `cwd`; undefined when git exits non-zero, UsageError when git is not there at all. */
function git(cwd: string, args: string[], what: string): string | undefined {
  try {
    return execFileSync('git', ['-C', cwd, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { status?: number | null };
    if (e.code === 'ENOENT') throw new UsageError(`${what}: git is not on PATH (--base-ref reads the base from git)`);
    return undefined;
  }
}

/** The top folder of the git work tree holding `file`, or undefined outside one (or without git). */
export function gitRoot(file: string): string | undefined {
  try {
    const out = execFileSync('git', ['-C', path.dirname(path.resolve(file)), 'rev-parse', '--show-toplevel'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return realpathSync(out.trim());
  } catch {
    return undefined;
  }
}

/** `file`'s path inside the repository at `root`, with `/` (what `git show REF:path` takes). */
const inRepo = (root: string, file: string): string | undefined => {
  const rel = path.relative(root, realpathSync(path.resolve(file)));
  return rel.startsWith('..') || path.isAbsolute(rel) ? undefined : rel.split(path.sep).join('/');
};

/**
 * Reads the base at `ref` for the head lockfile `headLock` (a Cargo.lock or a CycloneDX SBOM, told
 * by its name as for the head), with the store at `storeDir`, the metadata at `metadataPath` and
 * the deny.toml at `denyPath` (each as the head has them) when REF has them there too.
 */
export function readGitBase(ref: string, headLock: string, storeDir?: string, metadataPath?: string, denyPath?: string): GitBase {
  const what = `--base-ref ${ref}`;
  // git would read `-x:Cargo.lock` as an option of its own, not as a revision.
  if (ref === '' || ref.startsWith('-')) throw new UsageError(`${what}: not a git revision`);
  git('.', ['--version'], what); // git missing: said before "not a repository"
  const root = gitRoot(headLock);
  if (!root) throw new UsageError(`${what}: ${headLock} is not inside a git work tree`);
  if (git(root, ['rev-parse', '--verify', '--quiet', `${ref}^{commit}`], what) === undefined) {
    throw new UsageError(
      `${what}: no such commit in ${root} (a shallow clone may lack it: fetch it, e.g. actions/checkout with fetch-depth: 0)`,
    );
  }
  const show = (rel: string) =>
    git(root, ['cat-file', '-e', `${ref}:${rel}`], what) === undefined ? undefined : git(root, ['show', `${ref}:${rel}`], what);
  const lockRel = inRepo(root, headLock)!;
  const label = `${ref}:${lockRel}`;
  const lockText = show(lockRel);
  if (lockText === undefined) throw new UsageError(`${what}: ${lockRel} does not exist at ${ref} (in ${root})`);
  progress(`reading the base from git: ${label}`);
  const lockfile = parseWorkspaceLock(lockText, label);
  const denyRel = denyPath && inRepo(root, denyPath);
  const denyText = denyRel ? show(denyRel) : undefined;
  return {
    label,
    lockfile,
    ...baseGraph(ref, lockfile, label, metadataPath && inRepo(root, metadataPath), show),
    store: baseStore(ref, storeDir && inRepo(root, storeDir), show),
    ...(denyText !== undefined ? { denyConfig: { file: `${ref}:${denyRel}`, text: denyText } } : {}),
  };
}

/** The base's graph, with dependency kinds (and the metadata) when REF has the metadata; metadata REF has out of date is set aside (said on stderr). */
function baseGraph(
  ref: string,
  lockfile: Lockfile,
  label: string,
  metaRel: string | undefined,
  show: (rel: string) => string | undefined,
): Pick<GitBase, 'graph' | 'metadata'> {
  const text = metaRel ? show(metaRel) : undefined;
  if (text === undefined) return { graph: graphFromLockfile(lockfile) };
  try {
    const value: unknown = JSON.parse(text);
    const graph = graphForLockfile(lockfile, value, `${ref}:${metaRel}`, label);
    progress(`base dependency kinds from ${ref}:${metaRel}`);
    return { graph, metadata: { value, file: `${ref}:${metaRel}` } };
  } catch (err) {
    progress(`warning: ${ref}:${metaRel} not used (${(err as Error).message.split('\n')[0]}); base dependency kinds unknown`);
    return { graph: graphFromLockfile(lockfile) };
  }
}

/**
 * The store as REF has it. A base store that does not read is set aside with a warning rather
 * than refused: the change under review may be the one that fixes it.
 */
function baseStore(ref: string, storeRel: string | undefined, show: (rel: string) => string | undefined): VetStore | undefined {
  if (!storeRel) return undefined;
  const config = show(`${storeRel}/config.toml`);
  if (config === undefined) return undefined;
  try {
    return readStore(
      { config, audits: show(`${storeRel}/audits.toml`), importsLock: show(`${storeRel}/imports.lock`) },
      `${ref}:${storeRel}`,
    );
  } catch (err) {
    progress(`warning: the store at ${ref}:${storeRel} does not read (${(err as Error).message.split('\n')[0]}); judged without it`);
    return undefined;
  }
}
