/** Real `.crate` files built by the tests: a gzip'd tar of `<name>-<version>/…`, as `cargo package` writes. */
import { gzipSync } from 'node:zlib';
import tar from 'tar-stream';

export type Files = Record<string, string | Uint8Array>;

/** `extra`: entries written as given (outside the crate's folder, to test refusals). */
export async function buildCrate(name: string, version: string, files: Files, extra: Files = {}): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => (pack.on('end', resolve), pack.on('error', reject)));
  const entries: [string, string | Uint8Array][] = [
    ...Object.entries(files).map(([p, c]): [string, string | Uint8Array] => [`${name}-${version}/${p}`, c]),
    ...Object.entries(extra),
  ];
  for (const [p, c] of entries) pack.entry({ name: p, mtime: new Date(0) }, Buffer.from(c));
  pack.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

/** A crate the way crates.io has one: manifest, original manifest, VCS info, sources. */
export function crateFiles(name: string, version: string, src: Files): Files {
  return {
    'Cargo.toml': `[package]\nname = "${name}"\nversion = "${version}"\nedition = "2021"\n`,
    'Cargo.toml.orig': `[package]\nname = "${name}"\nversion = "${version}"\n`,
    '.cargo_vcs_info.json': `{"git":{"sha1":"${version}"}}\n`,
    ...src,
  };
}

/** `n` numbered lines starting at `from`, each ending in a newline. */
export const lines = (n: number, from = 1, prefix = 'line'): string =>
  Array.from({ length: n }, (_, i) => `${prefix} ${from + i}\n`).join('');
