/**
 * The maintainers source against loopback crates.io and GitHub GraphQL servers (octokit really
 * sends HTTP to them), with real Kafka: owners (users and teams), GitHub signals in batched
 * aliased queries, a rate-limit pause, missing repositories, 429/5xx/truncated answers, malformed
 * answers to the DLQ naming upstream/URL/field, and ownership changes against the checkpoint.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Checkpoint, logger } from '@cratewatch/runtime';
import { TOPICS, dlqTopic, encodeEvent, validateEvent } from '@cratewatch/shared';
import { HttpClient } from '../src/http.js';
import { MaintainersSource, cadence, githubRepo, refreshOnReleases, type MaintainersCheckpoint } from '../src/sources/maintainers.js';
import { collect, tempDir, unique, useKafka, waitFor } from './fixtures/harness.js';
import { fakeUpstreams, type FakeCrate, type FakeRepo } from './fixtures/maintainers-upstreams.js';

describe('githubRepo and cadence', () => {
  it('recognises the repository URL shapes crates.io holds', () => {
    for (const u of [
      'https://github.com/serde-rs/serde',
      'https://github.com/serde-rs/serde.git',
      'git+https://github.com/serde-rs/serde',
      'https://github.com/serde-rs/serde/tree/master/serde_derive',
      'git@github.com:serde-rs/serde.git',
      'https://www.github.com/serde-rs/serde/',
    ]) {
      expect(githubRepo(u), u).toEqual({ owner: 'serde-rs', name: 'serde', url: 'https://github.com/serde-rs/serde' });
    }
    expect(githubRepo('https://gitlab.com/a/b')).toBeUndefined();
    expect(githubRepo(undefined)).toBeUndefined();
  });
  it('measures release cadence and the gap before the last release', () => {
    const c = cadence(4, ['2020-01-01T00:00:00Z', '2020-01-11T00:00:00Z', '2020-01-21T00:00:00Z', '2025-01-21T00:00:00Z']);
    expect(c).toMatchObject({ count: 4, last: '2025-01-21T00:00:00Z', medianGapDays: 10, lastGapDays: 1827 });
    expect(cadence(0, [])).toMatchObject({ count: 0, last: null, medianGapDays: null, lastGapDays: null });
  });
});

describe('maintainers source over loopback crates.io + GitHub GraphQL, real Kafka', () => {
  const k = useKafka('maintainers');

  it('produces owners and repository signals per crate; pauses on rate limit; refuses malformed answers; detects owner changes', async () => {
    const run = unique('m');
    const n = (s: string) => `${s}-${run}`;
    const token = `ghp_${unique('testtoken').replace(/-/g, '')}`;
    process.env.CW_TEST_GH = token;
    const repo = (over: Partial<FakeRepo> = {}): FakeRepo => ({
      signed: [true, true, false, true],
      authors: ['alice', 'bob', 'alice', 'carol'],
      releases: ['2025-01-01', '2025-03-01', '2025-05-01'],
      tags: ['2025-01-01', '2025-03-02'],
      ...over,
    });
    const crates = new Map<string, FakeCrate>([
      [
        n('serde'),
        {
          repository: 'https://github.com/serde-rs/serde',
          owners: [
            { login: 'dtolnay', kind: 'user' },
            { login: 'github:serde-rs:owners', kind: 'team' },
          ],
        },
      ],
      [n('serde_json'), { repository: 'https://github.com/serde-rs/json', owners: [{ login: 'dtolnay', kind: 'user' }] }],
      [
        n('serde_derive'),
        { repository: 'https://github.com/serde-rs/serde/tree/master/serde_derive', owners: [{ login: 'dtolnay', kind: 'user' }] },
      ],
      [n('gone'), { repository: 'https://github.com/ghost/gone', owners: [{ login: 'ghost', kind: 'user' }] }],
      [n('norepo'), { owners: [{ login: 'solo', kind: 'user' }] }],
      [n('onlab'), { repository: 'https://gitlab.com/group/onlab', owners: [{ login: 'lab', kind: 'user' }] }],
      [
        n('badowners'),
        {
          repository: 'https://github.com/x/badowners',
          owners: [],
          ownersRaw: JSON.stringify({ users: [{ id: 1, kind: 'user', login: 42 }] }),
        },
      ],
      [n('badgh'), { repository: 'https://github.com/x/badgh', owners: [{ login: 'x', kind: 'user' }] }],
      [n('archived'), { repository: 'https://github.com/old/archived', owners: [{ login: 'old', kind: 'user' }] }],
    ]);
    const repos = new Map<string, FakeRepo>([
      ['serde-rs/serde', repo()],
      ['serde-rs/json', repo({ signed: [false, false] })],
      ['x/badgh', repo({ isArchived: 'no' })],
      ['old/archived', repo({ isArchived: true, releases: ['2019-01-01'] })],
    ]);
    // The first query reports a nearly spent budget that resets in 1.5 s.
    let queries = 0;
    let resetAt = '';
    const up = await fakeUpstreams(crates, repos, () => {
      queries++;
      if (queries === 1) {
        resetAt = new Date(Date.now() + 1500).toISOString();
        return { remaining: 3, resetAt };
      }
      return { remaining: 4990, resetAt: new Date(Date.now() + 3600_000).toISOString() };
    });
    // Failures: a 429 with Retry-After, a 5xx burst, a truncated body, a GraphQL 502.
    up.script.push(
      {
        match: `/api/v1/crates/${n('serde')}`,
        action: (res) => res.writeHead(429, { 'retry-after': '1' }).end('{"errors":[{"detail":"rate limited"}]}'),
      },
      { match: `/api/v1/crates/${n('serde_json')}`, action: (res) => res.writeHead(503).end() },
      { match: `/api/v1/crates/${n('serde_json')}`, action: (res) => res.writeHead(502).end() },
      {
        match: `/api/v1/crates/${n('norepo')}/owners`,
        action: (res) => {
          res.writeHead(200, { 'content-length': '500' });
          res.write('{"users":[');
          res.destroy();
        },
      },
      { match: '/graphql', action: (res) => res.writeHead(502, { 'content-type': 'application/json' }).end('{"message":"Bad gateway"}') },
    );

    const state = tempDir('state');
    const http = new HttpClient({ minIntervalMs: 0, baseMs: 50, attempts: 5 });
    const source = () =>
      new MaintainersSource(
        k.producer,
        http,
        new Checkpoint<MaintainersCheckpoint>(join(state, 'maintainers.json'), { crates: {} }),
        logger('test/maintainers'),
        {
          cratesApi: up.url,
          githubApi: up.url,
          tokenEnv: 'CW_TEST_GH',
          batch: 2,
          minRemaining: 10,
          retry: { baseMs: 50 },
        },
      );
    try {
      const first = await source().poll([...crates.keys()]);
      expect(first).toMatchObject({ produced: 7, refused: 2, failed: 0, rateLimitPauses: 1 });
      // Repositories asked once each (serde and serde_derive share one), 2 per query, behind the token.
      const asked = up.graphql.flatMap((g) => g.aliases);
      expect(asked.length).toBe(5); // serde, json, gone, badgh, archived
      expect(up.graphql[0]!.aliases).toEqual(['r0', 'r1']);
      expect(up.graphql.every((g) => g.authorization === `bearer ${token}`)).toBe(true);
      // The second query waited for the rate limit's reset.
      expect(up.graphql[1]!.at).toBeGreaterThanOrEqual(Date.parse(resetAt) - 50);

      // Owners change on serde; nothing else changes.
      crates.get(n('serde'))!.owners = [
        { login: 'dtolnay', kind: 'user' },
        { login: 'oli-obk', kind: 'user' },
      ];
      const second = await source().poll([...crates.keys()]);
      expect(second).toMatchObject({ produced: 1, unchanged: 6, refused: 2 });
    } finally {
      await up.close();
      await http.close();
    }

    const c = await collect(k.kafka, [TOPICS.maintainers, dlqTopic(TOPICS.maintainers)], (m) => (m.key ?? '').endsWith(run));
    try {
      await waitFor('events', () => c.got.length >= 8 + 4);
      await new Promise((r) => setTimeout(r, 1000));
      expect(c.got.length).toBe(12);
      const events = c.got
        .filter((m) => m.topic === TOPICS.maintainers)
        .map((m) => validateEvent(TOPICS.maintainers, JSON.parse(m.value!)));
      const last = (crate: string) => events.filter((e) => e.crate === n(crate)).at(-1)!;
      const serde = last('serde');
      expect(serde.owners.map((o) => `${o.kind}:${o.login}`).sort()).toEqual(['user:dtolnay', 'user:oli-obk']);
      expect(serde.repository).toBe('https://github.com/serde-rs/serde');
      expect(serde.signals.signedCommits!.value).toEqual({ signed: 3, total: 4, ratio: 0.75 });
      expect(serde.signals.contributors12m!.value).toMatchObject({ authors: 3, commits: 4, sampled: 4 });
      expect(serde.signals.releases!.value).toMatchObject({ count: 3, last: '2025-05-01T00:00:00.000Z' });
      expect(serde.signals.tags!.value).toMatchObject({ count: 2 });
      expect(serde.signals.archived!.value).toBe(false);
      expect(serde.signals.ownershipChange!.value).toEqual({
        added: ['oli-obk'],
        removed: ['github:serde-rs:owners'],
        previous: ['dtolnay', 'github:serde-rs:owners'],
      });
      // First seen time kept for the owner that stayed.
      const firstSerde = events.find((e) => e.crate === n('serde'))!;
      expect(serde.owners.find((o) => o.login === 'dtolnay')!.observedAt).toBe(
        firstSerde.owners.find((o) => o.login === 'dtolnay')!.observedAt,
      );
      expect(firstSerde.owners.find((o) => o.kind === 'team')!.login).toBe('github:serde-rs:owners');

      expect(last('serde_json').signals.signedCommits!.value).toMatchObject({ ratio: 0 });
      expect(last('serde_derive').repository).toBe('https://github.com/serde-rs/serde');
      expect(last('gone').signals.repository!.value).toBe('missing');
      expect(last('norepo').signals.repository!.value).toBe('missing');
      expect(last('onlab').signals.repository!.value).toEqual({ url: 'https://gitlab.com/group/onlab', host: 'gitlab.com' });
      expect(last('archived').signals.archived!.value).toBe(true);

      const dlq = c.got.filter((m) => m.topic === dlqTopic(TOPICS.maintainers)).map((m) => JSON.parse(m.value!));
      const badOwners = dlq.find((d) => d.key === n('badowners'))!;
      expect(badOwners.error).toMatch(
        new RegExp(
          `^crates\\.io http://127\\.0\\.0\\.1:\\d+/api/v1/crates/${n('badowners')}/owners: field \`users\\[0\\]\\.login\`: expected a string`,
        ),
      );
      expect(badOwners.value).toContain('"login":42');
      const badGh = dlq.find((d) => d.key === n('badgh'))!;
      expect(badGh.error).toMatch(
        /^github http:\/\/127\.0\.0\.1:\d+\/graphql \(x\/badgh\): field `data\.r\d\.isArchived`: expected a boolean/,
      );
      // The token is nowhere in what reached Kafka.
      expect(JSON.stringify(c.got)).not.toContain(token);
    } finally {
      await c.stop();
      delete process.env.CW_TEST_GH;
    }
  });
  it('refreshes a tracked crate when it gets a new release on crates.releases', async () => {
    const run = unique('rel');
    const crate = `fresh-${run}`;
    const other = `untracked-${run}`;
    const crates = new Map<string, FakeCrate>([
      [crate, { owners: [{ login: 'first', kind: 'user' }] }],
      [other, { owners: [{ login: 'x', kind: 'user' }] }],
    ]);
    const up = await fakeUpstreams(crates, new Map(), () => ({ remaining: 5000, resetAt: new Date().toISOString() }));
    const http = new HttpClient({ minIntervalMs: 0, baseMs: 50 });
    const source = new MaintainersSource(
      k.producer,
      http,
      new Checkpoint<MaintainersCheckpoint>(join(tempDir('state'), 'maintainers.json'), { crates: {} }),
      logger('test/maintainers'),
      { cratesApi: up.url, githubApi: up.url, tokenEnv: 'CW_TEST_NONE' },
    );
    await source.poll([crate]);
    crates.get(crate)!.owners = [{ login: 'second', kind: 'user' }];
    const trigger = await refreshOnReleases(k.kafka, source, () => [crate], logger('test/maintainers'), {
      groupId: unique('rel-group'),
      debounceMs: 300,
    });
    const c = await collect(k.kafka, [TOPICS.maintainers], (m) => m.key === crate || m.key === other);
    const release = (name: string) =>
      k.producer.send({
        topic: TOPICS.releases,
        messages: [
          {
            key: name,
            value: encodeEvent(TOPICS.releases, {
              v: 1,
              crate: name,
              version: '1.0.1',
              yanked: false,
              features: {},
              dependencies: [],
              observedAt: new Date().toISOString(),
            }),
          },
        ],
      });
    try {
      await waitFor(
        'release-triggered refresh',
        async () => {
          await release(other);
          await release(crate);
          return c.got.length >= 2;
        },
        30_000,
        2000,
      );
      await new Promise((r) => setTimeout(r, 1000));
      const evs = c.got.map((m) => validateEvent(TOPICS.maintainers, JSON.parse(m.value!)));
      expect(evs.map((e) => e.crate)).toEqual([crate, crate]); // the untracked crate is never asked
      expect(evs[1]!.signals.ownershipChange!.value).toEqual({ added: ['second'], removed: ['first'], previous: ['first'] });
      expect(up.requests.some((r) => r.url.includes(other))).toBe(false);
    } finally {
      await trigger.stop();
      await c.stop();
      await up.close();
      await http.close();
    }
  });
});
