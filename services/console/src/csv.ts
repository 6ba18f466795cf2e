/** A saved query's rows as CSV (RFC 4180, via csv-stringify): lists and maps as JSON in one cell. */
import { stringify } from 'csv-stringify/sync';

const cell = (v: unknown): string | number | boolean | null =>
  v === null || v === undefined ? null : typeof v === 'object' ? JSON.stringify(v) : (v as string | number | boolean);

export function toCsv(columns: string[], rows: Record<string, unknown>[]): string {
  return stringify(
    rows.map((r) => columns.map((c) => cell(r[c]))),
    { header: true, columns },
  );
}
