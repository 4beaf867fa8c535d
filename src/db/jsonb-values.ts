/**
 * How jsonb values are read, the same on every driver: as JSON whose numbers keep the form they
 * were stored in (common/json-decimals.ts). PostgreSQL keeps a numeric's scale in jsonb (`1.50`
 * stays `1.50`); reading it with plain JSON.parse would lose it on the way out.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { parseJsonKeepingDecimals } from '../common/json-decimals.js';

/** pg_type oid of jsonb. */
export const JSONB_TYPE_OID = 3802;

export function readJsonb(text: string): unknown {
  return parseJsonKeepingDecimals(text);
}

/**
 * The PGlite worker thread sends jsonb columns as their text (a parsed value would lose the kept
 * number texts on the way between threads) and names them; the driver parses them here.
 */
export function jsonbColumns(fields: ReadonlyArray<{ name: string; dataTypeID: number }>): string[] | undefined {
  const names = fields.filter((field) => field.dataTypeID === JSONB_TYPE_OID).map((field) => field.name);
  return names.length ? names : undefined;
}

/** Time the parse of one answer's jsonb runs before giving the event loop back. */
const PARSE_SLICE_MS = 20;

/**
 * Parses the jsonb columns of an answer's rows in place, giving the event loop back every few
 * milliseconds: a page of search results holds up to FHIR_SEARCH_MAX_PAGE_BYTES of JSON (40
 * Patients of 44,000 elements took 0.9 s to parse in one go, holding every service of the process).
 */
export async function parseJsonbColumns(rows: Array<Record<string, unknown>>, columns: readonly string[] | undefined): Promise<void> {
  if (!columns) return;
  let since = performance.now();
  for (const row of rows) {
    for (const column of columns) {
      const text = row[column];
      if (typeof text === 'string') row[column] = readJsonb(text);
    }
    if (performance.now() - since >= PARSE_SLICE_MS) {
      await nextTurn();
      since = performance.now();
    }
  }
}
