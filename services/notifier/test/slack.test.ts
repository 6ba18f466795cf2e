import { describe, expect, it } from 'vitest';
import type { FindingEvent } from '@cratewatch/shared';
import { plainSummary, plainTextAlert, slackMessage } from '../src/slack.js';

const finding: FindingEvent = {
  v: 1,
  id: 'ws-payments|rsa|0.9.6|advisory:RUSTSEC-2023-0071',
  kind: 'advisory',
  state: 'open',
  severity: 'medium',
  score: 5.9,
  workspace: { id: 'ws-payments', org: 'acme', team: 'payments' },
  crate: 'rsa',
  version: '0.9.6',
  why: [{ signal: 'advisory.vulnerability', contribution: 5.9, detail: 'RUSTSEC-2023-0071: Marvin Attack — CVSS 3.1 5.9' }],
  advisory: {
    id: 'RUSTSEC-2023-0071',
    title: 'Marvin Attack: potential key recovery through timing sidechannels',
    url: 'https://rustsec.org/advisories/RUSTSEC-2023-0071.html',
    patched: [],
    aliases: ['CVE-2023-49092', 'GHSA-c38w-74pg-36hr'],
  },
  observedAt: '2025-01-02T03:04:05.000Z',
};

describe('slackMessage (Block Kit)', () => {
  it('renders an open advisory finding exactly', () => {
    expect(slackMessage(finding)).toEqual({
      text:
        '[MEDIUM] RUSTSEC-2023-0071: Marvin Attack: potential key recovery through timing sidechannels — ' +
        'rsa 0.9.6 in ws-payments (team payments) — patched: no patched version — https://rustsec.org/advisories/RUSTSEC-2023-0071.html',
      blocks: [
        {
          type: 'header',
          text: { type: 'plain_text', text: 'MEDIUM · RUSTSEC-2023-0071: Marvin Attack: potential key recovery through timing sidechannels', emoji: true },
        },
        {
          type: 'section',
          fields: [
            { type: 'mrkdwn', text: '*Crate*\n`rsa 0.9.6`' },
            { type: 'mrkdwn', text: '*Workspace*\nws-payments (team payments)' },
            { type: 'mrkdwn', text: '*Severity*\n:large_yellow_circle: medium (score 5.9)' },
            { type: 'mrkdwn', text: '*State*\nopen' },
            { type: 'mrkdwn', text: '*Patched versions*\nno patched version' },
            { type: 'mrkdwn', text: '*Aliases*\nCVE-2023-49092, GHSA-c38w-74pg-36hr' },
          ],
        },
        {
          type: 'section',
          text: { type: 'mrkdwn', text: '<https://rustsec.org/advisories/RUSTSEC-2023-0071.html|View advisory RUSTSEC-2023-0071>' },
        },
        {
          type: 'context',
          elements: [{ type: 'mrkdwn', text: 'advisory.vulnerability +5.9: RUSTSEC-2023-0071: Marvin Attack — CVSS 3.1 5.9' }],
        },
      ],
    });
  });

  it('lists patched versions and omits the team when there is none', () => {
    const f: FindingEvent = {
      ...finding,
      workspace: { id: 'ws-x', org: 'acme' },
      advisory: { ...finding.advisory!, patched: ['>=0.9.7', '^0.8.5'] },
    };
    const m = slackMessage(f);
    const fields = (m.blocks[1] as { fields: { text: string }[] }).fields.map((x) => x.text);
    expect(fields).toContain('*Patched versions*\n&gt;=0.9.7, ^0.8.5'); // Slack shows &gt; as >
    expect(fields).toContain('*Workspace*\nws-x');
    expect(m.text).toContain('patched: &gt;=0.9.7, ^0.8.5');
  });

  it('labels informational advisories as such', () => {
    const f: FindingEvent = {
      ...finding,
      severity: 'low',
      score: 2,
      advisory: { ...finding.advisory!, id: 'RUSTSEC-2024-0370', title: 'proc-macro-error is unmaintained', informational: 'unmaintained' },
    };
    const m = slackMessage(f);
    expect(m.blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: 'LOW · informational (unmaintained) · RUSTSEC-2024-0370: proc-macro-error is unmaintained', emoji: true },
    });
    expect(m.text.startsWith('[LOW · informational (unmaintained)] RUSTSEC-2024-0370')).toBe(true);
  });

  it('a resolved finding is its own "resolved" message', () => {
    const m = slackMessage({ ...finding, state: 'resolved' });
    expect(m.blocks[0]).toEqual({
      type: 'header',
      text: { type: 'plain_text', text: '✅ Resolved · RUSTSEC-2023-0071: Marvin Attack: potential key recovery through timing sidechannels', emoji: true },
    });
    expect(JSON.stringify(m.blocks)).toContain('*State*\\nresolved');
    expect(JSON.stringify(m.blocks)).toContain('This finding is *resolved*');
    expect(m.text.startsWith('[RESOLVED] RUSTSEC-2023-0071')).toBe(true);
    expect(m.text).not.toContain('patched:');
  });

  it('escapes mrkdwn control characters and keeps the header within 150 characters', () => {
    const m = slackMessage({
      ...finding,
      crate: 'evil<@U123>&co',
      advisory: { ...finding.advisory!, title: 'x'.repeat(300), url: 'javascript:alert(1)' },
    });
    const header = m.blocks[0] as { text: { text: string } };
    expect(header.text.text.length).toBe(150);
    expect(header.text.text.endsWith('…')).toBe(true);
    const json = JSON.stringify(m.blocks);
    expect(json).toContain('evil&lt;@U123&gt;&amp;co');
    expect(json).not.toContain('<@U123>');
    expect(json).not.toContain('javascript:'); // not an http(s) URL: no link
  });

  it('renders non-advisory findings by their kind', () => {
    const { advisory: _omit, ...rest } = finding;
    const m = slackMessage({ ...rest, kind: 'unvetted', severity: 'high', score: 7.5 });
    expect((m.blocks[0] as { text: { text: string } }).text.text).toBe('HIGH · unvetted crate');
    expect(JSON.stringify(m.blocks)).not.toContain('Patched versions');
  });
});

describe('plain text alerts (no webhook)', () => {
  it('prints one readable block per alert', () => {
    expect(plainTextAlert(finding)).toBe(
      [
        '== MEDIUM · RUSTSEC-2023-0071: Marvin Attack: potential key recovery through timing sidechannels',
        '   crate:      rsa 0.9.6',
        '   workspace:  ws-payments (team payments) (org acme)',
        '   state:      open',
        '   score:      5.9 (medium)',
        '   patched:    no patched version',
        '   aliases:    CVE-2023-49092, GHSA-c38w-74pg-36hr',
        '   link:       https://rustsec.org/advisories/RUSTSEC-2023-0071.html',
        '   why:        advisory.vulnerability +5.9: RUSTSEC-2023-0071: Marvin Attack — CVSS 3.1 5.9',
        '   finding:    ws-payments|rsa|0.9.6|advisory:RUSTSEC-2023-0071',
        '',
      ].join('\n'),
    );
    expect(plainSummary({ ...finding, state: 'resolved' })).toBe(
      '[RESOLVED] RUSTSEC-2023-0071: Marvin Attack: potential key recovery through timing sidechannels — rsa 0.9.6 in ws-payments (team payments) — https://rustsec.org/advisories/RUSTSEC-2023-0071.html',
    );
  });
});
