/**
 * Where a crate version's sources come from, offline first:
 * 1. the cache (`<cache>/sha256/<hex>.crate`, content-addressed, with `<cache>/versions/<name>-<version>`
 *    naming the sha256 of a version fetched before);
 * 2. `--crate-cache` folders: `<name>-<version>.crate` files (cargo's `~/.cargo/registry/cache/<index>/`,
 *    cargo-vet's `--cache-dir`'s `cache/`, or this cache) and `cargo vendor` folders
 *    (`<name>-<version>/` or `<name>/`, with `.cargo-checksum.json`);
 * 3. with `--fetch-crates` only, the registry (`fetch.ts`), into the cache.
 * Every `.crate` of a locked version is checked against the Cargo.lock `checksum`: a mismatch is an
 * error naming the crate and both sums. A version that is not locked (the `from` of a delta) has no
 * checksum to check: its sha256 is recorded when first fetched and checked from then on.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CrateFileError, crateChecksum, unpackCrate, verifyCrate, type SourceTree } from '@cratewatch/shared';
import { CrateFetchError } from './errors.js';
import type { CrateDownloader } from './fetch.js';

export interface CrateSourceOptions {
  /** Where fetched `.crate` files are kept (content-addressed); read as well. */
  cacheDir?: string;
  /** Read-only folders of `.crate` files or `cargo vendor` output. */
  localDirs?: string[];
  /** Set only when the network may be used (`--fetch-crates`). */
  downloader?: CrateDownloader;
}

/** A vendored folder's files as a `.crate` holds them: cargo vendor adds `.cargo-checksum.json`. */
function readVendored(dir: string): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  const walk = (rel: string) => {
    for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && p !== '.cargo-checksum.json') files.set(p, readFileSync(path.join(dir, p)));
    }
  };
  walk('');
  return files;
}

const vendoredVersion = (dir: string): string | undefined =>
  /^\s*version\s*=\s*"([^"]+)"/m.exec(readFileSync(path.join(dir, 'Cargo.toml'), 'utf8'))?.[1];

export class CrateSources {
  /** Versions asked for and not found anywhere (for the report's note). */
  readonly missing: string[] = [];
  /** Downloads that failed (cargo-vet too goes on without that diff, warning). */
  readonly warnings: string[] = [];

  constructor(private readonly o: CrateSourceOptions) {}

  /** The version's unpacked files, or undefined when no source has it. Throws on a checksum mismatch. */
  async tree(name: string, version: string, checksum?: string): Promise<SourceTree | undefined> {
    const bytes = this.cached(name, version, checksum) ?? this.local(name, version, checksum);
    if (bytes) return unpackCrate(name, version, bytes);
    const vendored = this.vendored(name, version, checksum);
    if (vendored) return vendored;
    const fetched = await this.fetch(name, version, checksum);
    if (fetched) return unpackCrate(name, version, fetched);
    this.missing.push(`${name} ${version}`);
    return undefined;
  }

  /** Folders in this cache's layout: the cache, and any `--crate-cache` folder that is one. */
  private roots(): string[] {
    return [this.o.cacheDir, ...(this.o.localDirs ?? [])].filter((d): d is string => d !== undefined);
  }

  private cached(name: string, version: string, checksum?: string): Uint8Array | undefined {
    for (const root of this.roots()) {
      const ptr = path.join(root, 'versions', `${name}-${version}`);
      const sum = checksum ?? (existsSync(ptr) ? readFileSync(ptr, 'utf8').trim() : undefined);
      const file = sum ? path.join(root, 'sha256', `${sum}.crate`) : undefined;
      if (!file || !existsSync(file)) continue;
      const bytes = readFileSync(file);
      // Content-addressed: a file whose bytes are not its name is corrupt, whatever the lockfile says.
      const got = crateChecksum(bytes);
      if (got !== sum)
        throw new CrateFileError(`${name} ${version}: cached ${file} is corrupt: named ${sum}, its sha256 is ${got} (delete it)`);
      return bytes;
    }
    return undefined;
  }

  private local(name: string, version: string, checksum?: string): Uint8Array | undefined {
    for (const dir of this.o.localDirs ?? []) {
      for (const file of [path.join(dir, `${name}-${version}.crate`), path.join(dir, 'cache', `${name}-${version}.crate`)]) {
        if (!existsSync(file)) continue;
        const bytes = readFileSync(file);
        if (checksum) verifyCrate(name, version, bytes, checksum);
        return bytes;
      }
    }
    return undefined;
  }

  private vendored(name: string, version: string, checksum?: string): SourceTree | undefined {
    for (const dir of this.o.localDirs ?? []) {
      for (const d of [path.join(dir, `${name}-${version}`), path.join(dir, name)]) {
        const sums = path.join(d, '.cargo-checksum.json');
        if (!existsSync(sums) || !statSync(d).isDirectory() || vendoredVersion(d) !== version) continue;
        const pkg = (JSON.parse(readFileSync(sums, 'utf8')) as { package?: string }).package;
        if (checksum && pkg && pkg !== checksum) {
          throw new CrateFileError(`${name} ${version}: checksum mismatch: Cargo.lock has ${checksum}, ${sums} has ${pkg}`);
        }
        return readVendored(d);
      }
    }
    return undefined;
  }

  private async fetch(name: string, version: string, checksum?: string): Promise<Uint8Array | undefined> {
    if (!this.o.downloader) return undefined;
    let bytes: Uint8Array | undefined;
    try {
      bytes = await this.o.downloader.download(name, version);
    } catch (e) {
      if (!(e instanceof CrateFetchError)) throw e;
      this.warnings.push(e.message);
      return undefined;
    }
    if (!bytes) return undefined;
    if (checksum) verifyCrate(name, version, bytes, checksum);
    if (this.o.cacheDir) this.store(name, version, bytes);
    return bytes;
  }

  /** Writes the blob, then the version's pointer (each by rename: a reader never sees half a file). */
  private store(name: string, version: string, bytes: Uint8Array): void {
    const sum = crateChecksum(bytes);
    const put = (file: string, data: Uint8Array | string) => {
      mkdirSync(path.dirname(file), { recursive: true });
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, data);
      renameSync(tmp, file);
    };
    put(path.join(this.o.cacheDir!, 'sha256', `${sum}.crate`), bytes);
    put(path.join(this.o.cacheDir!, 'versions', `${name}-${version}`), `${sum}\n`);
  }
}
