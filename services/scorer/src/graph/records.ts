/**
 * Neo4j records read back into the scorer's shapes, the few ways every query file needs: a list a
 * query `collect`ed, a workspace reference, the fields every stored Finding has.
 */
import type { FindingEvent, WorkspaceRef } from '@cratewatch/shared';
import type { QueryResult } from 'neo4j-driver';

/** A row that returns columns by name (a driver `Record`). */
export interface Row {
  get: (key: string) => unknown;
}

/** The list the first row returns under `key` (a `collect(...)`), or none when no row came. */
export const collected = (r: QueryResult, key: string): string[] => (r.records[0]?.get(key) as string[] | undefined) ?? [];

/** A workspace reference from a row returning its id (under `idKey`), `org` and `team`. */
export function workspaceRefOf(rec: Row, idKey: string): WorkspaceRef {
  const team = rec.get('team') as string | null;
  return { id: rec.get(idKey) as string, org: rec.get('org') as string, ...(team ? { team } : {}) };
}

export interface StoredFinding {
  id: string;
  state: string;
  crate: string;
  version: string;
  severity: FindingEvent['severity'];
  score: number;
  why: FindingEvent['why'];
  vet?: FindingEvent['vet'];
  maintainer?: FindingEvent['maintainer'];
}

/** The fields every stored Finding has, from a row returning them under their own names. */
export function storedFindingOf(rec: Row): StoredFinding {
  return {
    id: rec.get('id') as string,
    state: rec.get('state') as string,
    crate: rec.get('crate') as string,
    version: rec.get('version') as string,
    severity: rec.get('severity') as FindingEvent['severity'],
    score: Number(rec.get('score')),
    why: JSON.parse((rec.get('why') as string | null) ?? '[]') as FindingEvent['why'],
  };
}
