/**
 * The CI recipes: `action.yml` (the composite GitHub Action at the repo root) is well-formed YAML
 * with the documented inputs and steps, and its gate step's script, run with bash outside GitHub
 * (GitHub cannot be reached from here) on a git repository the test makes, writes a SARIF log the
 * SARIF 2.1.0 schema accepts and reports the gate's exit code as the upload step expects it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, parseDocument } from 'yaml';
import { CRATES, ensureBuilt, root } from './helpers.js';
import { validateSarif as validate } from './sarif-schema.js';

interface Step {
  name?: string;
  id?: string;
  uses?: string;
  run?: string;
  if?: string;
  env?: Record<string, string>;
  with?: Record<string, string>;
  shell?: string;
}
const actionText = readFileSync(path.join(root, 'action.yml'), 'utf8');
const action = parse(actionText) as {
  name: string;
  inputs: Record<string, { default?: string; description: string }>;
  outputs: Record<string, { value: string }>;
  runs: { using: string; steps: Step[] };
};

const lock = (crates: [string, string][]) =>
  `version = 4\n\n[[package]]\nname = "app"\nversion = "0.1.0"\ndependencies = [${crates.map(([n]) => `"${n}"`).join(', ')}]\n` +
  crates.map(([n, v]) => `\n[[package]]\nname = "${n}"\nversion = "${v}"\nsource = "${CRATES}"\n`).join('');

let repo = '';
beforeAll(() => {
  ensureBuilt();
  repo = realpathSync(mkdtempSync(path.join(tmpdir(), 'cratewatch-ci-recipes-')));
  const git = (...args: string[]) =>
    spawnSync('git', ['-c', 'commit.gpgsign=false', '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
      cwd: repo,
      encoding: 'utf8',
    });
  git('init', '-q');
  writeFileSync(path.join(repo, 'Cargo.lock'), lock([['foo', '1.0.0']]));
  git('add', '-A');
  git('commit', '-q', '-m', 'base');
  git('tag', 'base');
  writeFileSync(
    path.join(repo, 'Cargo.lock'),
    lock([
      ['bar', '2.0.0'],
      ['foo', '1.0.0'],
    ]),
  );
});

/** Runs the action's gate step script as the runner would: bash, the step's env filled from `inputs`, in the checkout. */
function runGateStep(inputs: Record<string, string>) {
  const step = action.runs.steps.find((s) => s.id === 'gate')!;
  const output = path.join(repo, `github-output-${Math.random().toString(36).slice(2)}`);
  writeFileSync(output, '');
  const env: Record<string, string> = {
    PATH: process.env.PATH!,
    HOME: process.env.HOME ?? repo,
    GITHUB_OUTPUT: output,
    CRATEWATCH_QUIET: '1',
    CRATEWATCH_HOME: root,
  };
  for (const [k, v] of Object.entries(step.env!)) {
    const m = /^\$\{\{ inputs\.([a-z-]+) \}\}$/.exec(v);
    if (m) env[k] = inputs[m[1]!] ?? action.inputs[m[1]!]!.default ?? '';
  }
  const r = spawnSync('bash', ['-e', '-c', step.run!], { cwd: repo, env, encoding: 'utf8' });
  const outputs = Object.fromEntries(
    readFileSync(output, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(/=(.*)/s, 2) as [string, string]),
  );
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, outputs };
}

describe('action.yml', () => {
  it('is well-formed YAML: a composite action with the documented inputs, the gate step and the SARIF upload', () => {
    expect(parseDocument(actionText).errors).toEqual([]);
    expect(action.runs.using).toBe('composite');
    expect(Object.keys(action.inputs)).toEqual(
      expect.arrayContaining(['base-ref', 'lockfile', 'store', 'advisory-db', 'pools', 'format', 'sarif-file', 'upload', 'category']),
    );
    expect(action.inputs['format']!.default).toBe('sarif');
    expect(action.inputs['base-ref']!.default).toBe('${{ github.event.pull_request.base.sha }}');
    const gate = action.runs.steps.find((s) => s.id === 'gate')!;
    expect(gate.run).toContain('npx --prefix "$CRATEWATCH_HOME" cratewatch "${args[@]}"');
    expect(gate.run).not.toContain('${{'); // inputs reach the script through env only
    const upload = action.runs.steps.find((s) => s.uses?.startsWith('github/codeql-action/upload-sarif@'))!;
    expect(upload.with!['sarif_file']).toBe('${{ steps.gate.outputs.sarif-file }}');
    expect(upload.if).toContain('always()');
    for (const s of action.runs.steps) if (s.run) expect(s.shell).toBe('bash'); // a composite run step must name its shell
  });

  it('its gate step writes schema-valid SARIF and hands exit code 1 to the steps after it (upload first, fail after)', () => {
    const r = runGateStep({ 'base-ref': 'base', 'sarif-file': 'out.sarif' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.outputs).toEqual({ 'sarif-file': 'out.sarif', 'exit-code': '1' });
    const log = JSON.parse(readFileSync(path.join(repo, 'out.sarif'), 'utf8'));
    expect(validate(log), JSON.stringify(validate.errors)).toBe(true);
    expect(
      log.runs[0].results.map((x: { ruleId: string; locations: { physicalLocation: { artifactLocation: { uri: string } } }[] }) => [
        x.ruleId,
        x.locations[0]!.physicalLocation.artifactLocation.uri,
      ]),
    ).toEqual([['unvetted-crate', 'Cargo.lock']]);
  });

  it('its gate step fails at once on an input error (no verdict to upload): an unknown ref, an empty base-ref', () => {
    const bad = runGateStep({ 'base-ref': 'no-such-ref' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--base-ref no-such-ref: no such commit');
    const empty = runGateStep({ 'base-ref': '' });
    expect(empty.code).toBe(2);
    expect(empty.stdout).toContain('::error title=cratewatch::base-ref is empty');
    const github = runGateStep({ 'base-ref': 'base', format: 'github' });
    expect(github.outputs['exit-code']).toBe('1');
    expect(github.stdout).toMatch(/^::error file=Cargo.lock,line=8,title=unvetted-crate%3A bar@2.0.0::/m);
  });
});

it('docs/ci/gitlab.md has the job as YAML that parses', () => {
  const doc = readFileSync(path.join(root, 'docs/ci/gitlab.md'), 'utf8');
  const yaml = /```yaml\n([\s\S]*?)```/.exec(doc)![1]!;
  const job = (parse(yaml) as Record<string, { script: string[]; artifacts: { paths: string[] } }>)['cratewatch-gate']!;
  expect(job.script.join('\n')).toContain('--base-ref "$CI_MERGE_REQUEST_DIFF_BASE_SHA"');
  expect(job.artifacts.paths).toEqual(['cratewatch.sarif']);
});
