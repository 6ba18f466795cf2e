import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseLockfile } from '../src/lockfile.js';
import { workspaceEvent } from '../src/workspace.js';

// A real workspace recorded with cargo 1.95 (see vet/fixtures/differential/README.md).
const dir = join(__dirname, 'vet/fixtures/differential/kinds');
const lock = parseLockfile(readFileSync(join(dir, 'Cargo.lock'), 'utf8'));
const metadata = JSON.parse(readFileSync(join(dir, 'metadata.json'), 'utf8'));
const base = {
  id: 'kinds',
  org: 'acme',
  lock,
  origin: { path: 'kinds/Cargo.lock', checksum: 'x' },
  observedAt: '2026-01-01T00:00:00.000Z',
};

describe('workspaceEvent', () => {
  it('gives edges their kinds from cargo metadata', () => {
    const ev = workspaceEvent({ ...base, metadata });
    expect(ev.members.sort()).toEqual(['app@0.1.0', 'core-lib@0.1.0', 'tool@0.1.0']);
    expect(ev.edges).toContainEqual({ from: 'lock_api@0.4.12', to: 'autocfg@1.4.0', kind: 'build' });
    expect(
      ev.edges
        .filter((e) => e.kind === 'dev')
        .map((e) => e.to)
        .sort(),
    ).toEqual(['cfg-if@1.0.0', 'fastrand@2.1.1', 'itoa@1.0.11', 'static_assertions@1.1.0']);
    expect(ev.edges.some((e) => e.kind === 'unknown')).toBe(false);
  });

  it('falls back to edges of unknown kind from the lockfile', () => {
    const ev = workspaceEvent(base);
    expect(ev.edges.length).toBeGreaterThan(0);
    expect(new Set(ev.edges.map((e) => e.kind))).toEqual(new Set(['unknown']));
  });

  it('refuses metadata from another lockfile, naming the metadata file', () => {
    const other = structuredClone(metadata);
    other.packages[0].version = '9.9.9';
    expect(() => workspaceEvent({ ...base, metadata: other, metadataFile: 'kinds/cargo-metadata.json' })).toThrow(
      /^kinds\/cargo-metadata\.json, field `packages`: does not match kinds\/Cargo\.lock \(package \S+@9\.9\.9 only in the metadata; package \S+ only in kinds\/Cargo\.lock\)/,
    );
  });
});
