/**
 * Build-time code (issue 11, part 5): a proc-macro runs inside the compiler and a build script
 * (build.rs) runs on the machine that builds, with its files and credentials, before anything is
 * deployed — whatever edge kind reaches the crate (a normal dependency on `serde_derive` runs at
 * build time all the same). `cargo metadata` says it (`graph.ts` reads the targets); a Cargo.lock
 * does not, so there it is unknown until the crate's sources are read (`buildTargetsOfCrate`).
 *
 * cargo-vet has no rule of its own for build-time code; the practice it documents for it is a
 * custom criterion stricter than safe-to-deploy, required by policy of every proc-macro.
 * `procMacroCriterionAdvice` writes those lines for a workspace, as `cargo vet fmt` writes them.
 */
import { parse as parseToml } from 'smol-toml';
import type { SourceTree } from './diffstat.js';
import { SAFE_TO_DEPLOY, serializeAuditsFile, serializeConfigFile, type AuditsFile, type ConfigFile, type PolicyEntry } from './format.js';
import type { BuildTargets, DepGraph, GraphNode } from './graph.js';
import { buildAuditGraph, isThirdParty, type VetStore } from './resolver.js';

/**
 * What a crate's own sources say (its published, normalized `Cargo.toml`): a proc-macro when
 * `[lib] proc-macro = true` (or the old `proc_macro`); a build script when `package.build` names
 * one, or — cargo's auto-detection, unless `build = false` — a `build.rs` at the crate's root.
 * A manifest that does not parse is an error naming the crate and the file.
 */
export function buildTargetsOfCrate(name: string, version: string, tree: SourceTree): BuildTargets {
  const bytes = tree.get('Cargo.toml');
  if (!bytes) return { procMacro: false, buildScript: tree.has('build.rs') };
  let manifest: { lib?: Record<string, unknown>; package?: Record<string, unknown> };
  try {
    manifest = parseToml(Buffer.from(bytes).toString('utf8')) as typeof manifest;
  } catch (e) {
    throw new Error(`${name} ${version}: Cargo.toml does not parse: ${(e as Error).message}`);
  }
  const lib = manifest.lib ?? {};
  const build = manifest.package?.build;
  return {
    procMacro: lib['proc-macro'] === true || lib.proc_macro === true,
    buildScript: typeof build === 'string' ? true : build === false ? false : tree.has('build.rs'),
  };
}

/** The build-time code of a workspace's third-party packages, and how much of it is known. */
export interface BuildTimeSummary {
  procMacros: string[];
  buildScripts: string[];
  /** Third-party packages whose targets are not known (a Cargo.lock, no sources read). */
  unknown: string[];
}

export function buildTimeSummary(graph: DepGraph, config?: ConfigFile): BuildTimeSummary {
  const third = [...graph.nodes.values()].filter((n) => isThirdParty(n, config));
  return {
    procMacros: third.filter((n) => n.build?.procMacro).map((n) => n.id),
    buildScripts: third.filter((n) => n.build?.buildScript).map((n) => n.id),
    unknown: third.filter((n) => !n.build).map((n) => n.id),
  };
}

/** The graph with targets read elsewhere (crate sources) on the nodes that had none. */
export function withBuildTargets(graph: DepGraph, found: ReadonlyMap<string, BuildTargets>): DepGraph {
  const nodes = new Map<string, GraphNode>();
  for (const [id, n] of graph.nodes) {
    const b = n.build ?? found.get(id);
    nodes.set(id, b ? { ...n, build: b } : n);
  }
  return { ...graph, nodes };
}

export const PROC_MACRO_CRITERION = 'safe-to-compile';

const CRITERION_DESCRIPTION = `Code that runs when the crate is compiled: a procedural macro, run inside the compiler with the \
builder's files, network and credentials. Stricter than safe-to-deploy: the reviewer has also read what \
the macro generates and checked that at compile time it reads, writes and connects to nothing beyond the \
tokens it is given.`;

/** Advice to require a stricter criterion of every proc-macro, once per workspace. */
export interface ProcMacroAdvice {
  criterion: string;
  /** Locked proc-macro versions whose policy does not yet ask for a criterion stricter than safe-to-deploy. */
  procMacros: string[];
  /** The lines to add to `audits.toml` (none when the store defines the criterion already). */
  auditsToml: string;
  /** The lines to add to `config.toml`: one `[policy."crate:version"]` per proc-macro version. */
  configToml: string;
  /** Policy tables that exist already: add the `criteria` line to them instead. */
  existing: string[];
}

/** The tables of a serialized store file, without its heading and `[cargo-vet]` table. */
const tablesOf = (text: string): string =>
  text
    .split(/\n(?=\[)/)
    // cargo vet fmt writes its fixed headings (`[audits]`) even when empty: not lines to add.
    .filter((t) => t.startsWith('[') && !t.startsWith('[cargo-vet]') && t.trim().includes('\n'))
    .join('\n')
    .trim();

/**
 * Undefined when the workspace has no known proc-macro, or every one is already required (by its
 * own policy) a criterion that strictly implies safe-to-deploy. A policy `criteria` replaces what
 * dependents ask and passes on to the macro's own dependencies (syn, quote: compiler code too).
 */
export function procMacroCriterionAdvice(graph: DepGraph, store?: VetStore): ProcMacroAdvice | undefined {
  const config = store?.config;
  const g = buildAuditGraph(store);
  const strict = (cs: string[] | undefined) => (cs ?? []).some((c) => c !== SAFE_TO_DEPLOY && g.criteria.closure(c).has(SAFE_TO_DEPLOY));
  const key = (n: GraphNode) => `${n.name}:${n.vetVersion}`;
  const macros = [...graph.nodes.values()]
    .filter((n) => n.build?.procMacro && isThirdParty(n, config))
    .filter((n) => !strict((config?.policy.get(key(n)) ?? config?.policy.get(n.name))?.criteria));
  if (!macros.length) return undefined;
  const defined = store?.audits.criteria.has(PROC_MACRO_CRITERION) === true;
  const audits: AuditsFile = {
    header: '',
    criteria: new Map([[PROC_MACRO_CRITERION, { description: CRITERION_DESCRIPTION, implies: [SAFE_TO_DEPLOY], aggregatedFrom: [] }]]),
    wildcardAudits: new Map(),
    audits: new Map(),
    trusted: new Map(),
  };
  const policy = new Map<string, PolicyEntry>(
    macros.map((n) => [key(n), { criteria: [PROC_MACRO_CRITERION], dependencyCriteria: new Map() }]),
  );
  const cfg: ConfigFile = { header: '', cargoVetVersion: '0.10', imports: new Map(), policy, exemptions: new Map() };
  return {
    criterion: PROC_MACRO_CRITERION,
    procMacros: macros.map((n) => n.id),
    auditsToml: defined ? '' : tablesOf(serializeAuditsFile(audits)),
    configToml: tablesOf(serializeConfigFile(cfg)),
    existing: macros.filter((n) => config?.policy.has(key(n))).map(key),
  };
}
