/** `cratewatch query` as a process against the real Neo4j of the test run. */
import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import neo4j from 'neo4j-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(__dirname, '../..');
const cli = (...args: string[]) =>
  spawnSync(process.execPath, [join(root, 'cli/dist/main.js'), 'query', ...args], { encoding: 'utf8', env: process.env });

describe('cratewatch query (real Neo4j)', () => {
  const ws = `q-${Date.now().toString(36)}`;
  const adv = `RUSTSEC-2097-${String(Date.now() % 10000).padStart(4, '0')}`;
  const crate = `qcrate-${Date.now().toString(36)}`;
  const driver = neo4j.driver(
    process.env.NEO4J_URI!,
    process.env.NEO4J_PASSWORD ? neo4j.auth.basic(process.env.NEO4J_USER ?? 'neo4j', process.env.NEO4J_PASSWORD) : undefined,
  );

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
          {
            signal: 'vex.not_affected',
            contribution: 0,
            detail: 'vulnerable_code_not_in_execute_path: we never parse untrusted input (vex.json statements[0], 2025-03-01T00:00:00Z)',
          },
        ]),
      },
    );
  });
  // Risk as the scorer writes it (shared `workspaceRisk`), on workspaces of a team of their own.
  const team = `${ws}-team`;
  const topWhy = (score: number, detail: string, more: number) =>
    JSON.stringify([
      { signal: 'risk.top', contribution: score, detail },
      { signal: 'risk.breadth', contribution: more * 0.5, detail: `${more} more high/critical version${more === 1 ? '' : 's'}` },
      { signal: 'open.advisory', contribution: 0, detail: '1 open advisory finding' },
    ]);
  beforeAll(async () => {
    await driver.executeQuery(
      `MATCH (w:Workspace {id: $ws}) SET w.risk = 8.1, w.riskSeverity = 'high', w.riskWhy = $wsWhy
       CREATE (:Workspace {id: $ws + '-r2', org: 'acme', team: $team, risk: 3.5, riskSeverity: 'low', riskWhy: $r2Why})
       CREATE (:Workspace {id: $ws + '-r1', org: 'acme', team: $team, risk: 8.0, riskSeverity: 'high', riskWhy: $r1Why})
       CREATE (:Workspace {id: $ws + '-r0', org: 'acme', team: $team, risk: 0.0, riskSeverity: 'info', riskWhy: '[]'})
       CREATE (:Workspace {id: $ws + '-none', org: 'acme', team: $team})`,
      {
        ws,
        team,
        wsWhy: topWhy(8.1, `${crate} 1.0.0: ${adv}: broken`, 0),
        r1Why: topWhy(7.5, `${crate} 1.0.0: no audit for safe-to-deploy (build-time, direct) (+ finding.advisory, risk.compound)`, 1),
        r2Why: topWhy(3.5, `${crate} 2.0.0: maintainer risk: maintainer.single-owner, repository.unsigned-commits`, 0),
      },
    );
  });
  afterAll(async () => {
    await driver.executeQuery(
      'MATCH (n) WHERE n.id STARTS WITH $ws OR n.id = $adv OR n.name = $crate OR n.crate = $crate DETACH DELETE n',
      { ws, adv, crate },
    );
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

  it("lists a workspace's open findings, and filters findings by severity as JSON", () => {
    expect(cli('workspace', ws).stdout.trim().split('\n')).toEqual([
      `risk 8.1 high  top: ${crate} 1.0.0: ${adv}: broken; 0 more high/critical versions; open findings: 1 advisory`,
      `high      8.1  ${ws}  ${crate} 1.0.0  ${adv}  (open)`,
    ]);
    expect(cli('workspace', `${ws}-none`).stdout.trim().split('\n')).toEqual([
      'risk: not computed yet (the scorer writes it when the workspace or its findings next change)',
      'no findings match',
    ]);
    const high = JSON.parse(cli('findings', '--severity', 'high', '--team', 'payments', '--json').stdout);
    expect(high.filter((f: { workspace: string }) => f.workspace === ws)).toHaveLength(1);
    const low = JSON.parse(cli('findings', '--severity', 'low', '--team', 'payments', '--json').stdout);
    expect(low.filter((f: { workspace: string }) => f.workspace === ws)).toHaveLength(0);
  });

  it('ranks workspaces by risk, highest first, with the top crate-version and why; --team; --json; none without a risk', () => {
    const r = cli('risk', '--team', team);
    expect(r.status).toBe(0);
    expect(r.stdout.trimEnd().split('\n')).toEqual([
      ` 8.0 high     ${ws}-r1 (team ${team})  top: ${crate} 1.0.0: no audit for safe-to-deploy (build-time, direct) (+ finding.advisory, risk.compound); 1 more high/critical version`,
      ` 3.5 low      ${ws}-r2 (team ${team})  top: ${crate} 2.0.0: maintainer risk: maintainer.single-owner, repository.unsigned-commits; 0 more high/critical versions`,
      ` 0.0 info     ${ws}-r0 (team ${team})  no open finding`,
    ]);
    const j = JSON.parse(cli('risk', '--team', team, '--json').stdout) as {
      workspace: string;
      risk: number;
      severity: string;
      why: { signal: string }[];
    }[];
    expect(j.map((x) => [x.workspace, x.risk, x.severity, x.why.map((w) => w.signal)])).toEqual([
      [`${ws}-r1`, 8, 'high', ['risk.top', 'risk.breadth', 'open.advisory']],
      [`${ws}-r2`, 3.5, 'low', ['risk.top', 'risk.breadth', 'open.advisory']],
      [`${ws}-r0`, 0, 'info', []],
    ]);
    // Across teams: ws (8.1) ranks above ws-r1 (8.0).
    const all = (JSON.parse(cli('risk', '--json').stdout) as { workspace: string }[])
      .map((x) => x.workspace)
      .filter((w) => w.startsWith(ws));
    expect(all).toEqual([ws, `${ws}-r1`, `${ws}-r2`, `${ws}-r0`]);
    expect(cli('risk', '--team', `${team}-nope`).stdout.trim()).toBe(`no workspace of team ${team}-nope has a risk yet`);
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
    expect(cli('crate', crate).stdout.trim().split('\n')).toEqual([
      `1.0.0  ${ws} (team payments)  unvetted  advisories: ${adv}`,
      `1.0.0  ${ws}-vex  vetted  advisories: ${adv}`,
    ]);
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
