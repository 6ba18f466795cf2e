/**
 * RustSec source over git: the advisory-db is cloned once (bare) into the state dir, then each poll
 * fetches the branch and diffs the checkpoint commit against the new one
 * (`git diff --name-status -M`). Every added, changed or renamed advisory file becomes one
 * `rustsec.advisories` event keyed by advisory id; an advisory id that no file holds any more
 * becomes a tombstone (the id a deleted file held comes from the checkpoint, or from
 * `git show old:path`). A rename is not a deletion: the id lives on in the new file.
 *
 * Restart safety: the events of one poll are computed from (old commit, new commit, old file map)
 * alone, so they are the same list every time. They are sent in batches, and after each
 * acknowledged batch the checkpoint records `{ pending: { target, done } }`. A restart first
 * finishes that pending target (skipping what was acknowledged), then moves on: no gap, and no
 * duplicate unless the process dies between Kafka's acknowledgement and the checkpoint write
 * (then that one batch is repeated; consumers are idempotent).
 *
 * A file that does not parse goes to `rustsec.advisories.dlq` (the error names the upstream, the
 * file and the field); the previous good version of that file stays what consumers hold.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { Producer, IHeaders } from 'kafkajs';
import { FormatError, TOPICS, dlqTopic, encodeEvent, parseAdvisory, type AdvisoryEvent } from '@cratewatch/shared';
import { Checkpoint, type Logger, upstreamDlqValue } from '@cratewatch/runtime';
import { safeUrl } from '../http.js';

const execFileP = promisify(execFile);

export interface GitFileState {
  /** git blob id of the file's content at the checkpoint commit. */
  blob: string;
  /** Last advisory id this path held in a version that parsed; absent if it never parsed. */
  id?: string;
}

export interface RustsecGitCheckpoint {
  url?: string;
  branch?: string;
  commit?: string;
  files: Record<string, GitFileState>;
  /** A poll in progress: events up to `done` (in computed order) toward `target` were acknowledged. */
  pending?: { target: string; done: number };
}

export interface RustsecGitOptions {
  /** A git URL or a local path to a repository. */
  url: string;
  branch?: string;
  /** Where the bare clone lives (inside the state dir). */
  repoDir: string;
  batchSize?: number;
  service?: string;
}

export interface GitPollResult {
  from?: string;
  to: string;
  produced: number;
  tombstones: number;
  refused: number;
  /** False when the poll stopped early on its AbortSignal (the checkpoint says where). */
  complete: boolean;
}

interface PlannedMessage {
  topic: string;
  key: string;
  value: string | null;
  kind: 'advisory' | 'tombstone' | 'refused';
}

export async function git(args: string[], cwd?: string): Promise<string> {
  try {
    // Never prompt for credentials: a service has no terminal.
    const { stdout } = await execFileP('git', cwd ? ['-C', cwd, ...args] : args, {
      maxBuffer: 512 * 1024 * 1024,
      encoding: 'utf8',
      env: { ...process.env, GIT_TERMINAL_PROMPT: '0' },
    });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`git ${args[0]} failed: ${(e.stderr ?? e.message).trim()}`);
  }
}

/** Reads many blobs in one `git cat-file --batch`; a missing object maps to undefined. */
export async function readBlobs(repo: string, specs: string[]): Promise<Map<string, { blob: string; text: string } | undefined>> {
  const out = new Map<string, { blob: string; text: string } | undefined>();
  if (specs.length === 0) return out;
  const proc = spawn('git', ['-C', repo, 'cat-file', '--batch'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  let stderr = '';
  proc.stdout.on('data', (c: Buffer) => chunks.push(c));
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const done = new Promise<void>((resolve, reject) => {
    proc.on('error', reject);
    proc.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`git cat-file failed (${code}): ${stderr.trim()}`))));
  });
  proc.stdin.end(specs.map((s) => `${s}\n`).join(''));
  await done;
  const buf = Buffer.concat(chunks);
  let pos = 0;
  for (const spec of specs) {
    const nl = buf.indexOf(0x0a, pos);
    if (nl < 0) throw new Error(`git cat-file: output ended early at ${spec}`);
    const header = buf.subarray(pos, nl).toString('utf8');
    pos = nl + 1;
    if (header.endsWith(' missing') || header.endsWith(' ambiguous')) {
      out.set(spec, undefined);
      continue;
    }
    const [blob, , sizeText] = header.split(' ');
    const size = Number(sizeText);
    if (!blob || !Number.isFinite(size)) throw new Error(`git cat-file: unexpected header "${header}"`);
    out.set(spec, { blob, text: buf.subarray(pos, pos + size).toString('utf8') });
    pos += size + 1;
  }
  return out;
}

async function commitExists(repo: string, commit: string): Promise<boolean> {
  try {
    await git(['cat-file', '-e', `${commit}^{commit}`], repo);
    return true;
  } catch {
    return false;
  }
}

const isAdvisoryPath = (p: string): boolean => (p.startsWith('crates/') || p.startsWith('rust/')) && p.endsWith('.md');

interface Change {
  status: 'A' | 'M' | 'D';
  path: string;
}

/** The advisory files that changed between two commits; a rename is a deletion of the old path plus an addition. */
async function diffCommits(repo: string, from: string | undefined, to: string): Promise<Change[]> {
  const changes: Change[] = [];
  if (!from) {
    const out = await git(['ls-tree', '-r', '-z', '--name-only', to, '--', 'crates', 'rust'], repo);
    for (const p of out.split('\0')) if (p && isAdvisoryPath(p)) changes.push({ status: 'A', path: p });
    return changes;
  }
  const out = await git(['diff', '--name-status', '-M', '-z', from, to, '--', 'crates', 'rust'], repo);
  const parts = out.split('\0');
  for (let i = 0; i < parts.length;) {
    const status = parts[i++];
    if (!status) continue;
    const letter = status[0];
    if (letter === 'R' || letter === 'C') {
      const oldPath = parts[i++]!;
      const newPath = parts[i++]!;
      if (letter === 'R' && isAdvisoryPath(oldPath)) changes.push({ status: 'D', path: oldPath });
      if (isAdvisoryPath(newPath)) changes.push({ status: 'A', path: newPath });
    } else {
      const p = parts[i++]!;
      if (!isAdvisoryPath(p)) continue;
      if (letter === 'D') changes.push({ status: 'D', path: p });
      else if (letter === 'A') changes.push({ status: 'A', path: p });
      else changes.push({ status: 'M', path: p }); // M, T
    }
  }
  return changes;
}

export class RustsecGitSource {
  private readonly branch: string;
  private readonly batchSize: number;
  private readonly service: string;
  /** The upstream as it may appear in logs, errors and the checkpoint: no user:password@. */
  private readonly shown: string;

  constructor(
    private readonly opts: RustsecGitOptions,
    private readonly producer: Producer,
    private readonly checkpoint: Checkpoint<RustsecGitCheckpoint>,
    private readonly log: Logger,
  ) {
    this.branch = opts.branch ?? 'main';
    this.batchSize = opts.batchSize ?? 500;
    this.service = opts.service ?? 'ingest/rustsec-git';
    this.shown = safeUrl(opts.url);
  }

  /** Runs git against the upstream, keeping any credential in its URL out of the error. */
  private async gitUpstream(args: string[], cwd?: string): Promise<string> {
    try {
      return await git(args, cwd);
    } catch (err) {
      throw new Error(`rustsec ${this.shown}: ${(err as Error).message.split(this.opts.url).join(this.shown)}`);
    }
  }

  /** Clones (once) and fetches; returns the branch's commit. */
  async fetch(): Promise<string> {
    const repo = this.opts.repoDir;
    if (!existsSync(join(repo, 'HEAD'))) {
      rmSync(repo, { recursive: true, force: true });
      mkdirSync(dirname(repo), { recursive: true });
      await this.gitUpstream(['clone', '--quiet', '--bare', '--single-branch', '--branch', this.branch, this.opts.url, repo]);
      this.log.info('rustsec: cloned advisory-db', { upstream: this.shown, branch: this.branch });
    } else {
      await this.gitUpstream(
        ['fetch', '--quiet', '--no-tags', this.opts.url, `+refs/heads/${this.branch}:refs/heads/${this.branch}`],
        repo,
      );
    }
    return (await git(['rev-parse', `refs/heads/${this.branch}^{commit}`], repo)).trim();
  }

  /**
   * The events that take consumers from `from` to `to`, in a fixed order, and the file map after.
   * Pure in (repo content, from, to, files): the same on every call, which is what lets a restart
   * skip exactly the acknowledged prefix.
   */
  async plan(
    from: string | undefined,
    to: string,
    files: Record<string, GitFileState>,
    observedAt: string,
  ): Promise<{ messages: PlannedMessage[]; files: Record<string, GitFileState> }> {
    const repo = this.opts.repoDir;
    // The checkpoint commit can be gone (history rewritten upstream, clone lost): then compare the
    // whole tree at `to` with the file map instead of diffing commits.
    if (from && !(await commitExists(repo, from))) {
      this.log.warn('rustsec: checkpoint commit not in the repository (history rewritten?); comparing the whole tree', {
        upstream: this.shown,
        commit: from,
      });
      from = undefined;
    }
    const listed = await diffCommits(repo, from, to);
    if (!from) {
      const present = new Set(listed.map((c) => c.path));
      for (const p of Object.keys(files)) if (!present.has(p)) listed.push({ status: 'D', path: p });
    }
    const changes = listed.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.status.localeCompare(b.status)));
    const next: Record<string, GitFileState> = { ...files };
    const released = new Set<string>(); // ids a deleted or changed file held before
    const wanted = changes.filter((c) => c.status !== 'D').map((c) => `${to}:${c.path}`);
    const goneWithoutId = changes.filter((c) => c.status === 'D' && !files[c.path]?.id && from).map((c) => `${from}:${c.path}`);
    const blobs = await readBlobs(repo, [...wanted, ...goneWithoutId]);
    const messages: PlannedMessage[] = [];

    for (const c of changes) {
      const prev = files[c.path];
      if (c.status === 'D') {
        let id = prev?.id;
        if (!id && from) {
          // Not in the checkpoint (or never parsed there): read the id the deleted file held.
          const old = blobs.get(`${from}:${c.path}`);
          if (old) {
            try {
              id = parseAdvisory(old.text, c.path).id;
            } catch {
              /* a file that never parsed held no id */
            }
          }
        }
        if (id) released.add(id);
        delete next[c.path];
        continue;
      }
      const got = blobs.get(`${to}:${c.path}`);
      if (!got) throw new Error(`rustsec ${this.shown}: ${c.path} listed in the diff but missing at ${to}`);
      if (prev?.blob === got.blob) continue;
      try {
        const advisory = parseAdvisory(got.text, c.path);
        if (prev?.id && prev.id !== advisory.id) released.add(prev.id);
        next[c.path] = { blob: got.blob, id: advisory.id };
        const ev: AdvisoryEvent = { v: 1, advisory, origin: { path: c.path, commit: to }, observedAt };
        messages.push({ topic: TOPICS.advisories, key: advisory.id, value: encodeEvent(TOPICS.advisories, ev), kind: 'advisory' });
      } catch (err) {
        if (!(err instanceof FormatError)) throw err;
        const error = `rustsec ${this.shown} at ${to.slice(0, 12)}: ${err.message}`;
        this.log.warn('refused advisory file', { upstream: this.shown, commit: to, file: c.path, reason: err.message });
        next[c.path] = { blob: got.blob, ...(prev?.id ? { id: prev.id } : {}) };
        messages.push({
          topic: dlqTopic(TOPICS.advisories),
          key: c.path,
          value: upstreamDlqValue({ topic: TOPICS.advisories, key: c.path, value: got.text, error, service: this.service, at: observedAt }),
          kind: 'refused',
        });
      }
    }
    if (released.size) {
      const live = new Set<string>();
      for (const f of Object.values(next)) if (f.id) live.add(f.id);
      for (const id of [...released].sort()) {
        if (!live.has(id)) messages.push({ topic: TOPICS.advisories, key: id, value: null, kind: 'tombstone' });
      }
    }
    return { messages, files: next };
  }

  /** Fetches, then produces what changed since the checkpoint. Stops between batches when `signal` aborts. */
  async poll(signal?: AbortSignal): Promise<GitPollResult> {
    let state = this.checkpoint.load();
    if (state.url && state.url !== this.shown) {
      this.log.warn('rustsec: upstream changed since the checkpoint; diffing from its commit anyway', { was: state.url, now: this.shown });
    }
    const head = await this.fetch();
    const total: GitPollResult = {
      ...(state.commit ? { from: state.commit } : {}),
      to: head,
      produced: 0,
      tombstones: 0,
      refused: 0,
      complete: true,
    };
    // Finish an interrupted poll toward its own target first, so the skipped prefix matches.
    const targets = state.pending && state.pending.target !== head ? [state.pending.target, head] : [head];
    for (const target of targets) {
      if (state.commit === target) continue;
      const skip = state.pending?.target === target ? state.pending.done : 0;
      const observedAt = new Date().toISOString();
      const { messages, files } = await this.plan(state.commit, target, state.files, observedAt);
      let done = skip;
      while (done < messages.length) {
        if (signal?.aborted) {
          total.complete = false;
          return total;
        }
        const batch = messages.slice(done, done + this.batchSize);
        const byTopic = new Map<string, { key: string; value: string | null; headers: IHeaders }[]>();
        for (const m of batch) {
          const list = byTopic.get(m.topic) ?? [];
          list.push({ key: m.key, value: m.value, headers: { commit: target } });
          byTopic.set(m.topic, list);
        }
        await this.producer.sendBatch({ topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
        done += batch.length;
        for (const m of batch) {
          if (m.kind === 'advisory') total.produced++;
          else if (m.kind === 'tombstone') total.tombstones++;
          else total.refused++;
        }
        state = { ...state, pending: { target, done } };
        this.checkpoint.save(state);
        this.log.info('rustsec progress', { commit: target, sent: done, of: messages.length });
      }
      state = { url: this.shown, branch: this.branch, commit: target, files };
      this.checkpoint.save(state);
      this.log.info('rustsec: advanced', { upstream: this.shown, commit: target, events: messages.length - skip });
    }
    return total;
  }
}
