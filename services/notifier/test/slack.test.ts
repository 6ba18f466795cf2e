import { describe, expect, it } from 'vitest';
import {
  denyFindingEvent,
  maintainerFinding,
  unvettedFinding,
  type FindingEvent,
  type MaintainerFacts,
  type PackageVerdict,
} from '@cratewatch/shared';
import { plainSummary, plainTextAlert, plainTextDigest, slackDigest, slackMessage } from '../src/slack.js';

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
          text: {
            type: 'plain_text',
            text: 'MEDIUM · RUSTSEC-2023-0071: Marvin Attack: potential key recovery through timing sidechannels',
            emoji: true,
          },
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
      text: {
        type: 'plain_text',
        text: 'LOW · informational (unmaintained) · RUSTSEC-2024-0370: proc-macro-error is unmaintained',
        emoji: true,
      },
    });
    expect(m.text.startsWith('[LOW · informational (unmaintained)] RUSTSEC-2024-0370')).toBe(true);
  });

  it('an escalation (the route had it open at a lower severity) says so in the header, state and text; a resolution ignores it', () => {
    const critical = { ...finding, severity: 'critical' as const, score: 9.1 };
    const m = slackMessage(critical, { escalatedFrom: 'medium' });
    expect(m.blocks[0]).toEqual({
      type: 'header',
      text: {
        type: 'plain_text',
        text: '⬆ CRITICAL · RUSTSEC-2023-0071: Marvin Attack: potential key recovery through timing sidechannels',
        emoji: true,
      },
    });
    expect(JSON.stringify(m.blocks)).toContain('*State*\\nopen, ⬆ escalated from medium');
    expect(m.text.startsWith('[CRITICAL ⬆ escalated from medium] RUSTSEC-2023-0071')).toBe(true);
    expect(plainTextAlert(critical, { escalatedFrom: 'medium' }).split('\n').slice(0, 1)).toEqual([
      '== ⬆ CRITICAL · RUSTSEC-2023-0071: Marvin Attack: potential key recovery through timing sidechannels',
    ]);
    expect(plainTextAlert(critical, { escalatedFrom: 'medium' })).toContain('   state:      open, ⬆ escalated from medium');
    expect(slackMessage({ ...critical, state: 'resolved' }, { escalatedFrom: 'medium' })).toEqual(
      slackMessage({ ...critical, state: 'resolved' }),
    );
    expect(slackMessage(critical)).not.toEqual(m);
  });

  it('a resolved finding is its own "resolved" message', () => {
    const m = slackMessage({ ...finding, state: 'resolved' });
    expect(m.blocks[0]).toEqual({
      type: 'header',
      text: {
        type: 'plain_text',
        text: '✅ Resolved · RUSTSEC-2023-0071: Marvin Attack: potential key recovery through timing sidechannels',
        emoji: true,
      },
    });
    expect(JSON.stringify(m.blocks)).toContain('*State*\\nresolved');
    expect(JSON.stringify(m.blocks)).toContain('This finding is *resolved*');
    expect(m.text.startsWith('[RESOLVED] RUSTSEC-2023-0071')).toBe(true);
    expect(m.text).not.toContain('patched:');
  });

  it("an advisory finding resolved by the workspace's VEX says so, not that the crate is no longer locked", () => {
    const why = [
      ...finding.why,
      {
        signal: 'vex.not_affected',
        contribution: 0,
        detail: 'vulnerable_code_not_in_execute_path: we never decrypt (vex.json statements[0], 2025-01-01T00:00:00Z)',
      },
    ];
    const json = JSON.stringify(slackMessage({ ...finding, state: 'resolved', why }).blocks);
    expect(json).toContain(
      'a VEX statement of `ws-payments` says `rsa 0.9.6` is not affected (vulnerable_code_not_in_execute_path: we never decrypt',
    );
    expect(json).not.toContain('no longer locks');
    expect(JSON.stringify(slackMessage({ ...finding, state: 'resolved' }).blocks)).toContain('no longer locks an affected');
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

  it('a maintainer finding without details still names its crate and version', () => {
    const { advisory: _omit, ...rest } = finding;
    const m = slackMessage({ ...rest, kind: 'maintainer', severity: 'high', score: 7.5 });
    expect((m.blocks[0] as { text: { text: string } }).text.text).toBe('[HIGH] maintainer risk: rsa 0.9.6');
    expect(JSON.stringify(m.blocks)).not.toContain('Patched versions');
  });
});

/** A verdict as the resolver gives it: aes 0.9.2 unvetted for safe-to-deploy, a delta audit from 0.8.4 suggested. */
function verdict(o: Partial<PackageVerdict> = {}): PackageVerdict {
  return {
    id: 'aes 0.9.2',
    name: 'aes',
    version: '0.9.2',
    vetVersion: '0.9.2',
    thirdParty: true,
    status: 'unvetted',
    required: ['safe-to-deploy'],
    requiredBy: [
      { by: 'spin-cli@3.0.0', criteria: ['safe-to-deploy'], kind: 'normal', why: 'policy.criteria' },
      { by: 'spin-trigger@3.0.0', criteria: ['safe-to-deploy'], kind: 'normal', why: 'default-criteria' },
      { by: 'cipher@0.5.0', criteria: ['safe-to-deploy'], kind: 'normal', why: 'dependent' },
      { by: 'ctr@0.10.0', criteria: ['safe-to-deploy'], kind: 'normal', why: 'dependent' },
      { by: 'aes-gcm@0.11.0', criteria: ['safe-to-deploy'], kind: 'normal', why: 'dependent' },
    ],
    missing: ['safe-to-deploy'],
    path: [],
    suggestion: {
      criteria: ['safe-to-deploy'],
      kind: 'delta',
      from: '0.8.4',
      to: '0.9.2',
      command: 'cargo vet certify aes 0.8.4 0.9.2 --criteria safe-to-deploy',
    },
    ...o,
  };
}

const ws = { id: 'ws-payments', org: 'acme', team: 'payments' };
// A variable (not a literal at the call): the scorer's Impact may lose or gain fields without this breaking.
const impact = { buildTime: true, direct: true, fanIn: 8, orgWorkspaces: 1 };
const noImpact = { buildTime: false, direct: false, fanIn: 1, orgWorkspaces: 1 };
const unvetted = unvettedFinding(ws, verdict(), impact, 'open', '2025-01-02T03:04:05.000Z');

describe('slackMessage for unvetted findings', () => {
  it('renders an open unvetted finding exactly', () => {
    // The scorer's own rules: 3 + 2 + 1.5 + 2 = 8.5, high.
    expect(unvetted).toMatchObject({ id: 'ws-payments|aes|0.9.2|unvetted', kind: 'unvetted', severity: 'high', score: 8.5 });
    expect(slackMessage(unvetted)).toEqual({
      text:
        '[HIGH] unvetted: aes 0.9.2 in ws-payments (team payments) — needs safe-to-deploy (missing: safe-to-deploy) — ' +
        'fix: cargo vet certify aes 0.8.4 0.9.2 --criteria safe-to-deploy',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: '[HIGH] unvetted: aes 0.9.2', emoji: true } },
        {
          type: 'section',
          fields: [
            { type: 'mrkdwn', text: '*Crate*\n`aes 0.9.2`' },
            { type: 'mrkdwn', text: '*Workspace*\nws-payments (team payments)' },
            { type: 'mrkdwn', text: '*Severity*\n:large_orange_circle: high (score 8.5)' },
            { type: 'mrkdwn', text: '*State*\nopen' },
            { type: 'mrkdwn', text: '*Needs*\nsafe-to-deploy (missing: safe-to-deploy)' },
            {
              type: 'mrkdwn',
              text: '*Requested by*\nspin-cli@3.0.0 (policy.criteria), spin-trigger@3.0.0 (default-criteria), cipher@0.5.0 (dependent) and 2 more',
            },
          ],
        },
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text: '*Suggested fix* (delta audit 0.8.4 → 0.9.2)\n`cargo vet certify aes 0.8.4 0.9.2 --criteria safe-to-deploy`',
          },
        },
        {
          type: 'context',
          elements: [
            {
              type: 'mrkdwn',
              text:
                'vet.unvetted +3: no trusted audit or exemption gives it safe-to-deploy\n' +
                'impact.build-time +2: runs at build time (a build-dependency or one of its dependencies)\n' +
                "impact.direct +1.5: a direct dependency of the workspace's own crates\n" +
                'impact.fan-in +2: 8 packages of the workspace depend on it',
            },
          ],
        },
      ],
    });
  });

  it('a violation, without a suggestion, whose verdict depends on dependency kinds', () => {
    const { suggestion: _s, ...v } = verdict({
      status: 'violation',
      requiredBy: [{ by: 'app@1.0.0', criteria: ['safe-to-deploy'], kind: 'normal', why: 'policy.criteria' }],
      kindDependent: { ifDevEdges: 'vetted', ifNormalEdges: 'violation', required: ['safe-to-deploy'] },
    });
    const f = unvettedFinding({ id: 'ws-x', org: 'acme' }, v, noImpact, 'open', '2025-01-02T03:04:05.000Z');
    expect(slackMessage(f)).toEqual({
      text: '[HIGH] violation: aes 0.9.2 in ws-x — needs safe-to-deploy (missing: safe-to-deploy) — no suggestion',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: '[HIGH] violation: aes 0.9.2', emoji: true } },
        {
          type: 'section',
          fields: [
            { type: 'mrkdwn', text: '*Crate*\n`aes 0.9.2`' },
            { type: 'mrkdwn', text: '*Workspace*\nws-x' },
            { type: 'mrkdwn', text: '*Severity*\n:large_orange_circle: high (score 6)' },
            { type: 'mrkdwn', text: '*State*\nopen' },
            { type: 'mrkdwn', text: '*Needs*\nsafe-to-deploy (missing: safe-to-deploy)' },
            { type: 'mrkdwn', text: '*Requested by*\napp@1.0.0 (policy.criteria)' },
          ],
        },
        { type: 'section', text: { type: 'mrkdwn', text: '*Suggested fix*\nno suggestion' } },
        {
          type: 'context',
          elements: [{ type: 'mrkdwn', text: ':warning: verdict depends on dependency kinds: the workspace sent only a Cargo.lock' }],
        },
        {
          type: 'context',
          elements: [{ type: 'mrkdwn', text: 'vet.violation +6: a trusted audit records a violation for this version' }],
        },
      ],
    });
  });

  it('a resolved unvetted finding is its own "Resolved" message, without the fix', () => {
    const f = unvettedFinding(ws, verdict(), impact, 'resolved', '2025-01-03T00:00:00.000Z');
    expect(slackMessage(f)).toEqual({
      text: '[RESOLVED] unvetted: aes 0.9.2 in ws-payments (team payments)',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: '✅ Resolved · unvetted: aes 0.9.2', emoji: true } },
        {
          type: 'section',
          fields: [
            { type: 'mrkdwn', text: '*Crate*\n`aes 0.9.2`' },
            { type: 'mrkdwn', text: '*Workspace*\nws-payments (team payments)' },
            { type: 'mrkdwn', text: '*Severity*\n:large_orange_circle: high (score 8.5)' },
            { type: 'mrkdwn', text: '*State*\nresolved' },
            { type: 'mrkdwn', text: '*Needs*\nsafe-to-deploy (missing: safe-to-deploy)' },
          ],
        },
        {
          type: 'section',
          text: { type: 'mrkdwn', text: 'This finding is *resolved*: `aes 0.9.2` in `ws-payments` is no longer reported as unvetted.' },
        },
        slackMessage(unvetted).blocks[3] as { type: 'context' },
      ],
    });
  });

  it('escapes mrkdwn in every vet field and keeps the header within 150 characters', () => {
    const long = 'x'.repeat(200);
    const f = unvettedFinding(
      ws,
      verdict({
        name: `evil<@U123>&${long}`,
        required: ['<!channel>'],
        missing: ['<!channel>'],
        requiredBy: [{ by: '<@U999>', criteria: [], kind: 'normal', why: 'policy.criteria' }],
        suggestion: { criteria: [], kind: 'full', to: '0.9.2', command: 'cargo vet certify `rm -rf` <@U1> & co' },
      }),
      impact,
      'open',
      '2025-01-02T03:04:05.000Z',
    );
    const m = slackMessage(f);
    const header = m.blocks[0] as { text: { text: string } };
    expect(header.text.text.length).toBe(150);
    expect(header.text.text.startsWith('[HIGH] unvetted: evil<@U123>&x')).toBe(true); // plain_text: not parsed by Slack
    expect(header.text.text.endsWith('…')).toBe(true);
    // A header is plain_text, which Slack never parses; everything else is escaped.
    const json = JSON.stringify({ ...m, blocks: m.blocks.slice(1) });
    expect(json).not.toMatch(/<[@!]/);
    expect(json).toContain('&lt;!channel&gt;');
    expect(json).toContain('&lt;@U999&gt; (policy.criteria)');
    expect(json).toContain("*Suggested fix* (full audit of 0.9.2)\\n`cargo vet certify 'rm -rf' &lt;@U1&gt; &amp; co`");
  });
});

describe('plain text alerts (no webhook)', () => {
  it('prints an unvetted finding with what it needs, who asks and the fix', () => {
    expect(plainTextAlert({ ...unvetted, vet: { ...unvetted.vet!, kindDependent: true } })).toBe(
      [
        '== [HIGH] unvetted: aes 0.9.2',
        '   crate:      aes 0.9.2',
        '   workspace:  ws-payments (team payments) (org acme)',
        '   state:      open',
        '   score:      8.5 (high)',
        '   needs:      safe-to-deploy (missing: safe-to-deploy)',
        '   requested:  spin-cli@3.0.0 (policy.criteria), spin-trigger@3.0.0 (default-criteria), cipher@0.5.0 (dependent), ctr@0.10.0 (dependent), aes-gcm@0.11.0 (dependent)',
        '   fix:        cargo vet certify aes 0.8.4 0.9.2 --criteria safe-to-deploy (delta audit 0.8.4 → 0.9.2)',
        '   note:       verdict depends on dependency kinds: the workspace sent only a Cargo.lock',
        '   why:        vet.unvetted +3: no trusted audit or exemption gives it safe-to-deploy',
        '   why:        impact.build-time +2: runs at build time (a build-dependency or one of its dependencies)',
        "   why:        impact.direct +1.5: a direct dependency of the workspace's own crates",
        '   why:        impact.fan-in +2: 8 packages of the workspace depend on it',
        '   finding:    ws-payments|aes|0.9.2|unvetted',
        '',
      ].join('\n'),
    );
    const resolved = plainTextAlert({ ...unvetted, state: 'resolved' });
    expect(resolved.split('\n')[0]).toBe('== RESOLVED · unvetted: aes 0.9.2');
    expect(resolved).not.toContain('fix:');
  });

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

describe('slackDigest (a burst for one route)', () => {
  const adv = (n: number, o: Partial<FindingEvent> = {}): FindingEvent => ({
    ...finding,
    id: `ws-payments|crate${n}|1.0.${n}|advisory:RUSTSEC-2025-${1000 + n}`,
    crate: `crate${n}`,
    version: `1.0.${n}`,
    advisory: { ...finding.advisory!, id: `RUSTSEC-2025-${1000 + n}`, title: `title ${n}` },
    ...o,
  });

  it('renders a small digest exactly: counts by state, severity and kind, workspaces, every change by score', () => {
    const resolvedAes = unvettedFinding(ws, verdict(), impact, 'resolved', '2025-01-03T00:00:00.000Z');
    const m = slackDigest([
      adv(1),
      unvetted,
      adv(2, { severity: 'critical', score: 9.1, workspace: { id: 'ws-search', org: 'acme' } }),
      resolvedAes,
    ]);
    expect(m).toEqual({
      text: 'Digest: 4 finding state changes (3 open, 1 resolved); highest: [CRITICAL] RUSTSEC-2025-1002: title 2',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: 'Digest · 4 finding state changes (3 open, 1 resolved)', emoji: true } },
        {
          type: 'section',
          fields: [
            { type: 'mrkdwn', text: '*Opened*\n3' },
            { type: 'mrkdwn', text: '*Resolved*\n1' },
            {
              type: 'mrkdwn',
              text: '*By severity*\n:red_circle: 1 critical\n:large_orange_circle: 2 high\n:large_yellow_circle: 1 medium',
            },
            { type: 'mrkdwn', text: '*By kind*\n2 advisory\n2 unvetted' },
            { type: 'mrkdwn', text: '*Workspaces (2)*\nws-payments (team payments), ws-search' },
          ],
        },
        { type: 'divider' },
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text: [
              '*By score*',
              ':red_circle: *9.1* critical · RUSTSEC-2025-1002: title 2 · `crate2 1.0.2` in ws-search',
              ':large_orange_circle: *8.5* high · unvetted `aes 0.9.2` in ws-payments (team payments) · needs safe-to-deploy (missing: safe-to-deploy)',
              ':white_check_mark: *8.5* resolved · unvetted `aes 0.9.2` in ws-payments (team payments)',
              ':large_yellow_circle: *5.9* medium · RUSTSEC-2025-1001: title 1 · `crate1 1.0.1` in ws-payments (team payments)',
            ].join('\n'),
          },
        },
      ],
    });
  });

  it('stays within Slack limits for a large burst of long names, and counts what it does not list', () => {
    const long = 'y'.repeat(500);
    const fs = Array.from({ length: 500 }, (_, i) =>
      adv(i, {
        score: (i % 100) / 10,
        crate: `c${i}-${long}&<>`,
        workspace: { id: `ws-${i % 40}-${long}`, org: 'acme', team: `t<${i}>` },
        advisory: { ...finding.advisory!, id: `RUSTSEC-2025-${i}`, title: `${long}<@U1>` },
      }),
    );
    const m = slackDigest(fs);
    expect(m.blocks.length).toBeLessThanOrEqual(50);
    const header = m.blocks[0] as { text: { text: string } };
    expect(header.text.text).toBe('Digest · 500 finding state changes (500 open, 0 resolved)');
    for (const b of m.blocks) {
      if (b.type === 'section' && b.text) expect(b.text.text.length).toBeLessThanOrEqual(3000);
      if (b.type === 'section' && b.fields) {
        expect(b.fields.length).toBeLessThanOrEqual(10);
        for (const x of b.fields) expect(x.text.length).toBeLessThanOrEqual(2000);
      }
    }
    const text = JSON.stringify(m.blocks);
    expect(text).not.toMatch(/<[@!]/);
    // The 15 highest scores are listed, highest first; the rest counted.
    const listed = m.blocks
      .filter((b): b is { type: 'section'; text: { type: 'mrkdwn'; text: string } } => b.type === 'section' && !!b.text)
      .flatMap((b) => b.text.text.split('\n'))
      .filter((l) => l.startsWith(':'));
    expect(listed).toHaveLength(15);
    expect(listed.map((l) => /\*(\d\.\d)\*/.exec(l)![1])).toEqual([
      ...Array(5).fill('9.9'),
      ...Array(5).fill('9.8'),
      ...Array(5).fill('9.7'),
    ]);
    expect(m.blocks[m.blocks.length - 1]).toEqual({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: '…and 485 more (see the risk feed)' }],
    });
    expect((m.blocks[1] as { fields: { text: string }[] }).fields[4]!.text.startsWith('*Workspaces (40)*\n')).toBe(true);
    expect((m.blocks[1] as { fields: { text: string }[] }).fields[4]!.text).toContain(' and 35 more');
  });

  it('prints a digest as one text block listing every change', () => {
    const text = plainTextDigest([adv(1), unvetted]);
    expect(text).toBe(
      [
        '== DIGEST · 2 finding state changes (2 open, 0 resolved)',
        '   by severity: 1 high, 1 medium',
        '   by kind:     1 advisory, 1 unvetted',
        '   workspaces:  ws-payments (team payments)',
        '   - [HIGH] unvetted: aes 0.9.2 in ws-payments (team payments) — needs safe-to-deploy (missing: safe-to-deploy) — fix: cargo vet certify aes 0.8.4 0.9.2 --criteria safe-to-deploy (score 8.5; finding ws-payments|aes|0.9.2|unvetted)',
        '   - [MEDIUM] RUSTSEC-2025-1001: title 1 — crate1 1.0.1 in ws-payments (team payments) — patched: no patched version — https://rustsec.org/advisories/RUSTSEC-2023-0071.html (score 5.9; finding ws-payments|crate1|1.0.1|advisory:RUSTSEC-2025-1001)',
        '',
      ].join('\n'),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Maintainer risk findings, built with the scorer's own rules (shared maintainerFinding).

const OBSERVED = '2025-03-01T00:00:00.000Z';
const daysBefore = (n: number) => new Date(Date.parse(OBSERVED) - n * 86_400_000).toISOString();

/** A takeover: the owner replaced, the newcomer publishing after two years of silence, unsigned commits. */
const takeoverFacts: MaintainerFacts = {
  crate: 'quietcrate',
  maintainers: {
    observedAt: OBSERVED,
    owners: [{ login: 'mallory', kind: 'user' }],
    ownershipChange: { added: ['mallory'], removed: ['alice'], observedAt: daysBefore(30) },
    repository: { url: 'https://github.com/acme/quietcrate', signedCommits: { signed: 0, total: 50, ratio: 0 } },
  },
  releases: [
    { version: '1.0.0', publishedAt: daysBefore(800), publisher: 'alice', yanked: false },
    { version: '1.0.1', publishedAt: daysBefore(10), publisher: 'mallory', yanked: false },
  ],
};

/** A typosquat: one owner, no repository, a name one separator away from rust_decimal; the registry names no publisher. */
const squatFacts: MaintainerFacts = {
  crate: 'rustdecimal',
  maintainers: { observedAt: OBSERVED, owners: [{ login: 'mallory', kind: 'user' }], repository: 'missing' },
  releases: [
    { version: '1.23.0', publishedAt: daysBefore(20), yanked: false },
    { version: '1.23.1', publishedAt: daysBefore(3), yanked: false },
  ],
};

const takeover = maintainerFinding(ws, takeoverFacts, '1.0.1', 'open', OBSERVED);
const squat = maintainerFinding({ id: 'ws-x', org: 'acme' }, squatFacts, '1.23.0', 'open', OBSERVED);

const takeoverWhy = [
  '• maintainer.single-owner +2: one owner can publish: mallory',
  '• maintainer.owner-change +3: owners replaced 2025-01-30: added mallory; removed alice',
  '• release.new-publisher +2: 1.0.1 (2025-02-19) published by mallory, who published none of the 1 earlier releases (alice)',
  '• release.after-dormancy +2: 1.0.1 (2025-02-19) came 790 days after 1.0.0',
  '• repository.unsigned-commits +1: 0 of the last 50 commits signed',
];

describe('slackMessage for maintainer findings', () => {
  it('renders an open takeover exactly: owners, repository link, latest release, the signals as the body', () => {
    // The scorer's own rules: 2 + 3 + 2 + 2 + 1 = 10, high.
    expect(takeover).toMatchObject({ id: 'ws-payments|quietcrate|1.0.1|maintainer', kind: 'maintainer', severity: 'high', score: 10 });
    expect(slackMessage(takeover)).toEqual({
      text:
        '[HIGH] maintainer risk: quietcrate 1.0.1 in ws-payments (team payments) — ' +
        'maintainer.single-owner +2, maintainer.owner-change +3, release.new-publisher +2, release.after-dormancy +2, repository.unsigned-commits +1',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: '[HIGH] maintainer risk: quietcrate 1.0.1', emoji: true } },
        {
          type: 'section',
          fields: [
            { type: 'mrkdwn', text: '*Crate*\n`quietcrate 1.0.1`' },
            { type: 'mrkdwn', text: '*Workspace*\nws-payments (team payments)' },
            { type: 'mrkdwn', text: '*Severity*\n:large_orange_circle: high (score 10)' },
            { type: 'mrkdwn', text: '*State*\nopen' },
            { type: 'mrkdwn', text: '*Owners (1)*\nmallory' },
            { type: 'mrkdwn', text: '*Repository*\n<https://github.com/acme/quietcrate|github.com/acme/quietcrate>' },
            { type: 'mrkdwn', text: '*Latest release*\n1.0.1 by mallory on 2025-02-19 (this version)' },
          ],
        },
        { type: 'section', text: { type: 'mrkdwn', text: ['*Why*', ...takeoverWhy].join('\n') } },
      ],
    });
  });

  it('a lookalike name without a repository: "none on crates.io", "looks like", a release without publisher', () => {
    expect(squat).toMatchObject({ severity: 'medium', score: 7, maintainer: { lookalikeOf: 'rust_decimal', repository: 'missing' } });
    expect(slackMessage(squat)).toEqual({
      text:
        '[MEDIUM] maintainer risk: rustdecimal 1.23.0 in ws-x — looks like rust_decimal — ' +
        'maintainer.single-owner +2, repository.missing +2, name.lookalike +3',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: '[MEDIUM] maintainer risk: rustdecimal 1.23.0', emoji: true } },
        {
          type: 'section',
          fields: [
            { type: 'mrkdwn', text: '*Crate*\n`rustdecimal 1.23.0`' },
            { type: 'mrkdwn', text: '*Workspace*\nws-x' },
            { type: 'mrkdwn', text: '*Severity*\n:large_yellow_circle: medium (score 7)' },
            { type: 'mrkdwn', text: '*State*\nopen' },
            { type: 'mrkdwn', text: '*Owners (1)*\nmallory' },
            { type: 'mrkdwn', text: '*Repository*\nnone on crates.io' },
            { type: 'mrkdwn', text: '*Latest release*\n1.23.1 on 2025-02-26' },
            { type: 'mrkdwn', text: '*Name*\n:warning: looks like `rust_decimal`' },
          ],
        },
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text: [
              '*Why*',
              '• maintainer.single-owner +2: one owner can publish: mallory',
              '• repository.missing +2: no source repository to compare the published code with',
              '• name.lookalike +3: rustdecimal is rust_decimal with its separators changed',
            ].join('\n'),
          },
        },
      ],
    });
  });

  it('shortens many owners to the first five and "and N more"', () => {
    const owners = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'github:acme:core'].map((login) => ({
      login,
      kind: login.startsWith('github:') ? ('team' as const) : ('user' as const),
    }));
    const f = maintainerFinding(
      ws,
      { ...squatFacts, crate: 'tokio-utill', maintainers: { ...squatFacts.maintainers!, owners } },
      '0.7.0',
      'open',
      OBSERVED,
    );
    const fields = (slackMessage(f).blocks[1] as { fields: { text: string }[] }).fields.map((x) => x.text);
    expect(fields[4]).toBe('*Owners (8)*\nalice, bob, carol, dave, erin and 3 more');
    expect(fields).toContain('*Name*\n:warning: looks like `tokio-util`');
    expect(fields).toContain('*Latest release*\n1.23.1 on 2025-02-26');
    // The stdout block lists them all.
    expect(plainTextAlert(f)).toContain('   owners:     alice, bob, carol, dave, erin, frank, github:acme:core, grace\n');
  });

  it('a resolved maintainer finding is its own "Resolved" message, without the details', () => {
    const f = maintainerFinding(ws, takeoverFacts, '1.0.1', 'resolved', '2025-03-05T00:00:00.000Z');
    expect(slackMessage(f)).toEqual({
      text: '[RESOLVED] maintainer risk: quietcrate 1.0.1 in ws-payments (team payments)',
      blocks: [
        { type: 'header', text: { type: 'plain_text', text: '✅ Resolved · maintainer risk: quietcrate 1.0.1', emoji: true } },
        {
          type: 'section',
          fields: [
            { type: 'mrkdwn', text: '*Crate*\n`quietcrate 1.0.1`' },
            { type: 'mrkdwn', text: '*Workspace*\nws-payments (team payments)' },
            { type: 'mrkdwn', text: '*Severity*\n:large_orange_circle: high (score 10)' },
            { type: 'mrkdwn', text: '*State*\nresolved' },
          ],
        },
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text: 'This finding is *resolved*: `quietcrate 1.0.1` in `ws-payments` is no longer reported as a maintainer risk.',
          },
        },
        { type: 'context', elements: [{ type: 'mrkdwn', text: takeoverWhy.map((l) => l.slice(2)).join('\n') }] },
      ],
    });
  });

  it('an event without details (an older scorer): the crate, the signals, no detail fields', () => {
    const { maintainer: _m, ...bare } = squat;
    const m = slackMessage(bare);
    expect((m.blocks[0] as { text: { text: string } }).text.text).toBe('[MEDIUM] maintainer risk: rustdecimal 1.23.0');
    expect((m.blocks[1] as { fields: unknown[] }).fields).toHaveLength(4);
    expect(m.blocks[2]).toEqual(slackMessage(squat).blocks[2]);
    expect(m.text).toBe(
      '[MEDIUM] maintainer risk: rustdecimal 1.23.0 in ws-x — maintainer.single-owner +2, repository.missing +2, name.lookalike +3',
    );
  });

  it('escapes mrkdwn in every maintainer field, links only safe URLs, keeps the header within 150 characters', () => {
    const long = 'x'.repeat(200);
    const f = maintainerFinding(
      ws,
      {
        crate: `evil<@U123>&${long}`,
        maintainers: {
          observedAt: OBSERVED,
          owners: [{ login: '<!channel>', kind: 'user' }],
          ownershipChange: { added: ['<!channel>'], removed: ['<@U999>'], observedAt: daysBefore(5) },
          repository: { url: 'https://evil.example/x|<@U1>', archived: true },
        },
        releases: [{ version: '9.9.9', publishedAt: daysBefore(1), publisher: '<!here>', yanked: false }],
      },
      '9.9.9',
      'open',
      OBSERVED,
    );
    const m = slackMessage(f);
    const header = m.blocks[0] as { text: { text: string } };
    expect(header.text.text.length).toBe(150);
    expect(header.text.text.startsWith('[MEDIUM] maintainer risk: evil<@U123>&x')).toBe(true); // plain_text: not parsed by Slack
    expect(header.text.text.endsWith('…')).toBe(true);
    const json = JSON.stringify({ ...m, blocks: m.blocks.slice(1) });
    expect(json).not.toMatch(/<[@!]/);
    const fields = (m.blocks[1] as { fields: { text: string }[] }).fields.map((x) => x.text);
    expect(fields).toContain('*Owners (1)*\n&lt;!channel&gt;');
    // Not a URL Slack could link safely (a `|` would end it): shown as text.
    expect(fields).toContain('*Repository*\nhttps://evil.example/x|&lt;@U1&gt;');
    expect(fields).toContain('*Latest release*\n9.9.9 by &lt;!here&gt; on 2025-02-28 (this version)');
    expect(json).toContain('added &lt;!channel&gt;; removed &lt;@U999&gt;');
    for (const b of m.blocks) if (b.type === 'section' && b.text) expect(b.text.text.length).toBeLessThanOrEqual(3000);
  });

  it('keeps the why section within 3000 characters however long the details, without cutting an entity', () => {
    const why = Array.from({ length: 12 }, (_, i) => ({ signal: `s.${i}`, contribution: 1, detail: '&'.repeat(400) }));
    const m = slackMessage({ ...squat, why });
    const section = m.blocks[2] as { type: 'section'; text: { text: string } };
    expect(section.text.text.length).toBeLessThanOrEqual(3000);
    expect(section.text.text).toMatch(/\n…and \d+ more signals$/);
    for (const line of section.text.text.split('\n').slice(1, -1)) expect(line).toMatch(/^• s\.\d+ \+1: (&amp;)+…$/);
  });
});

describe('plain text and digests for maintainer findings', () => {
  it('prints the stdout block with owners, repository, latest release, name and signals', () => {
    expect(plainTextAlert(squat)).toBe(
      [
        '== [MEDIUM] maintainer risk: rustdecimal 1.23.0',
        '   crate:      rustdecimal 1.23.0',
        '   workspace:  ws-x (org acme)',
        '   state:      open',
        '   score:      7 (medium)',
        '   owners:     mallory',
        '   repository: none on crates.io',
        '   latest:     1.23.1 on 2025-02-26',
        '   name:       looks like rust_decimal',
        '   why:        maintainer.single-owner +2: one owner can publish: mallory',
        '   why:        repository.missing +2: no source repository to compare the published code with',
        '   why:        name.lookalike +3: rustdecimal is rust_decimal with its separators changed',
        '   finding:    ws-x|rustdecimal|1.23.0|maintainer',
        '',
      ].join('\n'),
    );
    expect(plainTextAlert(takeover)).toContain(
      '   repository: https://github.com/acme/quietcrate\n   latest:     1.0.1 by mallory on 2025-02-19 (this version)\n',
    );
    const resolved = plainTextAlert({ ...squat, state: 'resolved' });
    expect(resolved.split('\n')[0]).toBe('== RESOLVED · maintainer risk: rustdecimal 1.23.0');
    expect(plainSummary({ ...squat, state: 'resolved' })).toBe('[RESOLVED] maintainer risk: rustdecimal 1.23.0 in ws-x');
  });

  it('digests list a maintainer risk with its lookalike and signals', () => {
    const resolvedTakeover = maintainerFinding(ws, takeoverFacts, '1.0.1', 'resolved', '2025-03-05T00:00:00.000Z');
    const m = slackDigest([squat, takeover, resolvedTakeover]);
    expect(m.blocks[3]).toEqual({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: [
          '*By score*',
          ':large_orange_circle: *10* high · maintainer risk `quietcrate 1.0.1` in ws-payments (team payments) · ' +
            'maintainer.single-owner +2, maintainer.owner-change +3, release.new-publisher +2, release.after-dormancy +2, repository.unsigned-commits +1',
          ':white_check_mark: *10* resolved · maintainer risk `quietcrate 1.0.1` in ws-payments (team payments)',
          ':large_yellow_circle: *7* medium · maintainer risk `rustdecimal 1.23.0` in ws-x · looks like rust_decimal; maintainer.single-owner +2, repository.missing +2, name.lookalike +3',
        ].join('\n'),
      },
    });
    expect((m.blocks[1] as { fields: { text: string }[] }).fields[3]!.text).toBe('*By kind*\n3 maintainer');
    expect(plainTextDigest([squat]).split('\n')[4]).toBe(
      '   - [MEDIUM] maintainer risk: rustdecimal 1.23.0 in ws-x — looks like rust_decimal — maintainer.single-owner +2, repository.missing +2, name.lookalike +3 (score 7; finding ws-x|rustdecimal|1.23.0|maintainer)',
    );
  });
});

// cargo-deny findings, built with the scorer's own rule (shared denyFindingEvent).
describe('slackMessage for cargo-deny findings', () => {
  const problem = {
    check: 'bans' as const,
    code: 'banned',
    level: 'deny' as const,
    package: { id: 'openssl@0.10.0', name: 'openssl', version: '0.10.0' },
    message: 'crate is banned by bans.deny[0] "openssl" (we use rustls)',
    rule: { key: 'bans.deny[0]', line: 12 },
  };
  const open = denyFindingEvent({ id: 'ws-payments', org: 'acme' }, problem, 'ws-payments/deny.toml', 'open', '2025-01-02T03:04:05.000Z');
  const text = (m: ReturnType<typeof slackMessage>) => JSON.stringify(m.blocks);

  it('names the check and code in the header, the problem and the deny.toml rule with cargo-deny link as fields', () => {
    const m = slackMessage(open);
    expect((m.blocks[0] as { text: { text: string } }).text.text).toBe('[HIGH] cargo-deny bans/banned: openssl 0.10.0');
    const fields = (m.blocks[1] as { fields: { text: string }[] }).fields.map((f) => f.text);
    expect(fields).toContain('*Problem*\ncrate is banned by bans.deny[0] "openssl" (we use rustls)');
    expect(fields).toContain(
      '*Rule*\n`ws-payments/deny.toml:12 bans.deny[0]` (<https://embarkstudios.github.io/cargo-deny/checks/bans/diags.html#banned|cargo-deny banned>)',
    );
    expect(m.text).toContain('ws-payments/deny.toml:12 bans.deny[0]');
    expect(plainTextAlert(open)).toContain('   rule:       ws-payments/deny.toml:12 bans.deny[0]');
  });

  it('a resolved one says the check no longer fails, not that an advisory no longer hits', () => {
    const m = slackMessage({ ...open, state: 'resolved' });
    expect(text(m)).toContain("no longer fails cargo-deny's bans banned check.");
    expect(text(m)).not.toContain('affected');
  });
});
