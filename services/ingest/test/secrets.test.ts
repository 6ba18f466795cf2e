/**
 * Secrets never reach logs, events or DLQ records. The real CLI runs as a process with a GitHub
 * token and an endpoint token in its environment, against loopback upstreams that are hostile
 * enough to echo the Authorization header back in error messages and bodies; its whole stderr and
 * everything it produced to Kafka is searched for the tokens.
 *
 * The GitHub token's variable is deliberately named so that the logger's name-based redaction
 * (TOKEN/SECRET/KEY/...) does not cover it: the source itself must keep it out.
 */
import { describe, expect, it } from 'vitest';
import { TOPICS, dlqTopic } from '@cratewatch/shared';
import { collect, runCli, tempDir, unique, useKafka, waitFor } from './fixtures/harness.js';
import { fakeUpstreams, type FakeCrate, type FakeRepo } from './fixtures/maintainers-upstreams.js';

describe('secrets stay out of logs, events and DLQ records (CLI processes, real Kafka)', () => {
  const k = useKafka('secrets');

  it('maintainers: a GitHub token echoed back by hostile upstreams is scrubbed everywhere', async () => {
    const run = unique('sec');
    const token = `ghp_${unique('s3cr3t').replace(/-/g, '')}X`;
    const n = (s: string) => `${s}-${run}`;
    const crates = new Map<string, FakeCrate>([
      [n('good'), { repository: 'https://github.com/o/good', owners: [{ login: 'alice', kind: 'user' }] }],
      [n('echo'), { repository: 'https://github.com/o/echo', owners: [{ login: 'bob', kind: 'user' }] }],
      [n('badjson'), { repository: 'https://github.com/o/good', owners: [], ownersRaw: `{"users": "${token}"}` }],
    ]);
    const repos = new Map<string, FakeRepo>([['o/good', { signed: [true], authors: ['alice'], releases: [], tags: [] }]]);
    const up = await fakeUpstreams(crates, repos, () => ({ remaining: 5000, resetAt: new Date(Date.now() + 3600_000).toISOString() }));
    // GitHub answers the first query with an error that quotes the Authorization header it got.
    up.script.push({
      match: '/graphql',
      action: (res, req) =>
        res.writeHead(401, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            message: `Bad credentials: ${req.headers.authorization}`,
            documentation_url: 'https://docs.github.com/graphql',
          }),
        ),
    });
    const state = tempDir('state');
    try {
      const args = [
        'maintainers',
        '--crate',
        n('good'),
        '--crate',
        n('echo'),
        '--crate',
        n('badjson'),
        '--api',
        up.url,
        '--github-api',
        up.url,
        '--token-env',
        'CW_GH_CRED',
      ];
      const first = runCli(args, { CW_GH_CRED: token, CRATEWATCH_STATE_DIR: state, LOG_LEVEL: 'debug' });
      expect(await first.exited, first.output()).toBe(0);
      // Second run: GitHub answers, and the token must not leak from the successful path either.
      const second = runCli(args, { CW_GH_CRED: token, CRATEWATCH_STATE_DIR: state, LOG_LEVEL: 'debug' });
      expect(await second.exited, second.output()).toBe(0);
      const logs = first.output() + second.output();
      expect(logs).toContain('Bad credentials'); // the upstream's error was logged…
      expect(logs).toContain('[redacted]'); // …with the token cut out
      expect(logs).not.toContain(token);
      expect(logs).not.toContain(token.slice(4)); // not even partly
      // The token really was sent, to the loopback GraphQL server only.
      expect(up.graphql.length).toBeGreaterThan(0);
      expect(up.graphql.every((g) => g.authorization === `bearer ${token}`)).toBe(true);
      expect(up.requests.filter((r) => r.url.startsWith('/api/')).every((r) => !JSON.stringify(r.headers).includes(token))).toBe(true);
    } finally {
      await up.close();
    }
    const c = await collect(k.kafka, [TOPICS.maintainers, dlqTopic(TOPICS.maintainers)], (m) => (m.key ?? '').endsWith(run));
    try {
      await waitFor(
        'events and DLQ records',
        () => c.got.some((m) => m.topic === dlqTopic(TOPICS.maintainers)) && c.got.some((m) => m.key === n('good')),
      );
      await new Promise((r) => setTimeout(r, 1000));
      expect(c.got.find((m) => m.topic === dlqTopic(TOPICS.maintainers))!.value).toContain('[redacted]');
      expect(JSON.stringify(c.got)).not.toContain(token);
    } finally {
      await c.stop();
    }
  });

  it('endpoint: the ingest token never appears in logs, answers or events', async () => {
    const token = `cwi_${unique('endpoint').replace(/-/g, '')}0123456789`;
    const port = 20000 + Math.floor(Math.random() * 20000);
    const p = runCli(
      ['endpoint', '--org', 'acme', '--listen', `127.0.0.1:${port}`],
      { CRATEWATCH_INGEST_TOKEN: token, CRATEWATCH_STATE_DIR: tempDir('state') },
      (out) => out.includes('"msg":"ready"'),
    );
    try {
      await p.ready;
      const id = unique('ws');
      const url = `http://127.0.0.1:${port}/workspaces/${id}`;
      const answers: string[] = [];
      for (const auth of [`Bearer ${token}0`, `Bearer ${token.slice(0, 10)}`, `Token ${token}`]) {
        const r = await fetch(url, { method: 'POST', body: 'version = 4\n', headers: { authorization: auth } });
        expect(r.status).toBe(401);
        answers.push(await r.text());
      }
      const bad = await fetch(url, {
        method: 'POST',
        body: `[[package]]\nname = "${token}"\n`,
        headers: { authorization: `Bearer ${token}` },
      });
      expect(bad.status).toBe(400);
      answers.push(await bad.text());
      const ok = await fetch(url, {
        method: 'POST',
        body: 'version = 4\n\n[[package]]\nname = "app"\nversion = "0.1.0"\n',
        headers: { authorization: `Bearer ${token}` },
      });
      expect(ok.status).toBe(202);
      answers.push(await ok.text());
      expect(answers.join('\n')).not.toContain(token.slice(4));
      const c = await collect(k.kafka, [TOPICS.workspaces], (m) => m.key === id);
      try {
        await waitFor('event', () => c.got.length === 1);
        expect(JSON.stringify(c.got)).not.toContain(token.slice(4));
      } finally {
        await c.stop();
      }
    } finally {
      p.proc.kill('SIGTERM');
      await p.exited;
    }
    expect(p.output()).toContain('unauthorized request');
    expect(p.output()).not.toContain(token.slice(4));
  });
});
