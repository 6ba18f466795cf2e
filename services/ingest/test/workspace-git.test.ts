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
