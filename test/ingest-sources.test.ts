/**
 * The RustSec directory source and the watched-folder workspace source, run as the real
 * `cratewatch-ingest` process against real Kafka, under a topic prefix of their own.
 * Self-contained: small hand-written advisories and lockfiles.
 */
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kafkaBrokers, uniqueName } from './helpers.js';
import { runIngest, tempDir, waitFor } from './pipeline-harness.js';

interface Seen {
  topic: string;
  key: string | null;
  value: string | null;
}

const advisory = (id: string, pkg: string, patched: string) => `\`\`\`toml
[advisory]
id = "${id}"
package = "${pkg}"
date = "2098-01-01"

[versions]
patched = [${patched}]
\`\`\`

# ${pkg} is broken
`;

const lock = (deps: [string, string][]) =>
  `version = 4\n\n[[package]]\nname = "app"\nversion = "0.1.0"\ndependencies = [${deps.map(([n]) => `"${n}"`).join(', ')}]\n` +
  deps
    .map(([n, v]) => `\n[[package]]\nname = "${n}"\nversion = "${v}"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\n`)
    .join('');

describe('ingest sources (real Kafka)', () => {
  const prefix = `${uniqueName('ingest')}.`;
  const env = { CRATEWATCH_TOPIC_PREFIX: prefix, CRATEWATCH_STATE_DIR: tempDir('ingest-state') };
  const kafka = new Kafka({ clientId: 'ingest-test', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: uniqueName('ingest-reader') });
  const seen: Seen[] = [];
  const topics = ['rustsec.advisories', 'rustsec.advisories.dlq', 'org.workspaces', 'org.workspaces.dlq'].map((t) => prefix + t);
  const on = (topic: string) => seen.filter((s) => s.topic === prefix + topic);

  beforeAll(async () => {
    // The first ingest run creates the topics; then the reader follows them from the beginning.
    const empty = tempDir('empty-db');
    mkdirSync(join(empty, 'crates'));
    await runIngest(['rustsec', '--db', empty], { ...env, CRATEWATCH_STATE_DIR: tempDir('unused') });
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, message }) => {
        seen.push({ topic, key: message.key?.toString() ?? null, value: message.value?.toString() ?? null });
      },
    });
  });
  afterAll(() => consumer.disconnect());

  it('RustSec directory: each change once, a tombstone for a deleted advisory, a bad file to the DLQ naming file and field', async () => {
    const db = tempDir('advisory-db');
    mkdirSync(join(db, 'crates/alpha'), { recursive: true });
    mkdirSync(join(db, 'crates/beta'), { recursive: true });
    writeFileSync(join(db, 'crates/alpha/RUSTSEC-2098-0001.md'), advisory('RUSTSEC-2098-0001', 'alpha', '">= 1.2.0"'));
    writeFileSync(join(db, 'crates/beta/RUSTSEC-2098-0002.md'), advisory('RUSTSEC-2098-0002', 'beta', '">= 2.0.0"'));
    writeFileSync(join(db, 'crates/beta/RUSTSEC-2098-0003.md'), advisory('RUSTSEC-2098-0003', 'beta', '">= 1.0, >= 2.0"'));

    await runIngest(['rustsec', '--db', db], env);
    await waitFor('first poll', () => on('rustsec.advisories').length === 2 && on('rustsec.advisories.dlq').length === 1);
    expect(
      on('rustsec.advisories')
        .map((s) => s.key)
        .sort(),
    ).toEqual(['RUSTSEC-2098-0001', 'RUSTSEC-2098-0002']);
    const dlq = JSON.parse(on('rustsec.advisories.dlq')[0]!.value!);
    expect(dlq.key).toBe('crates/beta/RUSTSEC-2098-0003.md');
    // upstream, file, field
    expect(dlq.error).toBe(
      `rustsec ${db}: crates/beta/RUSTSEC-2098-0003.md, field \`versions.patched[0]\`: more than one lower bound in ">= 1.0, >= 2.0"`,
    );
    expect(dlq.service).toBe('ingest/rustsec');
    expect(dlq.value).toContain('RUSTSEC-2098-0003'); // the raw file, for whoever fixes it

    // Nothing changed: nothing is sent (the bad file is not refused again either).
    await runIngest(['rustsec', '--db', db], env);
    // One changed, one deleted.
    writeFileSync(join(db, 'crates/alpha/RUSTSEC-2098-0001.md'), advisory('RUSTSEC-2098-0001', 'alpha', '">= 1.2.1"'));
    rmSync(join(db, 'crates/beta/RUSTSEC-2098-0002.md'));
    await runIngest(['rustsec', '--db', db], env);
    await waitFor('second change', () => on('rustsec.advisories').length >= 4);
    await new Promise((r) => setTimeout(r, 1000));
    const events = on('rustsec.advisories');
    expect(events).toHaveLength(4);
    expect(events[2]!.key === 'RUSTSEC-2098-0001' || events[3]!.key === 'RUSTSEC-2098-0001').toBe(true);
    const changed = events.slice(2).find((e) => e.key === 'RUSTSEC-2098-0001')!;
    expect(JSON.parse(changed.value!).advisory.versions.patched).toEqual(['>= 1.2.1']);
    const tomb = events.slice(2).find((e) => e.key === 'RUSTSEC-2098-0002')!;
    expect(tomb.value).toBeNull();
    expect(on('rustsec.advisories.dlq')).toHaveLength(1);
  });

  it('watched folder: one event per new or changed workspace, none for an unchanged one, a bad lockfile to the DLQ', async () => {
    const dir = tempDir('watched');
    writeFileSync(join(dir, 'payments.lock'), lock([['serde', '1.0.200']]));
    mkdirSync(join(dir, 'billing'));
    writeFileSync(
      join(dir, 'billing/Cargo.lock'),
      lock([
        ['tokio', '1.38.1'],
        ['bytes', '1.8.0'],
      ]),
    );
    writeFileSync(join(dir, 'broken.lock'), 'version = 4\n[[package]]\nname = "x"\n');
    // a workspace that ships `cargo metadata` output: its edges carry kinds (a real recorded one)
    const kinds = join(__dirname, '../shared/test/vet/fixtures/differential/kinds');
    mkdirSync(join(dir, 'kinds'));
    copyFileSync(join(kinds, 'Cargo.lock'), join(dir, 'kinds/Cargo.lock'));
    copyFileSync(join(kinds, 'metadata.json'), join(dir, 'kinds/cargo-metadata.json'));

    await runIngest(['watch', '--dir', dir, '--org', 'acme', '--team', 'core'], env);
    await waitFor('workspaces', () => on('org.workspaces').length === 3 && on('org.workspaces.dlq').length === 1);
    const byKey = new Map(on('org.workspaces').map((s) => [s.key, JSON.parse(s.value!)]));
    expect([...byKey.keys()].sort()).toEqual(['billing', 'kinds', 'payments']);
    expect(byKey.get('kinds').edges).toContainEqual({ from: 'lock_api@0.4.12', to: 'autocfg@1.4.0', kind: 'build' });
    expect(byKey.get('kinds').edges.some((e: { kind: string }) => e.kind === 'dev')).toBe(true);
    expect(byKey.get('billing')).toMatchObject({ id: 'billing', org: 'acme', team: 'core', members: ['app@0.1.0'] });
    expect(
      byKey
        .get('billing')
        .packages.map((p: { id: string }) => p.id)
        .sort(),
    ).toEqual(['app@0.1.0', 'bytes@1.8.0', 'tokio@1.38.1']);
    expect(byKey.get('billing').edges).toContainEqual({ from: 'app@0.1.0', to: 'tokio@1.38.1', kind: 'unknown' });
    const dlq = JSON.parse(on('org.workspaces.dlq')[0]!.value!);
    expect(dlq.error).toMatch(/broken\.lock, field `package\[0\]\.version`: expected a non-empty string/);

    writeFileSync(join(dir, 'payments.lock'), lock([['serde', '1.0.201']]));
    await runIngest(['watch', '--dir', dir, '--org', 'acme', '--team', 'core'], env);
    await waitFor('changed workspace', () => on('org.workspaces').length >= 4);
    await new Promise((r) => setTimeout(r, 1000));
    expect(on('org.workspaces')).toHaveLength(4);
    expect(on('org.workspaces')[3]!.key).toBe('payments');
    expect(on('org.workspaces.dlq')).toHaveLength(1);
  });

  it('watched folder: vex.json and *.openvex.json beside a Cargo.lock go with its workspace; a change to them is a change; a bad one goes to the DLQ naming file and JSON path', async () => {
    const dir = tempDir('watched-vex');
    const vexDoc = (status: string, extra: Record<string, unknown> = {}) =>
      JSON.stringify({
        '@context': 'https://openvex.dev/ns/v0.2.0',
        timestamp: '2026-01-01T00:00:00Z',
        statements: [
          {
            vulnerability: { name: 'RUSTSEC-2098-0001', aliases: ['CVE-2098-0001'] },
            products: [{ '@id': 'pkg:cargo/app@0.1.0', subcomponents: [{ '@id': 'pkg:cargo/serde@1.0.200' }] }],
            status,
            ...extra,
          },
        ],
      });
    const ws = (name: string) => `${prefix}vex-${name}`; // keys unique to this test within the run's topics
    mkdirSync(join(dir, ws('api')));
    writeFileSync(join(dir, ws('api'), 'Cargo.lock'), lock([['serde', '1.0.200']]));
    writeFileSync(join(dir, ws('api'), 'vex.json'), vexDoc('not_affected', { justification: 'vulnerable_code_not_in_execute_path' }));
    writeFileSync(join(dir, ws('api'), 'team.openvex.json'), vexDoc('under_investigation'));
    writeFileSync(join(dir, ws('api'), 'notes.json'), '{}'); // not a VEX file name: ignored
    mkdirSync(join(dir, ws('bad')));
    writeFileSync(join(dir, ws('bad'), 'Cargo.lock'), lock([['serde', '1.0.200']]));
    writeFileSync(join(dir, ws('bad'), 'vex.json'), vexDoc('not_affected')); // no justification nor impact statement
    writeFileSync(join(dir, `${ws('lone')}.lock`), lock([['serde', '1.0.200']]));
    writeFileSync(join(dir, 'vex.json'), vexDoc('fixed')); // beside lone .lock files: nobody's

    const mine = (topic: string) => on(topic).filter((s) => s.key?.startsWith(`${prefix}vex-`));
    await runIngest(['watch', '--dir', dir, '--org', 'acme'], env);
    await waitFor('workspaces', () => mine('org.workspaces').length === 2 && mine('org.workspaces.dlq').length === 1);
    const byKey = new Map(mine('org.workspaces').map((s) => [s.key, JSON.parse(s.value!)]));
    expect(
      byKey.get(ws('api')).vex.map((d: { file: string; statements: { status: string }[] }) => [d.file, d.statements[0]!.status]),
    ).toEqual([
      [join(dir, ws('api'), 'team.openvex.json'), 'under_investigation'],
      [join(dir, ws('api'), 'vex.json'), 'not_affected'],
    ]);
    expect(byKey.get(ws('lone')).vex).toBeUndefined();
    const dlq = JSON.parse(mine('org.workspaces.dlq')[0]!.value!);
    expect(dlq.key).toBe(ws('bad'));
    expect(dlq.error).toBe(
      `${join(dir, ws('bad'), 'vex.json')}, field \`statements[0].justification\`: a not_affected statement must give a \`justification\` or an \`impact_statement\` (why the product is not affected)`,
    );
    expect(dlq.value).toBe(vexDoc('not_affected'));

    // Unchanged: nothing. The bad file fixed and api's statement changed: one event each.
    await runIngest(['watch', '--dir', dir, '--org', 'acme'], env);
    writeFileSync(join(dir, ws('bad'), 'vex.json'), vexDoc('not_affected', { impact_statement: 'serde is only used in tests' }));
    writeFileSync(join(dir, ws('api'), 'team.openvex.json'), vexDoc('affected', { action_statement: 'upgrade serde' }));
    await runIngest(['watch', '--dir', dir, '--org', 'acme'], env);
    await waitFor('changed workspaces', () => mine('org.workspaces').length >= 4);
    await new Promise((r) => setTimeout(r, 1000));
    expect(
      mine('org.workspaces')
        .map((s) => s.key)
        .sort(),
    ).toEqual([ws('api'), ws('api'), ws('bad'), ws('lone')]);
    expect(JSON.parse(mine('org.workspaces').find((s) => s.key === ws('bad'))!.value!).vex[0].statements[0].impactStatement).toBe(
      'serde is only used in tests',
    );
    expect(mine('org.workspaces.dlq')).toHaveLength(1);
  });
});
