/**
 * The workspace endpoint over real HTTP on loopback, with real Kafka: bearer auth (401 without
 * leaking), 400 naming the field or line, 413 over the size limit, 202 when produced, and no new
 * event for the same content.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Checkpoint, logger } from '@cratewatch/runtime';
import { TOPICS, validateEvent } from '@cratewatch/shared';
import { WorkspaceEndpoint } from '../src/endpoint.js';
import { WorkspaceSource, type WorkspaceCheckpoint } from '../src/sources/workspaces.js';
import { collect, tempDir, unique, useKafka, waitFor } from './fixtures/harness.js';

const lock = readFileSync(join(__dirname, 'fixtures', 'workspace-small.lock'), 'utf8');

describe('workspace endpoint, real Kafka', () => {
  const k = useKafka('endpoint');
  let endpoint: WorkspaceEndpoint;
  let url: string;
  const token = `cw-ingest-${unique('tok')}`;
  beforeAll(async () => {
    process.env.CW_TEST_INGEST_TOKEN = token;
    const cp = new Checkpoint<WorkspaceCheckpoint>(join(tempDir('state'), 'workspaces.json'), { workspaces: {} });
    endpoint = new WorkspaceEndpoint(new WorkspaceSource(k.producer, cp, logger('test/endpoint')), logger('test/endpoint'), {
      port: 0,
      tokenEnv: 'CW_TEST_INGEST_TOKEN',
      maxBodyBytes: 64 * 1024,
      org: 'acme',
      teams: {},
    });
    url = (await endpoint.listen()).url;
  });
  afterAll(async () => {
    await endpoint?.close();
    delete process.env.CW_TEST_INGEST_TOKEN;
  });

  const post = (id: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${url}/workspaces/${encodeURIComponent(id)}`, {
      method: 'POST',
      body,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain', ...headers },
    });

  it('refuses to start without a token', () => {
    expect(() => new WorkspaceEndpoint({} as WorkspaceSource, logger('t'), { org: 'a', tokenEnv: 'CW_TEST_NO_SUCH_ENV' })).toThrow(
      /CW_TEST_NO_SUCH_ENV/,
    );
  });

  it('answers 401 without the right bearer token, and says nothing more', async () => {
    const id = unique('ws');
    for (const auth of [
      undefined,
      'Bearer wrong-token-0000000000',
      `Basic ${Buffer.from(`x:${token}`).toString('base64')}`,
      `Bearer ${token}x`,
      `Bearer ${token.slice(0, -1)}`,
    ]) {
      const res = await fetch(`${url}/workspaces/${id}`, { method: 'POST', body: lock, headers: auth ? { authorization: auth } : {} });
      expect(res.status, auth).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      const text = await res.text();
      expect(text).toBe('{"error":"unauthorized"}');
    }
  });

  it('produces on 202, not again for the same content, and takes the JSON form with the store', async () => {
    const id = unique('ws');
    const a = await post(id, lock);
    expect(a.status).toBe(202);
    expect(await a.json()).toEqual({ workspace: id, produced: true });
    const b = await post(id, lock);
    expect(b.status).toBe(200);
    expect(await b.json()).toEqual({ workspace: id, produced: false });
    const c = await post(
      id,
      JSON.stringify({ lockfile: lock, config: '[cargo-vet]\nversion = "0.10"\n', audits: '[audits]\n', team: 'payments' }),
      { 'content-type': 'application/json' },
    );
    expect(c.status).toBe(202);
    // Concurrent posts of one new content: exactly one event.
    const changed = lock.replace('1.15.0', '1.15.1');
    const many = await Promise.all([1, 2, 3, 4].map(() => post(id, changed)));
    expect(many.map((r) => r.status).sort()).toEqual([200, 200, 200, 202]);

    const got = await collect(k.kafka, [TOPICS.workspaces], (m) => m.key === id);
    try {
      await waitFor('3 events', () => got.got.length >= 3);
      await new Promise((r) => setTimeout(r, 500));
      expect(got.got.length).toBe(3);
      const evs = got.got.map((m) => validateEvent(TOPICS.workspaces, JSON.parse(m.value!)));
      expect(evs[0]).toMatchObject({ id, org: 'acme', packages: expect.any(Array) });
      expect(evs[0]!.store).toBeUndefined();
      expect(evs[1]).toMatchObject({ team: 'payments', store: { config: '[cargo-vet]\nversion = "0.10"\n', audits: '[audits]\n' } });
      expect(evs[2]!.packages.find((p) => p.name === 'smallvec')!.version).toBe('1.15.1');
      expect(JSON.stringify(got.got)).not.toContain(token);
    } finally {
      await got.stop();
    }
  });

  it("takes the workspace's VEX documents (`vex`: file name → document or its text); a bad one is a 400 naming the file and JSON path", async () => {
    const id = unique('ws');
    const vexDoc = (status: string) => ({
      '@context': 'https://openvex.dev/ns/v0.2.0',
      timestamp: '2026-01-01T00:00:00Z',
      statements: [
        {
          vulnerability: { name: 'CVE-2098-1234' },
          products: [{ '@id': 'pkg:cargo/smallvec' }],
          status,
          ...(status === 'not_affected' ? { impact_statement: 'never built' } : {}),
        },
      ],
    });
    const postJson = (body: unknown) => post(id, JSON.stringify(body), { 'content-type': 'application/json' });
    const ok = await postJson({
      lockfile: lock,
      vex: { 'vex.json': vexDoc('not_affected'), 'ci.openvex.json': JSON.stringify(vexDoc('affected')) },
    });
    expect(ok.status).toBe(202);
    expect(
      (
        await postJson({
          lockfile: lock,
          vex: { 'ci.openvex.json': JSON.stringify(vexDoc('affected')), 'vex.json': vexDoc('not_affected') },
        })
      ).status,
    ).toBe(200); // same content, another order
    const bad = await postJson({
      lockfile: lock,
      vex: { 'vex.json': { ...vexDoc('fixed'), statements: [{ ...vexDoc('fixed').statements[0], status: 'gone' }] } },
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toBe(
      `POST /workspaces/${id} vex.json, field \`statements[0].status\`: expected one of not_affected, affected, fixed, under_investigation, got "gone"`,
    );
    const notJson = await postJson({ lockfile: lock, vex: { 'vex.json': '{"@context": ' } });
    expect(((await notJson.json()) as { error: string }).error).toMatch(new RegExp(`^POST /workspaces/${id} vex\\.json, line 1: not JSON`));
    const badName = await postJson({ lockfile: lock, vex: { 'security.json': vexDoc('fixed') } });
    expect(badName.status).toBe(400);
    expect(((await badName.json()) as { error: string }).error).toBe(
      'field `vex.security.json`: a VEX file is named vex.json or <name>.openvex.json',
    );
    expect((await postJson({ lockfile: lock, vex: [vexDoc('fixed')] })).status).toBe(400);
    expect((await postJson({ lockfile: lock })).status).toBe(202); // the VEX files removed: a change

    const got = await collect(k.kafka, [TOPICS.workspaces], (m) => m.key === id);
    try {
      await waitFor('2 events', () => got.got.length >= 2);
      await new Promise((r) => setTimeout(r, 500));
      expect(got.got.length).toBe(2);
      const [withVex, without] = got.got.map((m) => validateEvent(TOPICS.workspaces, JSON.parse(m.value!)));
      expect(withVex!.vex!.map((d) => [d.file, d.statements[0]!.status])).toEqual([
        [`POST /workspaces/${id} ci.openvex.json`, 'affected'],
        [`POST /workspaces/${id} vex.json`, 'not_affected'],
      ]);
      expect(without!.vex).toBeUndefined();
    } finally {
      await got.stop();
    }
  });

  it('400 names the field or the line; 413 over the limit', async () => {
    const id = unique('ws');
    const bad = await post(id, lock.replace('version = "1.0.219"', 'version = 1.0'));
    expect(bad.status).toBe(400);
    const e1 = (await bad.json()) as { error: string };
    expect(e1.error).toMatch(new RegExp(`^POST /workspaces/${id} Cargo\\.lock`));
    expect(e1.error).toMatch(/line \d+|field `/);
    const notToml = await post(id, 'this is [not toml');
    expect(notToml.status).toBe(400);
    expect(((await notToml.json()) as { error: string }).error).toMatch(/line 1/);
    const json = await post(id, JSON.stringify({ lockfile: 5 }), { 'content-type': 'application/json' });
    expect(json.status).toBe(400);
    expect(await json.json()).toEqual({ error: 'field `lockfile`: required, the Cargo.lock text', field: 'lockfile' });
    const unknown = await post(id, JSON.stringify({ lockfile: lock, audit: '' }), { 'content-type': 'application/json' });
    expect(((await unknown.json()) as { error: string }).error).toMatch(/^field `audit`: unknown/);
    const badId = await post('../etc', lock);
    expect(badId.status).toBe(400);
    expect(((await badId.json()) as { field: string }).field).toBe('id');
    const big = await post(id, 'x'.repeat(70 * 1024));
    expect(big.status).toBe(413);
    expect(await big.json()).toEqual({ error: 'body larger than 65536 bytes', reason: 'body-too-large', limit: 65536 });
    const wrongMethod = await fetch(`${url}/workspaces/${id}`, { headers: { authorization: `Bearer ${token}` } });
    expect(wrongMethod.status).toBe(405);
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it('answers 400 (not 503) to what no retry fixes, naming the field: a malformed escape in the path, a bad body', async () => {
    const raw = (path: string, body: string, type = 'text/plain') =>
      fetch(`${url}${path}`, { method: 'POST', body, headers: { authorization: `Bearer ${token}`, 'content-type': type } });
    // A cut UTF-8 escape (decodeURIComponent throws URIError): was a 503, retried forever by CI.
    for (const path of ['/workspaces/%E0%A4%A', '/workspaces/%ZZ', '/workspaces/ok%C3']) {
      const res = await raw(path, lock);
      expect(res.status, path).toBe(400);
      const body = (await res.json()) as { error: string; field: string };
      expect(body.field).toBe('id');
      expect(body.error).toMatch(/is not valid percent-encoding/);
    }
    const cases: [string, string, string][] = [
      ['{"lockfile": ', 'application/json', 'body'],
      ['[1, 2]', 'application/json', 'body'],
      [JSON.stringify({ lockfile: lock, config: 7 }), 'application/json', 'config'],
      [JSON.stringify({ lockfile: lock, metadata: '{' }), 'application/json', 'metadata'],
      [JSON.stringify({ lockfile: lock, team: ['a'] }), 'application/json', 'team'],
      [JSON.stringify({ lockfile: lock, vex: { 'vex.json': '[]' } }), 'application/json', 'vex.json'],
      // cargo metadata that does not describe the lockfile's packages: was sent to the DLQ with a 200
      [
        JSON.stringify({ lockfile: lock, metadata: { packages: [], resolve: { nodes: [] }, workspace_members: [] } }),
        'application/json',
        'metadata',
      ],
      ['this is [not toml', 'text/plain', 'lockfile'],
    ];
    for (const [body, type, field] of cases) {
      const res = await raw(`/workspaces/${unique('ws')}`, body, type);
      const answer = (await res.json()) as { error: string; field: string };
      expect(res.status, `${field}: ${answer.error}`).toBe(400);
      expect(answer.field, answer.error).toBe(field === 'vex.json' ? 'vex.vex.json' : field);
      expect(JSON.stringify(answer)).not.toContain(token);
    }
  });
});
