#!/usr/bin/env node
/**
 * cratewatch CLI: the top-level command (commander) and one module per command in ./commands.
 * Exit codes: 0 ok; 1 policy failure (unvetted packages, violations, vulnerabilities for scan;
 * a blocking change for gate); 2 usage or input error (a file that does not read, a bad flag, an
 * unreachable graph); 3 internal error (a bug: said with CRATEWATCH_DEBUG=1's stack).
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { CrateFileError, FormatError } from '@cratewatch/shared';
import { HelpShown } from './args.js';
import { setQuiet, UsageError } from './io.js';

/**
 * A command module: `run(argv)` gets the words after the command's name and returns the exit
 * code; `summary` is its line in `cratewatch --help` (else its `usage`).
 */
interface CommandModule {
  usage: string;
  summary?: string;
  run(argv: string[]): number | Promise<number>;
}
/**
 * Each command's module, loaded only when it runs (or when the top-level help lists them all): a
 * `scan` never loads neo4j-driver (query) nor the SBOM writer, which cost a cold start more than
 * the scan's own work on a small workspace.
 */
export const commandLoaders: Record<string, () => Promise<CommandModule>> = {
  scan: () => import('./commands/scan.js'),
  gate: () => import('./commands/gate.js'),
  deny: () => import('./commands/deny.js'),
  query: () => import('./commands/query.js'),
  certify: () => import('./commands/certify.js'),
  sbom: () => import('./commands/sbom.js'),
  plan: () => import('./commands/plan.js'),
  pools: () => import('./commands/pools.js'),
};

/** The modules `argv` needs: its command's alone, or every one when it asks the top level (help, a typo). */
async function commandsFor(argv: string[]): Promise<Record<string, CommandModule | undefined>> {
  const at = argv.findIndex((a) => !a.startsWith('-')); // after the top-level flags (-q)
  const top = (at < 0 ? argv : argv.slice(0, at)).some((a) => a !== '-q' && a !== '--quiet');
  const names = at >= 0 && !top && commandLoaders[argv[at]!] ? [argv[at]!] : Object.keys(commandLoaders);
  return Object.fromEntries(await Promise.all(names.map(async (n) => [n, await commandLoaders[n]!()] as const)));
}

export const EXIT = { ok: 0, policy: 1, input: 2, internal: 3 } as const;

const version = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** The top level: `--version`, `-q`, `--help`, and each command, whose own words it passes on untouched. */
function program(commands: Record<string, CommandModule | undefined>, chose: (name: string, argv: string[]) => void): Command {
  const p = new Command('cratewatch')
    .description('Which Rust crate-versions are unaudited (cargo-vet semantics), hit by RustSec advisories, or hang on a risky maintainer.')
    .version(version, '-V, --version', 'print the version')
    .option('-q, --quiet', 'no progress on stderr (warnings and errors still)')
    .helpOption('-h, --help', 'print this help')
    .helpCommand('help [command]', 'print the help of a command')
    .enablePositionalOptions()
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: () => {} })
    .hook('preAction', (top) => {
      if (top.opts().quiet) setQuiet();
    })
    .addHelpText(
      'after',
      `\nExit codes: ${EXIT.ok} ok, ${EXIT.policy} policy failure, ${EXIT.input} input or usage error, ${EXIT.internal} internal error.\nEvery command has --help (query has one per question: cratewatch query advisory --help).`,
    );
  for (const name of Object.keys(commandLoaders)) {
    const mod = commands[name];
    p.command(name)
      .description(mod ? (mod.summary ?? mod.usage) : '')
      .helpOption(false) // the command's own parser answers --help
      .allowUnknownOption()
      .allowExcessArguments()
      .action((_opts, cmd: Command) => chose(name, cmd.args));
  }
  return p;
}

/** The one line a known error prints (`cratewatch scan: ws/Cargo.lock, line 1: …`), or undefined for a bug. */
function knownError(err: unknown): string | undefined {
  if (err instanceof UsageError || err instanceof FormatError || err instanceof SyntaxError || err instanceof CrateFileError)
    return (err as Error).message;
  return undefined;
}

async function main(argv: string[]): Promise<number> {
  // `help scan` is `scan --help` (commander's help command would not reach the command's parser).
  if (argv[0] === 'help' && argv[1] && commandLoaders[argv[1]]) argv = [argv[1], '--help', ...argv.slice(2)];
  const commands = await commandsFor(argv);
  if (argv.length === 0) {
    program(commands, () => {}).outputHelp({ error: true });
    return EXIT.input;
  }
  let name = '';
  try {
    let args: string[] = [];
    program(commands, (n, a) => {
      name = n;
      args = a;
    }).parse(argv, { from: 'user' });
    return await commands[name]!.run(args);
  } catch (err) {
    if (err instanceof HelpShown) return EXIT.ok;
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return EXIT.ok; // --help, --version, help
      if (err.code === 'commander.help') return EXIT.input; // no command given: the help is on stderr
      process.stderr.write(`cratewatch: ${err.message.replace(/^error: /, '')}\n(cratewatch --help lists the commands)\n`);
      return EXIT.input;
    }
    const known = knownError(err);
    if (known === undefined) throw err;
    process.stderr.write(`cratewatch${name ? ` ${name}` : ''}: ${known}\n`);
    return EXIT.input;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const e = err as Error;
    process.stderr.write(`cratewatch: internal error: ${e?.message ?? String(err)}\n`);
    process.stderr.write(
      process.env.CRATEWATCH_DEBUG ? `${e?.stack ?? ''}\n` : '(a bug in cratewatch: CRATEWATCH_DEBUG=1 prints the stack)\n',
    );
    process.exitCode = EXIT.internal;
  },
);
