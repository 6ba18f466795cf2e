/** The scorer's environment numbers: defaults, and a bad value refused naming the variable. */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SCORER_FETCH_BYTES,
  DEFAULT_SCORER_PARTITIONS_AT_ONCE,
  coverageTimingFromEnv,
  fetchBytesFromEnv,
  partitionsAtOnceFromEnv,
  resolutionsKeptFromEnv,
} from '../src/main.js';

describe('scorer environment', () => {
  it("SCORER_FETCH_BYTES: 1 MiB (kafkajs' default) by default, a whole number of bytes from 1024, else refused by name", () => {
    expect(fetchBytesFromEnv({})).toBe(DEFAULT_SCORER_FETCH_BYTES);
    expect(DEFAULT_SCORER_FETCH_BYTES).toBe(1_048_576);
    expect(fetchBytesFromEnv({ SCORER_FETCH_BYTES: ' 65536 ' })).toBe(65_536);
    for (const bad of ['64k', '-1', '512', '1.5e6'])
      expect(() => fetchBytesFromEnv({ SCORER_FETCH_BYTES: bad })).toThrow(/^SCORER_FETCH_BYTES: /);
  });

  it('SCORER_PARTITIONS_AT_ONCE: 3 by default, a whole number from 1, else refused by name', () => {
    expect(partitionsAtOnceFromEnv({})).toBe(DEFAULT_SCORER_PARTITIONS_AT_ONCE);
    expect(DEFAULT_SCORER_PARTITIONS_AT_ONCE).toBe(3);
    expect(partitionsAtOnceFromEnv({ SCORER_PARTITIONS_AT_ONCE: '1' })).toBe(1);
    for (const bad of ['0', 'two', '-3'])
      expect(() => partitionsAtOnceFromEnv({ SCORER_PARTITIONS_AT_ONCE: bad })).toThrow(/^SCORER_PARTITIONS_AT_ONCE: /);
  });

  it('coverage timing and kept resolutions: whole numbers or refused by name', () => {
    expect(coverageTimingFromEnv({ SCORER_COVERAGE_SETTLE_MS: '0', SCORER_COVERAGE_MAX_DELAY_MS: '100' })).toEqual({
      settleMs: 0,
      maxDelayMs: 100,
    });
    expect(() => coverageTimingFromEnv({ SCORER_COVERAGE_SETTLE_MS: '2s' })).toThrow(/^SCORER_COVERAGE_SETTLE_MS: /);
    expect(resolutionsKeptFromEnv({ SCORER_RESOLUTIONS_KEPT: '0' })).toBe(0);
    expect(() => resolutionsKeptFromEnv({ SCORER_RESOLUTIONS_KEPT: 'all' })).toThrow(/^SCORER_RESOLUTIONS_KEPT: /);
  });
});
