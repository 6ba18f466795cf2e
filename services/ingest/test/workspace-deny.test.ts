/**
 * A watched workspace with a deny.toml (found as cargo-deny finds it: `deny.toml`, `.deny.toml`,
 * `.cargo/deny.toml`): the event carries it and, with cargo-metadata.json beside, the license facts
 * the checks read; a change to it alone sends the workspace again; a deny.toml that does not read
 * goes to the DLQ with its own text, naming file and line. A stand-in producer records what would
 * be sent; nothing here needs Kafka.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Producer } from 'kafkajs';
import { Checkpoint, logger } from '@cratewatch/runtime';
import { TOPICS, decodeEvent, dlqTopic, type WorkspaceEvent } from '@cratewatch/shared';
import { WorkspaceSource, type WorkspaceCheckpoint } from '../src/sources/workspaces.js';

const CRATES = 'registry+https://github.com/rust-lang/crates.io-index';
const LOCK = `version = 4\n\n[[package]]\nname = "app"\nversion = "0.1.0"\ndependencies = ["foo"]\n\n[[package]]\nname = "foo"\nversion = "1.0.0"\nsource = "${CRATES}"\n`;
const META = {
  packages: [
    {
      id: 'app 0.1.0',
      name: 'app',
      version: '0.1.0',
      source: null,
      license: 'MIT',
      dependencies: [{ name: 'foo', req: '^1', kind: null, source: CRATES }],
    },
    { id: 'foo 1.0.0', name: 'foo', version: '1.0.0', source: CRATES, license: 'GPL-3.0-only', dependencies: [] },
  ],
  workspace_members: ['app 0.1.0'],
  resolve: {
    root: null,
    nodes: [
      { id: 'app 0.1.0', deps: [{ pkg: 'foo 1.0.0', dep_kinds: [{ kind: null }] }] },
      { id: 'foo 1.0.0', deps: [] },
    ],
  },
};

function sourceWithLog() {
  const sent: { topic: string; key: string; value: string }[] = [];
  const producer = {
    send: async (r: { topic: string; messages: { key: string; value: string }[] }) => {
      for (const m of r.messages) sent.push({ topic: r.topic, key: m.key, value: m.value });
      return [];
    },
  } as unknown as Producer;
  const dir = mkdtempSync(join(tmpdir(), 'cratewatch-ingest-deny-'));
  return {
    sent,
    dir,
    source: new WorkspaceSource(producer, new Checkpoint<WorkspaceCheckpoint>(join(dir, 'ws.json'), { workspaces: {} }), logger('test')),
  };
}

describe('ingest workspaces: a deny.toml', () => {
  it('is sent with the license facts; a change to it alone sends the workspace again', async () => {
    const { sent, dir, source } = sourceWithLog();
    mkdirSync(join(dir, 'ws/.cargo'), { recursive: true });
    writeFileSync(join(dir, 'ws/Cargo.lock'), LOCK);
    writeFileSync(join(dir, 'ws/cargo-metadata.json'), JSON.stringify(META));
    writeFileSync(join(dir, 'ws/.cargo/deny.toml'), '[licenses]\nallow = ["MIT"]\n');
    const ref = { id: 'ws', org: 'acme', path: join(dir, 'ws') };
    expect(await source.submit(ref)).toBe(true);
    const ev = decodeEvent(TOPICS.workspaces, sent[0]!.value) as WorkspaceEvent;
    expect(ev.deny!.config).toEqual({ file: join(dir, 'ws/.cargo/deny.toml'), text: '[licenses]\nallow = ["MIT"]\n' });
    expect(ev.deny!.packages!.map((p) => [p.id, p.license, p.member])).toEqual([
      ['app@0.1.0', 'MIT', true],
      ['foo@1.0.0', 'GPL-3.0-only', false],
    ]);
    expect(await source.submit(ref)).toBe(false); // unchanged
    writeFileSync(join(dir, 'ws/deny.toml'), '[bans]\ndeny = ["foo"]\n'); // deny.toml comes first
    expect(await source.submit(ref)).toBe(true);
    const again = decodeEvent(TOPICS.workspaces, sent[1]!.value) as WorkspaceEvent;
    expect(again.deny!.config.file).toBe(join(dir, 'ws/deny.toml'));
  });

  it('refuses a deny.toml that does not read to the DLQ, with its text, naming file and line', async () => {
    const { sent, dir, source } = sourceWithLog();
    mkdirSync(join(dir, 'ws'));
    writeFileSync(join(dir, 'ws/Cargo.lock'), LOCK);
    writeFileSync(join(dir, 'ws/deny.toml'), '[bans]\nmultiple-versions = "sometimes"\n');
    expect(await source.submit({ id: 'ws', org: 'acme', path: join(dir, 'ws') })).toBe(false);
    expect(sent.map((s) => s.topic)).toEqual([dlqTopic(TOPICS.workspaces)]);
    const rec = JSON.parse(sent[0]!.value);
    expect(rec.error).toContain(`${join(dir, 'ws/deny.toml')}, line 2, field \`bans.multiple-versions\``);
    expect(rec.value).toBe('[bans]\nmultiple-versions = "sometimes"\n');
  });
});
