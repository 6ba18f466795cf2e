/**
 * The CLI's cache folder: `CRATEWATCH_CACHE_DIR`, else `$XDG_CACHE_HOME/cratewatch`, else
 * `~/.cache/cratewatch` — never inside a workspace (a cache there would be committed, or scanned).
 * Entries are written whole or not at all (a temp file renamed), so a crash or a second process
 * never leaves half an entry; a reader still treats anything it cannot read as a miss.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export function cacheRoot(): string {
  if (process.env.CRATEWATCH_CACHE_DIR) return process.env.CRATEWATCH_CACHE_DIR;
  return path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'cratewatch');
}

/** The folder of one kind of entry (`metadata`, `advisories`) under the cache root. */
export const cacheDir = (kind: string): string => path.join(cacheRoot(), kind);

/** Whether `file` lies inside `dir` (or is it). */
export function isInside(file: string, dir: string): boolean {
  const rel = path.relative(path.resolve(dir), path.resolve(file));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

export const sha256 = (...parts: (string | Buffer)[]): string => {
  const h = createHash('sha256');
  for (const p of parts) h.update(typeof p === 'string' ? `${p.length}:${p}` : p);
  return h.digest('hex');
};

/** An entry's text, or undefined when there is none (or it cannot be read). */
export function readEntry(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Writes an entry atomically. A cache that cannot be written (read-only home, full disk) is said
 * once as a warning and the command goes on: the cache only saves time.
 */
export function writeEntry(file: string, text: string): void {
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, file);
  } catch (err) {
    process.stderr.write(
      `cratewatch: warning: cache ${file} not written: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`,
    );
  }
}
