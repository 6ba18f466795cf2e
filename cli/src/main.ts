#!/usr/bin/env node
/**
 * cratewatch CLI: a small dispatcher, one module per command in ./commands.
 * Exit codes: 0 ok; 1 policy failure (unvetted packages, violations, vulnerabilities for scan;
 * a blocking change for gate); 2 usage or input error.
 */
import { FormatError } from '@cratewatch/shared';
import * as certify from './commands/certify.js';
import * as gate from './commands/gate.js';
import * as query from './commands/query.js';
import * as scan from './commands/scan.js';
import { UsageError } from './io.js';

interface Command {
  usage: string;
  run(argv: string[]): number | Promise<number>;
}
export const commands: Record<string, Command> = { scan, gate, query, certify };

const help = () => `usage:\n${Object.values(commands).map((c) => `  ${c.usage}`).join('\n')}\n\nexit codes: 0 ok, 1 policy failure, 2 usage or input error\n`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(help());
    return name ? 0 : 2;
  }
  const cmd = commands[name];
  if (!cmd) {
    process.stderr.write(`cratewatch: unknown command "${name}"\n${help()}`);
    return 2;
  }
  try {
    return await cmd.run(rest);
  } catch (err) {
    if (err instanceof UsageError || err instanceof FormatError || err instanceof SyntaxError) {
      process.stderr.write(`cratewatch ${name}: ${(err as Error).message}\n`);
      return 2;
    }
    throw err;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`cratewatch: internal error: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 2;
  },
);
