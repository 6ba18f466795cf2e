import { describe, expect, it } from 'vitest';
import {
  ALLOWED_PROCEDURES,
  QueryLimitError,
  judgeQueryPlan,
  precheckQueryText,
  procedureName,
  queryLimits,
  type PlanOperator,
} from '../src/index.js';

// Plans in the shape EXPLAIN returns on Neo4j 5.26 (recorded from infra/local; sandbox/test runs the real ones).
const op = (operatorType: string, Details?: string, ...children: PlanOperator[]): PlanOperator => ({
  operatorType,
  arguments: Details === undefined ? {} : { Details },
  children,
});
const results = (...children: PlanOperator[]) => op('ProduceResults@neo4j', '', ...children);

describe('judgeQueryPlan', () => {
  it('allows a plan that only reads, and the allow-listed procedures', () => {
    expect(judgeQueryPlan(results(op('Limit@neo4j', '1', op('AllNodesScan@neo4j', 'n'))), 'r')).toEqual({ allowed: true });
    expect(judgeQueryPlan(results(op('ProcedureCall@neo4j', 'db.labels() :: (label :: STRING)')), 'r')).toEqual({ allowed: true });
    expect(ALLOWED_PROCEDURES).not.toContain('dbms.listConfig');
  });

  it('refuses each family, deep in the tree, naming the operator', () => {
    const deep = (o: PlanOperator) => results(op('Apply@neo4j', '', op('Argument@neo4j', ''), op('Filter@neo4j', 'x', o)));
    expect(judgeQueryPlan(deep(op('LoadCSV@neo4j', 'l')), 'r')).toMatchObject({ allowed: false, family: 'load-csv' });
    expect(judgeQueryPlan(deep(op('ProcedureCall@neo4j', '`dbms`.`listConfig`() :: (name :: STRING)')), 's')).toEqual({
      allowed: false,
      family: 'procedure',
      reason: `procedure dbms.listConfig is not allowed: only ${ALLOWED_PROCEDURES.join(', ')}`,
    });
    expect(judgeQueryPlan(deep(op('TerminateTransactions@neo4j', 'defaultColumns')), 'r')).toMatchObject({
      family: 'administration',
      reason: expect.stringContaining('TerminateTransactions'),
    });
    expect(judgeQueryPlan(op('AdministrationCommand@system'), 's')).toMatchObject({
      family: 'administration',
      reason: expect.stringContaining('system database'),
    });
    expect(judgeQueryPlan(deep(op('SetProperty@neo4j', 'n.a = 1')), 'w')).toMatchObject({
      family: 'write',
      reason: "writes are not allowed (SetProperty): analysts' queries are read-only",
    });
  });

  it('refuses a plan the server does not class as read-only, and one on another database', () => {
    expect(judgeQueryPlan(results(op('SomeFutureWriter@neo4j')), 'rw')).toMatchObject({
      family: 'write',
      reason: expect.stringContaining('read-write'),
    });
    expect(judgeQueryPlan(results(op('AllNodesScan@other', 'n')), 'r', 'neo4j')).toMatchObject({ family: 'database' });
  });

  it('reads the procedure name from Details', () => {
    expect(procedureName(op('ProcedureCall@neo4j', 'db.schema.visualization() :: (nodes :: LIST<NODE>)'))).toBe('db.schema.visualization');
  });
});

describe('precheckQueryText (extra layer)', () => {
  it('refuses the obvious spellings, lets plain reads through', () => {
    expect(precheckQueryText("load\n  csv from 'file:///etc/passwd' as l return l")).toMatchObject({ family: 'load-csv' });
    expect(precheckQueryText('CALL dbms.listConfig()')).toMatchObject({
      family: 'procedure',
      reason: expect.stringMatching(/^dbms\.\* procedures/),
    });
    expect(precheckQueryText('terminate transactions $t')).toMatchObject({ family: 'administration' });
    expect(precheckQueryText('USE system SHOW USERS')).toMatchObject({ family: 'administration' });
    expect(precheckQueryText('PROFILE MATCH (n) RETURN n')).toMatchObject({ allowed: false });
    expect(precheckQueryText('MATCH (w:Workspace {id: $id}) RETURN w')).toEqual({ allowed: true });
  });
});

describe('queryLimits', () => {
  it('flag over variable over default, within the ceilings', () => {
    expect(queryLimits({})).toEqual({ timeoutMs: 30_000, maxRows: 1000 });
    expect(queryLimits({ CRATEWATCH_QUERY_TIMEOUT_S: '5', CRATEWATCH_QUERY_MAX_ROWS: '10' })).toEqual({ timeoutMs: 5000, maxRows: 10 });
    expect(queryLimits({ CRATEWATCH_QUERY_TIMEOUT_S: '5' }, { timeout: '7', maxRows: '100000' })).toEqual({
      timeoutMs: 7000,
      maxRows: 100_000,
    });
    expect(() => queryLimits({}, { timeout: '121' })).toThrow(new QueryLimitError('--timeout (seconds) is 121, above the ceiling of 120'));
    expect(() => queryLimits({ CRATEWATCH_QUERY_MAX_ROWS: '1.5' })).toThrow(
      'CRATEWATCH_QUERY_MAX_ROWS must be a whole number from 1 to 100000, got "1.5"',
    );
  });
});
