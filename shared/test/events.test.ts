import { describe, expect, it } from 'vitest';
import { EventValidationError, TOPICS, decodeEvent, encodeEvent } from '../src/events.js';
import { parseLockfile } from '../src/lockfile.js';
import { workspaceEvent } from '../src/workspace.js';

describe('event validation', () => {
  const ev = workspaceEvent({
    id: 'team-a/app',
    org: 'acme',
    lock: parseLockfile('version = 4\n[[package]]\nname = "app"\nversion = "0.1.0"\n'),
    origin: { path: 'Cargo.lock', checksum: 'x' },
    observedAt: '2026-01-01T00:00:00.000Z',
  });

  it('round-trips a valid event', () => {
    expect(decodeEvent(TOPICS.workspaces, Buffer.from(encodeEvent(TOPICS.workspaces, ev)))).toEqual(ev);
    expect(ev.members).toEqual(['app@0.1.0']);
  });

  it('names the path of every bad field', () => {
    const bad = { ...ev, v: 2, packages: [{ id: 'x' }] };
    try {
      decodeEvent(TOPICS.workspaces, JSON.stringify(bad));
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(EventValidationError);
      expect((err as Error).message).toMatch(/^invalid org\.workspaces event: v: /);
      expect((err as Error).message).toMatch(/packages\.0\.name: Required/);
    }
    expect(() => decodeEvent(TOPICS.findings, '{nope')).toThrow(/\(root\): not JSON/);
  });

  it('keeps tombstones as null', () => {
    expect(decodeEvent(TOPICS.advisories, null)).toBeNull();
  });
});
