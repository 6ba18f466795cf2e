import { describe, expect, it } from 'vitest';
import { FormatError, bearerToken, findAccessToken, hashToken, inScope, parseAccessTokens } from '../src/index.js';

const hex = (t: string) => hashToken(t).toString('hex');

describe('access tokens', () => {
  it('reads a list: hashes kept, plain tokens hashed at once, scopes with and without teams', () => {
    const ts = parseAccessTokens(
      JSON.stringify([
        { name: 'acme', org: 'acme', sha256: hex('acme-org-token-0123') },
        { name: 'pay', org: 'acme', teams: ['payments', 'billing'], token: 'acme-pay-token-0123' },
      ]),
      'CRATEWATCH_FEED_TOKENS',
      { plainAllowed: true },
    );
    expect(ts.map((t) => [t.name, t.scope, t.sha256.toString('hex')])).toEqual([
      ['acme', { org: 'acme' }, hex('acme-org-token-0123')],
      ['pay', { org: 'acme', teams: ['payments', 'billing'] }, hex('acme-pay-token-0123')],
    ]);
    expect(JSON.stringify(ts)).not.toContain('acme-pay-token-0123');
  });

  it('refuses a bad list naming the source and the entry', () => {
    const bad =
      (v: unknown, plainAllowed = false) =>
      () =>
        parseAccessTokens(typeof v === 'string' ? v : JSON.stringify(v), 'tokens.json', { plainAllowed });
    expect(bad('{')).toThrow(FormatError);
    expect(bad({ tokens: [] })).toThrow('tokens.json: must be a JSON array');
    expect(bad([{ name: 'a', org: 'acme', token: 'acme-org-token-0123' }])).toThrow(
      'tokens.json, field `[0].token`: holds a token itself: store its SHA-256 instead',
    );
    expect(bad([{ name: 'a', org: 'acme', sha256: 'abc' }])).toThrow('tokens.json, field `[0].sha256`: sha256 must be 64 hex digits');
    expect(bad([{ name: 'a', org: 'acme' }])).toThrow('tokens.json, field `[0]`: sha256 is required');
    expect(bad([{ name: 'a', org: 'acme', token: 'short' }], true)).toThrow('field `[0].token`: token must have at least 16 characters');
    expect(bad([{ name: 'a', org: 'acme', teams: [], sha256: hex('x') }])).toThrow('field `[0].teams`');
    expect(bad([{ name: 'a', org: 'acme', team: 'x', sha256: hex('x') }])).toThrow('field `[0]`: unknown field(s) team');
    expect(
      bad([
        { name: 'a', org: 'acme', sha256: hex('x') },
        { name: 'a', org: 'b', sha256: hex('y') },
      ]),
    ).toThrow('field `[1].name`: name "a" is used twice');
    expect(
      bad([
        { name: 'a', org: 'acme', sha256: hex('x') },
        { name: 'b', org: 'b', sha256: hex('x') },
      ]),
    ).toThrow('field `[1]`: the same token as "a"');
  });

  it('finds the presented token among all, none for a wrong, empty or missing one', () => {
    const ts = parseAccessTokens(
      JSON.stringify([
        { name: 'a', org: 'acme', token: 'token-a-0123456789' },
        { name: 'b', org: 'acme', token: 'token-b-0123456789' },
      ]),
      'env',
      { plainAllowed: true },
    );
    expect(findAccessToken(ts, 'token-b-0123456789')?.name).toBe('b');
    expect(findAccessToken(ts, 'token-b-012345678')).toBeUndefined();
    expect(findAccessToken(ts, '')).toBeUndefined();
    expect(findAccessToken(ts, undefined)).toBeUndefined();
    expect([
      bearerToken('Bearer abc'),
      bearerToken('bearer  abc '),
      bearerToken('Basic abc'),
      bearerToken('Bearer'),
      bearerToken(undefined),
    ]).toEqual(['abc', 'abc', undefined, undefined, undefined]);
  });

  it('scopes: an org token sees its org; a team token its teams only, never a teamless workspace', () => {
    expect(inScope({ org: 'acme' }, { org: 'acme' })).toBe(true);
    expect(inScope({ org: 'acme' }, { org: 'globex', team: 'payments' })).toBe(false);
    expect(inScope({ org: 'acme', teams: ['payments'] }, { org: 'acme', team: 'payments' })).toBe(true);
    expect(inScope({ org: 'acme', teams: ['payments'] }, { org: 'acme', team: 'search' })).toBe(false);
    expect(inScope({ org: 'acme', teams: ['payments'] }, { org: 'acme' })).toBe(false);
    expect(inScope({ org: 'acme', teams: ['payments'] }, { org: 'globex', team: 'payments' })).toBe(false);
  });
});
