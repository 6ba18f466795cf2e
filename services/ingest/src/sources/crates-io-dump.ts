/**
 * Bootstrap `crates.releases` from the crates.io database dump (`db-dump.tar.gz`: one folder
 * `<date>/` holding `data/crates.csv`, `data/versions.csv`, `data/dependencies.csv`,
 * `data/users.csv`, `data/crate_owners.csv`, `data/teams.csv`, `data/version_downloads.csv`, ...),
 * streamed: the tarball is read once, through tar's streaming parser and csv-parse, never whole.
 *
 * Columns used (as the dump writes them):
 *   crates.csv        id, name
 *   users.csv         id, gh_login                         (publisher of a version)
 *   versions.csv      id, crate_id, num, checksum, yanked (t/f), features (JSON), created_at, published_by
 *   dependencies.csv  version_id, crate_id (the dependency), req, optional (t/f), features ({a,b}),
 *                     target, kind (0 normal, 1 build, 2 dev), explicit_name (the renamed-to name, newer dumps)
 *
 * Memory strategy — one pass over the tarball, then an external hash-partitioned join on disk:
 *   pass 1 (streaming the tarball): keep in memory only crate id -> name (~200k), user id -> login,
 *     and version id -> crate id (a growable Uint32Array, 4 bytes per version id). Each version row
 *     is spilled to `versions-<b>` and each dependency row to `deps-<b>`, where b = crate id % B
 *     (B = 64 buckets), so a crate's versions and their dependencies land in the same bucket.
 *     Dependencies met before their versions (another tar order) go to a pending file and are
 *     bucketed once the tarball is through.
 *   pass 2 (per bucket): load one bucket's versions (~1/B of all) and dependencies, join them by
 *     version id, sort by (crate name, created_at, version id) and produce one event per version.
 * Peak memory is the id maps plus one bucket, whatever the dump size; disk is about the size of
 * the uncompressed versions + dependencies CSVs, in a temp folder removed at the end.
 *
 * Restart: the order of pass 2 is deterministic, and the checkpoint (`crates-dump.json`) records
 * the dump's identity, the buckets done and the events acknowledged in the current bucket, so a
 * restarted bootstrap re-spills, skips what Kafka already has and goes on: no gap, no duplicate.
 * A bad row goes to `crates.releases.dlq` naming the dump, the CSV file, the row and the field.
 */
import { appendFileSync, createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { t as tarList } from 'tar';
import { parse as csvParse } from 'csv-parse';
import type { Producer } from 'kafkajs';
import { TOPICS, dlqTopic, encodeEvent, EventValidationError, type ReleaseEvent } from '@cratewatch/shared';
import { Checkpoint, type Logger, upstreamDlqValue } from '@cratewatch/runtime';

export interface DumpCheckpoint {
  dump?: string;
  bucketsDone: number;
  inBucket: number;
  done?: boolean;
}

export interface DumpResult {
  crates: number;
  versions: number;
  dependencies: number;
  events: number;
  skipped: number;
  refused: number;
  bytes: number;
  seconds: number;
}

export interface DumpOptions {
  buckets?: number;
  /** Count events without producing (bench / sanity check). */
  dryRun?: boolean;
  batch?: number;
  spillDir?: string;
  /** Progress line on stderr every this many ms (0: never). */
  progressMs?: number;
  signal?: AbortSignal;
}

type VersionRec = [
  id: number,
  crateId: number,
  num: string,
  checksum: string,
  yanked: 0 | 1,
  features: string,
  createdAt: string,
  publishedBy: number,
];
type DepRec = [versionId: number, crateId: number, req: string, optional: 0 | 1, target: string, kind: number, explicitName: string];

class Spill {
  private bufs = new Map<string, string[]>();
  private sizes = new Map<string, number>();
  constructor(readonly dir: string) {}
  write(file: string, line: string): void {
    let b = this.bufs.get(file);
    if (!b) this.bufs.set(file, (b = []));
    b.push(line);
    const n = (this.sizes.get(file) ?? 0) + line.length + 1;
    if (n > 1 << 18) {
      this.flush(file);
    } else this.sizes.set(file, n);
  }
  flush(file: string): void {
    const b = this.bufs.get(file);
    if (b?.length) appendFileSync(join(this.dir, file), b.join('\n') + '\n');
    this.bufs.set(file, []);
    this.sizes.set(file, 0);
  }
  flushAll(): void {
    for (const f of this.bufs.keys()) this.flush(f);
  }
  *lines(file: string): Generator<string> {
    const p = join(this.dir, file);
    if (!existsSync(p)) return;
    // One bucket file (~1/B of the spill) is read at a time.
    for (const l of readFileSync(p, 'utf8').split('\n')) if (l) yield l;
  }
}

const bool = (s: string | undefined): 0 | 1 => (s === 't' || s === 'true' ? 1 : 0);

/** Dump timestamps ("2017-05-13 18:09:49.066788" or with "+00") as ISO 8601. */
export function dumpTime(s: string): string | undefined {
  if (!s) return undefined;
  let x = s.trim().replace(' ', 'T');
  if (/[+-]\d\d$/.test(x)) x += ':00';
  else if (!/(Z|[+-]\d\d:\d\d)$/.test(x)) x += 'Z';
  const d = new Date(x);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

const KINDS = ['normal', 'build', 'dev'] as const;

export class DumpBootstrap {
  constructor(
    private readonly producer: Producer | null,
    private readonly checkpoint: Checkpoint<DumpCheckpoint>,
    private readonly log: Logger,
  ) {}

  async run(dumpPath: string, opts: DumpOptions = {}): Promise<DumpResult> {
    const B = opts.buckets ?? 64;
    const batchSize = opts.batch ?? 1000;
    const t0 = Date.now();
    const st = statSync(dumpPath);
    const identity = `${basename(dumpPath)}:${st.size}:${Math.floor(st.mtimeMs)}`;
    let cp = this.checkpoint.load();
    if (cp.dump !== identity) cp = { dump: identity, bucketsDone: 0, inBucket: 0 };
    const result: DumpResult = { crates: 0, versions: 0, dependencies: 0, events: 0, skipped: 0, refused: 0, bytes: 0, seconds: 0 };
    if (cp.done) {
      this.log.info('dump already bootstrapped', { dump: identity });
      return result;
    }
    const spillRoot = opts.spillDir ?? tmpdir();
    mkdirSync(spillRoot, { recursive: true });
    const spill = new Spill(mkdtempSync(join(spillRoot, 'cratewatch-dump-')));
    const names: string[] = [];
    const logins = new Map<number, string>();
    let versionCrate = new Uint32Array(1 << 20);
    let pendingDeps = 0;
    const dumpName = basename(dumpPath);
    const dlq: { key: string; value: string }[] = [];
    const refuse = (file: string, row: number, field: string, detail: string, raw: unknown) => {
      result.refused++;
      const error = `upstream crates.io dump ${dumpName}: file ${file}, row ${row}, field \`${field}\`: ${detail}`;
      if (result.refused <= 20)
        this.log.warn('refused dump row', { upstream: `crates.io dump ${dumpName}`, file, row, field, reason: error });
      dlq.push({
        key: file,
        value: upstreamDlqValue({ topic: TOPICS.releases, key: null, value: JSON.stringify(raw), error, service: 'ingest/crates-dump' }),
      });
    };

    // Progress on stderr.
    let phase = 'reading';
    let rows = 0;
    let lastRows = 0;
    let lastAt = Date.now();
    const progress = () => {
      const now = Date.now();
      const rate = Math.round(((rows - lastRows) * 1000) / Math.max(1, now - lastAt));
      lastRows = rows;
      lastAt = now;
      process.stderr.write(
        `[crates-dump] ${phase}: ${rows.toLocaleString('en')} rows (${rate.toLocaleString('en')}/s), ${(result.bytes / 1048576).toFixed(1)} of ${(st.size / 1048576).toFixed(1)} MiB read, ${result.events.toLocaleString('en')} events\n`,
      );
    };
    const timer = opts.progressMs === 0 ? undefined : setInterval(progress, opts.progressMs ?? 2000);

    try {
      // ---- pass 1: stream the tarball ----
      const pending: Promise<void>[] = [];
      const handlers: Record<string, (r: Record<string, string>, n: number) => void> = {
        'crates.csv': (r, n) => {
          const id = Number(r.id);
          if (!Number.isInteger(id) || !r.name) return refuse('data/crates.csv', n, !r.name ? 'name' : 'id', 'missing or invalid', r);
          names[id] = r.name;
          result.crates++;
        },
        'users.csv': (r) => {
          const id = Number(r.id);
          if (Number.isInteger(id) && r.gh_login) logins.set(id, r.gh_login);
        },
        'versions.csv': (r, n) => {
          const id = Number(r.id);
          const crateId = Number(r.crate_id);
          if (!Number.isInteger(id) || id < 0) return refuse('data/versions.csv', n, 'id', 'not an integer', r);
          if (!Number.isInteger(crateId) || crateId < 0) return refuse('data/versions.csv', n, 'crate_id', 'not an integer', r);
          if (!r.num) return refuse('data/versions.csv', n, 'num', 'empty', r);
          if (id >= versionCrate.length) {
            const grown = new Uint32Array(Math.max(id + 1, versionCrate.length * 2));
            grown.set(versionCrate);
            versionCrate = grown;
          }
          versionCrate[id] = crateId + 1; // 0 = unknown
          const rec: VersionRec = [
            id,
            crateId,
            r.num,
            r.checksum ?? '',
            bool(r.yanked),
            r.features || '{}',
            r.created_at ?? '',
            r.published_by ? Number(r.published_by) : 0,
          ];
          spill.write(`versions-${crateId % B}`, JSON.stringify(rec));
          result.versions++;
        },
        'dependencies.csv': (r, n) => {
          const vid = Number(r.version_id);
          const cid = Number(r.crate_id);
          if (!Number.isInteger(vid) || !Number.isInteger(cid))
            return refuse('data/dependencies.csv', n, Number.isInteger(vid) ? 'crate_id' : 'version_id', 'not an integer', r);
          const rec: DepRec = [vid, cid, r.req ?? '', bool(r.optional), r.target ?? '', Number(r.kind ?? 0), r.explicit_name ?? ''];
          const owner = vid < versionCrate.length ? versionCrate[vid]! : 0;
          if (owner) spill.write(`deps-${(owner - 1) % B}`, JSON.stringify(rec));
          else {
            spill.write('deps-pending', JSON.stringify(rec));
            pendingDeps++;
          }
          result.dependencies++;
        },
      };
      const parser = tarList({
        onReadEntry: (entry) => {
          const m = /(?:^|\/)data\/([a-z_]+\.csv)$/.exec(entry.path);
          const handle = m ? handlers[m[1]!] : undefined;
          if (!handle) {
            entry.resume();
            return;
          }
          const file = m![1]!;
          phase = `reading data/${file}`;
          const csv = csvParse({ columns: true, relax_column_count: true, skip_empty_lines: true });
          let n = 0;
          csv.on('data', (row: Record<string, string>) => {
            n++;
            rows++;
            handle(row, n + 1);
          });
          pending.push(
            new Promise<void>((resolve, reject) => {
              csv.on('end', () => resolve());
              csv.on('error', (err) => reject(new Error(`crates.io dump ${dumpName}: file data/${file}: ${err.message}`)));
            }),
          );
          entry.pipe(csv);
        },
      });
      await new Promise<void>((resolve, reject) => {
        const rs = createReadStream(dumpPath, { highWaterMark: 1 << 20 });
        rs.on('data', (c) => {
          result.bytes += (c as Buffer).length;
          if (opts.signal?.aborted) rs.destroy(opts.signal.reason as Error);
        });
        rs.on('error', reject);
        parser.on('error', (err: Error) => reject(new Error(`crates.io dump ${dumpName}: ${err.message}`)));
        parser.on('end', () => resolve());
        parser.on('close', () => resolve());
        rs.pipe(parser);
      });
      await Promise.all(pending);
      if (pendingDeps) {
        phase = 'bucketing dependencies read before their versions';
        spill.flushAll();
        for (const l of spill.lines('deps-pending')) {
          const rec = JSON.parse(l) as DepRec;
          const owner = rec[0] < versionCrate.length ? versionCrate[rec[0]]! : 0;
          if (owner) spill.write(`deps-${(owner - 1) % B}`, l);
        }
      }
      spill.flushAll();
      versionCrate = new Uint32Array(0);

      // ---- pass 2: per bucket, join and produce ----
      phase = 'producing';
      rows = 0;
      lastRows = 0;
      const now = new Date().toISOString();
      let batch: { key: string; value: string }[] = [];
      let bucket = 0;
      /** Versions of the current bucket handled (sent, refused or skipped) once this batch is acknowledged. */
      let position = 0;
      const flush = async () => {
        if (batch.length === 0 && dlq.length === 0) return;
        opts.signal?.throwIfAborted();
        if (this.producer) {
          const topicMessages = [];
          if (batch.length) topicMessages.push({ topic: TOPICS.releases, messages: batch });
          if (dlq.length) topicMessages.push({ topic: dlqTopic(TOPICS.releases), messages: dlq.splice(0) });
          await this.producer.sendBatch({ topicMessages });
        } else dlq.splice(0);
        result.events += batch.length;
        batch = [];
        if (this.producer) this.checkpoint.save({ dump: identity, bucketsDone: bucket, inBucket: position });
      };
      for (bucket = cp.bucketsDone; bucket < B; bucket++) {
        const skip = bucket === cp.bucketsDone ? cp.inBucket : 0;
        const deps = new Map<number, DepRec[]>();
        for (const l of spill.lines(`deps-${bucket}`)) {
          const d = JSON.parse(l) as DepRec;
          let list = deps.get(d[0]);
          if (!list) deps.set(d[0], (list = []));
          list.push(d);
        }
        const versions: VersionRec[] = [];
        for (const l of spill.lines(`versions-${bucket}`)) versions.push(JSON.parse(l) as VersionRec);
        const nameOf = (id: number) => names[id] ?? '';
        versions.sort((a, b) => {
          const na = nameOf(a[1]);
          const nb = nameOf(b[1]);
          if (na !== nb) return na < nb ? -1 : 1;
          if (a[6] !== b[6]) return a[6] < b[6] ? -1 : 1;
          return a[0] - b[0];
        });
        let index = 0;
        for (const v of versions) {
          rows++;
          const crate = nameOf(v[1]);
          if (!crate) {
            refuse('data/versions.csv', 0, 'crate_id', `no crate with id ${v[1]} in data/crates.csv (version id ${v[0]})`, v);
            continue;
          }
          if (index++ < skip) {
            result.skipped++;
            continue;
          }
          position = index;
          let features: Record<string, string[]> = {};
          try {
            features = JSON.parse(v[5]) as Record<string, string[]>;
          } catch {
            refuse('data/versions.csv', 0, 'features', `not JSON (version id ${v[0]})`, v);
            continue;
          }
          const publishedAt = dumpTime(v[6]);
          const publisher = v[7] ? logins.get(v[7]) : undefined;
          const ev: ReleaseEvent = {
            v: 1,
            crate,
            version: v[2],
            ...(v[3] ? { checksum: v[3] } : {}),
            yanked: v[4] === 1,
            features,
            dependencies: (deps.get(v[0]) ?? []).map((d) => {
              const real = nameOf(d[1]) || `#${d[1]}`;
              return {
                name: d[6] || real,
                req: d[2] || '*',
                kind: KINDS[d[5]] ?? 'normal',
                optional: d[3] === 1,
                ...(d[4] ? { target: d[4] } : {}),
                ...(d[6] && d[6] !== real ? { package: real } : {}),
              };
            }),
            ...(publishedAt ? { publishedAt } : {}),
            ...(publisher ? { publisher } : {}),
            observedAt: now,
          };
          let value: string;
          try {
            value = this.producer ? encodeEvent(TOPICS.releases, ev) : JSON.stringify(ev);
          } catch (err) {
            if (!(err instanceof EventValidationError)) throw err;
            refuse('data/versions.csv', 0, err.issues[0]?.split(':')[0] ?? '(row)', `${crate} ${v[2]}: ${err.issues.join('; ')}`, v);
            continue;
          }
          batch.push({ key: crate, value });
          if (batch.length >= batchSize) await flush();
        }
        await flush();
        if (this.producer) this.checkpoint.save({ dump: identity, bucketsDone: bucket + 1, inBucket: 0 });
        cp = { dump: identity, bucketsDone: bucket + 1, inBucket: 0 };
      }
      if (this.producer) this.checkpoint.save({ dump: identity, bucketsDone: B, inBucket: 0, done: true });
    } finally {
      if (timer) clearInterval(timer);
      rmSync(spill.dir, { recursive: true, force: true });
    }
    result.seconds = (Date.now() - t0) / 1000;
    progress();
    return result;
  }
}
