import { defineConfig } from 'vitest/config';

// One run shares one Kafka and one Neo4j (started by test/infra.ts when none is configured),
// and the machine has two cores: test files run one after another.
export default defineConfig({
  test: {
    globalSetup: ['test/infra.ts'],
    include: [
      'shared/test/**/*.test.ts',
      'sandbox/test/**/*.test.ts',
      'services/*/test/**/*.test.ts',
      'cli/test/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    pool: 'forks',
    fileParallelism: false,
  },
});
