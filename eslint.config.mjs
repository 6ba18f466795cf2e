// ESLint (flat config) with typescript-eslint. Why these rules and how the function budget works:
// docs/adr/0018-format-and-lint.md. `npm run lint` builds first: the packages see each other's types
// through their dist/*.d.ts, as tsc does.
import { fileURLToPath } from 'node:url';
import js from '@eslint/js';
import { defineConfig, globalIgnores } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

const root = fileURLToPath(new URL('.', import.meta.url));

/** A function may have 80 lines of code (closures inside it count; blank lines and comments do not). */
/** Built or local state, never linted (the rest of .gitignore). */
export const ignored = ['**/dist/', 'bench/out/', 'infra/local/.data/', 'infra/local/target/', 'infra/local/lib/', '.cratewatch/'];

/** Tests and recorded fixtures: long scenarios read better whole, so the budget skips them. */
export const tests = ['**/test/**', 'test/**'];

export const budget = { max: 80, skipBlankLines: true, skipComments: true, IIFEs: true };

/**
 * The refactoring backlog: the functions over the budget today. A file listed here may keep a
 * function as long as its longest one today and no longer, so nothing grows and any other function
 * over 80 lines still fails. Split it, then lower or drop its line. `npm run lint:budget` lists
 * every function over 80 lines as this list should read.
 */
const overBudgetToday = [
  ['shared/src/vet/check.ts', 232], // over budget today: checkStore 232 lines — to split (issue 10)
  ['services/ingest/src/sources/crates-io-dump.ts', 242], // over budget today: DumpBootstrap.run 242 lines — to split (issue 10)
  ['services/ingest/src/endpoint.ts', 135], // over budget today: WorkspaceEndpoint.handle 135 lines — to split (issue 10)
  ['services/notifier/src/redrive.ts', 135], // over budget today: Redriver.pass 135 lines — to split (issue 10)
  ['shared/src/vex.ts', 119], // over budget today: readVexDocument 119 lines, its statements.map callback 87 — to split (issue 10)
  ['cli/src/commands/query.ts', 107], // over budget today: question 107 lines — to split (issue 10)
  ['services/scorer/src/rebuild.ts', 102], // over budget today: rebuild 102 lines — to split (issue 10)
  ['shared/src/vet/format.ts', 94], // over budget today: readAuditsTables 94 lines — to split (issue 10)
  ['services/ingest/src/sources/maintainers.ts', 93], // over budget today: MaintainersSource.pollNow 93 lines — to split (issue 10)
  ['shared/src/vet/resolver.ts', 92], // over budget today: requirements 92 lines — to split (issue 10)
  ['services/ingest/src/sources/crates-io-index.ts', 88], // over budget today: CratesIndexSource.poll 88 lines — to split (issue 10)
  ['shared/src/advisory.ts', 84], // over budget today: parseAdvisory 84 lines — to split (issue 10)
];

export default defineConfig([
  globalIgnores(ignored),
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: {
      globals: globals.node,
      parserOptions: {
        // Each package's src, the tests, and the plain JavaScript scripts: every file in one program.
        project: [
          'shared/tsconfig.json',
          'sandbox/tsconfig.json',
          'services/*/tsconfig.json',
          'cli/tsconfig.json',
          'tsconfig.tests.json',
          'tsconfig.lint.json',
        ],
        tsconfigRootDir: root,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // A promise nobody awaits loses its error (an unhandled rejection kills the process) and its order.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // Off: errors are re-thrown with a message of our own on purpose — often to keep a credential
      // in a URL or a git remote out of it (rustsec-git.ts) — and a `cause` would carry the original.
      'preserve-caught-error': 'off',
      'max-lines-per-function': ['error', budget],
    },
  },
  ...overBudgetToday.map(([file, max]) => ({ files: [file], rules: { 'max-lines-per-function': ['error', { ...budget, max }] } })),
  { files: tests, rules: { 'max-lines-per-function': 'off' } },
]);
