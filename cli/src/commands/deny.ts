/**
 * `cratewatch deny <workspace dir | Cargo.lock>`: cargo-deny's licenses, bans and sources checks
 * alone, from the workspace's deny.toml (`cargo deny check bans licenses sources`); `scan` runs the
 * same checks beside its others. The rules are shared `checkDeny`; the layout `../deny-report.ts`.
 */
import { denyFails } from '@cratewatch/shared';
import { newCommand, parseCommand } from '../args.js';
import { denyJson, denyLines } from '../deny-report.js';
import { DENY_CONFIG_FILES, denyConfigWarnings, loadDenyConfig, loadWorkspace, progress, runDeny, UsageError } from '../io.js';

export const summary = "cargo-deny's licenses, bans and sources checks from the workspace's deny.toml; no infrastructure";

export const usage = 'cratewatch deny <workspace dir | Cargo.lock> [--config deny.toml] [--metadata cargo-metadata.json] [--json] [-q]';

export const command = () =>
  newCommand('cratewatch deny', summary)
    .argument('<target>', 'a workspace folder (its Cargo.lock, deny.toml, cargo-metadata.json) or a Cargo.lock')
    .option('--config <file>', `the cargo-deny config (default: the first of ${DENY_CONFIG_FILES.join(', ')} beside the Cargo.lock)`)
    .option(
      '--metadata <file>',
      'cargo metadata --format-version 1 --all-features output: license fields, declared requirements, dependency kinds (default: cargo-metadata.json beside the Cargo.lock)',
    )
    .option('--json', 'the findings as JSON on stdout')
    .addHelpText(
      'after',
      '\nExit codes: 0 no deny-level problem (warnings may be printed); 1 a deny-level problem; 2 input or usage error (also a deny.toml that does not read, or none found); 3 internal error.',
    );

export function run(argv: string[]): number {
  const { opts, args } = parseCommand(command(), argv);
  const o = opts as { config?: string; metadata?: string; json?: boolean };
  const target = args[0]!;
  progress(`reading ${target}`);
  const ws = loadWorkspace(target, undefined, o.metadata);
  const config = loadDenyConfig(target, o.config);
  if (!config) throw new UsageError(`${target}: no ${DENY_CONFIG_FILES.join(', ')} beside the Cargo.lock; pass --config FILE`);
  denyConfigWarnings(config);
  const report = runDeny(ws, config);
  if (o.json)
    process.stdout.write(`${JSON.stringify({ lockfile: ws.lockPath, metadata: ws.metadataPath ?? null, ...denyJson(report) }, null, 2)}\n`);
  else process.stdout.write(`${denyLines(report).slice(1).join('\n')}\n`);
  return denyFails(report) ? 1 : 0;
}
