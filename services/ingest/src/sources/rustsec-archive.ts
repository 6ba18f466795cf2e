/**
 * RustSec source over HTTPS: a .tar.gz of the advisory-db (GitHub's codeload shape, with one top
 * folder such as `advisory-db-main/`, or none), fetched with a conditional request (ETag /
 * Last-Modified kept in the checkpoint). A 304 emits nothing. A new archive is unpacked with `tar`
 * into a temp dir and handed to the directory source (`RustsecSource`), which diffs by content hash
 * against its own checkpoint and produces added, changed and deleted advisories.
 *
 * The validator is saved only after the directory poll finished, so a crash in between re-downloads
 * the archive and the hash diff finds nothing new to send: no gap, no duplicate. Network errors,
 * 5xx bursts, 429 (Retry-After) and truncated bodies are retried by the shared HTTP client; an
 * archive that still does not unpack fails the poll with an error naming the URL, and the next poll
 * tries again.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Producer } from 'kafkajs';
import * as tar from 'tar';
import { Checkpoint, type Logger } from '@cratewatch/runtime';
import { HttpClient, safeUrl, type Validator } from '../http.js';
import { RustsecSource, type PollResult, type RustsecCheckpoint } from './rustsec.js';

export interface ArchiveCheckpoint {
  url?: string;
  validator?: Validator;
}

export interface ArchivePollResult extends Partial<PollResult> {
  notModified: boolean;
}

/** Unpacks a .tar.gz into a fresh temp dir; returns the advisory-db root inside it. */
export async function unpackArchive(archive: Buffer, url: string): Promise<{ root: string; cleanup: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'cratewatch-rustsec-archive-'));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    const file = join(dir, 'archive.tar.gz');
    writeFileSync(file, archive);
    const out = join(dir, 'db');
    mkdirSync(out);
    await tar.x({ file, cwd: out, strict: true, preservePaths: false, filter: (p) => !p.includes('..') });
    rmSync(file);
    let root = out;
    if (!existsSync(join(out, 'crates'))) {
      const tops = readdirSync(out, { withFileTypes: true }).filter((e) => e.isDirectory());
      const only = tops.length === 1 ? tops[0] : undefined;
      if (only && existsSync(join(out, only.name, 'crates'))) root = join(out, only.name);
      else throw new Error('no crates/ folder at the top or under a single top folder');
    }
    return { root, cleanup };
  } catch (err) {
    cleanup();
    throw new Error(`rustsec archive ${safeUrl(url)}: not a readable advisory-db .tar.gz: ${(err as Error).message}`);
  }
}

export class RustsecArchiveSource {
  constructor(
    private readonly url: string,
    private readonly http: HttpClient,
    private readonly producer: Producer,
    private readonly checkpoint: Checkpoint<ArchiveCheckpoint>,
    private readonly filesCheckpoint: Checkpoint<RustsecCheckpoint>,
    private readonly log: Logger,
    private readonly opts: { batchSize?: number } = {},
  ) {}

  async poll(signal?: AbortSignal): Promise<ArchivePollResult> {
    const state = this.checkpoint.load();
    const validator = state.url === this.url ? state.validator : undefined;
    const res = await this.http.get(this.url, {
      validator,
      signal,
      headers: { accept: 'application/gzip, application/x-gzip, application/octet-stream' },
    });
    if (res.notModified) {
      this.log.info('rustsec archive not modified', { upstream: res.url });
      return { notModified: true };
    }
    const { root, cleanup } = await unpackArchive(res.body, this.url);
    try {
      const result = await new RustsecSource(root, this.producer, this.filesCheckpoint, this.log, {
        upstream: safeUrl(this.url),
        service: 'ingest/rustsec-archive',
        ...(this.opts.batchSize ? { batchSize: this.opts.batchSize } : {}),
      }).poll(signal);
      // Stopped midway: the validator stays, so the next poll fetches the archive again and the
      // file checkpoint skips what was acknowledged.
      if (result.complete) this.checkpoint.save({ url: this.url, validator: res.validator });
      return { notModified: false, ...result };
    } finally {
      cleanup();
    }
  }
}
