/**
 * The query sandbox's API on the run's real Neo4j: each refused family (decided from the plan:
 * spellings the text pre-check misses are refused all the same), the timeout, the row limit, and
 * what analysts need still answers.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import neo4j, { type Driver } from 'neo4j-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { precheckQueryText } from '@cratewatch/shared';
import { QueryRefusedError, QueryTimeoutError, checkQuery, runSandboxed, type SandboxOptions } from '@cratewatch/sandbox';
import { neo4jAuth, neo4jUri, uniqueName } from '../../test/helpers.js';

const options: SandboxOptions = { limits: { timeoutMs: 30_000, maxRows: 1000 } };

describe('query sandbox (real Neo4j)', () => {
  let driver: Driver;
  let loopback: Server;
  let requests = 0;
  const label = uniqueName('sbx');
  beforeAll(async () => {
    driver = neo4j.driver(neo4jUri(), neo4jAuth(), { disableLosslessIntegers: true });
    loopback = createServer((_req, res) => {
      requests++;
      res.end('a,b\n');
    });
    await new Promise<void>((resolve) => loopback.listen(0, '127.0.0.1', resolve));
    await driver.executeQuery('UNWIND range(1, 3) AS i CREATE (:Workspace {id: $label + "-" + i, team: $label})', { label });
  });
  afterAll(async () => {
    await driver?.executeQuery('MATCH (w:Workspace) WHERE w.team = $label OR w.id = $label DETACH DELETE w', { label });
    await driver?.close();
    await new Promise((resolve) => loopback?.close(resolve));
  });

  /** The refusal of `cypher`: its family and one-line message. */
  async function refusal(cypher: string, params: Record<string, unknown> = {}): Promise<QueryRefusedError> {
    const err = await runSandboxed(driver, { cypher, params }, options).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err, cypher).toBeInstanceOf(QueryRefusedError);
    const e = err as QueryRefusedError;
    expect(e.message.split('\n')).toHaveLength(1);
    return e;
  }

  it('refuses LOAD CSV of a file URL, also spelled so the text pre-check misses it', async () => {
    expect((await refusal("LOAD CSV FROM 'file:///etc/passwd' AS l RETURN l")).family).toBe('load-csv');
    const sneaky = "LOAD /* hi */ CSV FROM 'file:///proc/self/environ' AS l RETURN l";
    expect(precheckQueryText(sneaky).allowed).toBe(true);
    const e = await refusal(sneaky);
    expect([e.family, e.message]).toEqual([
      'load-csv',
      'query refused: LOAD CSV is not allowed: it reads files and URLs from the database server',
    ]);
    expect((await refusal('CALL { LOAD/**/CSV FROM $u AS l RETURN l } RETURN count(*)', { u: 'file:///etc/passwd' })).family).toBe(
      'load-csv',
    );
  });

  it('refuses LOAD CSV of an http URL on loopback, and the loopback server is never asked', async () => {
    const { port } = loopback.address() as AddressInfo;
    expect((await refusal(`LOAD CSV FROM 'http://127.0.0.1:${port}/a.csv' AS l RETURN l`)).family).toBe('load-csv');
    expect((await refusal('LOAD/**/CSV WITH HEADERS FROM $u AS l RETURN l', { u: `http://127.0.0.1:${port}/b.csv` })).family).toBe(
      'load-csv',
    );
    expect(requests).toBe(0);
  });

  it('refuses administration commands: TERMINATE / SHOW TRANSACTIONS, SHOW USERS, CREATE USER, SHOW SETTINGS, USE system', async () => {
    const terminate = await refusal("TERMINATE TRANSACTIONS 'neo4j-transaction-1'");
    expect(terminate.family).toBe('administration');
    // Past the text pre-check (a comment between the words): the plan's TerminateTransactions decides.
    const e = await refusal("TERMINATE /**/ TRANSACTIONS 'neo4j-transaction-1'");
    expect(e.message).toBe(
      "query refused: administration command (TerminateTransactions) is not allowed: analysts' queries read the graph only",
    );
    expect((await refusal('SHOW TRANSACTIONS')).message).toContain('ShowTransactions');
    expect((await refusal('SHOW USERS')).message).toContain('AdministrationCommand on the system database');
    expect((await refusal("CREATE USER mallory SET PASSWORD 'secret-secret'")).family).toBe('administration');
    expect((await refusal('SHOW SETTINGS')).family).toBe('administration');
    expect((await refusal('USE system SHOW USERS')).family).toBe('administration');
  });

  it('refuses procedures outside the allow-list, also backticked; allows db.labels', async () => {
    expect((await refusal('CALL dbms.listConfig()')).family).toBe('procedure');
    const sneaky = 'CALL `dbms`.`listConfig`() YIELD name RETURN name';
    expect(precheckQueryText(sneaky).allowed).toBe(true);
    const e = await refusal(sneaky);
    expect(e.message).toMatch(/^query refused: procedure dbms\.listConfig is not allowed: only db\.labels, /);
    expect((await refusal('CALL { CALL `tx`.setMetaData({a: 1}) } RETURN 1 AS x')).family).toBe('procedure');
    expect((await refusal('CALL db.awaitIndexes()')).family).toBe('procedure');
    const labels = await runSandboxed(driver, { cypher: 'CALL db.labels() YIELD label RETURN label' }, options);
    expect(labels.rows.map((r) => r.label)).toContain('Workspace');
  });

  it('refuses writes from the plan (CREATE, MERGE, SET, DELETE, FOREACH, schema) and nothing is written', async () => {
    for (const cypher of [
      'CREATE (:Workspace {id: $id})',
      'MERGE (:Workspace {id: $id})',
      'MATCH (w:Workspace) WHERE w.team = $team SET w.team = $id',
      'MATCH (w:Workspace) WHERE w.team = $team DETACH DELETE w',
      'FOREACH (x IN [1] | CREATE (:Workspace {id: $id}))',
      'CREATE INDEX sbx_nope IF NOT EXISTS FOR (n:Workspace) ON (n.nope)',
    ]) {
      expect((await refusal(cypher, { id: label, team: label })).family, cypher).toBe('write');
    }
    const { records } = await driver.executeQuery(
      'MATCH (w:Workspace) WHERE w.team = $label OR w.id = $label RETURN w.id AS id, w.team AS team ORDER BY id',
      { label },
    );
    expect(records.map((r) => [r.get('id'), r.get('team')])).toEqual([1, 2, 3].map((i) => [`${label}-${i}`, label]));
  });

  it('refuses what the server cannot plan, with its reason on one line', async () => {
    const e = await refusal('MATCH (n RETURN n');
    expect(e.family).toBe('invalid');
    expect(e.message).toMatch(/^query refused: the server cannot plan it: /);
  });

  it('stops a query past its timeout with a QueryTimeoutError', async () => {
    // Hours of work for the server; the 1 s timeout ends it (how long it takes to end is not asserted).
    const err = await runSandboxed(
      driver,
      { cypher: 'UNWIND range(1, 10000000000) AS x WITH x WHERE x % 7 = 3 RETURN count(x) AS n' },
      { limits: { timeoutMs: 1000, maxRows: 10 } },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueryTimeoutError);
    expect((err as Error).message).toBe('query stopped: it ran past its 1 s timeout');
  });

  it('cuts a result past the row limit and says it was truncated; exactly the limit is not truncated', async () => {
    const many = await runSandboxed(
      driver,
      { cypher: 'UNWIND range(1, 100000) AS i RETURN i' },
      { limits: { timeoutMs: 30_000, maxRows: 25 } },
    );
    expect(many.truncated).toBe(true);
    expect(many.rows.map((r) => r.i)).toEqual(Array.from({ length: 25 }, (_, k) => k + 1));
    const exact = await runSandboxed(
      driver,
      { cypher: 'UNWIND range(1, 25) AS i RETURN i' },
      { limits: { timeoutMs: 30_000, maxRows: 25 } },
    );
    expect([exact.truncated, exact.rows.length]).toEqual([false, 25]);
  });

  it('answers read queries with parameters, and checkQuery alone runs nothing', async () => {
    const r = await runSandboxed(
      driver,
      { cypher: 'MATCH (w:Workspace) WHERE w.team = $team RETURN w.id AS id ORDER BY id', params: { team: label } },
      options,
    );
    expect(r).toEqual({ rows: [1, 2, 3].map((i) => ({ id: `${label}-${i}` })), truncated: false });
    await expect(checkQuery(driver, { cypher: 'MATCH (w:Workspace) RETURN count(w) AS n' }, options)).resolves.toBeUndefined();
  });
});
