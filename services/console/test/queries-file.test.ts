/**
 * The saved queries file as shipped: it loads, and every label, relationship type and property
 * its Cypher names is one the graph has (shared graph-schema.ts), so a renamed property fails
 * here rather than leaving a query that silently finds nothing. And the loader's refusals.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LABELS, REL_TYPES, schemaPropertyNames } from '@cratewatch/shared';
import { ParamError, parseSavedQueries, savedParams } from '../src/index.js';

const FILE = join(__dirname, '../queries.toml');
const text = readFileSync(FILE, 'utf8');

describe('queries.toml', () => {
  const queries = parseSavedQueries(text, FILE);

  it('names only labels, relationship types and properties the graph has', () => {
    const props = schemaPropertyNames();
    for (const q of queries) {
      const cypher = q.cypher.replace(/'[^']*'/g, "''");
      const aliases = new Set([...cypher.matchAll(/\bAS (\w+)/g)].map((m) => m[1]!));
      for (const [, l] of cypher.matchAll(/\(\w*:(\w+)/g)) expect(Object.keys(LABELS), `${q.name}: label ${l}`).toContain(l);
      for (const [, r] of cypher.matchAll(/\[\w*:(\w+)/g)) expect(Object.keys(REL_TYPES), `${q.name}: relationship ${r}`).toContain(r);
      for (const [, p] of cypher.matchAll(/\b[a-z]\w*\.(\w+)/g)) expect(props.has(p!), `${q.name}: property ${p}`).toBe(true);
      for (const [, p] of cypher.matchAll(/\{(\w+):/g)) expect(props.has(p!) || aliases.has(p!), `${q.name}: property ${p}`).toBe(true);
    }
  });

  it('types parameters: defaults, bounds, patterns, unknown names', () => {
    const q = queries.find((x) => x.name === 'single-owner-widely-locked')!;
    expect(savedParams(q, {})).toEqual({ more_than: 5 });
    expect(savedParams(q, { more_than: '12' })).toEqual({ more_than: 12 });
    expect(() => savedParams(q, { more_than: '1.5' })).toThrow(ParamError);
    expect(() => savedParams(q, { more_than: '100001' })).toThrow(/at most 100000/);
    const y = queries.find((x) => x.name === 'yanked-locked')!;
    expect(() => savedParams(y, { crate: "x' OR 1=1" })).toThrow(/does not match/);
    expect(() => savedParams(y, { crates: 'serde' })).toThrow(/has no parameter crates/);
  });

  it('refuses a query that does not keep to the scope, naming it', () => {
    const bad = '[[query]]\nname = "all"\ntitle = "t"\ndescription = ""\ncypher = "MATCH (w:Workspace) RETURN w.id"\n';
    expect(() => parseSavedQueries(bad, 'q.toml')).toThrow(/q\.toml.*query\[0\] \(all\)\.cypher.*\$org/);
    expect(() => parseSavedQueries('[[query]]\nname = "x"\n', 'q.toml')).toThrow(/q\.toml/);
  });
});
