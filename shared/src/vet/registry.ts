/**
 * The public pools `cargo vet` knows: cargo-vet's `registry.toml` (mozilla/cargo-vet, main), which
 * `cargo vet import NAME` and `cargo vet suggest` read. Ingest polls them (`ingest pools`); the
 * CLI's `pools` names the gain of each.
 */
export const CARGO_VET_REGISTRY: Readonly<Record<string, string>> = {
  'bytecode-alliance': 'https://raw.githubusercontent.com/bytecodealliance/wasmtime/main/supply-chain/audits.toml',
  'embark-studios': 'https://raw.githubusercontent.com/EmbarkStudios/rust-ecosystem/main/audits.toml',
  fermyon: 'https://raw.githubusercontent.com/fermyon/spin/main/supply-chain/audits.toml',
  google: 'https://raw.githubusercontent.com/google/supply-chain/main/audits.toml',
  isrg: 'https://raw.githubusercontent.com/divviup/libprio-rs/main/supply-chain/audits.toml',
  mozilla: 'https://raw.githubusercontent.com/mozilla/supply-chain/main/audits.toml',
  securedrop: 'https://raw.githubusercontent.com/freedomofpress/securedrop-supply-chain/main/audits.toml',
  zcash: 'https://raw.githubusercontent.com/zcash/rust-ecosystem/main/supply-chain/audits.toml',
};

/**
 * The registry name of a pool file's name: the same name, or the one it abbreviates before a dash
 * (`embark` for `embark-studios`, as the pool files are often named). Undefined: not in the registry.
 */
export function registryNameOf(poolName: string): string | undefined {
  if (CARGO_VET_REGISTRY[poolName] !== undefined) return poolName;
  return Object.keys(CARGO_VET_REGISTRY).find((k) => k.startsWith(`${poolName}-`));
}
