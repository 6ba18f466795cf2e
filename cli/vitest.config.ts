import { defineConfig } from 'vitest/config';
import { fileURLToPath } from 'node:url';

// Local runs of the vet/CLI tests only: no Kafka/Neo4j globalSetup. `npm test` uses the root config.
export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    include: ['shared/test/vet/**/*.test.ts', 'cli/test/**/*.test.ts'],
    testTimeout: 120_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
