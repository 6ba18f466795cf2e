/**
 * Writes a synthetic crates.io database dump (`<date>/data/*.csv` in a tar.gz, with the real
 * dump's column names) for tests and the bootstrap benchmark. Rows are written as they are made;
 * nothing is held in memory beyond one buffer.
 */
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { c as tarCreate } from 'tar';

export interface GenOptions {
  crates: number;
  versions: number;
  /** Dependencies per version (average; deterministic). */
  depsPerVersion?: number;
  /** Put dependencies.csv before versions.csv in the tarball (the other order). */
  depsFirst?: boolean;
  /** Every Nth version is yanked. */
  yankEvery?: number;
  /** Extra raw lines appended to versions.csv (e.g. a malformed row). */
  extraVersionLines?: string[];
  /** Crate names are `<prefix>-<n in base 36>` (default `gen-crate`). */
  prefix?: string;
}

export interface GenResult {
  path: string;
  crates: number;
  versions: number;
  dependencies: number;
}

const csvField = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

class Writer {
  private buf: string[] = [];
  private size = 0;
  private readonly ws;
  constructor(path: string) {
    this.ws = createWriteStream(path);
  }
  async row(fields: (string | number)[]): Promise<void> {
    const l = fields.map((f) => csvField(String(f))).join(',');
    this.buf.push(l);
    this.size += l.length;
    if (this.size > 1 << 20) await this.drain();
  }
  async raw(line: string): Promise<void> {
    this.buf.push(line);
  }
  private async drain(): Promise<void> {
    if (!this.buf.length) return;
    const ok = this.ws.write(this.buf.join('\n') + '\n');
    this.buf = [];
    this.size = 0;
    if (!ok) await once(this.ws, 'drain');
  }
  async close(): Promise<void> {
    await this.drain();
    this.ws.end();
    await once(this.ws, 'finish');
  }
}

export const crateName = (i: number, prefix = 'gen-crate'): string => `${prefix}-${i.toString(36)}`;

export async function generateDump(out: string, o: GenOptions): Promise<GenResult> {
  const work = mkdtempSync(join(tmpdir(), 'cratewatch-gen-'));
  const top = '2025-06-01-020000';
  const data = join(work, top, 'data');
  mkdirSync(data, { recursive: true });
  const deps = o.depsPerVersion ?? 2;
  const yankEvery = o.yankEvery ?? 50;
  let nDeps = 0;
  try {
    const crates = new Writer(join(data, 'crates.csv'));
    await crates.row([
      'created_at',
      'description',
      'documentation',
      'homepage',
      'id',
      'max_features',
      'max_upload_size',
      'name',
      'readme',
      'repository',
      'updated_at',
    ]);
    for (let i = 1; i <= o.crates; i++) {
      await crates.row([
        '2020-01-01 00:00:00.000000',
        `crate ${i}, generated`,
        '',
        '',
        i,
        '',
        '',
        crateName(i, o.prefix),
        '',
        `https://github.com/gen/${i}`,
        '2024-01-01 00:00:00.000000',
      ]);
    }
    await crates.close();
    const users = new Writer(join(data, 'users.csv'));
    await users.row(['gh_avatar', 'gh_id', 'gh_login', 'id', 'name']);
    for (let i = 1; i <= 1000; i++) await users.row(['', 1000 + i, `user${i}`, i, `User ${i}`]);
    await users.close();
    const versions = new Writer(join(data, 'versions.csv'));
    const dependencies = new Writer(join(data, 'dependencies.csv'));
    await versions.row([
      'bin_names',
      'checksum',
      'crate_id',
      'crate_size',
      'created_at',
      'description',
      'downloads',
      'edition',
      'features',
      'has_lib',
      'homepage',
      'id',
      'license',
      'links',
      'num',
      'num_no_build',
      'published_by',
      'repository',
      'rust_version',
      'updated_at',
      'yanked',
    ]);
    await dependencies.row([
      'crate_id',
      'default_features',
      'explicit_name',
      'features',
      'id',
      'kind',
      'optional',
      'req',
      'target',
      'version_id',
    ]);
    let depId = 0;
    // Versions are spread over crates round-robin, so each crate has versions/crates of them.
    for (let v = 1; v <= o.versions; v++) {
      const crate = ((v - 1) % o.crates) + 1;
      const n = Math.floor((v - 1) / o.crates);
      const num = `${Math.floor(n / 10)}.${n % 10}.0`;
      const day = new Date(Date.UTC(2020, 0, 1) + v * 60_000).toISOString().replace('T', ' ').replace('Z', '');
      await versions.row([
        '{}',
        ((v * 2654435761) % 2 ** 32).toString(16).padStart(8, '0').repeat(8),
        crate,
        1000,
        day,
        '',
        v % 1000,
        '2021',
        JSON.stringify({ default: ['std'], std: [] }),
        't',
        '',
        v,
        'MIT',
        '',
        num,
        num,
        (v % 1000) + 1,
        '',
        '1.60',
        day,
        v % yankEvery === 0 ? 't' : 'f',
      ]);
      for (let d = 0; d < deps; d++) {
        const target = ((crate + d * 7919) % o.crates) + 1;
        depId++;
        nDeps++;
        await dependencies.row([
          target,
          't',
          d === 1 ? `renamed_${d}` : '',
          d === 0 ? '{derive}' : '{}',
          depId,
          d % 3,
          d === 2 ? 't' : 'f',
          `^${d}.1`,
          d === 1 ? 'cfg(unix)' : '',
          v,
        ]);
      }
    }
    for (const l of o.extraVersionLines ?? []) await versions.raw(l);
    await versions.close();
    await dependencies.close();
    writeFileSync(join(work, top, 'README.md'), 'generated crates.io dump for cratewatch tests\n');
    writeFileSync(join(work, top, 'metadata.json'), JSON.stringify({ timestamp: '2025-06-01T02:00:00Z', crates_io_commit: 'generated' }));
    const files = [
      `${top}/README.md`,
      `${top}/metadata.json`,
      `${top}/data/crates.csv`,
      `${top}/data/users.csv`,
      ...(o.depsFirst
        ? [`${top}/data/dependencies.csv`, `${top}/data/versions.csv`]
        : [`${top}/data/versions.csv`, `${top}/data/dependencies.csv`]),
    ];
    mkdirSync(dirname(out), { recursive: true });
    await tarCreate({ gzip: true, file: out, cwd: work, portable: true }, files);
    return { path: out, crates: o.crates, versions: o.versions + (o.extraVersionLines?.length ?? 0), dependencies: nDeps };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
