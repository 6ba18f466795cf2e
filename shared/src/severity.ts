/**
 * Severity of a RustSec advisory for a finding. CVSS 3.x base scores are computed exactly (FIRST's
 * CVSS v3.1 specification, section 7); CVSS 4.0 needs FIRST's macro-vector tables, which we do not
 * carry, so a 4.0 vector gets a severity estimated from its exploitability and impact metrics and is
 * marked as estimated. Informational advisories are never more than `low`.
 */
export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'info';

export const SEVERITY_ORDER: Severity[] = ['info', 'low', 'medium', 'high', 'critical'];

export interface CvssRating {
  version: '3.0' | '3.1' | '4.0';
  score?: number;
  severity: Severity;
  estimated: boolean;
}

function metrics(vector: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of vector.split('/').slice(1)) {
    const [k, v] = part.split(':');
    if (k && v) m.set(k, v);
  }
  return m;
}

function roundUp(x: number): number {
  const i = Math.round(x * 100000);
  return i % 10000 === 0 ? i / 100000 : (Math.floor(i / 10000) + 1) / 10;
}

export function severityOfScore(score: number): Severity {
  if (score >= 9) return 'critical';
  if (score >= 7) return 'high';
  if (score >= 4) return 'medium';
  if (score > 0) return 'low';
  return 'info';
}

/**
 * The severity of one of cratewatch's own scores (an unvetted crate, a maintainer risk): high ≥ 8,
 * medium ≥ 6, low ≥ 4, else info. Never critical: that is kept for what an advisory's CVSS rates,
 * so a critical alert always means a known vulnerability.
 */
export function severityOfSignalScore(score: number): Severity {
  return score >= 8 ? 'high' : score >= 6 ? 'medium' : score >= 4 ? 'low' : 'info';
}

/** Rates a CVSS vector string; undefined when it is not a CVSS 3.x/4.0 vector. */
export function rateCvss(vector: string): CvssRating | undefined {
  const head = /^CVSS:(3\.0|3\.1|4\.0)\//.exec(vector);
  if (!head) return undefined;
  const version = head[1] as CvssRating['version'];
  const m = metrics(vector);
  if (version === '4.0') {
    const imp = ['VC', 'VI', 'VA'].map((k) => m.get(k));
    const easy = m.get('AV') === 'N' && m.get('AC') === 'L' && m.get('AT') === 'N' && m.get('PR') === 'N' && m.get('UI') === 'N';
    const severity: Severity = imp.includes('H') ? (easy ? 'critical' : 'high') : imp.includes('L') ? 'medium' : 'low';
    return { version, severity, estimated: true };
  }
  const pick = (k: string, table: Record<string, number>): number | undefined => table[m.get(k) ?? ''];
  const scopeChanged = m.get('S') === 'C';
  const av = pick('AV', { N: 0.85, A: 0.62, L: 0.55, P: 0.2 });
  const ac = pick('AC', { L: 0.77, H: 0.44 });
  const pr = pick('PR', scopeChanged ? { N: 0.85, L: 0.68, H: 0.5 } : { N: 0.85, L: 0.62, H: 0.27 });
  const ui = pick('UI', { N: 0.85, R: 0.62 });
  const cia = ['C', 'I', 'A'].map((k) => pick(k, { H: 0.56, L: 0.22, N: 0 }));
  if ([av, ac, pr, ui, ...cia].some((x) => x === undefined) || !m.has('S')) return undefined;
  const iss = 1 - cia.reduce<number>((acc, x) => acc * (1 - (x ?? 0)), 1);
  const impact = scopeChanged ? 7.52 * (iss - 0.029) - 3.25 * Math.pow(iss - 0.02, 15) : 6.42 * iss;
  const exploitability = 8.22 * av! * ac! * pr! * ui!;
  const score = impact <= 0 ? 0 : roundUp(Math.min((scopeChanged ? 1.08 : 1) * (impact + exploitability), 10));
  return { version, score, severity: severityOfScore(score), estimated: false };
}

/** Severity of an advisory: its CVSS rating; `medium` for a vulnerability without one; informational kinds low/info. */
export function advisorySeverity(a: { cvss?: string; informational?: string }): { severity: Severity; score: number; rating?: CvssRating } {
  if (a.informational !== undefined) {
    return a.informational === 'notice' ? { severity: 'info', score: 0.5 } : { severity: 'low', score: 2 };
  }
  const rating = a.cvss ? rateCvss(a.cvss) : undefined;
  if (!rating) return { severity: 'medium', score: 5 };
  const fallback = { critical: 9.5, high: 8, medium: 5.5, low: 2.5, info: 0 }[rating.severity];
  return { severity: rating.severity, score: rating.score ?? fallback, rating };
}
