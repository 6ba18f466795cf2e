/** The built `cratewatch` as a process, for the CLI tests (run `npx tsc -b` first; built on demand). */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const bin = path.join(root, 'cli/dist/main.js');
export const CRATES = 'registry+https://github.com/rust-lang/crates.io-index';

/** Builds the CLI when its dist is missing (a test file run on its own in a fresh clone). */
export function ensureBuilt(): void {
  if (!existsSync(bin)) spawnSync('npx', ['tsc', '-b', 'cli'], { cwd: root, stdio: 'inherit' });
}

let cache: string | undefined;
/** One cache folder for this test file's runs, removed when the process exits. */
function testCache(): string {
  if (cache === undefined) {
    const dir = mkdtempSync(path.join(tmpdir(), 'cratewatch-test-cache-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    cache = dir;
  }
  return cache;
}

/**
 * Runs `cratewatch ...args`; progress on stderr unless `quiet`. `env` is added to (or, with a value
 * of undefined, taken from) the test's environment; `node` are options for node itself (`--import`).
 */
export function cratewatch(
  args: string[],
  o: { quiet?: boolean; env?: Record<string, string | undefined>; node?: string[] } = {},
): { code: number | null; stdout: string; stderr: string } {
  // scan runs cargo metadata on a workspace with a Cargo.toml: only where a test asks for it (the
  // fixtures' manifests name crates.io crates, and tests never use the network).
  const env: Record<string, string | undefined> = {
    ...process.env,
    CRATEWATCH_QUIET: o.quiet ? '1' : '',
    CRATEWATCH_CARGO: 'none',
    CRATEWATCH_CACHE_DIR: testCache(), // the advisory index and cargo metadata: never the user's cache
    ...o.env,
  };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete env[k];
  const r = spawnSync(process.execPath, [...(o.node ?? []), bin, ...args], { encoding: 'utf8', env: env as NodeJS.ProcessEnv });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
