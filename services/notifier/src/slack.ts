/**
 * What an alert says: a Slack Block Kit message for a finding (pure, no I/O), and the same alert as
 * plain text for a terminal when no webhook is configured.
 *
 * Slack's limits are respected: a header is plain text of at most 150 characters, a section field
 * at most 2000, and `&`, `<`, `>` are escaped in mrkdwn so a crate or advisory title cannot inject
 * a link or a mention.
 */
import { denyRuleAt, denyRuleInfo, type FindingEvent, type Severity } from '@cratewatch/shared';

export interface TextObject {
  type: 'plain_text' | 'mrkdwn';
  text: string;
  emoji?: boolean;
}

export type Block =
  | { type: 'header'; text: TextObject }
  | { type: 'section'; text?: TextObject; fields?: TextObject[] }
  | { type: 'context'; elements: TextObject[] }
  | { type: 'divider' };

export interface SlackMessage {
  /** Fallback shown in notifications and by clients that cannot render blocks. */
  text: string;
  blocks: Block[];
}

const SEVERITY_EMOJI: Record<FindingEvent['severity'], string> = {
  critical: ':red_circle:',
  high: ':large_orange_circle:',
  medium: ':large_yellow_circle:',
  low: ':large_blue_circle:',
  info: ':white_circle:',
};

const KIND_LABEL: Record<FindingEvent['kind'], string> = {
  advisory: 'advisory',
  unvetted: 'unvetted crate',
  maintainer: 'maintainer risk',
  deny: 'cargo-deny',
};

/** A resolution the workspace's VEX made (the scorer's `vex.<status>` why entry): `not affected (<detail>)`. */
function vexWhy(f: FindingEvent): string | undefined {
  const w = f.why.find((x) => x.signal.startsWith('vex.'));
  return w ? `${w.signal.slice('vex.'.length).replace(/_/g, ' ')} (${w.detail})` : undefined;
}

/** Escapes the three characters Slack's mrkdwn treats as control characters. */
export function escapeMrkdwn(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Slack's limit for the text of a section block. */
const SECTION_TEXT_MAX = 3000;

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** A URL safe to put inside `<url|label>`: http(s) only, and none of the characters that end the link. */
function safeUrl(url: string | undefined): string | undefined {
  if (!url || !/^https?:\/\/[^\s<>|]+$/.test(url)) return undefined;
  return url;
}

type VetDetails = NonNullable<FindingEvent['vet']>;

/** "unvetted" or "violation": what an `unvetted`-kind finding says about its version. */
function vetStatus(f: FindingEvent): VetDetails['status'] {
  return f.vet?.status ?? 'unvetted';
}

type MaintainerDetails = NonNullable<FindingEvent['maintainer']>;

/** A `maintainer`-kind finding's details (empty when the event carries none); undefined for other kinds. */
function maintainerOf(f: FindingEvent): MaintainerDetails | undefined {
  return f.kind === 'maintainer' && !f.advisory ? (f.maintainer ?? {}) : undefined;
}

/**
 * The subject of the alert: "RUSTSEC-2023-0071: Marvin Attack" for an advisory, "unvetted: aes 0.9.2"
 * (or "violation: aes 0.9.2") for an unvetted crate, "maintainer risk: foo 1.2.3" for a maintainer risk.
 */
export function subject(f: FindingEvent): string {
  if (f.advisory) return `${f.advisory.id}: ${f.advisory.title}`;
  if (f.kind === 'unvetted') return `${vetStatus(f)}: ${f.crate} ${f.version}`;
  if (f.kind === 'deny' && f.deny) return `${KIND_LABEL.deny} ${f.deny.check}/${f.deny.code}: ${f.crate} ${f.version}`;
  return `${KIND_LABEL[f.kind]}: ${f.crate} ${f.version}`;
}

/** Where a `deny` finding's rule is written: `deny.toml:10 bans.deny[0]`. */
export const denyRuleLabel = (d: NonNullable<FindingEvent['deny']>): string => denyRuleAt(d.rule.file, d);

/** The Block Kit fields of a `deny` finding: the problem and the deny.toml rule that says so (none for other kinds). */
function denyFields(f: FindingEvent): TextObject[] {
  if (f.kind !== 'deny' || !f.deny) return [];
  return [
    { type: 'mrkdwn', text: `*Problem*\n${escapeMrkdwn(truncate(f.deny.message, 1900))}` },
    {
      type: 'mrkdwn',
      text: `*Rule*\n${codeSpan(truncate(denyRuleLabel(f.deny), 1900))} (<${denyRuleInfo(f.deny.check, f.deny.code).helpUri}|cargo-deny ${f.deny.code}>)`,
    },
  ];
}

/** What a resolved message says is no longer so, by kind. */
function resolvedWhat(f: FindingEvent, maintainer: MaintainerDetails | undefined): string {
  const at = `${codeSpan(`${f.crate} ${f.version}`)} in ${codeSpan(f.workspace.id)}`;
  if (f.kind === 'unvetted' && !f.advisory) return `${at} is no longer reported as ${vetStatus(f)}.`;
  if (maintainer) return `${at} is no longer reported as a maintainer risk.`;
  if (f.kind === 'deny') return `${at} no longer fails cargo-deny's ${f.deny ? `${f.deny.check} ${f.deny.code}` : ''} check.`;
  const vex = vexWhy(f);
  if (vex)
    return `a VEX statement of ${codeSpan(f.workspace.id)} says ${codeSpan(`${f.crate} ${f.version}`)} is ${escapeMrkdwn(truncate(vex, 1500))}.`;
  return `${codeSpan(f.workspace.id)} no longer locks an affected ${codeSpan(`${f.crate} ${f.version}`)}.`;
}

/** "HIGH" or "LOW · informational (unmaintained)". */
function severityLabel(f: FindingEvent): string {
  const sev = f.severity.toUpperCase();
  return f.advisory?.informational ? `${sev} · informational (${f.advisory.informational})` : sev;
}

/**
 * The first line of an open alert: "MEDIUM · RUSTSEC-…: title" for an advisory, "[HIGH] unvetted: aes 0.9.2"
 * for an unvetted crate, "[HIGH] maintainer risk: foo 1.2.3" for a maintainer risk.
 */
function openHeadline(f: FindingEvent): string {
  return f.advisory ? `${severityLabel(f)} · ${subject(f)}` : `[${severityLabel(f)}] ${subject(f)}`;
}

function workspaceLabel(f: FindingEvent): string {
  return f.workspace.team ? `${f.workspace.id} (team ${f.workspace.team})` : f.workspace.id;
}

function patchedLabel(f: FindingEvent): string | undefined {
  if (!f.advisory) return undefined;
  return f.advisory.patched.length ? f.advisory.patched.join(', ') : 'no patched version';
}

/** "safe-to-deploy (missing: safe-to-deploy)": the criteria required and those no trusted audit reaches. */
export function needsLabel(v: VetDetails): string {
  const needs = v.needs.length ? v.needs.join(', ') : 'no criteria recorded';
  return v.missing.length ? `${needs} (missing: ${v.missing.join(', ')})` : needs;
}

/** The first `max` requesters, then "and N more". */
export function requiredByLabel(v: VetDetails, max = 3): string {
  const shown = v.requiredBy.slice(0, max).map((r) => truncate(r, 120));
  const more = v.requiredBy.length - shown.length;
  return more > 0 ? `${shown.join(', ')} and ${more} more` : shown.join(', ');
}

/** "delta audit 0.8.4 → 0.9.2" / "full audit of 0.9.2". */
export function suggestionKind(s: NonNullable<VetDetails['suggestion']>): string {
  return s.kind === 'delta' && s.from ? `delta audit ${s.from} → ${s.to}` : `full audit of ${s.to}`;
}

export const KIND_DEPENDENT_NOTE = 'verdict depends on dependency kinds: the workspace sent only a Cargo.lock';

/** Text inside a Slack code span: escaped, and without the backtick that would end it. */
function codeSpan(s: string): string {
  return `\`${escapeMrkdwn(s.replace(/`/g, "'"))}\``;
}

/** Escaped, then cut to `max` characters without leaving half an entity (`&am…`) behind. */
function escapeWithin(s: string, max: number): string {
  const e = escapeMrkdwn(s);
  return e.length <= max ? e : `${e.slice(0, max - 1).replace(/&[a-z]{0,3}$/, '')}…`;
}

/** Owners shown before "and N more". */
export const OWNERS_SHOWN = 5;

/** "alice, github:acme:core and 4 more"; "none listed" when the registry lists no owner. */
export function ownersLabel(owners: string[], max = OWNERS_SHOWN): string {
  if (!owners.length) return 'none listed';
  const shown = owners.slice(0, max).map((o) => truncate(o, 60));
  return owners.length > max ? `${shown.join(', ')} and ${owners.length - max} more` : shown.join(', ');
}

export const NO_REPOSITORY = 'none on crates.io';

/** The repository as text: its URL, or "none on crates.io" for `missing`. */
export function repositoryLabel(repository: string): string {
  return repository === 'missing' ? NO_REPOSITORY : repository;
}

/** "1.23.1 by mallory on 2025-02-26 (this version)": the newest release, who published it and when. */
export function latestReleaseLabel(r: NonNullable<MaintainerDetails['latestRelease']>, lockedVersion: string): string {
  const by = r.publisher ? ` by ${r.publisher}` : '';
  const date = r.publishedAt ? ` on ${r.publishedAt.slice(0, 10)}` : '';
  return `${r.version}${by}${date}${r.version === lockedVersion ? ' (this version)' : ''}`;
}

/** "looks like rust_decimal". */
export function lookalikeLabel(of: string): string {
  return `looks like ${of}`;
}

/** The Block Kit fields of a maintainer risk's details (each escaped, within Slack's 2000 characters). */
function maintainerFields(f: FindingEvent, m: MaintainerDetails): TextObject[] {
  const fields: TextObject[] = [];
  if (m.owners) fields.push({ type: 'mrkdwn', text: `*Owners (${m.owners.length})*\n${escapeWithin(ownersLabel(m.owners), 1900)}` });
  if (m.repository !== undefined) {
    const url = m.repository === 'missing' ? undefined : safeUrl(m.repository);
    // A link only when it fits whole (a cut URL would lead elsewhere); else the URL as text.
    const repo =
      url && url.length <= 1500
        ? `<${url}|${escapeWithin(url.replace(/^https?:\/\//, ''), 300)}>`
        : escapeWithin(repositoryLabel(m.repository), 1900);
    fields.push({ type: 'mrkdwn', text: `*Repository*\n${repo}` });
  }
  if (m.latestRelease)
    fields.push({ type: 'mrkdwn', text: `*Latest release*\n${escapeWithin(latestReleaseLabel(m.latestRelease, f.version), 1900)}` });
  if (m.lookalikeOf) fields.push({ type: 'mrkdwn', text: `*Name*\n:warning: looks like ${codeSpan(truncate(m.lookalikeOf, 200))}` });
  return fields;
}

/** The score's reasons as a section under "*Why*", one bullet per signal, within Slack's 3000 characters. */
function whySection(f: FindingEvent): Block {
  let text = '*Why*';
  for (let i = 0; i < f.why.length; i++) {
    const w = f.why[i]!;
    const line = `• ${escapeWithin(`${w.signal} +${w.contribution}: ${w.detail}`, 900)}`;
    const rest = f.why.length - i;
    if (text.length + 1 + line.length > SECTION_TEXT_MAX - 40) {
      text += `\n…and ${rest} more signal${rest > 1 ? 's' : ''}`;
      break;
    }
    text += `\n${line}`;
  }
  return { type: 'section', text: { type: 'mrkdwn', text } };
}

function whyText(f: FindingEvent): string {
  return f.why.map((w) => `${w.signal} +${w.contribution}: ${w.detail}`).join('\n');
}

/** How one alert is told: `escalatedFrom` when the route had this finding open at that lower severity. */
export interface AlertOptions {
  escalatedFrom?: Severity;
}

/** "⬆ escalated from medium": said of an open finding re-sent because its severity rose. */
export function escalationLabel(from: Severity): string {
  return `⬆ escalated from ${from}`;
}

/** The Block Kit message for one finding state: an open finding, or its own "resolved" message. */
export function slackMessage(f: FindingEvent, o: AlertOptions = {}): SlackMessage {
  const resolved = f.state === 'resolved';
  const vet = f.kind === 'unvetted' && !f.advisory ? f.vet : undefined;
  const esc = !resolved && o.escalatedFrom ? o.escalatedFrom : undefined;
  const headerText = resolved ? `✅ Resolved · ${subject(f)}` : esc ? `⬆ ${openHeadline(f)}` : openHeadline(f);
  const blocks: Block[] = [{ type: 'header', text: { type: 'plain_text', text: truncate(headerText, 150), emoji: true } }];
  const fields: TextObject[] = [
    { type: 'mrkdwn', text: `*Crate*\n${codeSpan(`${f.crate} ${f.version}`)}` },
    { type: 'mrkdwn', text: `*Workspace*\n${escapeMrkdwn(truncate(workspaceLabel(f), 1900))}` },
    {
      type: 'mrkdwn',
      text: `*Severity*\n${SEVERITY_EMOJI[f.severity]} ${escapeMrkdwn(severityLabel(f).toLowerCase())} (score ${f.score})`,
    },
    { type: 'mrkdwn', text: `*State*\n${resolved ? 'resolved' : esc ? `open, ${escalationLabel(esc)}` : 'open'}` },
  ];
  const patched = patchedLabel(f);
  if (patched !== undefined) {
    fields.push({ type: 'mrkdwn', text: `*Patched versions*\n${escapeMrkdwn(truncate(patched, 1900))}` });
  }
  if (f.advisory?.aliases.length) {
    fields.push({ type: 'mrkdwn', text: `*Aliases*\n${escapeMrkdwn(truncate(f.advisory.aliases.join(', '), 1900))}` });
  }
  if (vet) {
    fields.push({ type: 'mrkdwn', text: `*Needs*\n${escapeMrkdwn(truncate(needsLabel(vet), 1900))}` });
    if (!resolved && vet.requiredBy.length) {
      fields.push({ type: 'mrkdwn', text: `*Requested by*\n${escapeMrkdwn(truncate(requiredByLabel(vet), 1900))}` });
    }
  }
  const maintainer = maintainerOf(f);
  if (maintainer && !resolved) fields.push(...maintainerFields(f, maintainer));
  fields.push(...denyFields(f));
  blocks.push({ type: 'section', fields });
  if (resolved) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `This finding is *resolved*: ${resolvedWhat(f, maintainer)}` } });
  } else if (f.kind === 'unvetted' && !f.advisory) {
    const s = vet?.suggestion;
    const fix = s
      ? `*Suggested fix* (${escapeMrkdwn(suggestionKind(s))})\n${codeSpan(truncate(s.command, 2000))}`
      : '*Suggested fix*\nno suggestion';
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: fix } });
    if (vet?.kindDependent) {
      blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `:warning: ${KIND_DEPENDENT_NOTE}` }] });
    }
  }
  const url = safeUrl(f.advisory?.url);
  if (url && f.advisory) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `<${url}|View advisory ${escapeMrkdwn(f.advisory.id)}>` } });
  }
  if (maintainer && !resolved && f.why.length) {
    // A maintainer risk is its signals: they are the message, not a footnote.
    blocks.push(whySection(f));
  } else if (f.why.length) {
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: escapeMrkdwn(truncate(whyText(f), 1900)) }] });
  }
  return { text: escapeMrkdwn(truncate(plainSummary(f, o), 3000)), blocks };
}

/** One line: the notification text and the fallback of the Block Kit message. */
export function plainSummary(f: FindingEvent, o: AlertOptions = {}): string {
  const head =
    f.state === 'resolved' ? 'RESOLVED' : o.escalatedFrom ? `${severityLabel(f)} ${escalationLabel(o.escalatedFrom)}` : severityLabel(f);
  if (f.kind === 'unvetted' && !f.advisory) {
    const parts = [`[${head}] ${subject(f)} in ${workspaceLabel(f)}`];
    if (f.vet && f.state !== 'resolved') {
      parts.push(`needs ${needsLabel(f.vet)}`);
      parts.push(f.vet.suggestion ? `fix: ${f.vet.suggestion.command}` : 'no suggestion');
    }
    return parts.join(' — ');
  }
  const maintainer = maintainerOf(f);
  if (maintainer) {
    const parts = [`[${head}] ${subject(f)} in ${workspaceLabel(f)}`];
    if (f.state !== 'resolved') {
      if (maintainer.lookalikeOf) parts.push(lookalikeLabel(maintainer.lookalikeOf));
      if (f.why.length) parts.push(f.why.map((w) => `${w.signal} +${w.contribution}`).join(', '));
    }
    return parts.join(' — ');
  }
  const parts = [`[${head}] ${subject(f)}`, `${f.crate} ${f.version} in ${workspaceLabel(f)}`];
  const patched = patchedLabel(f);
  if (patched !== undefined && f.state !== 'resolved') parts.push(`patched: ${patched}`);
  if (f.deny && f.state !== 'resolved') parts.push(f.deny.message, denyRuleLabel(f.deny));
  if (f.advisory?.url) parts.push(f.advisory.url);
  return parts.join(' — ');
}

/** A readable block of text for a terminal (the notifier without a webhook prints these). */
export function plainTextAlert(f: FindingEvent, o: AlertOptions = {}): string {
  const esc = f.state === 'open' && o.escalatedFrom ? o.escalatedFrom : undefined;
  const lines = [
    `== ${f.state === 'resolved' ? `RESOLVED · ${subject(f)}` : `${esc ? '⬆ ' : ''}${openHeadline(f)}`}`,
    `   crate:      ${f.crate} ${f.version}`,
    `   workspace:  ${workspaceLabel(f)} (org ${f.workspace.org})`,
    `   state:      ${f.state}${esc ? `, ${escalationLabel(esc)}` : ''}`,
    `   score:      ${f.score} (${f.severity})`,
  ];
  const patched = patchedLabel(f);
  if (patched !== undefined) lines.push(`   patched:    ${patched}`);
  if (f.advisory?.aliases.length) lines.push(`   aliases:    ${f.advisory.aliases.join(', ')}`);
  if (f.advisory?.url) lines.push(`   link:       ${f.advisory.url}`);
  if (f.kind === 'deny' && f.deny) lines.push(`   problem:    ${f.deny.message}`, `   rule:       ${denyRuleLabel(f.deny)}`);
  const vet = f.kind === 'unvetted' && !f.advisory ? f.vet : undefined;
  if (vet) {
    lines.push(`   needs:      ${needsLabel(vet)}`);
    if (vet.requiredBy.length) lines.push(`   requested:  ${vet.requiredBy.join(', ')}`);
    if (f.state !== 'resolved') {
      lines.push(`   fix:        ${vet.suggestion ? `${vet.suggestion.command} (${suggestionKind(vet.suggestion)})` : 'no suggestion'}`);
      if (vet.kindDependent) lines.push(`   note:       ${KIND_DEPENDENT_NOTE}`);
    }
  }
  const m = maintainerOf(f);
  if (m) {
    if (m.owners) lines.push(`   owners:     ${m.owners.length ? m.owners.join(', ') : 'none listed'}`);
    if (m.repository !== undefined) lines.push(`   repository: ${repositoryLabel(m.repository)}`);
    if (m.latestRelease) lines.push(`   latest:     ${latestReleaseLabel(m.latestRelease, f.version)}`);
    if (m.lookalikeOf) lines.push(`   name:       ${lookalikeLabel(m.lookalikeOf)}`);
  }
  for (const w of f.why) lines.push(`   why:        ${w.signal} +${w.contribution}: ${w.detail}`);
  lines.push(`   finding:    ${f.id}`);
  return lines.join('\n') + '\n';
}

// ---------------------------------------------------------------------------------------------
// Digests: one message for a burst of state changes to one route.

/** Most findings a Slack digest lists one by one (the rest are counted). */
export const DIGEST_LISTED = 15;

const SEVERITIES_DESC: FindingEvent['severity'][] = ['critical', 'high', 'medium', 'low', 'info'];

/** Highest score first, then severity, then id: the order a digest lists its findings in. */
export function byScoreDesc(a: FindingEvent, b: FindingEvent): number {
  const rank = (s: FindingEvent['severity']) => SEVERITIES_DESC.length - SEVERITIES_DESC.indexOf(s);
  return b.score - a.score || rank(b.severity) - rank(a.severity) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export interface DigestCounts {
  total: number;
  open: number;
  resolved: number;
  /** Non-zero counts only, most severe first. */
  bySeverity: [FindingEvent['severity'], number][];
  /** `advisory`, `unvetted`, `violation` (an unvetted finding whose status is violation), `maintainer`; non-zero, most frequent first. */
  byKind: [string, number][];
  workspaces: string[];
}

export function digestCounts(fs: FindingEvent[]): DigestCounts {
  const sev = new Map<FindingEvent['severity'], number>();
  const kind = new Map<string, number>();
  const workspaces = new Map<string, string>();
  for (const f of fs) {
    sev.set(f.severity, (sev.get(f.severity) ?? 0) + 1);
    const k = f.kind === 'unvetted' && f.vet?.status === 'violation' ? 'violation' : f.kind;
    kind.set(k, (kind.get(k) ?? 0) + 1);
    if (!workspaces.has(f.workspace.id)) workspaces.set(f.workspace.id, workspaceLabel(f));
  }
  return {
    total: fs.length,
    open: fs.filter((f) => f.state === 'open').length,
    resolved: fs.filter((f) => f.state === 'resolved').length,
    bySeverity: SEVERITIES_DESC.filter((s) => sev.has(s)).map((s) => [s, sev.get(s)!]),
    byKind: [...kind.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)),
    workspaces: [...workspaces.values()].sort(),
  };
}

function digestTitle(c: DigestCounts): string {
  return `${c.total} finding state changes (${c.open} open, ${c.resolved} resolved)`;
}

/** One line of a Slack digest (mrkdwn, escaped): score, severity or "resolved", what, where. */
function digestLine(f: FindingEvent): string {
  const mark = f.state === 'resolved' ? ':white_check_mark:' : SEVERITY_EMOJI[f.severity];
  const head = `${mark} *${f.score}* ${f.state === 'resolved' ? 'resolved' : f.severity}`;
  const where = `${codeSpan(truncate(`${f.crate} ${f.version}`, 100))} in ${escapeMrkdwn(truncate(workspaceLabel(f), 100))}`;
  if (f.advisory) return `${head} · ${escapeMrkdwn(truncate(`${f.advisory.id}: ${f.advisory.title}`, 120))} · ${where}`;
  if (f.kind === 'unvetted') {
    const needs = f.vet && f.state !== 'resolved' ? ` · needs ${escapeMrkdwn(truncate(needsLabel(f.vet), 120))}` : '';
    return `${head} · ${vetStatus(f)} ${where}${needs}`;
  }
  if (f.kind === 'maintainer' && f.state !== 'resolved') {
    const m = f.maintainer ?? {};
    const what = [m.lookalikeOf ? lookalikeLabel(m.lookalikeOf) : '', f.why.map((w) => `${w.signal} +${w.contribution}`).join(', ')]
      .filter(Boolean)
      .join('; ');
    return `${head} · ${KIND_LABEL[f.kind]} ${where}${what ? ` · ${escapeMrkdwn(truncate(what, 160))}` : ''}`;
  }
  return `${head} · ${KIND_LABEL[f.kind]} ${where}`;
}

/** "a, b, c and 4 more". */
function shortList(xs: string[], max: number): string {
  const shown = xs.slice(0, max);
  return xs.length > max ? `${shown.join(', ')} and ${xs.length - max} more` : shown.join(', ');
}

/**
 * The Block Kit digest of a burst for one route: counts by state, severity and kind, the workspaces,
 * and the `listed` highest-scoring changes, then "…and N more (see the risk feed)". Within Slack's
 * limits whatever the burst: 4 blocks besides the sections of the listed lines (at most one section
 * per line, each line's parts truncated), every section text under 3000 characters, fields under
 * 2000, header under 150.
 */
export function slackDigest(fs: FindingEvent[], listed = DIGEST_LISTED): SlackMessage {
  const c = digestCounts(fs);
  const top = [...fs].sort(byScoreDesc).slice(0, Math.max(0, listed));
  const blocks: Block[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(`Digest · ${digestTitle(c)}`, 150), emoji: true } },
  ];
  blocks.push({
    type: 'section',
    fields: [
      { type: 'mrkdwn', text: `*Opened*\n${c.open}` },
      { type: 'mrkdwn', text: `*Resolved*\n${c.resolved}` },
      { type: 'mrkdwn', text: `*By severity*\n${c.bySeverity.map(([s, n]) => `${SEVERITY_EMOJI[s]} ${n} ${s}`).join('\n')}` },
      { type: 'mrkdwn', text: `*By kind*\n${c.byKind.map(([k, n]) => `${n} ${k}`).join('\n')}` },
      {
        type: 'mrkdwn',
        text: `*Workspaces (${c.workspaces.length})*\n${escapeMrkdwn(
          shortList(
            c.workspaces.map((w) => truncate(w, 60)),
            5,
          ),
        )}`,
      },
    ],
  });
  blocks.push({ type: 'divider' });
  // The listed lines, packed into as few sections as fit.
  let text = top.length < fs.length ? `*Top ${top.length} by score*` : '*By score*';
  for (const line of top.map(digestLine)) {
    if (text.length + 1 + line.length > SECTION_TEXT_MAX) {
      blocks.push({ type: 'section', text: { type: 'mrkdwn', text } });
      text = line;
    } else text += `\n${line}`;
  }
  blocks.push({ type: 'section', text: { type: 'mrkdwn', text } });
  if (fs.length > top.length) {
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `…and ${fs.length - top.length} more (see the risk feed)` }] });
  }
  const highest = top[0] ? `; highest: ${plainSummary(top[0]).split(' — ')[0]}` : '';
  return { text: escapeMrkdwn(truncate(`Digest: ${digestTitle(c)}${highest}`, 3000)), blocks };
}

/** The digest as a text block for a terminal: the counts, then every change, highest score first. */
export function plainTextDigest(fs: FindingEvent[]): string {
  const c = digestCounts(fs);
  const lines = [
    `== DIGEST · ${digestTitle(c)}`,
    `   by severity: ${c.bySeverity.map(([s, n]) => `${n} ${s}`).join(', ')}`,
    `   by kind:     ${c.byKind.map(([k, n]) => `${n} ${k}`).join(', ')}`,
    `   workspaces:  ${c.workspaces.join(', ')}`,
    ...[...fs].sort(byScoreDesc).map((f) => `   - ${plainSummary(f)} (score ${f.score}; finding ${f.id})`),
  ];
  return lines.join('\n') + '\n';
}
