/**
 * `scan`'s dependency kinds from cargo itself, as cargo vet gets them: `cargo metadata
 * --format-version 1 --all-features` on the workspace's root manifest, with `--locked` so that a
 * scan never rewrites the Cargo.lock it judges. The output is kept in the cache (`metadata/`),
 * keyed by the manifest's path, the Cargo.lock and the root manifest, and each entry records the
 * hash of every manifest cargo read (the workspace's path packages, wherever they are): an entry
 * is used only while all of them are unchanged. `CRATEWATCH_CARGO` names the cargo to run
 * (`none`: never run it).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { cacheDir, isInside, readEntry, sha256, writeEntry } from './cache.js';

/** Bumped when an entry's layout changes: older entries are then misses. */
const ENTRY_FORMAT = 1;

export interface CargoMetadata {
  /** How errors and `--json` name it: the manifest, then `(cargo metadata)`. */
  path: string;
  text: string;
  value: unknown;
}

/** The metadata and where it came from, or why cargo gave none (`failed`: cargo ran and refused). */
export type CargoMetadataOutcome = { metadata: CargoMetadata; from: 'cache' | 'cargo' } | { why: string; failed: boolean };

interface EntryHeader {
  format: number;
  /** Every manifest cargo read, absolute path -> sha256 of its text. */
  manifests: Record<string, string>;
}

const hashFile = (file: string): string | undefined => {
  try {
    return sha256(readFileSync(file));
  } catch {
    return undefined;
  }
};

/** The manifests cargo metadata read: each path package's, and the workspace root's. */
function manifestsOf(value: unknown): string[] {
  const m = value as { packages?: { source?: unknown; manifest_path?: unknown }[]; workspace_root?: unknown };
  const out = new Set<string>();
  for (const p of m.packages ?? []) if (p.source == null && typeof p.manifest_path === 'string') out.add(p.manifest_path);
  if (typeof m.workspace_root === 'string') out.add(path.join(m.workspace_root, 'Cargo.toml'));
  return [...out].sort();
}

function fromCache(file: string, label: string): CargoMetadata | undefined {
  const entry = readEntry(file);
  const nl = entry?.indexOf('\n') ?? -1;
  if (entry === undefined || nl < 0) return undefined;
  try {
    const header = JSON.parse(entry.slice(0, nl)) as EntryHeader;
    if (header.format !== ENTRY_FORMAT) return undefined;
    for (const [m, h] of Object.entries(header.manifests)) if (hashFile(m) !== h) return undefined;
    const text = entry.slice(nl + 1);
    return { path: label, text, value: JSON.parse(text) };
  } catch {
    return undefined; // a damaged entry is a miss: cargo runs again and the entry is rewritten
  }
}

function runCargo(cargo: string, manifestPath: string): { text: string } | { why: string; failed: boolean } {
  const r = spawnSync(cargo, ['metadata', '--format-version', '1', '--all-features', '--locked', '--manifest-path', manifestPath], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    return { why: code === 'ENOENT' ? `${cargo} is not on PATH` : `${cargo}: ${code ?? r.error.message}`, failed: code !== 'ENOENT' };
  }
  if (r.status !== 0) {
    const last = r.stderr.trim().split('\n').filter(Boolean).at(-1) ?? `exit ${r.status}`;
    return { why: `cargo metadata failed: ${last.replace(/^error: /, '')}`, failed: true };
  }
  return { text: r.stdout };
}

/** `cargo metadata` of the workspace whose root manifest is `manifestPath`, from the cache when it is still true. */
export function cargoMetadata(manifestPath: string, lockText: string): CargoMetadataOutcome {
  const cargo = process.env.CRATEWATCH_CARGO || 'cargo';
  if (cargo === 'none') return { why: 'CRATEWATCH_CARGO=none', failed: false };
  const manifest = path.resolve(manifestPath);
  const label = `${manifestPath} (cargo metadata)`;
  const file = path.join(cacheDir('metadata'), `${sha256(String(ENTRY_FORMAT), manifest, lockText, hashFile(manifest) ?? '')}.json`);
  const hit = fromCache(file, label);
  if (hit) return { metadata: hit, from: 'cache' };
  const ran = runCargo(cargo, manifestPath);
  if ('why' in ran) return ran;
  let value: unknown;
  try {
    value = JSON.parse(ran.text);
  } catch (err) {
    return { why: `cargo metadata printed no JSON (${(err as Error).message})`, failed: true };
  }
  const manifests: Record<string, string> = {};
  for (const m of manifestsOf(value)) manifests[m] = hashFile(m) ?? '';
  // A cache inside the workspace would be read as part of it (or committed): not written there.
  if (!isInside(file, path.dirname(manifest))) writeEntry(file, `${JSON.stringify({ format: ENTRY_FORMAT, manifests })}\n${ran.text}`);
  return { metadata: { path: label, text: ran.text, value }, from: 'cargo' };
}
