/**
 * Workspaces read from a git repository at HEAD, with real Kafka: one event per content change,
 * none when HEAD moves without changing the workspace's files, none for uncommitted edits.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Checkpoint, logger } from '@cratewatch/runtime';
import { TOPICS, validateEvent } from '@cratewatch/shared';
import { WorkspaceSource, type WorkspaceCheckpoint } from '../src/sources/workspaces.js';
import { WorkspaceGitSource } from '../src/sources/workspace-git.js';
import { collect, gitIn, useKafka, tempDir, unique, waitFor } from './fixtures/harness.js';

const lock = readFileSync(join(__dirname, 'fixtures', 'workspace-small.lock'), 'utf8');

describe('workspace source: git repository at HEAD, real Kafka', () => {
  const k = useKafka('workspace-git');

  it('re-emits only when HEAD changes the Cargo.lock or supply-chain/', async () => {
    const id = unique('ws-git');
    const repo = tempDir('ws-repo');
    gitIn(repo, 'init', '-q', '-b', 'main');
    mkdirSync(join(repo, 'app', 'supply-chain'), { recursive: true });
    writeFileSync(join(repo, 'app', 'Cargo.lock'), lock);
    writeFileSync(join(repo, 'app', 'supply-chain', 'config.toml'), '[cargo-vet]\nversion = "0.10"\n');
    gitIn(repo, 'add', '-A');
    gitIn(repo, 'commit', '-q', '-m', 'one');

    const state = tempDir('state');
    const cp = new Checkpoint<WorkspaceCheckpoint>(join(state, 'workspaces.json'), { workspaces: {} });
    const source = () => new WorkspaceGitSource(new WorkspaceSource(k.producer, cp, logger('test/ws-git')), cp);
    const ref = { id, org: 'acme', team: 'platform', git: repo, subdir: 'app' };

    expect(await source().poll(ref)).toBe(true);
    expect(await source().poll(ref)).toBe(false); // same HEAD
    writeFileSync(join(repo, 'README.md'), 'docs\n');
    gitIn(repo, 'add', '-A');
    gitIn(repo, 'commit', '-q', '-m', 'docs only');
    expect(await source().poll(ref)).toBe(false); // HEAD moved, same content
    expect(cp.load().heads?.[id]).toBe(gitIn(repo, 'rev-parse', 'HEAD').trim());
    writeFileSync(join(repo, 'app', 'Cargo.lock'), lock.replace('1.15.0', '1.15.1'));
    expect(await source().poll(ref)).toBe(false); // uncommitted: not a change
    gitIn(repo, 'commit', '-q', '-am', 'bump smallvec');
    expect(await source().poll(ref)).toBe(true);
    writeFileSync(join(repo, 'app', 'supply-chain', 'audits.toml'), '[audits]\n');
    gitIn(repo, 'add', '-A');
    gitIn(repo, 'commit', '-q', '-m', 'audits');
    expect(await source().poll(ref)).toBe(true);
    await expect(source().poll({ ...ref, subdir: 'nowhere' })).resolves.toBe(false); // same HEAD already read

    const c = await collect(k.kafka, [TOPICS.workspaces], (m) => m.key === id);
    try {
      await waitFor('3 events', () => c.got.length >= 3);
      await new Promise((r) => setTimeout(r, 500));
      expect(c.got.length).toBe(3);
      const evs = c.got.map((m) => validateEvent(TOPICS.workspaces, JSON.parse(m.value!)));
      expect(evs.map((e) => e.packages.find((p) => p.name === 'smallvec')!.version)).toEqual(['1.15.0', '1.15.1', '1.15.1']);
      expect(evs[0]!.store).toEqual({ config: '[cargo-vet]\nversion = "0.10"\n' });
      expect(evs[2]!.store).toEqual({ config: '[cargo-vet]\nversion = "0.10"\n', audits: '[audits]\n' });
      expect(evs[0]).toMatchObject({ id, org: 'acme', team: 'platform' });
      expect(evs[1]!.origin.path).toMatch(/@[0-9a-f]{12}:app\/Cargo\.lock$/);
    } finally {
      await c.stop();
    }
  });

  it('names the repository and path when Cargo.lock is missing at HEAD', async () => {
    const repo = tempDir('ws-empty');
    gitIn(repo, 'init', '-q', '-b', 'main');
    writeFileSync(join(repo, 'x'), 'x');
    gitIn(repo, 'add', '-A');
    gitIn(repo, 'commit', '-q', '-m', 'x');
    const state = tempDir('state');
    const cp = new Checkpoint<WorkspaceCheckpoint>(join(state, 'workspaces.json'), { workspaces: {} });
    const src = new WorkspaceGitSource(new WorkspaceSource(k.producer, cp, logger('test/ws-git')), cp);
    await expect(src.poll({ id: 'x', org: 'acme', git: repo })).rejects.toThrow(`${repo}: no Cargo.lock at`);
  });
});

describe('workspace source: git repository, VEX files beside the Cargo.lock', () => {
  const k = useKafka('workspace-git-vex');
  const vexDoc = (status: string, extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      '@context': 'https://openvex.dev/ns/v0.2.0',
      timestamp: '2026-01-01T00:00:00Z',
      statements: [{ vulnerability: { name: 'RUSTSEC-2098-0001' }, products: [{ '@id': 'pkg:cargo/smallvec@1.15.0' }], status, ...extra }],
    });

  it('reads vex.json and *.openvex.json at HEAD (not uncommitted ones), a change to them is a change; a bad one goes to the DLQ naming file and JSON path', async () => {
    const id = unique('ws-git-vex');
    const repo = tempDir('ws-repo-vex');
    gitIn(repo, 'init', '-q', '-b', 'main');
    mkdirSync(join(repo, 'app', 'nested'), { recursive: true });
    writeFileSync(join(repo, 'app', 'Cargo.lock'), lock);
    writeFileSync(join(repo, 'app', 'vex.json'), vexDoc('not_affected', { justification: 'component_not_present' }));
    writeFileSync(join(repo, 'app', 'nested', 'deep.openvex.json'), vexDoc('fixed')); // not beside the Cargo.lock
    writeFileSync(join(repo, 'vex.json'), vexDoc('fixed')); // the repository root's, not app's
    gitIn(repo, 'add', '-A');
    gitIn(repo, 'commit', '-q', '-m', 'one');

    const cp = new Checkpoint<WorkspaceCheckpoint>(join(tempDir('state'), 'workspaces.json'), { workspaces: {} });
    const source = () => new WorkspaceGitSource(new WorkspaceSource(k.producer, cp, logger('test/ws-git-vex')), cp);
    const ref = { id, org: 'acme', git: repo, subdir: 'app' };
    expect(await source().poll(ref)).toBe(true);
    writeFileSync(join(repo, 'app', 'scanner.openvex.json'), vexDoc('under_investigation'));
    gitIn(repo, 'add', '-A');
    expect(await source().poll(ref)).toBe(false); // staged, not committed: HEAD did not move
    gitIn(repo, 'commit', '-q', '-m', 'a second VEX file');
    expect(await source().poll(ref)).toBe(true);
    writeFileSync(join(repo, 'app', 'scanner.openvex.json'), vexDoc('maybe'));
    gitIn(repo, 'commit', '-q', '-am', 'a bad status');
    const badHead = gitIn(repo, 'rev-parse', 'HEAD').trim();
    expect(await source().poll(ref)).toBe(false); // refused
    expect(await source().poll(ref)).toBe(false); // same HEAD: not refused twice

    // The repository root as the workspace: its own vex.json.
    const rootId = `${id}-root`;
    gitIn(repo, 'mv', 'app/Cargo.lock', 'Cargo.lock');
    gitIn(repo, 'commit', '-q', '-m', 'lock at the root');
    expect(await source().poll({ id: rootId, org: 'acme', git: repo })).toBe(true);

    const c = await collect(k.kafka, [TOPICS.workspaces, `${TOPICS.workspaces}.dlq`], (m) => m.key === id || m.key === rootId);
    try {
      await waitFor('3 events and a refusal', () => c.got.length >= 4);
      await new Promise((r) => setTimeout(r, 500));
      // Order holds per key (the two keys may sit on different partitions).
      const events = (key: string) =>
        c.got
          .filter((m) => m.topic === TOPICS.workspaces && m.key === key)
          .map((m) => validateEvent(TOPICS.workspaces, JSON.parse(m.value!)));
      const evs = events(id);
      expect(evs.map((e) => e.vex?.map((d) => d.file.replace(/^.*:/, '')))).toEqual([
        ['app/vex.json'],
        ['app/scanner.openvex.json', 'app/vex.json'], // in file-name order
      ]);
      expect(evs[0]!.vex![0]!.file).toMatch(new RegExp(`^${repo}@[0-9a-f]{12}:app/vex\\.json$`));
      expect(evs[1]!.vex![0]!.statements[0]).toMatchObject({
        status: 'under_investigation',
        products: [{ purls: ['pkg:cargo/smallvec@1.15.0'] }],
      });
      const root = events(rootId);
      expect(root.map((e) => e.vex?.map((d) => d.file.replace(/^.*:/, '')))).toEqual([['vex.json']]);
      expect(root[0]!.vex![0]!.statements[0]!.status).toBe('fixed');
      const dlq = c.got.filter((m) => m.topic === `${TOPICS.workspaces}.dlq`).map((m) => JSON.parse(m.value!));
      expect(dlq).toHaveLength(1);
      expect(dlq[0].error).toBe(
        `${repo}@${badHead.slice(0, 12)}:app/scanner.openvex.json, field \`statements[0].status\`: expected one of not_affected, affected, fixed, under_investigation, got "maybe"`,
      );
      expect(dlq[0].value).toBe(vexDoc('maybe')); // the bad file itself, for whoever fixes it
    } finally {
      await c.stop();
    }
  });
});
