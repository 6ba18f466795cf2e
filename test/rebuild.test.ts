/**
 * `scorer rebuild`: Neo4j rebuilt from the topics alone, without re-alerting. The real scorer and
 * notifier processes on real Kafka and Neo4j, the Slack webhook a loopback server: facts go in, N
 * alerts come out; the rebuild is refused while the scorer runs and while the graph is not empty;
 * with --wipe it rebuilds, re-sending every open finding to risk.findings, which the still-running
 * notifier drops (its delivery log) so the webhook gets nothing new; and the graph after equals the
 * graph before, but for the timestamps the replay sets anew (see VOLATILE).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLockfile, workspaceEvent, type MaintainerEvent, type ReleaseEvent } from '@cratewatch/shared';
import neo4j from 'neo4j-driver';
import { kafkaBrokers, neo4jAuth, neo4jUri } from './helpers.js';
import {
  repoRoot,
  scorerProbe,
  startService,
  tempDir,
  testAdvisory,
  unique,
  waitFor,
  webhookRecorder,
  type ScorerProbe,
  type Service,
} from './pipeline-harness.js';

const run = unique('rebuild');
const prefix = `${run}.`;
const env = {
  CRATEWATCH_TOPIC_PREFIX: prefix,
  KAFKA_SESSION_TIMEOUT_MS: '8000',
  SCORER_GROUP: `${run}-scorer`,
  NOTIFIER_GROUP: `${run}-notifier`,
  CRATEWATCH_STATE_DIR: tempDir('rebuild-state'),
  SLACK_WEBHOOK_URL: '',
  NOTIFIER_DIGEST_THRESHOLD: 'off',
};
const FACT_TOPICS = ['rustsec.advisories', 'org.workspaces', 'audits.pool', 'maintainers.signals', 'crates.releases'];
const observedAt = '2026-01-02T03:04:05.000Z';

/**
 * Properties the replay sets from the clock rather than from the facts: when a finding was (re)computed
 * (Finding.observedAt; the finding events' own observedAt). Everything else must come out equal.
 */
const VOLATILE: Record<string, string[]> = { Finding: ['observedAt'] };

const lockfile = (pkgs: [string, string][]) =>
  `version = 3\n\n[[package]]\nname = "app"\nversion = "0.1.0"\ndependencies = [\n${pkgs.map(([n]) => ` "${n}",\n`).join('')}]\n` +
  pkgs
    .map(
      ([n, v]) =>
        `\n[[package]]\nname = "${n}"\nversion = "${v}"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\nchecksum = "${'ab'.repeat(32)}"\n`,
    )
    .join('');

function runRebuild(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, [join(repoRoot, 'services', 'scorer', 'dist', 'main.js'), 'rebuild', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (c) => (stdout += c));
  proc.stderr.on('data', (c) => (stderr += c));
  return new Promise((r) => proc.on('exit', (code) => r({ code, stdout, stderr })));
}

describe('scorer rebuild: Neo4j from the topics alone, no re-alert', () => {
  let hook: Awaited<ReturnType<typeof webhookRecorder>>;
  let scorer: Service | undefined;
  let notifier: Service;
  let probe: ScorerProbe;
  const kafka = new Kafka({ clientId: `${run}-test`, brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const crateA = `vuln-a-${run}`;
  const crateB = `vuln-b-${run}`;
  const safe = `safe-${run}`;

  /** Waits until the notifier's group has committed every message of risk.findings: it has handled them all. */
  const notifierDrained = () =>
    waitFor('notifier to handle every finding event', async () => {
      const ends = await admin.fetchTopicOffsets(`${prefix}risk.findings`);
      const [committed] = await admin.fetchOffsets({ groupId: env.NOTIFIER_GROUP, topics: [`${prefix}risk.findings`] });
      return ends.every((e) => {
        const c = committed!.partitions.find((p) => p.partition === e.partition);
        return BigInt(c && c.offset !== '-1' ? c.offset : '0') >= BigInt(e.high);
      });
    });
  const findingsEnd = async () => (await admin.fetchTopicOffsets(`${prefix}risk.findings`)).reduce((n, p) => n + Number(p.high), 0);

  /** Every node and relationship with its properties, as sorted lines (VOLATILE left out). */
  const dump = async (): Promise<string[]> => {
    const canon = (labels: string[], props: Record<string, unknown>) => {
      const drop = new Set(labels.flatMap((l) => VOLATILE[l] ?? []));
      return JSON.stringify([
        [...labels].sort(),
        Object.fromEntries(
          Object.entries(props)
            .filter(([k]) => !drop.has(k))
            .sort(([a], [b]) => (a < b ? -1 : 1)),
        ),
      ]);
    };
    const nodes = await probe.q<{ labels: string[]; props: Record<string, unknown> }>(
      'MATCH (n) RETURN labels(n) AS labels, properties(n) AS props',
    );
    const rels = await probe.q<{
      al: string[];
      ap: Record<string, unknown>;
      type: string;
      rp: Record<string, unknown>;
      bl: string[];
      bp: Record<string, unknown>;
    }>(
      'MATCH (a)-[r]->(b) RETURN labels(a) AS al, properties(a) AS ap, type(r) AS type, properties(r) AS rp, labels(b) AS bl, properties(b) AS bp',
    );
    return [
      ...nodes.map((n) => `node ${canon(n.labels, n.props)}`),
      ...rels.map((r) => `rel ${canon(r.al, r.ap)} -[${canon([r.type], r.rp)}]-> ${canon(r.bl, r.bp)}`),
    ].sort();
  };

  beforeAll(async () => {
    await admin.connect();
    hook = await webhookRecorder();
    env.SLACK_WEBHOOK_URL = hook.url;
    // The test servers are throwaway ones (test/README): a rebuild needs the whole graph to itself.
    const driver = neo4j.driver(neo4jUri(), neo4jAuth());
    const wipe = driver.session(); // CALL … IN TRANSACTIONS needs an auto-commit transaction
    await wipe.run('MATCH (n) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS');
    await wipe.close();
    await driver.close();
    [scorer, notifier] = await Promise.all([startService('scorer', env), startService('notifier', env)]);
    probe = await scorerProbe({ prefix, scorerGroup: env.SCORER_GROUP }); // the scorer created the run's topics
  });

  afterAll(async () => {
    await Promise.all([scorer?.stop(), notifier?.stop()]);
    await probe?.close();
    await admin.disconnect();
    await hook?.close();
  });

  it('rebuilds the same graph, re-sends the open findings, and the webhook gets nothing new', async () => {
    // ---- the facts: two workspaces, three hits, a release and a maintainer observation ----------
    await probe.send('rustsec.advisories', [
      { key: `RUSTSEC-2098-${run}-1`, value: testAdvisory(`RUSTSEC-2098-${run}-1`, crateA, observedAt) },
      { key: `RUSTSEC-2098-${run}-2`, value: testAdvisory(`RUSTSEC-2098-${run}-2`, crateB, observedAt) },
      { key: `RUSTSEC-2098-${run}-3`, value: testAdvisory(`RUSTSEC-2098-${run}-3`, safe, observedAt) }, // 3.0.0 is patched: no hit
    ]);
    const ws = (id: string, pkgs: [string, string][]) =>
      workspaceEvent({
        id,
        org: 'acme',
        team: 'platform',
        lock: parseLockfile(lockfile(pkgs)),
        origin: { path: `${id}/Cargo.lock`, checksum: id },
        observedAt,
      });
    await probe.send('org.workspaces', [
      {
        key: `${run}-one`,
        value: ws(`${run}-one`, [
          [crateA, '1.0.0'],
          [crateB, '1.5.0'],
          [safe, '3.0.0'],
        ]),
      },
      { key: `${run}-two`, value: ws(`${run}-two`, [[crateA, '1.2.0']]) },
    ]);
    const release: ReleaseEvent = {
      v: 1,
      crate: crateA,
      version: '1.0.0',
      yanked: false,
      features: {},
      dependencies: [],
      publishedAt: '2025-06-01T00:00:00Z',
      publisher: 'someone',
      observedAt,
    };
    await probe.send('crates.releases', [{ key: crateA, value: release }]);
    const maintainer: MaintainerEvent = {
      v: 1,
      crate: crateB,
      owners: [{ login: 'alice', kind: 'user', observedAt }],
      repository: `https://github.com/acme/${crateB}`,
      signals: {},
      observedAt,
    };
    await probe.send('maintainers.signals', [{ key: crateB, value: maintainer }]);
    await probe.drained(FACT_TOPICS);
    await probe.findingsSettled();
    await notifierDrained();
    const alerts = hook.received.length;
    const advisoryAlerts = hook.received.filter((a) => /RUSTSEC-2098/.test(a.raw)).length;
    expect(advisoryAlerts).toBe(3);
    const before = await dump();
    // What is compared: every kind of node and edge the facts make, not a trivially small graph.
    for (const label of ['Advisory', 'Crate', 'Finding', 'Version', 'Workspace'])
      expect(
        before.some((l) => l.startsWith(`node [["${label}"]`)),
        label,
      ).toBe(true);
    for (const type of ['AFFECTS', 'HAS_VERSION', 'IN', 'LOCKS'])
      expect(
        before.some((l) => l.includes(`-[[["${type}"]`)),
        type,
      ).toBe(true);
    expect(before.filter((l) => l.startsWith('node [["Finding"]')).length).toBeGreaterThanOrEqual(3);
    const sentBefore = await findingsEnd();

    // ---- refused: the scorer still runs; then the graph is not empty ----------------------------
    const whileRunning = await runRebuild(['--wipe']);
    expect(whileRunning.code, whileRunning.stderr).toBe(2);
    expect(whileRunning.stderr).toMatch(/stop the scorer before a rebuild/);
    await scorer!.stop();
    scorer = undefined;
    const notEmpty = await runRebuild([]);
    expect(notEmpty.code, notEmpty.stderr).toBe(2);
    expect(notEmpty.stderr).toMatch(/the graph is not empty \(\d+ nodes\).*--wipe/);
    expect(await dump()).toEqual(before); // refusals touch nothing

    // ---- wipe + rebuild (small batches, to go through several) --------------------------------
    const rebuilt = await runRebuild(['--wipe', '--batch', '7']);
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    const report = JSON.parse(rebuilt.stdout) as {
      wiped: number;
      messages: Record<string, number>;
      refused: number;
      findingEvents: number;
      graph: { nodes: number };
    };
    expect(report.wiped).toBe(before.filter((l) => l.startsWith('node ')).length);
    expect(report.messages).toEqual({
      [`${prefix}rustsec.advisories`]: 3,
      [`${prefix}org.workspaces`]: 2,
      [`${prefix}audits.pool`]: 0,
      [`${prefix}maintainers.signals`]: 1,
      [`${prefix}crates.releases`]: 1,
    });
    expect(report.refused).toBe(0);
    // Every open finding was sent again ("open", as new to the empty graph)...
    expect(report.findingEvents).toBe(before.filter((l) => l.startsWith('node [["Finding"]') && l.includes('"state":"open"')).length);
    expect(await findingsEnd()).toBe(sentBefore + report.findingEvents);

    // ...and the notifier, which kept running, handled them all and delivered none.
    await notifierDrained();
    expect(hook.received.length).toBe(alerts);
    expect(notifier.output()).toMatch(/already delivered|skipped/);

    // ---- the same graph -------------------------------------------------------------------------
    const after = await dump();
    expect(after).toEqual(before);
    expect(report.graph.nodes).toBe(after.filter((l) => l.startsWith('node ')).length);
  });
});
