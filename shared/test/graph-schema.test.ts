/**
 * The schema module against what the scorer really declares: every uniqueness constraint in the
 * scorer's SCHEMA is a NODE_KEYS entry (and back), and every label and relationship type the
 * scorer's Cypher names is in the module. Read from the scorer's source text, so a label the
 * scorer adds or renames fails here until the module follows.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LABELS, NODE_KEYS, NODE_PROPS, REL_ENDS, REL_PROPS, REL_TYPES, schemaPropertyNames } from '../src/graph-schema.js';

import { SCHEMA } from '../../services/scorer/src/graph/session.js';

// Every Cypher the scorer writes: its graph/ folder, one file per noun, and the deny findings' queries.
const scorerDir = resolve(__dirname, '../../services/scorer/src');
const graphTs = [...readdirSync(join(scorerDir, 'graph')).map((f) => join(scorerDir, 'graph', f)), join(scorerDir, 'deny-findings.ts')]
  .filter((f) => f.endsWith('.ts'))
  .map((f) => readFileSync(f, 'utf8'))
  .join('\n');

describe('graph schema', () => {
  it("has exactly the scorer's uniqueness constraints as node keys", () => {
    const constraints = [...SCHEMA.join('\n').matchAll(/FOR \(n:(\w+)\) REQUIRE n\.(\w+) IS UNIQUE/g)].map((m) => [m[1], m[2]]);
    expect(constraints.length).toBeGreaterThan(5);
    expect(Object.fromEntries(constraints)).toEqual(NODE_KEYS);
  });

  it('names every label and relationship type the scorer writes', () => {
    const labels = new Set([...graphTs.matchAll(/\(\w*:([A-Z]\w+)/g)].map((m) => m[1]!));
    const rels = new Set([...graphTs.matchAll(/\[\w*:([A-Z_]+)/g)].map((m) => m[1]!));
    expect([...labels].sort()).toEqual(Object.keys(LABELS).sort());
    expect([...rels].sort()).toEqual(Object.keys(REL_TYPES).sort());
  });

  it('maps each name to itself, and every relationship has its ends', () => {
    for (const props of [...Object.values(NODE_PROPS), ...Object.values(REL_PROPS)])
      for (const [k, v] of Object.entries(props)) expect(v).toBe(k);
    expect(Object.keys(REL_ENDS).sort()).toEqual(Object.keys(REL_TYPES).sort());
    expect(schemaPropertyNames().has('vetUnvetted')).toBe(true);
  });

  it("knows every property the scorer's SETs on a node written in graph/", () => {
    const known = schemaPropertyNames();
    const set = [...graphTs.matchAll(/\b[a-z]\.([a-zA-Z_]+) = /g)].map((m) => m[1]!);
    expect(set.length).toBeGreaterThan(20);
    expect(set.filter((p) => !known.has(p) && p !== '_lock')).toEqual([]);
  });
});
