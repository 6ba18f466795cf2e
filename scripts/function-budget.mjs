/**
 * `npm run lint:budget`: every function outside the tests over the budget in eslint.config.mjs
 * (80 lines, closures included, blank lines and comments not), ignoring the backlog there — so it
 * prints what `overBudgetToday` should list. Syntax only (no type information): a few seconds.
 */
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { budget, ignored, tests } from '../eslint.config.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const eslint = new ESLint({
  cwd: root,
  overrideConfigFile: true, // this config alone, not eslint.config.mjs with its backlog
  overrideConfig: [
    { ignores: [...ignored, ...tests] },
    { files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } },
    { rules: { 'max-lines-per-function': ['error', budget] } },
  ],
});

const longest = new Map(); // file -> [lines, what][]
for (const r of await eslint.lintFiles(['.'])) {
  for (const m of r.messages) {
    if (m.fatal) throw new Error(`${r.filePath}:${m.line}: ${m.message}`);
    const lines = Number(/\((\d+)\)/.exec(m.message)?.[1]);
    const what = `${m.message.replace(/ has too many lines.*/, '')} at line ${m.line}, ${lines} lines`;
    const file = r.filePath.slice(root.length);
    longest.set(file, [...(longest.get(file) ?? []), [lines, what]]);
  }
}
const files = [...longest].map(([file, fns]) => [file, fns.sort((a, b) => b[0] - a[0])]).sort((a, b) => b[1][0][0] - a[1][0][0]);
for (const [file, fns] of files) {
  console.log(`  ['${file}', ${fns[0][0]}], // over budget today: ${fns.map(([, w]) => w).join('; ')} — to split (issue 10)`);
}
console.error(`${files.reduce((n, [, fns]) => n + fns.length, 0)} functions over ${budget.max} lines in ${files.length} files`);
