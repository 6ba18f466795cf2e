/**
 * `cratewatch query` as a process, through the query sandbox, against the run's real Neo4j: each
 * refused family exits 2 with one line naming what was refused and why; the timeout and the row
 * limit; the limits' flags and variables within their ceilings.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bin, ensureBuilt } from './helpers.js';

const query = (args: string[], env: Record<string, string> = {}) => {
  const r = spawnSync(process.execPath, [bin, 'query', ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

/** The one stderr line of a refused query. */
function refused(args: string[]): string {
  const r = query(args);
  expect(r.code, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

describe('cratewatch query through the sandbox (real Neo4j)', () => {
  // A loopback HTTP server in a child process (spawnSync blocks this one): it prints each request it gets.
  let loopback: ChildProcess;
  let port = 0;
  let seen = '';
  beforeAll(async () => {
    ensureBuilt();
    loopback = spawn(process.execPath, [
      '-e',
      "const s=require('node:http').createServer((q,r)=>{console.log('REQUEST '+q.url);r.end('a\\n')});s.listen(0,'127.0.0.1',()=>console.log('PORT '+s.address().port))",
    ]);
    loopback.stdout!.setEncoding('utf8').on('data', (d: string) => (seen += d));
    while (!/PORT (\d+)/.test(seen)) await new Promise((r) => setTimeout(r, 50));
    port = Number(/PORT (\d+)/.exec(seen)![1]);
  });
  afterAll(() => {
    loopback?.kill();
  });

  it('refuses LOAD CSV of file:///etc/passwd, also past the text pre-check', () => {
    expect(refused(['cypher', "LOAD CSV FROM 'file:///etc/passwd' AS l RETURN l"])).toBe(
      'cratewatch query: query refused: LOAD CSV is not allowed: it reads files and URLs from the database server',
    );
    expect(refused(['cypher', "LOAD /* x */ CSV FROM 'file:///proc/self/environ' AS l RETURN l"])).toContain('LOAD CSV is not allowed');
  });

  it('refuses LOAD CSV of a loopback http:// URL, and the loopback server receives no request', async () => {
    expect(refused(['cypher', `LOAD CSV FROM 'http://127.0.0.1:${port}/x.csv' AS l RETURN l`])).toContain('LOAD CSV is not allowed');
    expect(refused(['cypher', 'LOAD/**/CSV FROM $u AS l RETURN l', '--param', `u=http://127.0.0.1:${port}/y.csv`])).toContain(
      'LOAD CSV is not allowed',
    );
    // The loopback server still answers (a request of our own), and had seen none before it.
    await fetch(`http://127.0.0.1:${port}/probe`).then((r) => r.text());
    while (!seen.includes('REQUEST /probe')) await new Promise((r) => setTimeout(r, 50));
    expect(seen.match(/REQUEST \S+/g)).toEqual(['REQUEST /probe']);
  });

  it('refuses administration commands', () => {
    expect(refused(['cypher', "TERMINATE TRANSACTIONS 'neo4j-transaction-1'"])).toBe(
      "cratewatch query: query refused: TERMINATE TRANSACTIONS is not allowed: analysts' queries read the graph only",
    );
    expect(refused(['cypher', 'TERMINATE/**/TRANSACTIONS $t', '--param', 't=neo4j-transaction-1'])).toContain(
      'administration command (TerminateTransactions)',
    );
    expect(refused(['cypher', 'SHOW USERS'])).toContain('administration command (AdministrationCommand on the system database)');
    expect(refused(['cypher', 'SHOW TRANSACTIONS'])).toContain('administration command (ShowTransactions)');
  });

  it('refuses a procedure outside the allow-list; runs one inside it', () => {
    expect(refused(['cypher', 'CALL `dbms`.`listConfig`()'])).toMatch(
      /^cratewatch query: query refused: procedure dbms\.listConfig is not allowed: only db\.labels, db\.relationshipTypes, /,
    );
    const ok = query(['cypher', 'CALL db.relationshipTypes() YIELD relationshipType RETURN count(*) AS n', '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toHaveLength(1);
  });

  it('refuses a write from its plan', () => {
    expect(refused(['cypher', "MERGE (:Workspace {id: 'sandbox-should-not-exist'})"])).toMatch(
      /^cratewatch query: query refused: writes are not allowed \(Merge\)/,
    );
  });

  it('stops a query past its timeout with one line', () => {
    const line = refused(['cypher', 'UNWIND range(1, 10000000000) AS x WITH x WHERE x % 7 = 3 RETURN count(x)', '--timeout', '1']);
    expect(line).toBe(
      'cratewatch query: query stopped: it ran past its 1 s timeout (--timeout SECONDS or CRATEWATCH_QUERY_TIMEOUT_S raises it, at most 120)',
    );
  });

  it('cuts a result past the row limit and says so on stderr (flag, then variable)', () => {
    const r = query(['cypher', 'UNWIND range(1, 5000) AS i RETURN i', '--json', '--max-rows', '3']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([{ i: 1 }, { i: 2 }, { i: 3 }]);
    expect(r.stderr).toBe(
      'cratewatch query: truncated: showing the first 3 rows, the query has more (--max-rows N or CRATEWATCH_QUERY_MAX_ROWS raises the limit, at most 100000)\n',
    );
    const dflt = query(['cypher', 'UNWIND range(1, 5000) AS i RETURN i', '--json']);
    expect(JSON.parse(dflt.stdout)).toHaveLength(1000);
    const env = query(['cypher', 'UNWIND range(1, 5000) AS i RETURN i'], { CRATEWATCH_QUERY_MAX_ROWS: '2' });
    expect(env.stdout).toBe('{"i":1}\n{"i":2}\n');
    expect(env.stderr).toContain('truncated: showing the first 2 rows');
    const fits = query(['cypher', 'UNWIND range(1, 2) AS i RETURN i', '--max-rows', '2']);
    expect([fits.code, fits.stderr]).toEqual([0, '']);
  });

  it('refuses limits above their ceiling or not numbers, naming the flag or variable', () => {
    expect(refused(['cypher', 'RETURN 1', '--timeout', '600'])).toBe(
      'cratewatch query: --timeout (seconds) is 600, above the ceiling of 120',
    );
    expect(refused(['cypher', 'RETURN 1', '--max-rows', 'lots'])).toBe(
      'cratewatch query: --max-rows must be a whole number from 1 to 100000, got "lots"',
    );
    const r = query(['cypher', 'RETURN 1'], { CRATEWATCH_QUERY_TIMEOUT_S: '0' });
    expect([r.code, r.stderr]).toEqual([2, 'cratewatch query: CRATEWATCH_QUERY_TIMEOUT_S must be a whole number from 1 to 120, got "0"\n']);
  });
});
