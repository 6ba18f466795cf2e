import { describe, expect, it } from 'vitest';
import { EventValidationError } from '@cratewatch/shared';
import { BadMessageError, classifyFailure, describeError } from '../src/failure.js';

/** An error shaped like the libraries' own (their classes are internal; name/code are what they set). */
const like = (name: string, fields: Record<string, unknown> = {}) => Object.assign(new Error(name), { name, ...fields });

describe('classifyFailure', () => {
  it('calls schema and handler refusals bad input', () => {
    expect(classifyFailure(new EventValidationError('t', ['v: required']))).toBe('bad-input');
    expect(classifyFailure(new BadMessageError('key "x" is not the advisory id'))).toBe('bad-input');
  });

  it('calls connection, timeout and leader errors of Kafka unavailable, also when wrapped', () => {
    expect(classifyFailure(like('KafkaJSConnectionError'))).toBe('unavailable');
    expect(classifyFailure(like('KafkaJSRequestTimeoutError'))).toBe('unavailable');
    expect(classifyFailure(like('KafkaJSProtocolError', { retriable: true, type: 'NOT_LEADER_OR_FOLLOWER' }))).toBe('unavailable');
    const wrapped = like('KafkaJSNumberOfRetriesExceeded', { originalError: like('KafkaJSConnectionError') });
    expect(classifyFailure(wrapped)).toBe('unavailable');
  });

  it('calls a message Kafka will never take a failure, not an outage', () => {
    expect(classifyFailure(like('KafkaJSProtocolError', { retriable: false, type: 'MESSAGE_TOO_LARGE' }))).toBe('failed');
  });

  it('calls Neo4j down or transient unavailable, and a Cypher error a failure', () => {
    expect(classifyFailure(like('Neo4jError', { code: 'ServiceUnavailable' }))).toBe('unavailable');
    expect(classifyFailure(like('Neo4jError', { code: 'SessionExpired' }))).toBe('unavailable');
    expect(classifyFailure(like('Neo4jError', { code: 'Neo.TransientError.Transaction.DeadlockDetected' }))).toBe('unavailable');
    expect(classifyFailure(like('Neo4jError', { code: 'Neo.ClientError.Statement.SyntaxError' }))).toBe('failed');
  });

  it('calls socket errors unavailable through a cause', () => {
    expect(classifyFailure(new Error('fetch failed', { cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }) }))).toBe(
      'unavailable',
    );
  });

  it('calls anything else a failure', () => {
    expect(classifyFailure(new Error('Invalid Version: 0.1.5@git:1f3c'))).toBe('failed');
    expect(classifyFailure(new TypeError("Cannot read properties of undefined (reading 'id')"))).toBe('failed');
    expect(classifyFailure('a string')).toBe('failed');
  });

  it('says the class of what failed once', () => {
    expect(describeError(new TypeError('x is undefined'))).toBe('TypeError: x is undefined');
    expect(describeError(new Error('Error: already named'))).toBe('Error: already named');
  });
});
