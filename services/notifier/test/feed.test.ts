/** The risk feed's store, Atom rendering and HTTP server on a real loopback port (no Kafka here). */
import { afterEach, describe, expect, it } from 'vitest';
import { hashToken, maintainerFinding, unvettedFinding, type FindingEvent } from '@cratewatch/shared';
import type { AccessTokens } from '@cratewatch/runtime';
import { FindingStore, atomFeed, parseFeedListen, startFeedServer, type FeedServer } from '../src/feed.js';
import { captureLogger } from './helpers.js';
import { child, children, parseXml } from './xml.js';

function finding(
  n: number,
  o: { team?: string; ws?: string; severity?: FindingEvent['severity']; score?: number; state?: FindingEvent['state']; at?: string } = {},
): FindingEvent {
  const ws = o.ws ?? 'ws-pay';
  return {
    v: 1,
    id: `${ws}|crate${n}|1.0.${n}|advisory:RUSTSEC-2025-${1000 + n}`,
    kind: 'advisory',
    state: o.state ?? 'open',
    severity: o.severity ?? 'high',
    score: o.score ?? 7.5,
    workspace: { id: ws, org: 'acme', ...(o.team ? { team: o.team } : {}) },
    crate: `crate${n}`,
    version: `1.0.${n}`,
    why: [{ signal: 'advisory.vulnerability', contribution: o.score ?? 7.5, detail: `RUSTSEC-2025-${1000 + n}: <b>&"x"` }],
    advisory: {
      id: `RUSTSEC-2025-${1000 + n}`,
      title: `title ${n} <&>`,
      url: `https://rustsec.org/advisories/RUSTSEC-2025-${1000 + n}.html`,
      patched: [],
      aliases: [],
    },
    observedAt: o.at ?? `2025-03-01T10:00:0${n % 10}.000Z`,
  };
}

const put = (s: FindingStore, f: FindingEvent) => s.apply(f.id, JSON.stringify(f));

const servers: FeedServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

// Readers' tokens: the whole org acme, its payments team, and another org.
const ORG_TOKEN = 'acme-org-token-0123456789';
const TEAM_TOKEN = 'acme-payments-token-0123456789';
const OTHER_ORG_TOKEN = 'globex-org-token-0123456789';
const ACCESS: AccessTokens = {
  tokens: [
    { name: 'acme', scope: { org: 'acme' }, sha256: hashToken(ORG_TOKEN) },
    { name: 'acme-payments', scope: { org: 'acme', teams: ['payments'] }, sha256: hashToken(TEAM_TOKEN) },
    { name: 'globex', scope: { org: 'globex' }, sha256: hashToken(OTHER_ORG_TOKEN) },
  ],
};

async function serve(store: FindingStore, access: AccessTokens = ACCESS): Promise<FeedServer> {
  const s = await startFeedServer(store, { host: '127.0.0.1', port: 0 }, captureLogger(), undefined, access);
  servers.push(s);
  return s;
}

/** fetch with a feed token (the org-wide one unless told). */
const get = (url: string, init: RequestInit = {}, token = ORG_TOKEN) =>
  fetch(url, { ...init, headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) } });

async function getJson(
  url: string,
  token = ORG_TOKEN,
): Promise<{ status: number; body: { generatedAt: string; findings: FindingEvent[] } }> {
  const res = await get(url, {}, token);
  return { status: res.status, body: (await res.json()) as { generatedAt: string; findings: FindingEvent[] } };
}

function sample(): FindingStore {
  const s = new FindingStore();
  put(s, finding(1, { team: 'payments', severity: 'high', score: 7.5 }));
  put(s, finding(2, { team: 'payments', severity: 'critical', score: 9.8 }));
  put(s, finding(3, { team: 'payments', severity: 'low', score: 2 }));
  put(s, finding(4, { team: 'search', ws: 'ws-search', severity: 'medium', score: 5.5 }));
  put(s, finding(5, { ws: 'ws-orphan', severity: 'critical', score: 9.1 }));
  put(s, finding(6, { team: 'search', ws: 'ws-search', severity: 'high', score: 8, at: '2025-03-01T10:00:06.000Z' }));
  put(s, finding(6, { team: 'search', ws: 'ws-search', severity: 'high', score: 8, state: 'resolved', at: '2025-03-02T09:00:00.000Z' }));
  return s;
}

const crates = (fs: FindingEvent[]) => fs.map((f) => f.crate);

describe('risk feed (HTTP on loopback)', () => {
  it('GET /feed: open findings, highest score first, with team, severity, workspace and state filters', async () => {
    const srv = await serve(sample());
    const all = await getJson(`${srv.url}/feed`);
    expect(all.status).toBe(200);
    expect(Date.parse(all.body.generatedAt)).not.toBeNaN();
    expect(crates(all.body.findings)).toEqual(['crate2', 'crate5', 'crate1', 'crate4', 'crate3']);
    expect(all.body.findings[0]).toEqual(finding(2, { team: 'payments', severity: 'critical', score: 9.8 }));
    expect(crates((await getJson(`${srv.url}/feed?team=payments`)).body.findings)).toEqual(['crate2', 'crate1', 'crate3']);
    expect(crates((await getJson(`${srv.url}/feed?team=payments,search`)).body.findings)).toEqual(['crate2', 'crate1', 'crate4', 'crate3']);
    expect(crates((await getJson(`${srv.url}/feed?severity=high`)).body.findings)).toEqual(['crate2', 'crate5', 'crate1']);
    expect(crates((await getJson(`${srv.url}/feed?severity=high&team=payments`)).body.findings)).toEqual(['crate2', 'crate1']);
    expect(crates((await getJson(`${srv.url}/feed?workspace=ws-search`)).body.findings)).toEqual(['crate4']);
    expect(crates((await getJson(`${srv.url}/feed?workspace=ws-search&state=resolved`)).body.findings)).toEqual(['crate6']);
    expect(crates((await getJson(`${srv.url}/feed?workspace=ws-search&state=all`)).body.findings)).toEqual(['crate6', 'crate4']);
    const bad = await get(`${srv.url}/feed?severity=urgent`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: 'severity must be one of info, low, medium, high, critical' });
    expect((await get(`${srv.url}/feed?state=closed`)).status).toBe(400);
    expect((await get(`${srv.url}/nothing`)).status).toBe(404);
    expect((await get(`${srv.url}/feed`, { method: 'POST', body: '{}' })).status).toBe(405);
    const health = await get(`${srv.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'alive' });
  });

  it('answers 304 to If-None-Match with the current ETag, and a new ETag once the findings change', async () => {
    const store = sample();
    const srv = await serve(store);
    const first = await get(`${srv.url}/feed?team=payments`);
    const etag = first.headers.get('etag');
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    await first.arrayBuffer();
    const again = await get(`${srv.url}/feed?team=payments`, { headers: { 'if-none-match': etag! } });
    expect(again.status).toBe(304);
    expect(again.headers.get('etag')).toBe(etag);
    expect(await again.text()).toBe('');
    // A change elsewhere (another team) leaves this view's ETag as it was.
    put(store, finding(7, { team: 'search', ws: 'ws-search' }));
    expect((await get(`${srv.url}/feed?team=payments`, { headers: { 'if-none-match': etag! } })).status).toBe(304);
    // A change in it does not.
    put(store, finding(1, { team: 'payments', severity: 'high', score: 7.5, state: 'resolved', at: '2025-03-03T00:00:00.000Z' }));
    const changed = await get(`${srv.url}/feed?team=payments`, { headers: { 'if-none-match': etag! } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(etag);
    expect(crates(((await changed.json()) as { findings: FindingEvent[] }).findings)).toEqual(['crate2', 'crate3']);
    // The Atom feed has its ETag too.
    const atom = await get(`${srv.url}/feed.atom`);
    const atag = atom.headers.get('etag')!;
    await atom.text();
    expect((await get(`${srv.url}/feed.atom`, { headers: { 'if-none-match': `W/${atag}, "other"` } })).status).toBe(304);
  });

  it('GET /feed.atom is well-formed Atom: the latest state changes, newest first, escaped, filterable', async () => {
    const srv = await serve(sample());
    const res = await get(`${srv.url}/feed.atom`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/atom+xml; charset=utf-8');
    const feed = parseXml(await res.text());
    expect(feed.name).toBe('feed');
    expect(feed.attrs.xmlns).toBe('http://www.w3.org/2005/Atom');
    for (const required of ['id', 'title', 'updated']) expect(child(feed, required)?.text).toBeTruthy();
    expect(child(feed, 'link')?.attrs).toEqual({ rel: 'self', type: 'application/atom+xml', href: `${srv.url}/feed.atom` });
    const entries = children(feed, 'entry');
    // Crate 6 opened then resolved: two state changes; the resolution is the newest.
    expect(entries.map((e) => child(e, 'title')!.text)).toEqual([
      '[RESOLVED] crate6 1.0.6 in ws-search: RUSTSEC-2025-1006: title 6 <&>',
      '[HIGH] crate6 1.0.6 in ws-search: RUSTSEC-2025-1006: title 6 <&>',
      '[CRITICAL] crate5 1.0.5 in ws-orphan: RUSTSEC-2025-1005: title 5 <&>',
      '[MEDIUM] crate4 1.0.4 in ws-search: RUSTSEC-2025-1004: title 4 <&>',
      '[LOW] crate3 1.0.3 in ws-pay: RUSTSEC-2025-1003: title 3 <&>',
      '[CRITICAL] crate2 1.0.2 in ws-pay: RUSTSEC-2025-1002: title 2 <&>',
      '[HIGH] crate1 1.0.1 in ws-pay: RUSTSEC-2025-1001: title 1 <&>',
    ]);
    expect(child(feed, 'updated')!.text).toBe('2025-03-02T09:00:00.000Z');
    const ids = entries.map((e) => child(e, 'id')!.text);
    expect(new Set(ids).size).toBe(ids.length);
    for (const e of entries) {
      expect(child(e, 'id')!.text).toMatch(/^tag:cratewatch,2025:finding\//);
      expect(Date.parse(child(e, 'updated')!.text)).not.toBeNaN();
      expect(child(e, 'link')!.attrs.href).toMatch(/^https:\/\/rustsec\.org\/advisories\//);
    }
    expect(child(entries[0]!, 'summary')!.text).toContain('RUSTSEC-2025-1006: <b>&"x"');
    const payments = parseXml(await (await get(`${srv.url}/feed.atom?team=payments&severity=high`)).text());
    expect(children(payments, 'entry').map((e) => child(e, 'title')!.text.split(' ')[1])).toEqual(['crate2', 'crate1']);
    const resolvedOnly = parseXml(await (await get(`${srv.url}/feed.atom?state=resolved`)).text());
    expect(children(resolvedOnly, 'entry')).toHaveLength(1);
  });

  it('keeps at most 100 entries in the Atom feed, newest first; a tombstone removes a finding', () => {
    const s = new FindingStore();
    for (let i = 0; i < 130; i++) {
      const at = new Date(Date.parse('2025-01-01T00:00:00Z') + i * 60_000).toISOString();
      put(s, { ...finding(1, { at }), id: `ws|c${i}|1.0.0|unvetted`, crate: `c${i}` });
    }
    const doc = parseXml(atomFeed(s.changes({ state: 'all' }), 'http://127.0.0.1/feed.atom'));
    const entries = children(doc, 'entry');
    expect(entries).toHaveLength(100);
    expect(child(entries[0]!, 'title')!.text).toContain('c129 ');
    expect(child(entries[99]!, 'title')!.text).toContain('c30 ');
    expect(s.apply('ws|c0|1.0.0|unvetted', null)).toBe(true);
    expect(s.size).toBe(129);
    expect(s.apply('ws|x', '{not json')).toBe(false);
    expect(s.apply('ws|x', JSON.stringify({ ...finding(1), severity: 'urgent' }))).toBe(false);
    expect(s.size).toBe(129);
    // The checker does reject what is not well-formed.
    for (const bad of ['<a><b></a>', '<a>&</a>', '<a x=1/>', '<a/><b/>', '<a>x < y</a>']) expect(() => parseXml(bad)).toThrow();
    // An empty feed is well-formed too.
    expect(parseXml(atomFeed([], 'http://127.0.0.1/feed.atom')).children.filter((c) => c.name === 'entry')).toEqual([]);
  });

  it('Atom entries of unvetted findings: what is needed in the title, requesters and the fix in the summary', () => {
    const verdict = {
      id: 'aes 0.9.2',
      name: 'aes',
      version: '0.9.2',
      vetVersion: '0.9.2',
      thirdParty: true,
      status: 'unvetted' as const,
      required: ['safe-to-deploy'],
      missing: ['safe-to-deploy'],
      path: [],
      requiredBy: [{ by: 'spin-cli@3.0.0', criteria: ['safe-to-deploy'], kind: 'normal' as const, why: 'policy.criteria' as const }],
      suggestion: {
        criteria: ['safe-to-deploy'],
        kind: 'delta' as const,
        from: '0.8.4',
        to: '0.9.2',
        command: 'cargo vet certify aes 0.8.4 0.9.2 --criteria safe-to-deploy',
      },
      kindDependent: { ifDevEdges: 'vetted' as const, ifNormalEdges: 'unvetted' as const, required: ['safe-to-deploy'] },
    };
    const impact = { buildTime: true, direct: true, fanIn: 1, orgWorkspaces: 1 };
    const ws = { id: 'ws-pay', org: 'acme', team: 'payments' };
    const s = new FindingStore();
    put(s, unvettedFinding(ws, verdict, impact, 'open', '2025-03-01T10:00:00.000Z'));
    put(
      s,
      unvettedFinding(
        ws,
        { ...verdict, name: 'ring', version: '0.17.0', status: 'violation', suggestion: undefined, kindDependent: undefined },
        impact,
        'open',
        '2025-03-01T11:00:00.000Z',
      ),
    );
    put(s, unvettedFinding(ws, verdict, impact, 'resolved', '2025-03-02T10:00:00.000Z'));
    const doc = parseXml(atomFeed(s.changes({ state: 'all' }), 'http://127.0.0.1/feed.atom'));
    const entries = children(doc, 'entry');
    expect(entries.map((e) => child(e, 'title')!.text)).toEqual([
      '[RESOLVED] aes 0.9.2 in ws-pay: unvetted, needs safe-to-deploy (missing: safe-to-deploy)',
      '[HIGH] ring 0.17.0 in ws-pay: violation, needs safe-to-deploy (missing: safe-to-deploy)',
      '[MEDIUM] aes 0.9.2 in ws-pay: unvetted, needs safe-to-deploy (missing: safe-to-deploy)',
    ]);
    expect(entries.every((e) => child(e, 'link') === undefined)).toBe(true); // no advisory to link to
    expect(child(entries[2]!, 'summary')!.text.split('\n')).toEqual([
      'Open unvetted finding, severity medium (score 6.5).',
      'Crate aes 0.9.2 in workspace ws-pay (team payments), org acme.',
      'Needs: safe-to-deploy (missing: safe-to-deploy).',
      'Requested by: spin-cli@3.0.0 (policy.criteria).',
      'Suggested fix (delta audit 0.8.4 → 0.9.2): cargo vet certify aes 0.8.4 0.9.2 --criteria safe-to-deploy',
      'Note: verdict depends on dependency kinds: the workspace sent only a Cargo.lock.',
      'vet.unvetted +3: no trusted audit or exemption gives it safe-to-deploy',
      'impact.build-time +2: runs at build time (a build-dependency or one of its dependencies)',
      "impact.direct +1.5: a direct dependency of the workspace's own crates",
    ]);
    expect(child(entries[1]!, 'summary')!.text).toContain('No suggested fix.');
    expect(child(entries[0]!, 'summary')!.text).not.toContain('Suggested fix');
  });

  it('Atom entries of maintainer findings: lookalike and signals in the title, owners, repository and release in the summary', () => {
    const at = '2025-03-01T00:00:00.000Z';
    const before = (n: number) => new Date(Date.parse(at) - n * 86_400_000).toISOString();
    const ws = { id: 'ws-pay', org: 'acme', team: 'payments' };
    const squat = {
      crate: 'rustdecimal',
      maintainers: { observedAt: at, owners: [{ login: 'mallory', kind: 'user' as const }], repository: 'missing' as const },
      releases: [{ version: '1.23.1', publishedAt: before(3), publisher: 'mallory', yanked: false }],
    };
    const archived = {
      crate: 'oldcrate',
      maintainers: {
        observedAt: at,
        owners: [{ login: 'alice', kind: 'user' as const }],
        repository: {
          url: 'https://github.com/acme/oldcrate?a=1&b=<2>',
          archived: true,
          signedCommits: { signed: 0, total: 20, ratio: 0 },
        },
      },
      releases: [],
    };
    const s = new FindingStore();
    put(s, maintainerFinding(ws, squat, '1.23.1', 'open', at));
    put(s, maintainerFinding(ws, archived, '0.3.0', 'open', '2025-03-01T01:00:00.000Z'));
    put(s, maintainerFinding(ws, squat, '1.23.1', 'resolved', '2025-03-02T00:00:00.000Z'));
    const doc = parseXml(atomFeed(s.changes({ state: 'all' }), 'http://127.0.0.1/feed.atom'));
    const entries = children(doc, 'entry');
    expect(entries.map((e) => child(e, 'title')!.text)).toEqual([
      '[RESOLVED] rustdecimal 1.23.1 in ws-pay: maintainer risk, looks like rust_decimal (maintainer.single-owner, repository.missing, name.lookalike)',
      '[LOW] oldcrate 0.3.0 in ws-pay: maintainer risk (maintainer.single-owner, repository.archived, repository.unsigned-commits)',
      '[MEDIUM] rustdecimal 1.23.1 in ws-pay: maintainer risk, looks like rust_decimal (maintainer.single-owner, repository.missing, name.lookalike)',
    ]);
    expect(child(entries[2]!, 'summary')!.text.split('\n')).toEqual([
      'Open maintainer finding, severity medium (score 7).',
      'Crate rustdecimal 1.23.1 in workspace ws-pay (team payments), org acme.',
      'Owners (1): mallory.',
      'Repository: none on crates.io',
      'Latest release: 1.23.1 by mallory on 2025-02-26 (this version).',
      'Name: looks like rust_decimal, a widely used crate.',
      'maintainer.single-owner +2: one owner can publish: mallory',
      'repository.missing +2: no source repository to compare the published code with',
      'name.lookalike +3: rustdecimal is rust_decimal with its separators changed',
    ]);
    // The repository is the entry's related link (escaped in the attribute); none when it is missing.
    expect(child(entries[1]!, 'link')!.attrs).toEqual({ rel: 'related', href: 'https://github.com/acme/oldcrate?a=1&b=<2>' });
    expect(child(entries[1]!, 'summary')!.text).toContain('Repository: https://github.com/acme/oldcrate?a=1&b=<2>\n');
    expect(child(entries[1]!, 'summary')!.text).not.toContain('Latest release');
    expect(child(entries[2]!, 'link')).toBeUndefined();
  });

  it('parses NOTIFIER_FEED_LISTEN', () => {
    expect(parseFeedListen(undefined)).toEqual({ host: '127.0.0.1', port: 8421 });
    expect(parseFeedListen('off')).toBeUndefined();
    expect(parseFeedListen('0.0.0.0:9000')).toEqual({ host: '0.0.0.0', port: 9000 });
    expect(parseFeedListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(() => parseFeedListen('8421')).toThrow(/host:port or off/);
  });
});

describe('risk feed tokens (HTTP on loopback)', () => {
  function orgs(): FindingStore {
    const s = sample();
    put(s, { ...finding(8, { team: 'payments', ws: 'ws-globex' }), workspace: { id: 'ws-globex', org: 'globex', team: 'payments' } });
    return s;
  }

  it('answers 401 without a token, with a wrong one, or with a non-bearer header, on /feed and /feed.atom', async () => {
    const srv = await serve(orgs());
    for (const path of ['/feed', '/feed.atom', '/nothing']) {
      const none = await fetch(`${srv.url}${path}`);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Bearer realm="cratewatch risk feed"');
      expect(await none.json()).toEqual({ error: 'unauthorized', hint: 'send "Authorization: Bearer <token>" with a feed token' });
    }
    expect((await get(`${srv.url}/feed`, {}, 'acme-org-token-012345678X')).status).toBe(401);
    expect((await fetch(`${srv.url}/feed`, { headers: { authorization: `Basic ${ORG_TOKEN}` } })).status).toBe(401);
    expect((await get(`${srv.url}/feed`, {}, '')).status).toBe(401);
    // /healthz stays open: it says only "alive".
    expect((await fetch(`${srv.url}/healthz`)).status).toBe(200);
  });

  it('without any token configured: 401 with a hint naming the variables', async () => {
    const srv = await serve(orgs(), { missing: 'neither CRATEWATCH_FEED_TOKENS nor CRATEWATCH_FEED_TOKENS_FILE is set on the server' });
    const r = await get(`${srv.url}/feed`);
    expect(r.status).toBe(401);
    expect(((await r.json()) as { hint: string }).hint).toContain('CRATEWATCH_FEED_TOKENS');
  });

  it("an org token sees its org's findings only, in both feeds", async () => {
    const srv = await serve(orgs());
    expect(crates((await getJson(`${srv.url}/feed`)).body.findings)).toEqual(['crate2', 'crate5', 'crate1', 'crate4', 'crate3']);
    const globex = await getJson(`${srv.url}/feed`, OTHER_ORG_TOKEN);
    expect(globex.body.findings.map((f) => [f.crate, f.workspace.org])).toEqual([['crate8', 'globex']]);
    // A filter cannot widen the scope: globex's token asking for acme's workspace gets nothing.
    expect((await getJson(`${srv.url}/feed?workspace=ws-pay`, OTHER_ORG_TOKEN)).body.findings).toEqual([]);
    const atom = parseXml(await (await get(`${srv.url}/feed.atom`, {}, OTHER_ORG_TOKEN)).text());
    expect(children(atom, 'entry').map((e) => child(e, 'title')?.text)).toEqual([expect.stringContaining('crate8 1.0.8 in ws-globex')]);
  });

  it("a team token's feed holds only its team's findings (not the org's teamless ones, not another org's team of the same name)", async () => {
    const srv = await serve(orgs());
    const team = await getJson(`${srv.url}/feed?state=all`, TEAM_TOKEN);
    expect(team.body.findings.map((f) => [f.crate, f.workspace.org, f.workspace.team])).toEqual([
      ['crate2', 'acme', 'payments'],
      ['crate1', 'acme', 'payments'],
      ['crate3', 'acme', 'payments'],
    ]);
    expect((await getJson(`${srv.url}/feed?team=search`, TEAM_TOKEN)).body.findings).toEqual([]);
    const atom = parseXml(await (await get(`${srv.url}/feed.atom`, {}, TEAM_TOKEN)).text());
    expect(children(atom, 'entry').map((e) => children(e, 'category').find((c) => c.attrs.label === 'team')?.attrs.term)).toEqual([
      'payments',
      'payments',
      'payments',
    ]);
    // Each reader's view has its own ETag; Vary says the answer depends on the token.
    const a = await get(`${srv.url}/feed`, {}, TEAM_TOKEN);
    const b = await get(`${srv.url}/feed`);
    expect(a.headers.get('etag')).not.toBe(b.headers.get('etag'));
    expect(a.headers.get('vary')).toBe('authorization');
  });
});
