/**
 * Every error class shared exports says its own name (`err.name`), so a log line, a DLQ record or
 * a CLI message shows which refusal it was rather than a bare "Error".
 */
import { describe, expect, it } from 'vitest';
import * as shared from '../src/index.js';

/** Constructor arguments for classes whose constructor needs more than (file, detail). */
const ARGS: Record<string, unknown[]> = {
  EventValidationError: ['some.topic', ['field: bad']],
  LockedVersionError: ['Cargo.lock', 'foo', 'x', 3, 'package[0].version'],
};

type ErrorClass = new (...args: unknown[]) => Error;
const errorClasses: [string, ErrorClass][] = Object.entries(shared as Record<string, unknown>).flatMap(([name, v]) =>
  typeof v === 'function' && v.prototype instanceof Error ? [[name, v as ErrorClass] as [string, ErrorClass]] : [],
);

describe('error classes exported by shared', () => {
  it('are found (the test checks something)', () => {
    expect(errorClasses.map(([n]) => n)).toEqual(
      expect.arrayContaining(['FormatError', 'EventValidationError', 'RequirementError', 'LockedVersionError']),
    );
  });

  it.each(errorClasses)('%s has its own name', (exported, C) => {
    const err = new C(...(ARGS[exported] ?? ['file', 'detail']));
    expect(err.name).toBe(C.name);
    expect(err.name).toBe(exported);
    expect(String(err)).toMatch(new RegExp(`^${exported}: `));
  });
});
