/**
 * The console's API on real Neo4j filled by the real scorer from real data (fixture.ts): each
 * page's figures against figures computed without the console (`cratewatch scan`, the scorer's
 * finding events, the lockfiles), tenancy (a team token sees only its team), 401 without a token,
 * saved queries with typed parameters and CSV.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { get, hasData, latestFindings, PROJECTS, startFixture, type Fixture } from './fixture.js';
import { coverageOf, directDependents, scan, type Scan } from './expected.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe.skipIf(!hasData)('the console API on the real scorer and real data (needs ../shared/data)', () => {
  let fx: Fixture;
  let scans: { alpha: Scan; beta: Scan };
  const api = async (path: string, token = fx.tokens.org) => {
    const r = await get(fx.console, path, token);
    expect(r.status, `${path}: ${r.text}`).toBe(200);
    return r.body as Json;
  };

  beforeAll(async () => {
    fx = await startFixture();
    scans = { alpha: scan(PROJECTS.alpha), beta: scan(PROJECTS.beta) };
  });
  afterAll(async () => fx?.close());

  it('answers 401 without a token or with a wrong one, and serves /healthz to anyone', async () => {
    for (const token of [undefined, 'not-a-console-token-at-all']) {
      const r = await get(fx.console, '/api/org', token);
      expect(r.status).toBe(401);
      expect((r.body as Json).error).toBe('unauthorized');
    }
    expect((await get(fx.console, '/healthz')).status).toBe(200);
    expect((await api('/api/me')).scope).toEqual({ org: fx.org });
  });

  it("the organisation page: coverage as cargo vet's rules give it, open findings as the scorer sent them, the riskiest workspaces", async () => {
    const org = await api('/api/org');
    expect(org.workspaces).toBe(2);
    expect(org.coverage).toEqual(coverageOf([scans.alpha, scans.beta]));
    expect(org.coverageHistory.at(-1).counts).toEqual(org.coverage);
    const open: Record<string, Record<string, number>> = {};
    for (const f of [...latestFindings(fx.probe, fx.ws.alpha), ...latestFindings(fx.probe, fx.ws.beta)].filter((x) => x.state === 'open'))
      (open[f.kind] ??= {})[f.severity] = (open[f.kind]![f.severity] ?? 0) + 1;
    expect(Object.keys(open).length).toBeGreaterThan(0);
    expect(org.openFindings).toEqual(open);
    const risk = await fx.probe.q<{ id: string }>(
      'MATCH (w:Workspace {org: $org}) WHERE w.risk IS NOT NULL RETURN w.id AS id ORDER BY w.risk DESC, id',
      { org: fx.org },
    );
    expect(org.riskiest.map((r: Json) => r.workspace)).toEqual(risk.map((r) => r.id));
    const recent = new Set(
      [...latestFindings(fx.probe, fx.ws.alpha), ...latestFindings(fx.probe, fx.ws.beta)]
        .filter((f) => f.kind === 'advisory')
        .map((f) => f.advisory!.id),
    );
    expect(new Set(org.recentAdvisories.map((a: Json) => a.advisory))).toEqual(recent);
  });

  it('a team token sees only its team: its coverage, its workspaces, 404 for the other team', async () => {
    const org = await api('/api/org', fx.tokens.alpha);
    expect(org.workspaces).toBe(1);
    expect(org.coverage).toEqual(coverageOf([scans.alpha]));
    expect((await api('/api/workspaces', fx.tokens.alpha)).map((w: Json) => w.id)).toEqual([fx.ws.alpha]);
    expect((await api('/api/workspaces', fx.tokens.beta)).map((w: Json) => w.id)).toEqual([fx.ws.beta]);
    const other = await get(fx.console, `/api/workspaces/${encodeURIComponent(fx.ws.beta)}`, fx.tokens.alpha);
    expect(other.status).toBe(404);
    const unvetted = await api('/api/unvetted?limit=5000', fx.tokens.alpha);
    expect(unvetted.rows.every((r: Json) => r.workspaces.every((w: string) => w === fx.ws.alpha))).toBe(true);
  });

  it('the workspace page: what is not vetted as scan says, the advisory and maintainer findings as the scorer sent them', async () => {
    const w = await api(`/api/workspaces/${encodeURIComponent(fx.ws.alpha)}`);
    expect(w.workspace).toMatchObject({
      id: fx.ws.alpha,
      team: 'alpha',
      vetted: scans.alpha.summary.vetted,
      unvetted: scans.alpha.summary.unvetted,
    });
    expect(w.unvetted.map((u: Json) => `${u.crate}@${u.version}`).sort()).toEqual(
      scans.alpha.unvetted.map((u) => `${u.name}@${u.version}`).sort(),
    );
    const sent = latestFindings(fx.probe, fx.ws.alpha);
    const ids = (kind: string) =>
      sent
        .filter((f) => f.kind === kind)
        .map((f) => `${f.id} ${f.state}`)
        .sort();
    expect(w.advisories.map((f: Json) => `${f.id} ${f.state}`).sort()).toEqual(ids('advisory'));
    expect(w.maintainers.map((f: Json) => `${f.id} ${f.state}`).sort()).toEqual(ids('maintainer'));
    const withSuggestion = w.unvetted.filter((u: Json) => u.suggestion);
    for (const u of withSuggestion) expect(u.suggestion.command).toMatch(new RegExp(`^cargo vet certify ${u.crate} `));
    expect(withSuggestion.length).toBe(sent.filter((f) => f.kind === 'unvetted' && f.state === 'open').length);
  });

  it('the crate page: versions locked where, audits of the pool, maintainers, dependents one hop as the lockfiles say', async () => {
    const crate = fx.shared.find((c) => directDependents([fx.locks.alpha, fx.locks.beta], c).length >= 2)!;
    const c = await api(`/api/crates/${crate}?hops=1`);
    const locked = [fx.locks.alpha, fx.locks.beta].flatMap((l) => l.packages.filter((p) => p.name === crate).map((p) => p.version));
    expect(c.versions.map((v: Json) => v.version).sort()).toEqual([...new Set(locked)].sort());
    expect(new Set(c.versions.flatMap((v: Json) => v.lockedBy.map((l: Json) => l.workspace)))).toEqual(new Set([fx.ws.alpha, fx.ws.beta]));
    const hop1 = c.graph.nodes
      .filter((n: Json) => n.hop === 1)
      .map((n: Json) => `${n.crate}@${n.version}`)
      .sort();
    expect(hop1).toEqual(directDependents([fx.locks.alpha, fx.locks.beta], crate));
    expect(c.graph.edges.length).toBeGreaterThanOrEqual(hop1.length);
    const owners = c.maintainers.owners.map((o: Json) => o.login);
    expect(owners).toHaveLength(fx.singleOwner.includes(crate) ? 1 : 2);
    // A team's view of the graph holds only what its workspaces lock.
    const alpha = await api(`/api/crates/${crate}?hops=1`, fx.tokens.alpha);
    expect(
      alpha.graph.nodes
        .filter((n: Json) => n.hop === 1)
        .map((n: Json) => `${n.crate}@${n.version}`)
        .sort(),
    ).toEqual(directDependents([fx.locks.alpha], crate));
    expect((await get(fx.console, `/api/crates/${crate}?hops=9`, fx.tokens.org)).status).toBe(400);
  });

  it('the advisory page: exposure per workspace and finding state as the scorer decided', async () => {
    const sent = [...latestFindings(fx.probe, fx.ws.alpha), ...latestFindings(fx.probe, fx.ws.beta)].filter((f) => f.kind === 'advisory');
    expect(sent.length).toBeGreaterThan(0);
    const id = sent[0]!.advisory!.id;
    const a = await api(`/api/advisories/${id}`);
    expect(a.advisory.id).toBe(id);
    expect(a.exposure.map((e: Json) => `${e.workspace} ${e.version} ${e.state}`).sort()).toEqual(
      sent
        .filter((f) => f.advisory!.id === id)
        .map((f) => `${f.workspace.id} ${f.version} ${f.state}`)
        .sort(),
    );
    const mine = await api(`/api/advisories/${id}`, fx.tokens.beta);
    expect(mine.exposure.every((e: Json) => e.workspace === fx.ws.beta)).toBe(true);
  });

  it('the unvetted list: every version scan finds unvetted, in one row per crate-version', async () => {
    const u = await api('/api/unvetted?limit=5000');
    const expected = new Set([...scans.alpha.unvetted, ...scans.beta.unvetted].map((x) => `${x.name}@${x.version}`));
    expect(u.rows.map((r: Json) => `${r.crate}@${r.version}`).sort()).toEqual([...expected].sort());
    const impacts = u.rows.map((r: Json) => r.impact);
    expect(impacts).toEqual([...impacts].sort((x: number, y: number) => y - x));
  });

  it('runs a saved query with a typed parameter, as a table and as CSV; refuses a bad parameter', async () => {
    const list = await api('/api/queries');
    expect(list.map((q: Json) => q.name)).toEqual(['unvetted-build-time', 'yanked-locked', 'single-owner-widely-locked']);
    const r = await api('/api/queries/single-owner-widely-locked/run?more_than=1');
    expect(r.columns).toEqual(['crate', 'owner', 'workspaces']);
    expect(r.rows.map((x: Json) => x.crate).sort()).toEqual([...fx.singleOwner].sort());
    expect((await api('/api/queries/single-owner-widely-locked/run?more_than=2')).rows).toEqual([]);
    const team = await api('/api/queries/single-owner-widely-locked/run?more_than=0', fx.tokens.alpha);
    expect(team.rows.every((x: Json) => x.workspaces === 1)).toBe(true);
    const csv = await get(fx.console, '/api/queries/single-owner-widely-locked/csv?more_than=1', fx.tokens.org);
    expect(csv.headers.get('content-type')).toMatch(/^text\/csv/);
    const lines = csv.text.trim().split('\n');
    expect(lines[0]).toBe('crate,owner,workspaces');
    expect(lines).toHaveLength(fx.singleOwner.length + 1);
    for (const bad of ['more_than=abc', 'more_than=-1', 'nope=1']) {
      const b = await get(fx.console, `/api/queries/single-owner-widely-locked/run?${bad}`, fx.tokens.org);
      expect(b.status, bad).toBe(400);
      expect((b.body as Json).error).toMatch(/parameter/);
    }
  });
});
