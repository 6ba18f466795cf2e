/**
 * The effort of each suggested audit against the real `cargo vet suggest`: for every fixture whose
 * recorded suggest.json has suggestions (shared/test/vet/fixtures/differential/, and
 * differential-real/ on the shared data), our choice — from -> to, criteria — and its diffstat
 * (insertions, deletions, files changed) must be cargo-vet's, sized by the CLI's own path
 * (`sizeSuggestions` over a `--crate-cache` folder). The sizes need the same `.crate` files
 * cargo-vet diffed: record.sh keeps them in the gitignored `.crates/` beside the fixtures (they
 * are megabytes); where that folder is absent the test skips, saying so, and
 * shared/test/vet/suggest.test.ts, diffstat.test.ts and scan-effort.test.ts cover the rules on
 * generated crates. Counted by git (cargo-vet's way) the counts are equal; by shared's minimal
 * diff (no git installed) the choice is the same and the counts within 1 % (keccak on libprio-rs: 1,855 against 1,866).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { graphFromCargoMetadata, parseAuditsFile, parseConfigFile, parseImportsLock, parseLockfile, resolveVet } from '@cratewatch/shared';
import { dataDir, hasData } from '../../shared/test/vet/data.js';
import { CrateSources, sizeSuggestions } from '../src/crates/index.js';

interface SuggestJson {
  suggest?: {
    suggestions: {
      name: string;
      suggested_criteria: string[];
      suggested_diff: { from: string | null; to: string; diffstat: { insertions: number; deletions: number; files_changed: number } };
    }[];
  };
}

const fixtures = new URL('../../shared/test/vet/fixtures/', import.meta.url);
const roots = [
  { dir: new URL('differential/', fixtures), today: '2025-06-01', real: false },
  ...(hasData ? [{ dir: new URL('differential-real/', fixtures), today: '2026-12-01', real: true }] : []),
];
const git = spawnSync('git', ['--version'], { stdio: 'ignore' }).status === 0;

for (const { dir, today, real } of roots) {
  const crates = path.join(dir.pathname, '.crates');
  const names = readdirSync(dir).filter((n) => existsSync(new URL(`${n}/suggest.json`, dir)));
  const read = (name: string, file: string) =>
    readFileSync(
      real && (file.startsWith('supply-chain/') || file === 'Cargo.lock')
        ? path.join(dataDir, 'projects', name, file)
        : new URL(`${name}/${file}`, dir),
      'utf8',
    );
  describe.skipIf(!existsSync(crates))(
    `effort as cargo vet suggest sizes it (${path.basename(dir.pathname)}; .crate files in ${crates})`,
    () => {
      for (const name of names) {
        const recorded = JSON.parse(read(name, 'suggest.json')) as SuggestJson;
        const theirs = recorded.suggest?.suggestions ?? [];
        if (!theirs.length) continue;
        const expected = theirs.map((s) => ({
          name: s.name,
          criteria: [...s.suggested_criteria].sort(),
          from: s.suggested_diff.from,
          to: s.suggested_diff.to,
          diffstat: {
            insertions: s.suggested_diff.diffstat.insertions,
            deletions: s.suggested_diff.diffstat.deletions,
            filesChanged: s.suggested_diff.diffstat.files_changed,
          },
        }));
        const ours = async (count: 'git' | 'minimal') => {
          const store = {
            config: parseConfigFile(read(name, 'supply-chain/config.toml')),
            audits: parseAuditsFile(read(name, 'supply-chain/audits.toml')),
            imports: parseImportsLock(read(name, 'supply-chain/imports.lock')),
          };
          const report = resolveVet({ graph: graphFromCargoMetadata(JSON.parse(read(name, 'metadata.json'))), store }, { today });
          await sizeSuggestions(report, parseLockfile(read(name, 'Cargo.lock')), new CrateSources({ localDirs: [crates] }), { count });
          return report.packages
            .filter((p) => p.suggestion)
            .map((p) => ({
              name: p.name,
              criteria: [...p.suggestion!.criteria].sort(),
              from: p.suggestion!.from ?? null,
              to: p.suggestion!.to,
              diffstat: p.suggestion!.diffstat ?? null,
            }));
        };
        const sort = <T extends { name: string; to: string }>(l: T[]) =>
          [...l].sort((a, b) => `${a.name}:${a.to}`.localeCompare(`${b.name}:${b.to}`));
        it.skipIf(!git)(
          `${name}: the same ${theirs.length} audits, with the same diffstat (counted by git, as cargo-vet counts)`,
          async () => {
            expect(sort(await ours('git'))).toEqual(sort(expected));
          },
        );
        it(`${name}: counted by a minimal diff (no git): the same audits, the same files, lines within 1 %`, async () => {
          const mine = sort(await ours('minimal'));
          const want = sort(expected);
          expect(mine.map(({ diffstat: _d, ...rest }) => rest)).toEqual(want.map(({ diffstat: _d, ...rest }) => rest));
          mine.forEach((m, i) => {
            const w = want[i]!.diffstat;
            expect(m.diffstat!.filesChanged, m.name).toBe(w.filesChanged);
            const lines = m.diffstat!.insertions + m.diffstat!.deletions;
            expect(lines, m.name).toBeLessThanOrEqual(w.insertions + w.deletions);
            expect(lines, m.name).toBeGreaterThanOrEqual(Math.floor((w.insertions + w.deletions) * 0.99));
          });
        });
      }
    },
  );
  if (!existsSync(crates)) console.warn(`skipping the effort comparison with cargo vet suggest: no ${crates} (record.sh fills it)`);
}
