/**
 * Environment variables read as typed, validated values, with one error shape for every service:
 * `NAME must be <what it must be>, got "<the value>"` (an `EnvError` carrying the name). A secret's
 * value is never in an error, and a `Secret` prints as `[secret]` wherever it ends up (a log field,
 * JSON, a template string), so only `reveal()` hands the value to the code that sends it.
 *
 * Unset and empty (after trimming) mean the same: the fallback, or `undefined` without one. Why a
 * helper of our own rather than a library: docs/adr/0017-env-config.md.
 */
import { inspect } from 'node:util';

export type Env = NodeJS.ProcessEnv;

/** A bad value: names the variable and what it must be; the value too, unless it is a secret. */
export class EnvError extends Error {
  constructor(
    readonly variable: string,
    readonly expected: string,
    value: string | undefined,
  ) {
    super(`${variable} must be ${expected}${value === undefined ? '' : `, got ${JSON.stringify(value)}`}`);
    this.name = 'EnvError';
  }
}

/** A credential read from the environment. Printing it in any way shows `[secret]`. */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  /** The value, for the one place that sends it (a header, a signature key). */
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '[secret]';
  }
  toJSON(): string {
    return '[secret]';
  }
  [inspect.custom](): string {
    return '[secret]';
  }
}

export interface IntOptions {
  min?: number;
  max?: number;
  /** Said after "a whole number" in the error (`of ms`, `of workspaces`). */
  unit?: string;
  /** The number the word `off` (any case) stands for; without it, `off` is refused. */
  off?: number;
}

type WithFallback<T, O> = O & { fallback: T };

/** The trimmed value, or undefined when the variable is unset or blank. */
export function envString(env: Env, name: string): string | undefined {
  const raw = env[name]?.trim();
  return raw ? raw : undefined;
}

function range(o: { min?: number; max?: number; unit?: string }): string {
  const unit = o.unit ? ` ${o.unit}` : '';
  if (o.min !== undefined && o.max !== undefined) return `a whole number${unit} from ${o.min} to ${o.max}`;
  if (o.min === 1) return `a positive whole number${unit}`;
  if (o.min !== undefined) return `a whole number${unit} ≥ ${o.min}`;
  if (o.max !== undefined) return `a whole number${unit} ≤ ${o.max}`;
  return `a whole number${unit}`;
}

/** Digits only (no sign, fraction or exponent), a safe integer within min..max. */
function whole(raw: string, o: { min?: number; max?: number }): number | undefined {
  const n = Number(raw);
  const inRange = (o.min === undefined || n >= o.min) && (o.max === undefined || n <= o.max);
  return /^\d+$/.test(raw) && Number.isSafeInteger(n) && inRange ? n : undefined;
}

/** A whole number (digits only: no sign, fraction or exponent) within `min`..`max`. */
export function envInt(env: Env, name: string, o: WithFallback<number, IntOptions>): number;
export function envInt(env: Env, name: string, o?: IntOptions): number | undefined;
export function envInt(env: Env, name: string, o: IntOptions & { fallback?: number } = {}): number | undefined {
  const raw = envString(env, name);
  if (raw === undefined) return o.fallback;
  if (o.off !== undefined && raw.toLowerCase() === 'off') return o.off;
  const n = whole(raw, o);
  if (n === undefined) throw new EnvError(name, o.off === undefined ? range(o) : `${range(o)} or off`, raw);
  return n;
}

export interface DurationOptions {
  /** The unit the variable is written in (its name says it: `_MS`, `_S`). */
  unit: 'ms' | 's';
  min?: number;
  max?: number;
  /** Accept `off` (any case), returned as `'off'`. */
  off?: boolean;
}

/**
 * A duration written as a whole number in the variable's unit, returned in milliseconds; `min` and
 * `max` are in the variable's unit. With `off`, the word `off` disables what it times.
 */
export function envDuration(env: Env, name: string, o: WithFallback<number, DurationOptions> & { off: true }): number | 'off';
export function envDuration(env: Env, name: string, o: WithFallback<number, DurationOptions>): number;
export function envDuration(env: Env, name: string, o: DurationOptions): number | undefined;
export function envDuration(env: Env, name: string, o: DurationOptions & { fallback?: number }): number | 'off' | undefined {
  const raw = envString(env, name);
  if (raw === undefined) return o.fallback;
  if (o.off && raw.toLowerCase() === 'off') return 'off';
  const n = whole(raw, o);
  if (n === undefined) {
    const expected = range({ ...o, unit: `of ${o.unit}` });
    throw new EnvError(name, o.off ? `${expected} or off` : expected, raw);
  }
  return o.unit === 's' ? n * 1000 : n;
}

const TRUE = ['1', 'true', 'yes', 'on'];
const FALSE = ['0', 'false', 'no', 'off'];

/** `1/true/yes/on` or `0/false/no/off`, any case. */
export function envBool(env: Env, name: string, fallback: boolean): boolean {
  const raw = envString(env, name);
  if (raw === undefined) return fallback;
  const v = raw.toLowerCase();
  if (TRUE.includes(v)) return true;
  if (FALSE.includes(v)) return false;
  throw new EnvError(name, `one of ${[...TRUE, ...FALSE].join(', ')}`, raw);
}

/** One of `values` (exact case). */
export function envEnum<T extends string>(env: Env, name: string, values: readonly T[], fallback: T): T;
export function envEnum<T extends string>(env: Env, name: string, values: readonly T[]): T | undefined;
export function envEnum<T extends string>(env: Env, name: string, values: readonly T[], fallback?: T): T | undefined {
  const raw = envString(env, name);
  if (raw === undefined) return fallback;
  if (!(values as readonly string[]).includes(raw)) throw new EnvError(name, `one of ${values.join(', ')}`, raw);
  return raw as T;
}

/** A comma-separated list, each item trimmed, empty items dropped; unset: `[]`. */
export function envList(env: Env, name: string): string[] {
  return (envString(env, name) ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** A value that must be set: the error says what it is for (`hint`), e.g. where to find one. */
export function envRequired(env: Env, name: string, hint: string): string {
  const raw = envString(env, name);
  if (raw === undefined) throw new EnvError(name, `set (${hint})`, undefined);
  return raw;
}

/**
 * A credential, at least `minLength` characters; errors never carry its value. Not trimmed: a
 * signing key is used byte for byte. Blank counts as unset.
 */
export function envSecret(env: Env, name: string, o: { minLength?: number } = {}): Secret | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  if (o.minLength !== undefined && raw.length < o.minLength)
    throw new EnvError(name, `at least ${o.minLength} characters (value not shown)`, undefined);
  return new Secret(raw);
}
