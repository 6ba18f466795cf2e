/**
 * `gate --format github`: GitHub Actions workflow commands, one `::error` (or `::warning` for an
 * informational advisory) per finding, which the runner shows as annotations on the Cargo.lock
 * line in the pull request: `::error file=Cargo.lock,line=42,title=unvetted-crate%3A foo@1.1.0::…`.
 */
import { existsSync, realpathSync } from 'node:fs';
import path from 'node:path';
import type { Finding } from './gate-findings.js';

/** A command's message: `%`, CR and LF escaped, as the runner (actions/toolkit `escapeData`) reads them back. */
export const escapeData = (s: string): string => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');

/** A property value (`file=`, `title=`): also `:` and `,`, which end a value there. */
export const escapeProperty = (s: string): string => escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');

/** One workflow command per finding; `root` is what file paths are made relative to (the repository root). */
export function workflowCommands(findings: Finding[], root: string): string[] {
  return findings.map((f) => {
    const abs = existsSync(f.file) ? realpathSync(f.file) : path.resolve(f.file);
    const rel = path.relative(root, abs);
    const file = (rel.startsWith('..') || path.isAbsolute(rel) ? abs : rel).split(path.sep).join('/');
    const props = `file=${escapeProperty(file)},line=${f.line},title=${escapeProperty(f.title)}`;
    return `::${f.level === 'warning' ? 'warning' : 'error'} ${props}::${escapeData(f.message)}`;
  });
}
