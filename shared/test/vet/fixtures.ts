import { parseAuditsFile, parseConfigFile, parseImportsLock, parseLockfile, type Lockfile, type VetStore } from '../../src/index.js';

const CRATES = 'registry+https://github.com/rust-lang/crates.io-index';

/** A lockfile from `name version -> dep dep` lines; a name starting with `@` is a path (first-party) crate. */
export function lock(spec: string): Lockfile {
  const out: string[] = ['version = 4', ''];
  for (const l of spec.trim().split('\n')) {
    const [lhs, rhs] = l.split('->').map((s) => s.trim());
    const [rawName, version] = lhs!.split(/\s+/);
    const first = rawName!.startsWith('@');
    const name = first ? rawName!.slice(1) : rawName!;
    out.push('[[package]]', `name = "${name}"`, `version = "${version}"`);
    if (!first) out.push(`source = "${CRATES}"`);
    const deps = rhs ? rhs.split(/\s+/).filter(Boolean) : [];
    if (deps.length) out.push(`dependencies = [${deps.map((d) => `"${d.replace('@', ' ')}"`).join(', ')}]`);
    out.push('');
  }
  return parseLockfile(out.join('\n'));
}

export function store(config: string, audits = '', imports = ''): VetStore {
  return {
    config: parseConfigFile(
      config.startsWith('default-criteria') ? `${config}\n[cargo-vet]\nversion = "0.10"\n` : `[cargo-vet]\nversion = "0.10"\n${config}`,
    ),
    audits: parseAuditsFile(audits),
    imports: parseImportsLock(imports),
  };
}
