#!/usr/bin/env node
/** `npm run bench`: the advisory benchmark, then the pipeline's end-to-end latency. */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
for (const script of ['advisories.mjs', 'pipeline-latency.mjs']) {
  process.stderr.write(`bench: ${script}\n`);
  const r = spawnSync(process.execPath, [join(here, script)], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
