/**
 * cratewatch.toml: the shipped example parses; errors name file, line and key; secrets written as
 * literals are refused with a message that says to use an environment variable.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseConfig } from '../src/config.js';
import { repoRoot } from './fixtures/harness.js';

const err = (text: string): ConfigError => {
  try {
    parseConfig(text, 'cw.toml');
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
};

describe('cratewatch.toml', () => {
  it('parses the shipped example', () => {
    const file = join(repoRoot, 'examples', 'cratewatch.toml');
    const c = loadConfig(file);
    expect(c.org).toBe('acme');
    expect(c.credentials).toEqual({ githubTokenEnv: 'GITHUB_TOKEN', ingestTokenEnv: 'CRATEWATCH_INGEST_TOKEN' });
    expect(c.intervals).toEqual({ rustsec: 3600, pools: 3600, maintainers: 86400, workspaces: 300, crates: 900 });
    expect(c.rustsec).toEqual({ archive: 'https://codeload.github.com/rustsec/advisory-db/tar.gz/refs/heads/main', branch: 'main' });
    expect(c.pools.registry).toBe(true);
    expect(Object.keys(c.pools.trusted)).toEqual(['embark']);
    expect(c.endpoint).toEqual({ host: '127.0.0.1', port: 8420, maxBodyBytes: 16777216 });
    expect(c.workspaces).toEqual([{ id: 'demo-app', team: 'platform', path: join(repoRoot, 'examples', 'workspaces', 'demo-app') }]);
  });

  it('refuses a token written in the file, naming file, line and key, and says to use an env var', () => {
    const e = err('org = "acme"\n\n[credentials]\ngithub-token = "abc123"\n');
    expect(e.message).toBe(
      'cw.toml:4: `credentials.github-token`: looks like a secret written in the file; put it in an environment variable and name that variable instead (`github-token-env = "NAME"`)',
    );
    expect(e.message).not.toContain('abc123');
  });

  it('refuses secret-shaped values under any key, and env names that are values', () => {
    const gh = err('org = "acme"\n[maintainers]\ncrates-api = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"\n');
    expect(gh.message).toMatch(/^cw\.toml:3: `maintainers\.crates-api`: holds what looks like a secret.*environment variable/);
    expect(gh.message).not.toContain('ghp_');
    const url = err('org = "acme"\n[pools.trusted]\nmine = "https://bob:hunter2@example.org/audits.toml"\n');
    expect(url.message).toMatch(/^cw\.toml:3: `pools\.trusted\.mine`: is a URL with a password/);
    expect(url.message).not.toContain('hunter2');
    const env = err('org = "acme"\n[credentials]\ngithub-token-env = "ghp_abcdefghijklmnopqrstuvwxyz0123456789"\n');
    expect(env.message).not.toContain('ghp_abc');
    const envValue = err('org = "acme"\n[credentials]\ningest-token-env = "s3cr3t value!"\n');
    expect(envValue.message).toMatch(/cw\.toml:3: `credentials\.ingest-token-env`: must be the NAME of an environment variable/);
    const inWs = err('org = "a"\n[[workspaces]]\nid = "x"\npath = "."\n[[workspaces]]\nid = "y"\npath = "."\ntoken = "zzz"\n');
    expect(inWs.message).toMatch(/^cw\.toml:8: `workspaces\[1\]\.token`: looks like a secret/);
  });

  it('names file, line and key for other mistakes', () => {
    expect(err('org = "a"\n[intervals]\nrustsec = "hourly"\n').message).toBe('cw.toml:3: `intervals.rustsec`: expected a number >= 1');
    expect(err('org = "a"\n[intervals]\nrustsek = 5\n').message).toMatch(/^cw\.toml:3: `intervals\.rustsek`: unknown key/);
    expect(err('[pools]\nregistry = true\n').message).toMatch(/^cw\.toml:1: `org`: is required/);
    expect(err('org = "a"\n[[workspaces]]\nid = "w"\n').message).toMatch(
      /^cw\.toml:3: `workspaces\[0\]\.id`: workspace "w": set exactly one of `path` or `git`/,
    );
    expect(err('org = "a"\n[rustsec]\ngit = "x"\narchive = "https://x/y.tgz"\n').message).toMatch(
      /^cw\.toml:2: `rustsec`: set exactly one/,
    );
    expect(err('org = "a"\nintervals = [\n').message).toMatch(/^cw\.toml:\d+: `\(syntax\)`/);
  });
});
