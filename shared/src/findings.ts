/**
 * Findings: what the scorer raises for a workspace. Pure rules; the scorer does the I/O.
 */
import type { Advisory } from './advisory.js';
import { advisorySeverity } from './severity.js';
import type { FindingEvent } from './events.js';

export const findingId = (workspaceId: string, crate: string, version: string, kind: string): string =>
  `${workspaceId}|${crate}|${version}|${kind}`;

export interface WorkspaceRef {
  id: string;
  org: string;
  team?: string;
}

/** The finding for a (workspace, advisory, locked version) hit. Informational kinds get lower severity. */
export function advisoryFinding(
  ws: WorkspaceRef,
  advisory: Advisory,
  version: string,
  state: 'open' | 'resolved',
  observedAt: string,
): FindingEvent {
  const { severity, score, rating } = advisorySeverity(advisory);
  const detail = advisory.informational
    ? `${advisory.id} (${advisory.informational}): ${advisory.title}`
    : `${advisory.id}: ${advisory.title}${rating ? ` — CVSS ${rating.version}${rating.score !== undefined ? ` ${rating.score}` : ''}${rating.estimated ? ' (severity estimated)' : ''}` : ' — no CVSS given'}`;
  return {
    v: 1,
    id: findingId(ws.id, advisory.package, version, `advisory:${advisory.id}`),
    kind: 'advisory',
    state,
    severity,
    score,
    workspace: { id: ws.id, org: ws.org, ...(ws.team ? { team: ws.team } : {}) },
    crate: advisory.package,
    version,
    why: [{ signal: advisory.informational ? `advisory.${advisory.informational}` : 'advisory.vulnerability', contribution: score, detail }],
    advisory: {
      id: advisory.id,
      title: advisory.title,
      url: `https://rustsec.org/advisories/${advisory.id}.html`,
      ...(advisory.informational ? { informational: advisory.informational } : {}),
      patched: advisory.versions.patched,
      aliases: advisory.aliases,
    },
    observedAt,
  };
}
