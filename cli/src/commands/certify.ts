/**
 * `cratewatch certify CRATE [FROM] TO --criteria C --who W --notes N`: records an audit in a
 * store's audits.toml as `cargo vet certify` does (shared `certify`: removes an exemption it makes
 * unneeded), and writes every file of the store exactly as `cargo vet fmt` would, so that
 * `cargo vet --locked` accepts the store unchanged. Offline: imports.lock is kept as it is.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import {
  certify,
  CertifyError,
  checkStore,
  serializeAuditsFile,
  serializeConfigFile,
  serializeImportsLock,
  userInfoOf,
  type VetStore,
} from '@cratewatch/shared';
import { collect, newCommand, parseCommand } from '../args.js';
import { loadWorkspace, progress, UsageError } from '../io.js';

export const summary = 'record an audit in a cargo-vet store as cargo vet certify does, the store written as cargo vet fmt writes it';

export const usage = `cratewatch certify CRATE [FROM] TO --criteria NAME [--criteria NAME ...] [--who "Name <email>"] [--notes TEXT]
                [--store DIR] [--metadata cargo-metadata.json] [--force]`;

export const command = () =>
  newCommand('cratewatch certify', summary)
    .argument('<crate>', 'the crate audited')
    .argument('<version...>', 'TO (a full audit), or FROM TO (a delta audit)')
    .option('--criteria <name>', 'a criteria the audit certifies (repeatable, or a comma list); required', collect)
    .option('--who <auditor>', 'who audited, "Name <email>" (repeatable; default: git config user.name <user.email>)', collect)
    .option('--notes <text>', 'notes kept with the audit')
    .option('--store <dir>', 'the cargo-vet store (default: ./supply-chain); its parent folder holds the Cargo.lock')
    .option(
      '--metadata <file>',
      'cargo metadata --format-version 1 --all-features output (default: cargo-metadata.json beside the Cargo.lock)',
    )
    .option('--force', 'certify even a crate that is not a third-party package of the workspace')
    .addHelpText(
      'after',
      '\nExit codes: 0 written; 2 input or usage error (an unknown criteria, a bad version, an invalid store); 3 internal error.',
    );

/** cargo-vet's default auditor (main.rs `get_user_info`): `git config user.name <user.email>`, if both are set. */
function gitAuditor(): string | undefined {
  const get = (k: string) => {
    const r = spawnSync('git', ['config', '--get', k], { encoding: 'utf8' });
    return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
  };
  const name = get('user.name');
  const email = get('user.email');
  return name && email ? `${name} <${email}>` : undefined;
}

/** Problems that stop `cargo vet certify` from loading the store (it rewrites the layout, so not those). */
function refuseInvalid(store: VetStore, graph: Parameters<typeof checkStore>[1], dir: string): void {
  const blocking = checkStore(store, graph).problems.filter((p) => p.code !== 'bad-format' && p.stage !== 'policy');
  if (blocking.length)
    throw new UsageError(
      `${dir}: invalid cargo-vet store, fix it first:\n${blocking.map((p) => `  ${p.file}, ${p.table}: ${p.message}`).join('\n')}`,
    );
}

export function run(argv: string[]): number {
  const { opts, args } = parseCommand(command(), argv);
  const o = opts as { criteria?: string[]; who?: string[]; notes?: string; store?: string; metadata?: string; force?: boolean };
  if (args.length < 2 || args.length > 3) throw new UsageError(`expected CRATE [FROM] TO\n${usage}`);
  const [crate, v1, v2] = args as [string, string, string | undefined];
  const storeDir = o.store ?? 'supply-chain';
  const who = o.who?.length ? o.who : [gitAuditor() ?? ''];
  if (!who[0]) throw new UsageError('--who is required: git config user.name and user.email are not both set');
  // The workspace is the store's folder's parent (its Cargo.lock, and cargo-metadata.json if any).
  const ws = loadWorkspace(path.dirname(path.resolve(storeDir)), storeDir, o.metadata);
  refuseInvalid(ws.store!, ws.graph, storeDir);
  let result;
  try {
    result = certify(ws.store!, ws.graph, {
      crate,
      ...(v2 !== undefined ? { from: v1, to: v2 } : { to: v1 }),
      criteria: (o.criteria ?? []).flatMap((c) => c.split(',').map((x) => x.trim())).filter(Boolean),
      who,
      ...(o.notes !== undefined ? { notes: o.notes } : {}),
      force: o.force === true,
    });
  } catch (err) {
    if (err instanceof CertifyError) throw new UsageError(`${err.message}\n${usage}`);
    throw err;
  }
  const s = result.store;
  const write = (f: string, text: string) => writeFileSync(path.join(storeDir, f), text);
  write('config.toml', serializeConfigFile(s.config));
  write('audits.toml', serializeAuditsFile(s.audits, userInfoOf(s.imports)));
  if (s.imports) write('imports.lock', serializeImportsLock(s.imports));
  const e = result.audit;
  const what = e.delta ? `${e.delta.from} -> ${e.delta.to}` : e.version;
  const out = [`certified ${crate} ${what} for ${e.criteria.join(', ')} (${e.who.join(', ')}) in ${path.join(storeDir, 'audits.toml')}`];
  for (const x of result.exemptions.removed)
    out.push(`removed the exemption ${x.crate} ${x.exemption.version} (${x.exemption.criteria.join(', ')}): no longer needed`);
  for (const x of result.exemptions.narrowed)
    out.push(`narrowed the exemption ${crate} ${x.before.version} to ${x.after.criteria.join(', ')}`);
  progress(`wrote ${storeDir} as cargo vet fmt writes it`);
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}
