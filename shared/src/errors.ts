/**
 * An input that cratewatch cannot read. Every reader in `shared/` throws this, naming where the
 * problem is (file, and line or field when known) so that a security engineer can go and fix it.
 */
export class FormatError extends Error {
  override name = 'FormatError';

  constructor(
    readonly file: string,
    readonly detail: string,
    readonly where?: { line?: number; field?: string },
  ) {
    const at = [
      file,
      where?.line !== undefined ? `line ${where.line}` : undefined,
      where?.field !== undefined ? `field \`${where.field}\`` : undefined,
    ]
      .filter(Boolean)
      .join(', ');
    super(`${at}: ${detail}`);
  }
}

/** smol-toml's parse errors carry a line; keep it when re-throwing as a FormatError. */
export function tomlLine(err: unknown): number | undefined {
  const line = (err as { line?: unknown })?.line;
  return typeof line === 'number' ? line : undefined;
}
