/**
 * A source's checkpoint (ETag, commit, content hashes): a JSON file replaced atomically (write to a
 * temp file, fsync, rename), so a crash leaves either the old or the new checkpoint, never half.
 * A source writes its checkpoint only after Kafka acknowledged the events it covers: a restart may
 * repeat the last batch (consumers are idempotent) but never skips a change.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { envString, type Env } from './env-config.js';

export const stateDir = (env: Env = process.env): string =>
  envString(env, 'CRATEWATCH_STATE_DIR') ?? join(process.cwd(), '.cratewatch', 'state');

export class Checkpoint<T> {
  constructor(
    readonly file: string,
    private readonly initial: T,
  ) {}

  load(): T {
    try {
      return JSON.parse(readFileSync(this.file, 'utf8')) as T;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return structuredClone(this.initial);
      throw new Error(`checkpoint ${this.file} is unreadable: ${(err as Error).message}`);
    }
  }

  save(value: T): void {
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(value));
    const fd = openSync(tmp, 'r');
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, this.file);
  }
}
