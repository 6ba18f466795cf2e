/**
 * Command-line parsing with commander (docs/adr/0009-cli-commander.md): every command gets
 * `--help`, `-q/--quiet` and errors that read `cratewatch <command>: <what>` (exit 2) the same way.
 */
import { Command, CommanderError } from 'commander';
import { setQuiet, UsageError } from './io.js';

/** `--help` or `--version` was printed: nothing else to do, exit 0. */
export class HelpShown extends Error {}

/** A repeatable option's values, in the order given (`--vex a --vex b`). */
export const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/**
 * A command (or subcommand) as every cratewatch command is set up: help and quiet flags, errors
 * thrown rather than exiting (main.ts decides the exit code), help on stdout, and help that is
 * printed because something is missing (a subcommand) on stderr.
 */
export function newCommand(name: string, summary: string): Command {
  return new Command(name)
    .description(summary)
    .option('-q, --quiet', 'no progress on stderr (warnings and errors still)')
    .helpOption('-h, --help', 'print this help')
    .allowExcessArguments(false)
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s), outputError: () => {} });
}

/**
 * Parses `argv` (the words after the command's name) with `cmd`; actions of subcommands run
 * (synchronously) as commander calls them. Throws HelpShown after `--help`, UsageError otherwise.
 */
export function parseCommand(cmd: Command, argv: string[]): { opts: Record<string, unknown>; args: string[] } {
  try {
    cmd.parse(argv, { from: 'user' });
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    // Help asked for (`--help`, `help <subcommand>`) exits 0; help printed because a subcommand
    // is missing is commander.help with exit code 1 (the help is on stderr).
    if (err.exitCode === 0) throw new HelpShown();
    throw new UsageError(err.code === 'commander.help' ? 'a subcommand is needed (above)' : err.message.replace(/^error: /, ''));
  }
  const opts = cmd.opts();
  if (opts.quiet) setQuiet();
  return { opts, args: cmd.args };
}
