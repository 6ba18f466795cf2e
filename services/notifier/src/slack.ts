/**
 * What an alert says: a Slack Block Kit message for a finding (pure, no I/O), and the same alert as
 * plain text for a terminal when no webhook is configured.
 *
 * Slack's limits are respected: a header is plain text of at most 150 characters, a section field
 * at most 2000, and `&`, `<`, `>` are escaped in mrkdwn so a crate or advisory title cannot inject
 * a link or a mention.
 */
import type { FindingEvent } from '@cratewatch/shared';

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
};

/** Escapes the three characters Slack's mrkdwn treats as control characters. */
export function escapeMrkdwn(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max - 1)}…`;
}

/** A URL safe to put inside `<url|label>`: http(s) only, and none of the characters that end the link. */
function safeUrl(url: string | undefined): string | undefined {
  if (!url || !/^https?:\/\/[^\s<>|]+$/.test(url)) return undefined;
  return url;
}

/** "RUSTSEC-2023-0071: Marvin Attack" / "unvetted crate" — the subject of the alert. */
function subject(f: FindingEvent): string {
  if (f.advisory) return `${f.advisory.id}: ${f.advisory.title}`;
  return KIND_LABEL[f.kind];
}

/** "HIGH" or "LOW · informational (unmaintained)". */
function severityLabel(f: FindingEvent): string {
  const sev = f.severity.toUpperCase();
  return f.advisory?.informational ? `${sev} · informational (${f.advisory.informational})` : sev;
}

function workspaceLabel(f: FindingEvent): string {
  return f.workspace.team ? `${f.workspace.id} (team ${f.workspace.team})` : f.workspace.id;
}

function patchedLabel(f: FindingEvent): string | undefined {
  if (!f.advisory) return undefined;
  return f.advisory.patched.length ? f.advisory.patched.join(', ') : 'no patched version';
}

/** The Block Kit message for one finding state: an open finding, or its own "resolved" message. */
export function slackMessage(f: FindingEvent): SlackMessage {
  const resolved = f.state === 'resolved';
  const headerText = resolved
    ? `✅ Resolved · ${subject(f)}`
    : `${severityLabel(f)} · ${subject(f)}`;
  const blocks: Block[] = [
    { type: 'header', text: { type: 'plain_text', text: truncate(headerText, 150), emoji: true } },
  ];
  const fields: TextObject[] = [
    { type: 'mrkdwn', text: `*Crate*\n\`${escapeMrkdwn(f.crate)} ${escapeMrkdwn(f.version)}\`` },
    { type: 'mrkdwn', text: `*Workspace*\n${escapeMrkdwn(workspaceLabel(f))}` },
    { type: 'mrkdwn', text: `*Severity*\n${SEVERITY_EMOJI[f.severity]} ${escapeMrkdwn(severityLabel(f).toLowerCase())} (score ${f.score})` },
    { type: 'mrkdwn', text: `*State*\n${resolved ? 'resolved' : 'open'}` },
  ];
  const patched = patchedLabel(f);
  if (patched !== undefined) {
    fields.push({ type: 'mrkdwn', text: `*Patched versions*\n${escapeMrkdwn(truncate(patched, 1900))}` });
  }
  if (f.advisory?.aliases.length) {
    fields.push({ type: 'mrkdwn', text: `*Aliases*\n${escapeMrkdwn(truncate(f.advisory.aliases.join(', '), 1900))}` });
  }
  blocks.push({ type: 'section', fields });
  if (resolved) {
    blocks.push({
      type: 'section',
      text: { type: 'mrkdwn', text: `This finding is *resolved*: \`${escapeMrkdwn(f.workspace.id)}\` no longer locks an affected \`${escapeMrkdwn(f.crate)} ${escapeMrkdwn(f.version)}\`.` },
    });
  }
  const url = safeUrl(f.advisory?.url);
  if (url && f.advisory) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: `<${url}|View advisory ${escapeMrkdwn(f.advisory.id)}>` } });
  }
  if (f.why.length) {
    const why = f.why.map((w) => `${w.signal} +${w.contribution}: ${w.detail}`).join('\n');
    blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: escapeMrkdwn(truncate(why, 1900)) }] });
  }
  return { text: escapeMrkdwn(plainSummary(f)), blocks };
}

/** One line: the notification text and the fallback of the Block Kit message. */
export function plainSummary(f: FindingEvent): string {
  const head = f.state === 'resolved' ? 'RESOLVED' : severityLabel(f);
  const parts = [`[${head}] ${subject(f)}`, `${f.crate} ${f.version} in ${workspaceLabel(f)}`];
  const patched = patchedLabel(f);
  if (patched !== undefined && f.state !== 'resolved') parts.push(`patched: ${patched}`);
  if (f.advisory?.url) parts.push(f.advisory.url);
  return parts.join(' — ');
}

/** A readable block of text for a terminal (the notifier without a webhook prints these). */
export function plainTextAlert(f: FindingEvent): string {
  const lines = [
    `== ${f.state === 'resolved' ? 'RESOLVED' : severityLabel(f)} · ${subject(f)}`,
    `   crate:      ${f.crate} ${f.version}`,
    `   workspace:  ${workspaceLabel(f)} (org ${f.workspace.org})`,
    `   state:      ${f.state}`,
    `   score:      ${f.score} (${f.severity})`,
  ];
  const patched = patchedLabel(f);
  if (patched !== undefined) lines.push(`   patched:    ${patched}`);
  if (f.advisory?.aliases.length) lines.push(`   aliases:    ${f.advisory.aliases.join(', ')}`);
  if (f.advisory?.url) lines.push(`   link:       ${f.advisory.url}`);
  for (const w of f.why) lines.push(`   why:        ${w.signal} +${w.contribution}: ${w.detail}`);
  lines.push(`   finding:    ${f.id}`);
  return lines.join('\n') + '\n';
}
