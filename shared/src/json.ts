/** JSON text read the way every reader in shared/ reports it: a FormatError naming the file and, when known, the line. */
import { FormatError } from './errors.js';

export function parseJsonText(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const msg = (err as Error).message;
    const pos = /position (\d+)/.exec(msg);
    // V8 names the position of a bad character; text cut short ends at the last line.
    const line = pos
      ? text.slice(0, Number(pos[1])).split('\n').length
      : /end of JSON input/.test(msg)
        ? text.split('\n').length
        : undefined;
    throw new FormatError(file, `not JSON: ${msg}`, line !== undefined ? { line } : undefined);
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
