/**
 * A `.crate` file (a gzip'd tar of `<name>-<version>/…`, as crates.io serves it) to the tree of its
 * files, and its checksum. Bytes in, tree out: the fetching and caching is the CLI's
 * (`cli/src/crates/`). Unpacked as cargo-vet does (storage.rs `unpack_package`): every entry must
 * lie under `<name>-<version>/`, else the crate is refused; only regular files are kept (cargo never
 * packs links, and git would diff a link's target text, not a file).
 */
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import type { SourceTree } from './diffstat.js';

export class CrateFileError extends Error {
  override name = 'CrateFileError';
}

/** The sha256 a `Cargo.lock` `checksum` holds. */
export const crateChecksum = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

/** Throws when `bytes` is not the `.crate` the lockfile locked (its `checksum`), naming both sums. */
export function verifyCrate(name: string, version: string, bytes: Uint8Array, expected: string): void {
  const got = crateChecksum(bytes);
  if (got !== expected.toLowerCase()) {
    throw new CrateFileError(`${name} ${version}: checksum mismatch: Cargo.lock has ${expected}, the .crate file has ${got}`);
  }
}

export async function unpackCrate(name: string, version: string, bytes: Uint8Array): Promise<SourceTree> {
  const prefix = `${name}-${version}/`;
  let tarBytes: Buffer;
  try {
    tarBytes = gunzipSync(bytes);
  } catch (e) {
    throw new CrateFileError(`${name} ${version}: not a gzip'd .crate file (${(e as Error).message})`);
  }
  const files = new Map<string, Uint8Array>();
  // tar-stream (and its streams) only when a crate is unpacked, not at every start of the CLI.
  const { default: tar } = await import('tar-stream');
  const extract = tar.extract();
  extract.end(tarBytes);
  try {
    for await (const entry of extract) {
      const path = entry.header.name.replace(/^\.\//, '');
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      if (!path.startsWith(prefix) && path !== prefix.slice(0, -1)) {
        throw new CrateFileError(`${name} ${version}: .crate entry ${path} is outside ${prefix}`);
      }
      if (entry.header.type === 'file' || entry.header.type === 'contiguous-file')
        files.set(path.slice(prefix.length), Buffer.concat(chunks));
    }
  } catch (e) {
    if (e instanceof CrateFileError) throw e;
    throw new CrateFileError(`${name} ${version}: unreadable .crate tar (${(e as Error).message})`);
  }
  return files;
}
