/**
 * The effort of each suggested audit against the real `cargo vet suggest`: for every fixture whose
 * recorded suggest.json has suggestions (fixtures/differential/, and fixtures/differential-real/ on
 * the shared data), our choice — from -> to, criteria — and its diffstat (insertions, deletions,
 * files changed) must be cargo-vet's. The sizes need the same `.crate` files cargo-vet diffed:
 * record.sh keeps them in the gitignored `.crates/` beside the fixtures (they are megabytes); where
 * that folder is absent the test skips, saying so, and suggest.test.ts / diffstat.test.ts cover the
 * rules on generated crates.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dataDir, hasData } from './data.js';
import {
  chooseSuggestion,
  diffstat,
  graphFromCargoMetadata,
  parseAuditsFile,
  parseConfigFile,
  parseImportsLock,
  resolveVet,
  unpackCrate,
  type AuditCandidate,
  type DiffStat,
  type SourceTree,
} from '../../src/index.js';

interface SuggestJson {
  suggest?: {
    suggestions: {
      name: string;
      suggested_criteria: string[];
      suggested_diff: { from: string | null; to: string; diffstat: { insertions: number; deletions: number; files_changed: number } };
    }[];
  };
}

const roots = [
  { dir: new URL('./fixtures/differential/', import.meta.url), today: '2025-06-01', real: false },
  ...(hasData ? [{ dir: new URL('./fixtures/differential-real/', import.meta.url), today: '2026-12-01', real: true }] : []),
];

for (const { dir, today, real } of roots) {
  const crates = path.join(dir.pathname, '.crates');
  const names = readdirSync(dir).filter((n) => existsSync(new URL(`${n}/suggest.json`, dir)));
  const read = (name: string, file: string) =>
    readFileSync(real && file.startsWith('supply-chain/') ? path.join(dataDir, 'projects', name, file) : new URL(`${name}/${file}`, dir), 'utf8');
  describe.skipIf(!existsSync(crates))(`effort as cargo vet suggest sizes it (${path.basename(dir.pathname)}; .crate files in ${crates})`, () => {
    for (const name of names) {
      const recorded = JSON.parse(read(name, 'suggest.json')) as SuggestJson;
      const theirs = recorded.suggest?.suggestions ?? [];
      if (!theirs.length) continue;
      it(`${name}: the same ${theirs.length} audits, with the same diffstat`, async () => {
        const store = {
          config: parseConfigFile(read(name, 'supply-chain/config.toml')),
          audits: parseAuditsFile(read(name, 'supply-chain/audits.toml')),
          imports: parseImportsLock(read(name, 'supply-chain/imports.lock')),
        };
        const report = resolveVet({ graph: graphFromCargoMetadata(JSON.parse(read(name, 'metadata.json'))), store }, { today });
        const trees = new Map<string, SourceTree | undefined>();
        const tree = async (crate: string, v: string) => {
          const file = path.join(crates, `${crate}-${v}.crate`);
          if (!trees.has(`${crate}@${v}`)) trees.set(`${crate}@${v}`, existsSync(file) ? await unpackCrate(crate, v, readFileSync(file)) : undefined);
          return trees.get(`${crate}@${v}`);
        };
        const ours = [];
        for (const p of report.packages) {
          if (!p.suggestion) continue;
          const sizes = new Map<string, DiffStat | undefined>();
          const k = (c: AuditCandidate) => `${c.from}>${c.to}`;
          for (const c of p.suggestion.candidates ?? []) {
            const to = await tree(p.name, c.to);
            const from = c.from === undefined ? null : await tree(p.name, c.from);
            sizes.set(k(c), to && from !== undefined ? diffstat(from, to) : undefined);
          }
          const s = chooseSuggestion(p.name, p.suggestion, (c) => sizes.get(k(c)));
          ours.push({ name: p.name, criteria: [...s.criteria].sort(), from: s.from ?? null, to: s.to, diffstat: s.diffstat ?? null });
        }
        const expected = theirs.map((s) => ({
          name: s.name,
          criteria: [...s.suggested_criteria].sort(),
          from: s.suggested_diff.from,
          to: s.suggested_diff.to,
          diffstat: { insertions: s.suggested_diff.diffstat.insertions, deletions: s.suggested_diff.diffstat.deletions, filesChanged: s.suggested_diff.diffstat.files_changed },
        }));
        const sort = <T extends { name: string; to: string }>(l: T[]) => [...l].sort((a, b) => `${a.name}:${a.to}`.localeCompare(`${b.name}:${b.to}`));
        expect(sort(ours)).toEqual(sort(expected));
      });
    }
  });
  if (!existsSync(crates)) console.warn(`skipping the effort comparison with cargo vet suggest: no ${crates} (record.sh fills it)`);
}
