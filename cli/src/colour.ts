/**
 * Colour for the text reports: only when stdout is a terminal, and never when NO_COLOR is set to
 * anything but the empty string (https://no-color.org). Five ANSI codes do not need a library.
 * A report piped to a file or another program (CI logs, `| less`, tests) carries no escape codes.
 */
import type { Severity } from '@cratewatch/shared';

export const colourOn = (stream: { isTTY?: boolean } = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean =>
  stream.isTTY === true && !env.NO_COLOR;

const on = colourOn();
const sgr = (open: number, close: number) => (s: string) => (on ? `\u001b[${open}m${s}\u001b[${close}m` : s);

export const bold = sgr(1, 22);
export const dim = sgr(2, 22);
export const red = sgr(31, 39);
export const yellow = sgr(33, 39);
export const green = sgr(32, 39);

/** A severity word as it should stand out: critical and high red, medium yellow, the rest dim. */
export function severityStyle(s: Severity): (text: string) => string {
  if (s === 'critical') return (t) => bold(red(t));
  if (s === 'high') return red;
  if (s === 'medium') return yellow;
  return dim;
}
