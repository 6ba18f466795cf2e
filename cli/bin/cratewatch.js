#!/usr/bin/env node
// The `cratewatch` command as npm links it. A committed file, not dist/main.js: `npm ci` links
// bins before anything is built, and a bin whose target does not exist yet is not linked at all
// (`npx cratewatch` then says "could not determine executable to run"). In a clone where the CLI
// is not built yet, it builds it first (tsc -b, output on stderr so stdout stays the report's);
// an installed package ships dist/ and goes straight to it. docs/adr/0009-cli-commander.md.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const main = new URL('../dist/main.js', import.meta.url);
if (!existsSync(fileURLToPath(main))) {
  const cli = fileURLToPath(new URL('..', import.meta.url));
  let tsc;
  try {
    tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  } catch {
    process.stderr.write(
      `cratewatch: ${fileURLToPath(main)} is missing and TypeScript is not installed to build it (npm ci, then npx tsc -b)\n`,
    );
    process.exit(3);
  }
  process.stderr.write('cratewatch: building the CLI (tsc -b cli) on first use\n');
  const built = spawnSync(process.execPath, [tsc, '-b', cli], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
  if (built.status !== 0) {
    process.stderr.write(`${built.stdout ?? ''}cratewatch: the build failed (npx tsc -b shows why)\n`);
    process.exit(3);
  }
}
await import(main.href);
