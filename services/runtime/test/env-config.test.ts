/**
 * The env-config helper: each kind of value read, its fallback, and the one error shape — the
 * variable and the bad value, except for a secret, whose value shows nowhere (error, JSON, inspect).
 */
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { EnvError, Secret, envBool, envDuration, envEnum, envInt, envList, envRequired, envSecret, envString } from '../src/env-config.js';
import { readyLimitsFromEnv } from '../src/readiness.js';
import { retryPolicyFromEnv, groupSession } from '../src/consumer.js';
import { brokersFromEnv } from '../src/kafka.js';

const thrown = (f: () => unknown): EnvError => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(EnvError);
    return e as EnvError;
  }
  throw new Error('expected an EnvError');
};

describe('envInt', () => {
  it('reads a whole number; unset or blank is the fallback (or undefined)', () => {
    expect(envInt({ N: ' 42 ' }, 'N')).toBe(42);
    expect(envInt({}, 'N', { fallback: 7 })).toBe(7);
    expect(envInt({ N: '  ' }, 'N', { fallback: 7 })).toBe(7);
    expect(envInt({}, 'N')).toBeUndefined();
  });

  it('refuses signs, fractions, exponents and values out of range, naming the variable and the value', () => {
    for (const bad of ['-1', '1.5', '1e3', 'ten', '0x10']) {
      const e = thrown(() => envInt({ N: bad }, 'N', { min: 0 }));
      expect(e.variable).toBe('N');
      expect(e.message).toBe(`N must be a whole number ≥ 0, got ${JSON.stringify(bad)}`);
    }
    expect(thrown(() => envInt({ N: '0' }, 'N', { min: 1 })).message).toBe('N must be a positive whole number, got "0"');
    expect(thrown(() => envInt({ N: '11' }, 'N', { min: 1, max: 10 })).message).toBe('N must be a whole number from 1 to 10, got "11"');
    expect(thrown(() => envInt({ N: '99999999999999999999' }, 'N')).message).toMatch(/^N must be a whole number, got/);
  });

  it('`off` stands for the number given, and only when one is given', () => {
    expect(envInt({ N: 'OFF' }, 'N', { off: 0, fallback: 5 })).toBe(0);
    expect(thrown(() => envInt({ N: 'off' }, 'N')).message).toBe('N must be a whole number, got "off"');
    expect(thrown(() => envInt({ N: 'x' }, 'N', { off: 0 })).message).toBe('N must be a whole number or off, got "x"');
  });
});

describe('envDuration', () => {
  it('is written in the unit its name says and returned in ms', () => {
    expect(envDuration({ T_MS: '250' }, 'T_MS', { unit: 'ms' })).toBe(250);
    expect(envDuration({ T_S: '30' }, 'T_S', { unit: 's' })).toBe(30_000);
    expect(envDuration({}, 'T_S', { unit: 's', fallback: 5000 })).toBe(5000);
    expect(envDuration({ T_MS: ' Off ' }, 'T_MS', { unit: 'ms', off: true, fallback: 1 })).toBe('off');
  });

  it('refuses a unit suffix or a value under min, in the same error shape', () => {
    expect(thrown(() => envDuration({ T_MS: '5m' }, 'T_MS', { unit: 'ms', min: 1 })).message).toBe(
      'T_MS must be a positive whole number of ms, got "5m"',
    );
    expect(thrown(() => envDuration({ T_MS: '0' }, 'T_MS', { unit: 'ms', min: 1, off: true, fallback: 1 })).message).toBe(
      'T_MS must be a positive whole number of ms or off, got "0"',
    );
  });
});

describe('envBool, envEnum, envList, envString, envRequired', () => {
  it('reads each kind and refuses what is not one of its values', () => {
    expect([envBool({ B: 'YES' }, 'B', false), envBool({ B: '0' }, 'B', true), envBool({}, 'B', true)]).toEqual([true, false, true]);
    expect(thrown(() => envBool({ B: 'maybe' }, 'B', false)).message).toBe(
      'B must be one of 1, true, yes, on, 0, false, no, off, got "maybe"',
    );
    expect(envEnum({ L: 'warn' }, 'L', ['info', 'warn'] as const, 'info')).toBe('warn');
    expect(envEnum({}, 'L', ['info', 'warn'] as const)).toBeUndefined();
    expect(thrown(() => envEnum({ L: 'loud' }, 'L', ['info', 'warn'])).message).toBe('L must be one of info, warn, got "loud"');
    expect(envList({ X: ' a, ,b ,' }, 'X')).toEqual(['a', 'b']);
    expect(envList({}, 'X')).toEqual([]);
    expect(envString({ S: '  v ' }, 'S')).toBe('v');
    expect(envRequired({ R: 'x' }, 'R', 'why')).toBe('x');
    expect(thrown(() => envRequired({}, 'R', 'e.g. R=1')).message).toBe('R must be set (e.g. R=1)');
  });
});

describe('envSecret', () => {
  const value = 'hunter2-hunter2-hunter2';

  it('hands the value only to reveal(), byte for byte', () => {
    const s = envSecret({ TOKEN: ` ${value}` }, 'TOKEN')!;
    expect(s.reveal()).toBe(` ${value}`);
    expect(envSecret({ TOKEN: '   ' }, 'TOKEN')).toBeUndefined();
  });

  it('never prints: not in String(), JSON, inspect, nor in the error for a short one', () => {
    const s = envSecret({ TOKEN: value }, 'TOKEN')!;
    expect(s).toBeInstanceOf(Secret);
    const shown = [String(s), `${s}`, JSON.stringify({ s }), inspect({ s })].join(' ');
    expect(shown).not.toContain(value);
    expect(shown).toContain('[secret]');
    const e = thrown(() => envSecret({ TOKEN: 'short-one' }, 'TOKEN', { minLength: 16 }));
    expect(e.message).toBe('TOKEN must be at least 16 characters (value not shown)');
    expect(e.message).not.toContain('short-one');
  });
});

describe('the runtime settings read through it', () => {
  it('ready limits, retry policy, group session and brokers: defaults and the error shape', () => {
    expect(readyLimitsFromEnv({})).toEqual({ maxRetrySeconds: 30, maxLag: 10_000 });
    expect(readyLimitsFromEnv({ CRATEWATCH_READY_MAX_RETRY_S: '5', CRATEWATCH_READY_MAX_LAG: '0' })).toEqual({
      maxRetrySeconds: 5,
      maxLag: 0,
    });
    expect(thrown(() => readyLimitsFromEnv({ CRATEWATCH_READY_MAX_LAG: 'lots' })).variable).toBe('CRATEWATCH_READY_MAX_LAG');
    expect(retryPolicyFromEnv({ CRATEWATCH_MAX_ATTEMPTS: '5' })).toEqual({ attempts: 5, baseMs: 200, maxMs: 30_000 });
    expect(thrown(() => retryPolicyFromEnv({ CRATEWATCH_MAX_ATTEMPTS: '0' })).message).toBe(
      'CRATEWATCH_MAX_ATTEMPTS must be a positive whole number, got "0"',
    );
    expect(groupSession({ KAFKA_SESSION_TIMEOUT_MS: '10000' })).toEqual({ sessionTimeout: 10_000, heartbeatInterval: 1000 });
    expect(brokersFromEnv({ KAFKA_BROKERS: 'a:1, b:2' })).toEqual(['a:1', 'b:2']);
    expect(thrown(() => brokersFromEnv({})).variable).toBe('KAFKA_BROKERS');
  });
});
