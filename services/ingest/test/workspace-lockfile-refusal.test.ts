/**
 * A Cargo.lock whose locked version is not SemVer is refused by ingest like any unreadable
 * lockfile: one record on `org.workspaces.dlq` naming file, line and package, no workspace event,
 * and the checkpoint remembers it (it is not refused again until it changes). A stand-in producer
 * records what would be sent; nothing here needs Kafka.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Producer } from 'kafkajs';
import { Checkpoint, logger } from '@cratewatch/runtime';
import { TOPICS, dlqTopic } from '@cratewatch/shared';
import { WorkspaceSource, type WorkspaceCheckpoint } from '../src/sources/workspaces.js';

const CRATES = 'registry+https://github.com/rust-lang/crates.io-index';

describe('ingest workspaces: a locked version that is not SemVer', () => {
  it('goes to the DLQ with file, line and package; no workspace event', async () => {
    const sent: { topic: string; key: string; value: string }[] = [];
    const producer = {
      send: async (r: { topic: string; messages: { key: string; value: string }[] }) => {
        for (const m of r.messages) sent.push({ topic: r.topic, key: m.key, value: m.value });
        return [];
      },
    } as unknown as Producer;
    const dir = mkdtempSync(join(tmpdir(), 'cratewatch-lockrefusal-'));
    const source = new WorkspaceSource(
      producer,
      new Checkpoint<WorkspaceCheckpoint>(join(dir, 'ws.json'), { workspaces: {} }),
      logger('test'),
    );
    const lockText = `version = 4\n\n[[package]]\nname = "app"\nversion = "0.1.0"\ndependencies = ["foo"]\n\n[[package]]\nname = "foo"\nversion = "1.0"\nsource = "${CRATES}"\n`;
    const files = { lockPath: 'acme/app/Cargo.lock', lockText, checksum: 'c1' };

    expect(await source.submitFiles({ id: 'acme/app', org: 'acme' }, files)).toBe(false);
    expect(sent.map((s) => s.topic)).toEqual([dlqTopic(TOPICS.workspaces)]);
    const record = JSON.parse(sent[0]!.value);
    expect(record).toMatchObject({ key: 'acme/app', value: lockText, service: 'ingest/workspace' });
    expect(record.error).toBe('acme/app/Cargo.lock, line 10, field `package[1].version`: package "foo": version "1.0" is not SemVer');

    expect(await source.submitFiles({ id: 'acme/app', org: 'acme' }, files)).toBe(false); // unchanged: not refused twice
    expect(sent).toHaveLength(1);
  });
});
