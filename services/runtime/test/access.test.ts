import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hashToken } from '@cratewatch/shared';
import { accessTokensFromEnv } from '../src/access.js';

const dir = mkdtempSync(join(tmpdir(), 'cw-access-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('accessTokensFromEnv (CRATEWATCH_FEED_TOKENS / _FILE)', () => {
  it('joins the variable (plain tokens allowed) and the file (hashes only)', () => {
    const file = join(dir, 'tokens.json');
    writeFileSync(
      file,
      JSON.stringify([{ name: 'pay', org: 'acme', teams: ['payments'], sha256: hashToken('file-token-0123456789').toString('hex') }]),
    );
    const r = accessTokensFromEnv(undefined, {
      CRATEWATCH_FEED_TOKENS: JSON.stringify([{ name: 'org', org: 'acme', token: 'env-token-0123456789' }]),
      CRATEWATCH_FEED_TOKENS_FILE: file,
    });
    expect('tokens' in r && r.tokens.map((t) => [t.name, t.scope])).toEqual([
      ['org', { org: 'acme' }],
      ['pay', { org: 'acme', teams: ['payments'] }],
    ]);
  });

  it('says which variables to set when neither is; names the file when it cannot be read or holds a token', () => {
    expect(accessTokensFromEnv(undefined, {})).toEqual({
      missing: expect.stringContaining('neither CRATEWATCH_FEED_TOKENS nor CRATEWATCH_FEED_TOKENS_FILE is set'),
    });
    const missing = join(dir, 'nope.json');
    expect(() => accessTokensFromEnv(undefined, { CRATEWATCH_FEED_TOKENS_FILE: missing })).toThrow(
      `${missing}: cannot read the token file named by CRATEWATCH_FEED_TOKENS_FILE: ENOENT`,
    );
    const plain = join(dir, 'plain.json');
    writeFileSync(plain, JSON.stringify([{ name: 'x', org: 'acme', token: 'plain-token-0123456789' }]));
    let msg = '';
    try {
      accessTokensFromEnv(undefined, { CRATEWATCH_FEED_TOKENS_FILE: plain });
    } catch (err) {
      msg = (err as Error).message;
    }
    expect(msg).toMatch(/^.*plain\.json, field `\[0\]\.token`: holds a token itself/);
    expect(msg).not.toContain('plain-token-0123456789');
  });
});
