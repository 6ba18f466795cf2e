/**
 * Audit-pool source against a real HTTP server on loopback serving the real pools of
 * ../shared/data as they are, with real Kafka receiving the events.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOPICS, dlqTopic, parseAuditsFile, type AuditsFile } from '@cratewatch/shared';
import { HttpClient } from '../src/http.js';
import { CARGO_VET_REGISTRY, CRITERIA_KEY, PoolsSource, type PoolRef } from '../src/sources/pools.js';
import { readRange, recordingLogger, serve, snapshot, type Received, type Served } from './fixtures/pools-harness.js';
import { tempDir, useKafka, uid } from './fixtures/harness.js';

const repoRoot = resolve(__dirname, '../../..');
const data = resolve(repoRoot, '../shared/data/audit-pools');
const haveData = existsSync(join(data, 'google.audits.toml'));

let server: Served;
const http = new HttpClient({ minIntervalMs: 0, baseMs: 20, maxMs: 200, timeoutMs: 5_000, attempts: 5 });

const k = useKafka('pools-test');
beforeAll(async () => {
  server = await serve();
});
afterAll(async () => {
  await server?.close();
  await http.close();
});

/** Per crate: what the shared parser reads, comments aside (independent of the source's code). */
function perCrate(f: AuditsFile): Map<string, string> {
  const strip = <T extends object>(xs: T[] | undefined) => (xs ?? []).map((x) => ({ ...x, userIdComment: undefined }));
  const out = new Map<string, string>();
  for (const c of new Set([...f.audits.keys(), ...f.wildcardAudits.keys(), ...f.trusted.keys()])) {
    out.set(c, JSON.stringify([strip(f.audits.get(c)), strip(f.wildcardAudits.get(c)), strip(f.trusted.get(c))]));
  }
  // A pool that never defined criteria has nothing to say about them (no event).
  if (f.criteria.size) out.set(CRITERIA_KEY, JSON.stringify([...f.criteria]));
  return out;
}

function expectedChanges(prev: AuditsFile | undefined, cur: AuditsFile): Set<string> {
  const a = prev ? perCrate(prev) : new Map<string, string>();
  const b = perCrate(cur);
  const out = new Set<string>();
  for (const k of new Set([...a.keys(), ...b.keys()])) if (a.get(k) !== b.get(k)) out.add(k);
  return out;
}

/** The event's audits, read back into the parser's terms. */
function auditsOf(value: string) {
  const ev = JSON.parse(value) as { entries: Record<string, Record<string, unknown>[]> };
  return ev.entries;
}
function sameAsParsed(entries: Record<string, Record<string, unknown>[]>, f: AuditsFile, crate: string) {
  const parsed = (f.audits.get(crate) ?? []).map((a) => [
    a.who,
    a.criteria,
    a.version ?? (a.delta ? `${a.delta.from} -> ${a.delta.to}` : a.violation),
    a.violation !== undefined,
    a.notes ?? null,
  ]);
  const got = (entries.audits ?? []).map((a) => [
    a.who,
    a.criteria,
    a.version ?? a.delta ?? a.violation,
    a.violation !== undefined,
    a.notes ?? null,
  ]);
  expect(got).toEqual(parsed);
  expect((entries['wildcard-audits'] ?? []).map((w) => [w['user-id'] ?? w['trusted-publisher'], w.start, w.end, w.criteria])).toEqual(
    (f.wildcardAudits.get(crate) ?? []).map((w) => [w.userId ?? w.trustedPublisher, w.start, w.end, w.criteria]),
  );
  expect((entries.trusted ?? []).map((t) => [t['user-id'] ?? t['trusted-publisher'], t.start, t.end, t.criteria])).toEqual(
    (f.trusted.get(crate) ?? []).map((t) => [t.userId ?? t.trustedPublisher, t.start, t.end, t.criteria]),
  );
}

const byKey = (msgs: Received[]) => {
  const m = new Map<string, Received[]>();
  for (const x of msgs) m.set(x.key, [...(m.get(x.key) ?? []), x]);
  return m;
};

describe('pool diff (no server needed)', () => {
  it('knows the public pools of cargo-vet registry.toml', () => {
    expect(Object.keys(CARGO_VET_REGISTRY)).toEqual(
      expect.arrayContaining(['google', 'mozilla', 'bytecode-alliance', 'isrg', 'zcash', 'embark-studios']),
    );
  });
});

describe.skipIf(!haveData)('pools source over the real pools (needs ../shared/data)', () => {
  it('emits one event per crate and the criteria for every real pool, then nothing on 304', async () => {
    const run = uid();
    const pools: PoolRef[] = [];
    const files = readdirSync(data).filter((f) => f.endsWith('.audits.toml'));
    for (const f of files) {
      const name = `${f.replace('.audits.toml', '')}-${run}`;
      server.put(`/${run}/${f}`, readFileSync(join(data, f)));
      pools.push({ name, url: `${server.base}/${run}/${f}` });
    }
    const { log } = recordingLogger();
    const source = new PoolsSource(pools, k.producer, http, tempDir('pools'), log);
    const before = await snapshot(k.admin, TOPICS.audits);
    const results = await source.poll();
    expect(results.map((r) => r.status)).toEqual(files.map(() => 'changed'));
    const mid = await snapshot(k.admin, TOPICS.audits);
    const again = await source.poll();
    expect(again.map((r) => r.status)).toEqual(files.map(() => 'unchanged'));
    // Nothing of this run was produced by the second poll (other producers may share the topic).
    expect(
      (await readRange(k.kafka, TOPICS.audits, mid, await snapshot(k.admin, TOPICS.audits))).filter((m) => m.key.includes(`-${run}/`)),
    ).toEqual([]);
    // Every revalidation carried the validator and was answered 304.
    const last = server.log.slice(-files.length);
    expect(last.every((l) => l.status === 304 && l.ifNoneMatch)).toBe(true);
    expect(last.every((l) => /cratewatch/.test(l.ua ?? ''))).toBe(true);

    const msgs = (await readRange(k.kafka, TOPICS.audits, before, mid)).filter((m) => m.key.includes(`-${run}/`));
    const keys = byKey(msgs);
    let expected = 0;
    for (const f of files) {
      const parsed = parseAuditsFile(readFileSync(join(data, f), 'utf8'));
      const name = `${f.replace('.audits.toml', '')}-${run}`;
      const crates = new Set([...parsed.audits.keys(), ...parsed.wildcardAudits.keys(), ...parsed.trusted.keys()]);
      expected += crates.size + (parsed.criteria.size ? 1 : 0);
      for (const c of crates) {
        const got = keys.get(`${name}/${c}`);
        expect(got?.length, `${name}/${c}`).toBe(1);
        sameAsParsed(auditsOf(got![0]!.value!), parsed, c);
      }
      if (parsed.criteria.size) {
        const crit = auditsOf(keys.get(`${name}/${CRITERIA_KEY}`)![0]!.value!).criteria!;
        expect(crit.map((c) => c.name)).toEqual([...parsed.criteria.keys()]);
      }
    }
    expect(msgs.length).toBe(expected);
  });

  it('replays the google and mozilla history month by month: exactly the changed crates, each with its complete entries', async () => {
    for (const pool of ['google', 'mozilla']) {
      const run = uid();
      const name = `${pool}-hist-${run}`;
      const url = `${server.base}/hist/${run}/${pool}/audits.toml`;
      const months = readdirSync(join(data, 'history', pool))
        .filter((f) => f.endsWith('.audits.toml'))
        .sort();
      const source = new PoolsSource([{ name, url }], k.producer, http, tempDir('pools-hist'), recordingLogger().log);
      const snaps = [await snapshot(k.admin, TOPICS.audits)];
      const texts: string[] = [];
      for (const m of months) {
        const text = readFileSync(join(data, 'history', pool, m), 'utf8');
        texts.push(text);
        server.put(`/hist/${run}/${pool}/audits.toml`, text);
        const [r] = await source.poll();
        expect(r?.status, `${pool} ${m}`).toBe('changed');
        snaps.push(await snapshot(k.admin, TOPICS.audits));
      }
      const all = await readRange(k.kafka, TOPICS.audits, snaps[0]!, snaps[snaps.length - 1]!);
      let prev: AuditsFile | undefined;
      let total = 0;
      for (let i = 0; i < months.length; i++) {
        const lo = snaps[i]!;
        const hi = snaps[i + 1]!;
        const month = all.filter(
          (x) =>
            x.key.startsWith(`${name}/`) && BigInt(x.offset) >= BigInt(lo[x.partition]!) && BigInt(x.offset) < BigInt(hi[x.partition]!),
        );
        const cur = parseAuditsFile(texts[i]!);
        const want = expectedChanges(prev, cur);
        const got = byKey(month);
        expect(new Set([...got.keys()].map((k) => k.slice(name.length + 1))), `${pool} ${months[i]}`).toEqual(want);
        for (const [key, evs] of got) {
          expect(evs.length, key).toBe(1);
          const crate = key.slice(name.length + 1);
          if (crate === CRITERIA_KEY) continue;
          sameAsParsed(auditsOf(evs[0]!.value!), cur, crate);
        }
        total += month.length;
        prev = cur;
      }
      expect(total).toBeGreaterThan(0);
    }
  });

  it('a new violation and a dropped audit each show as their own change', async () => {
    const run = uid();
    const name = `viol-${run}`;
    const path = `/viol/${run}/audits.toml`;
    const base = readFileSync(join(data, 'isrg.audits.toml'), 'utf8');
    const parsed = parseAuditsFile(base);
    const [victim, entries] = [...parsed.audits].find(([, e]) => e.length >= 2)!;
    const source = new PoolsSource([{ name, url: server.base + path }], k.producer, http, tempDir('pools-viol'), recordingLogger().log);
    server.put(path, base);
    await source.poll();

    const s0 = await snapshot(k.admin, TOPICS.audits);
    server.put(
      path,
      `${base}\n[[audits.${victim}]]\nwho = "Mallory <m@example.com>"\ncriteria = "safe-to-deploy"\nviolation = ">=99.0.0"\n`,
    );
    await source.poll();
    const s1 = await snapshot(k.admin, TOPICS.audits);
    // Drop the crate's first audit: rebuild the file without it through the parser's own output.
    const lines = base.split('\n');
    const at = lines.findIndex((l) => l === `[[audits.${victim}]]`);
    let end = at + 1;
    while (end < lines.length && !lines[end]!.startsWith('[')) end++;
    server.put(path, [...lines.slice(0, at), ...lines.slice(end)].join('\n'));
    await source.poll();
    const s2 = await snapshot(k.admin, TOPICS.audits);

    const all = (await readRange(k.kafka, TOPICS.audits, s0, s2)).filter((m) => m.key.startsWith(`${name}/`));
    const first = all.filter((m) => BigInt(m.offset) < BigInt(s1[m.partition]!));
    const second = all.filter((m) => BigInt(m.offset) >= BigInt(s1[m.partition]!));
    expect(first.map((m) => m.key)).toEqual([`${name}/${victim}`]);
    const withViolation = auditsOf(first[0]!.value!).audits!;
    expect(withViolation.length).toBe(entries.length + 1);
    expect(withViolation.filter((a) => a.violation === '>=99.0.0')).toHaveLength(1);
    expect(second.map((m) => m.key)).toEqual([`${name}/${victim}`]);
    expect(auditsOf(second[0]!.value!).audits!.length).toBe(entries.length - 1);
  });

  it('survives 429 with Retry-After, a 5xx burst and a truncated body; a malformed pool goes to the DLQ naming upstream, file and field while the others go on', async () => {
    const run = uid();
    const text = readFileSync(join(data, 'embark.audits.toml'), 'utf8');
    const good = [`/f/${run}/a.toml`, `/f/${run}/b.toml`, `/f/${run}/c.toml`];
    for (const p of good) server.put(p, text);
    server.faults.set(good[0]!, [{ kind: 'status', status: 429, headers: { 'retry-after': '1' } }]);
    server.faults.set(good[1]!, [
      { kind: 'status', status: 503 },
      { kind: 'status', status: 502 },
      { kind: 'status', status: 500 },
    ]);
    server.faults.set(good[2]!, [{ kind: 'truncate', keep: 1000 }]);
    const bad = `/f/${run}/bad.toml`;
    server.put(bad, text.replace(/criteria = "safe-to-deploy"/, 'criteria = 42'));
    const pools: PoolRef[] = [
      { name: `r429-${run}`, url: server.base + good[0] },
      { name: `bad-${run}`, url: server.base + bad },
      { name: `r5xx-${run}`, url: server.base + good[1] },
      { name: `trunc-${run}`, url: server.base + good[2] },
    ];
    const { log, lines } = recordingLogger();
    const source = new PoolsSource(pools, k.producer, http, tempDir('pools-faults'), log);
    const d0 = await snapshot(k.admin, dlqTopic(TOPICS.audits));
    const a0 = await snapshot(k.admin, TOPICS.audits);
    const t0 = Date.now();
    const results = await source.poll();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000); // Retry-After: 1 was honoured
    expect(results.map((r) => r.status)).toEqual(['changed', 'refused', 'changed', 'changed']);
    const reqs = (p: string) => server.log.filter((l) => l.path === p).map((l) => l.status);
    expect(reqs(good[0]!)).toEqual([429, 200]);
    expect(reqs(good[1]!)).toEqual([503, 502, 500, 200]);
    expect(reqs(good[2]!)).toEqual([200, 200]);

    const pf = parseAuditsFile(text);
    const crates = new Set([...pf.audits.keys(), ...pf.wildcardAudits.keys(), ...pf.trusted.keys()]).size + (pf.criteria.size ? 1 : 0);
    const a1 = await snapshot(k.admin, TOPICS.audits);
    const events = (await readRange(k.kafka, TOPICS.audits, a0, a1)).filter((m) => m.key.includes(`-${run}/`));
    for (const p of ['r429', 'r5xx', 'trunc']) expect(events.filter((e) => e.key.startsWith(`${p}-${run}/`)).length, p).toBe(crates);
    expect(events.filter((e) => e.key.startsWith(`bad-${run}/`))).toHaveLength(0);

    const dlq = (await readRange(k.kafka, dlqTopic(TOPICS.audits), d0, await snapshot(k.admin, dlqTopic(TOPICS.audits)))).filter((m) =>
      m.key.startsWith(`bad-${run}/`),
    );
    expect(dlq).toHaveLength(1);
    const rec = JSON.parse(dlq[0]!.value!) as { error: string; service: string; value: string };
    expect(rec.error).toContain(`bad-${run}`); // upstream
    expect(rec.error).toContain(bad); // file
    expect(rec.error).toMatch(/field `[^`]*criteria[^`]*`/); // field
    expect(rec.service).toBe('ingest/pools');
    expect(lines.some((l) => l.level === 'warn' && l.msg === 'refused pool file' && String(l.fields.reason).includes(bad))).toBe(true);

    // The same bad bytes are refused once, not on every poll.
    const d2 = await snapshot(k.admin, dlqTopic(TOPICS.audits));
    await source.poll();
    expect(
      (await readRange(k.kafka, dlqTopic(TOPICS.audits), d2, await snapshot(k.admin, dlqTopic(TOPICS.audits)))).filter((m) =>
        m.key.startsWith(`bad-${run}/`),
      ),
    ).toEqual([]);
  });

  it('decodes Chromium-style ?format=TEXT (base64) sources', async () => {
    const run = uid();
    const text = readFileSync(join(data, 'isrg.audits.toml'), 'utf8');
    const b64 = Buffer.from(text)
      .toString('base64')
      .replace(/(.{76})/g, '$1\n');
    server.put(`/gitiles/${run}/audits.toml?format=TEXT`, b64);
    const name = `gitiles-${run}`;
    const source = new PoolsSource(
      [{ name, url: `${server.base}/gitiles/${run}/audits.toml?format=TEXT` }],
      k.producer,
      http,
      tempDir('pools-b64'),
      recordingLogger().log,
    );
    const s0 = await snapshot(k.admin, TOPICS.audits);
    const [r] = await source.poll();
    expect(r?.status).toBe('changed');
    const msgs = (await readRange(k.kafka, TOPICS.audits, s0, await snapshot(k.admin, TOPICS.audits))).filter((m) =>
      m.key.startsWith(`${name}/`),
    );
    const parsed = parseAuditsFile(text);
    expect(msgs.length).toBe(
      new Set([...parsed.audits.keys(), ...parsed.wildcardAudits.keys(), ...parsed.trusted.keys()]).size + (parsed.criteria.size ? 1 : 0),
    );
  });

  it('stopped mid-poll and started again: no gap and no duplicate (events counted per key over the whole run)', async () => {
    const run = uid();
    const name = `restart-${run}`;
    const path = `/restart/${run}/audits.toml`;
    const months = readdirSync(join(data, 'history', 'mozilla')).sort();
    const dir = tempDir('pools-restart');
    const s0 = await snapshot(k.admin, TOPICS.audits);
    const wantPerKey = new Map<string, number>();
    let prev: AuditsFile | undefined;
    for (const m of months.slice(0, 3)) {
      const text = readFileSync(join(data, 'history', 'mozilla', m), 'utf8');
      server.put(path, text);
      const cur = parseAuditsFile(text);
      const changes = expectedChanges(prev, cur).size;
      for (const k of expectedChanges(prev, cur)) wantPerKey.set(`${name}/${k}`, (wantPerKey.get(`${name}/${k}`) ?? 0) + 1);
      prev = cur;
      // First run: stopped right after its first acknowledged batch.
      const ctl = new AbortController();
      const { log } = recordingLogger();
      const stopping = {
        ...log,
        info: (msg: string, f?: Record<string, unknown>) => (msg === 'pool progress' ? ctl.abort(new Error('stop')) : log.info(msg, f)),
      };
      const first = new PoolsSource([{ name, url: server.base + path }], k.producer, http, dir, stopping, { batch: 40 });
      if (changes > 40) await expect(first.poll(ctl.signal)).rejects.toThrow();
      else await first.poll(ctl.signal).catch(() => undefined);
      // A new process: same checkpoint folder.
      const second = new PoolsSource([{ name, url: server.base + path }], k.producer, http, dir, recordingLogger().log, { batch: 40 });
      const [r] = await second.poll();
      expect(['changed', 'unchanged']).toContain(r?.status);
    }
    const msgs = (await readRange(k.kafka, TOPICS.audits, s0, await snapshot(k.admin, TOPICS.audits))).filter((m) =>
      m.key.startsWith(`${name}/`),
    );
    const got = new Map<string, number>();
    for (const m of msgs) got.set(m.key, (got.get(m.key) ?? 0) + 1);
    expect(got).toEqual(wantPerKey);
  });
});
