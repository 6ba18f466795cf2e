/** `cratewatch query` as a process against the real Neo4j of the test run. */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import neo4j from 'neo4j-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(__dirname, '../..');
const cli = (...args: string[]) => spawnSync(process.execPath, [join(root, 'cli/dist/main.js'), 'query', ...args], { encoding: 'utf8', env: process.env });

describe('cratewatch query (real Neo4j)', () => {
  const ws = `q-${Date.now().toString(36)}`;
  const adv = `RUSTSEC-2097-${String(Date.now() % 10000).padStart(4, '0')}`;
  const crate = `qcrate-${Date.now().toString(36)}`;
  const driver = neo4j.driver(process.env.NEO4J_URI!, process.env.NEO4J_PASSWORD ? neo4j.auth.basic(process.env.NEO4J_USER ?? 'neo4j', process.env.NEO4J_PASSWORD) : undefined);

  beforeAll(async () => {
    await driver.executeQuery(
      `CREATE (w:Workspace {id: $ws, org: 'acme', team: 'payments'})
       CREATE (c:Crate {name: $crate})
       CREATE (v1:Version {id: $crate + '@1.0.0', crate: $crate, version: '1.0.0'}), (v2:Version {id: $crate + '@2.0.0', crate: $crate, version: '2.0.0'})
       CREATE (c)-[:HAS_VERSION]->(v1), (c)-[:HAS_VERSION]->(v2), (w)-[:LOCKS {vetted: 'unvetted', needs: ['safe-to-deploy'], via: []}]->(v1)
       SET w.vetConclusion = 'fail (vet)', w.vetThirdParty = 1, w.vetVetted = 0, w.vetExempted = 0, w.vetUnvetted = 1, w.vetViolation = 0,
           w.vetKindsKnown = true, w.vetTrustedPools = ['google']
       CREATE (a:Advisory {id: $adv, package: $crate, title: 'broken', patched: ['>= 1.0.1']})-[:AFFECTS]->(v1)
       CREATE (f:Finding {id: $ws + '|' + $crate + '|1.0.0|advisory:' + $adv, kind: 'advisory', state: 'open', severity: 'high', score: 8.1,
                          workspace: $ws, crate: $crate, version: '1.0.0', advisory: $adv})-[:IN]->(w)
       // A second workspace locks the same version, but its VEX statement says it is not affected.
       CREATE (w2:Workspace {id: $ws + '-vex', org: 'acme'})-[:LOCKS {vetted: 'vetted'}]->(v1)
       CREATE (:Finding {id: $ws + '-vex|' + $crate + '|1.0.0|advisory:' + $adv, kind: 'advisory', state: 'resolved', severity: 'high', score: 8.1,
                         workspace: $ws + '-vex', crate: $crate, version: '1.0.0', advisory: $adv, why: $why})-[:IN]->(w2)`,
      {
        ws,
        crate,
        adv,
        why: JSON.stringify([
          { signal: 'advisory.vulnerability', contribution: 8.1, detail: `${adv}: broken` },
          { signal: 'vex.not_affected', contribution: 0, detail: 'vulnerable_code_not_in_execute_path: we never parse untrusted input (vex.json statements[0], 2025-03-01T00:00:00Z)' },
        ]),
      },
    );
  });
  afterAll(async () => {
    await driver.executeQuery('MATCH (n) WHERE n.id STARTS WITH $ws OR n.id = $adv OR n.name = $crate OR n.crate = $crate DETACH DELETE n', { ws, adv, crate });
    await driver.close();
  });

  it('answers which workspaces an advisory hits', () => {
    const r = cli('advisory', adv);
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      `${ws} (team payments)  ${crate} 1.0.0  patched: >= 1.0.1  finding open: high 8.1`,
      `${ws}-vex  ${crate} 1.0.0  patched: >= 1.0.1  not exposed per VEX (vex.not_affected: vulnerable_code_not_in_execute_path: we never parse untrusted input (vex.json statements[0], 2025-03-01T00:00:00Z))`,
    ]);
    const j = JSON.parse(cli('advisory', adv, '--json').stdout) as Record<string, unknown>[];
    expect(j.map((x) => [x.workspace, x.findingState, x.vex])).toEqual([
      [ws, 'open', null],
      [`${ws}-vex`, 'resolved', { signal: 'vex.not_affected', detail: expect.stringContaining('we never parse untrusted input') }],
    ]);
  });

  it('lists a workspace\'s open findings, and filters findings by severity as JSON', () => {
    expect(cli('workspace', ws).stdout.trim()).toBe(`high      8.1  ${ws}  ${crate} 1.0.0  ${adv}  (open)`);
    const high = JSON.parse(cli('findings', '--severity', 'high', '--team', 'payments', '--json').stdout);
    expect(high.filter((f: { workspace: string }) => f.workspace === ws)).toHaveLength(1);
    const low = JSON.parse(cli('findings', '--severity', 'low', '--team', 'payments', '--json').stdout);
    expect(low.filter((f: { workspace: string }) => f.workspace === ws)).toHaveLength(0);
  });

  it("shows a workspace's audit coverage and what is not vetted; a crate's verdict per workspace", () => {
    const r = cli('coverage', ws);
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      `${ws} (team payments): 0/1 vetted, 0 exempted, 1 unvetted, 0 violation — fail (vet); trusted pools: google`,
      `  unvetted  ${crate} 1.0.0  needs safe-to-deploy`,
    ]);
    const all = JSON.parse(cli('coverage', '--team', 'payments', '--json').stdout) as { workspace: string; notVetted: unknown[] }[];
    expect(all.find((w) => w.workspace === ws)).toMatchObject({ unvetted: 1, notVetted: [] });
    expect(cli('crate', crate).stdout.trim().split('\n')).toEqual([`1.0.0  ${ws} (team payments)  unvetted  advisories: ${adv}`, `1.0.0  ${ws}-vex  vetted  advisories: ${adv}`]);
    expect(cli('coverage', `${ws}-nope`).stdout.trim()).toBe(`no workspace ${ws}-nope in the graph`);
  });

  it('runs Cypher read-only: a write is refused by the server, exit 2', () => {
    const ok = cli('cypher', 'MATCH (w:Workspace {id: $ws}) RETURN w.team AS team', '--param', `ws=${ws}`, '--json');
    expect(JSON.parse(ok.stdout)).toEqual([{ team: 'payments' }]);
    const write = cli('cypher', "CREATE (:Workspace {id: 'should-not-exist'})");
    expect(write.status).toBe(2);
    expect(write.stderr).toMatch(/read-only|read access mode|not allowed/i);
  });

  it('says what is wrong with a bad invocation', () => {
    const r = cli('findings', '--severity', 'urgent');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--severity must be one of critical, high, medium, low, info');
    expect(cli('advisory').stderr).toContain('query advisory needs an advisory id');
  });
});
