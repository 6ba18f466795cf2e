/**
 * A watched workspace folder with a CycloneDX SBOM instead of a Cargo.lock (as the CLI reads one):
 * the same `org.workspaces` event a Cargo.lock gives (packages, edges, members), with its CycloneDX
 * and CSAF VEX documents beside it read into the same VEX model; a bad SBOM goes to the DLQ naming
 * file, field and bom-ref. A stand-in producer records what would be sent; nothing here needs Kafka.
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
const LOCK = `version = 4\n\n[[package]]\nname = "app"\nversion = "0.1.0"\ndependencies = ["foo"]\n\n[[package]]\nname = "foo"\nversion = "1.0.0"\nsource = "${CRATES}"\nchecksum = "${'f'.repeat(64)}"\n`;
const BOM = {
  bomFormat: 'CycloneDX',
  specVersion: '1.5',
  version: 1,
  metadata: {
    component: {
      type: 'application',
      'bom-ref': 'app',
      name: 'app',
      version: '0.1.0',
      purl: 'pkg:cargo/app@0.1.0?download_url=file%253A%252F%252F.',
    },
  },
  components: [
    {
      type: 'library',
      'bom-ref': 'foo',
      name: 'foo',
      version: '1.0.0',
      purl: 'pkg:cargo/foo@1.0.0',
      hashes: [{ alg: 'SHA-256', content: 'f'.repeat(64) }],
    },
  ],
  dependencies: [{ ref: 'app', dependsOn: ['foo'] }],
};
const CDX_VEX = {
  bomFormat: 'CycloneDX',
  specVersion: '1.6',
  metadata: { timestamp: '2026-01-01T00:00:00Z' },
  vulnerabilities: [{ id: 'RUSTSEC-2099-0001', analysis: { state: 'resolved' }, affects: [{ ref: 'pkg:cargo/foo@1.0.0' }] }],
};
const CSAF = {
  document: { category: 'csaf_vex', csaf_version: '2.0', tracking: { id: 'X-1', current_release_date: '2026-01-02T00:00:00Z' } },
  product_tree: {
    full_product_names: [{ product_id: 'FOO', name: 'foo', product_identification_helper: { purl: 'pkg:cargo/foo@1.0.0' } }],
  },
  vulnerabilities: [
    {
      cve: 'CVE-2099-0002',
      product_status: { known_not_affected: ['FOO'] },
      flags: [{ label: 'vulnerable_code_not_present', product_ids: ['FOO'] }],
    },
  ],
};

function sourceWithLog() {
  const sent: { topic: string; key: string; value: string }[] = [];
  const producer = {
    send: async (r: { topic: string; messages: { key: string; value: string }[] }) => {
      for (const m of r.messages) sent.push({ topic: r.topic, key: m.key, value: m.value });
      return [];
    },
  } as unknown as Producer;
  const dir = mkdtempSync(join(tmpdir(), 'cratewatch-ingest-sbom-'));
  return {
    sent,
    dir,
    source: new WorkspaceSource(producer, new Checkpoint<WorkspaceCheckpoint>(join(dir, 'ws.json'), { workspaces: {} }), logger('test')),
  };
}

describe('ingest workspaces: a folder with a CycloneDX SBOM', () => {
  it('sends the event a Cargo.lock gives, with its CycloneDX and CSAF VEX', async () => {
    const { sent, dir, source } = sourceWithLog();
    mkdirSync(join(dir, 'watched/from-lock'), { recursive: true });
    mkdirSync(join(dir, 'watched/from-sbom'), { recursive: true });
    writeFileSync(join(dir, 'watched/from-lock/Cargo.lock'), LOCK);
    writeFileSync(join(dir, 'watched/from-sbom/app.cdx.json'), JSON.stringify(BOM));
    writeFileSync(join(dir, 'watched/from-sbom/app.vex.json'), JSON.stringify(CDX_VEX));
    writeFileSync(join(dir, 'watched/from-sbom/app.csaf.json'), JSON.stringify(CSAF));
    expect(WorkspaceSource.discover(join(dir, 'watched'), 'acme').map((r) => r.id)).toEqual(['from-lock', 'from-sbom']);
    expect(await source.pollFolder(join(dir, 'watched'), 'acme')).toEqual({ sent: 2, failed: 0, complete: true });
    const [fromLock, fromSbom] = sent.map((s) => decodeEvent(TOPICS.workspaces, s.value) as WorkspaceEvent);
    expect(fromSbom!.packages).toEqual(fromLock!.packages);
    expect(fromSbom!.edges).toEqual(fromLock!.edges);
    expect(fromSbom!.members).toEqual(['app@0.1.0']);
    expect(fromSbom!.origin.path).toBe(join(dir, 'watched/from-sbom/app.cdx.json'));
    expect(fromSbom!.vex?.map((d) => [d.file, d.statements.map((s) => [s.vulnerability.name, s.status])])).toEqual([
      [join(dir, 'watched/from-sbom/app.csaf.json'), [['CVE-2099-0002', 'not_affected']]],
      [join(dir, 'watched/from-sbom/app.vex.json'), [['RUSTSEC-2099-0001', 'fixed']]],
    ]);
  });

  it('refuses a bad SBOM to the DLQ, naming file, field and bom-ref', async () => {
    const { sent, dir, source } = sourceWithLog();
    mkdirSync(join(dir, 'ws'));
    const bad = { ...BOM, components: [{ ...BOM.components[0], purl: 'pkg:cargo/foo' }] };
    writeFileSync(join(dir, 'ws/bom.json'), JSON.stringify(bad));
    expect(await source.submit({ id: 'ws', org: 'acme', path: join(dir, 'ws') })).toBe(false);
    expect(sent.map((s) => s.topic)).toEqual([dlqTopic(TOPICS.workspaces)]);
    expect(JSON.parse(sent[0]!.value).error).toBe(
      `${join(dir, 'ws/bom.json')}, field \`components[0].purl\`: component foo (bom-ref "foo"): the purl has no version (pkg:cargo/foo@VERSION): an SBOM read as a lockfile must say which version is locked`,
    );
  });
});
