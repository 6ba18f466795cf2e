/**
 * RustSec source: reads an advisory-db directory (a plain copy or a git checkout) and produces
 * every added or changed advisory to `rustsec.advisories` keyed by id, and a tombstone for each
 * advisory whose file was deleted.
 *
 * What changed is decided by content hash against the checkpoint, which works the same for a plain
 * directory and a git checkout (whose HEAD commit is recorded on each event). The checkpoint is
 * advanced after each acknowledged batch, so a restart resumes where Kafka last confirmed; a poll
 * given an AbortSignal stops between batches when it fires (`complete: false`), and the next poll
 * sends only what was not acknowledged yet (deletions are tombstoned once the whole tree is through).
 * A file that does not parse goes to `rustsec.advisories.dlq` with the reason and is not retried
 * until it changes; the rest of the database goes on.
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { Producer } from 'kafkajs';
import { FormatError, TOPICS, dlqTopic, encodeEvent, parseAdvisory, type AdvisoryEvent } from '@cratewatch/shared';
import { Checkpoint, type Logger, upstreamDlqValue } from '@cratewatch/runtime';

interface FileState {
  hash: string;
  /** The advisory id the file held, so that its deletion can be tombstoned; absent if it was bad. */
  id?: string;
}
export interface RustsecCheckpoint {
  files: Record<string, FileState>;
  commit?: string;
}

export interface PollResult {
  produced: number;
  tombstones: number;
  refused: number;
  unchanged: number;
  /** False when the poll was stopped by its signal before the whole tree was through. */
  complete: boolean;
}

const BATCH = 500;

function listAdvisoryFiles(db: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && e.name.endsWith('.md')) out.push(relative(db, p).split(sep).join('/'));
    }
  };
  for (const top of ['crates', 'rust']) if (existsSync(join(db, top))) walk(join(db, top));
  return out.sort();
}

function gitHead(db: string): string | undefined {
  if (!existsSync(join(db, '.git'))) return undefined;
  try {
    return execFileSync('git', ['-C', db, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
}

export class RustsecSource {
  constructor(
    private readonly db: string,
    private readonly producer: Producer,
    private readonly checkpoint: Checkpoint<RustsecCheckpoint>,
    private readonly log: Logger,
    /** Where the directory came from (an archive URL), named in refusals; the service name; events per batch (500). */
    private readonly opts: { upstream?: string; service?: string; batchSize?: number } = {},
  ) {}

  /**
   * The DLQ record of a file that does not parse, logged. Remembering the bad file's hash refuses
   * it once, not on every poll; its previous good version stays what consumers hold (a broken
   * edit is not a deletion).
   */
  private refusal(path: string, text: string, err: FormatError, now: string, file: FileState) {
    const upstream = this.opts.upstream ?? this.db;
    this.log.warn('refused advisory file', { upstream, file: path, reason: err.message });
    const value = upstreamDlqValue({
      topic: TOPICS.advisories,
      key: path,
      value: text,
      error: `rustsec ${upstream}: ${err.message}`,
      service: this.opts.service ?? 'ingest/rustsec',
      at: now,
    });
    return { key: path, value, path, file };
  }

  async poll(signal?: AbortSignal): Promise<PollResult> {
    if (!existsSync(join(this.db, 'crates'))) {
      throw new Error(`${this.db} is not a RustSec advisory-db (no crates/ folder)`);
    }
    const state = this.checkpoint.load();
    const commit = gitHead(this.db);
    const now = new Date().toISOString();
    const files = listAdvisoryFiles(this.db);
    const seen = new Set(files);
    const result: PollResult = { produced: 0, tombstones: 0, refused: 0, unchanged: 0, complete: false };
    const batchSize = Math.max(1, this.opts.batchSize ?? BATCH);
    const liveIds = new Set<string>();

    let batch: { key: string; value: string | null; path: string; file: FileState }[] = [];
    // Refused files: their DLQ record, and the state to remember once that record is acknowledged.
    let dlq: { key: string; value: string; path: string; file: FileState }[] = [];
    const flush = async () => {
      if (batch.length === 0 && dlq.length === 0) return;
      const topicMessages = [];
      if (batch.length) topicMessages.push({ topic: TOPICS.advisories, messages: batch.map(({ key, value }) => ({ key, value })) });
      if (dlq.length) topicMessages.push({ topic: dlqTopic(TOPICS.advisories), messages: dlq.map(({ key, value }) => ({ key, value })) });
      await this.producer.sendBatch({ topicMessages });
      for (const b of [...batch, ...dlq]) state.files[b.path] = b.file;
      this.checkpoint.save(state);
      this.log.info('rustsec progress', { sent: result.produced + result.tombstones, refused: result.refused, of: files.length });
      batch = [];
      dlq = [];
    };

    for (const path of files) {
      const text = readFileSync(join(this.db, path), 'utf8');
      const hash = createHash('sha256').update(text).digest('hex');
      const prev = state.files[path];
      if (prev?.hash === hash) {
        if (prev.id) liveIds.add(prev.id);
        result.unchanged++;
        continue;
      }
      try {
        const advisory = parseAdvisory(text, path);
        const ev: AdvisoryEvent = { v: 1, advisory, origin: { path, ...(commit ? { commit } : {}) }, observedAt: now };
        liveIds.add(advisory.id);
        batch.push({ key: advisory.id, value: encodeEvent(TOPICS.advisories, ev), path, file: { hash, id: advisory.id } });
        result.produced++;
      } catch (err) {
        if (!(err instanceof FormatError)) throw err;
        dlq.push(this.refusal(path, text, err, now, { hash, ...(prev?.id ? { id: prev.id } : {}) }));
        if (prev?.id) liveIds.add(prev.id);
        result.refused++;
      }
      if (batch.length + dlq.length >= batchSize) {
        await flush();
        // Stopped between acknowledged batches: the checkpoint says what is through.
        if (signal?.aborted) return result;
      }
    }
    if (signal?.aborted) {
      await flush();
      return result;
    }

    for (const [path, prev] of Object.entries(state.files)) {
      if (seen.has(path)) continue;
      // A moved advisory is not deleted: only tombstone ids no live file holds.
      if (prev.id && !liveIds.has(prev.id)) {
        batch.push({ key: prev.id, value: null, path, file: prev });
        result.tombstones++;
      }
    }
    const deleted = Object.keys(state.files).filter((p) => !seen.has(p));
    await flush();
    for (const p of deleted) delete state.files[p];
    if (commit) state.commit = commit;
    this.checkpoint.save(state);
    result.complete = true;
    return result;
  }
}
