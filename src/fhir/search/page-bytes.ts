/**
 * Pages bounded in bytes (FHIR_SEARCH_MAX_PAGE_BYTES). `_count` bounds a page in resources, but
 * a thousand resources of a few MB each is gigabytes: the page query itself stops reading content
 * once the stored sizes (the generated column `content_bytes`) of the rows so far pass the budget.
 *
 * The page query selects its rows in page order with their `content_bytes` but without content;
 * `boundedPageSql` adds a running sum over them and fetches content only for the prefix that
 * fits. The rows past it come back too (keys, `fits` false), so the caller knows the page
 * was cut and where: its next link continues from the first row left out. The first row is always
 * read, however large (one resource is bounded by the body limit), so paging always advances.
 */
import type { Resource } from '@medplum/fhirtypes';

export interface BoundedPageQuery {
  /** The page query: selects `keyColumns` and `content_bytes` in page order (with its own LIMIT). */
  pageSql: string;
  /** Columns of the page query to return, e.g. ['rid']. */
  keyColumns: string[];
  /** SQL reading one row's content from the page row `b`, e.g. `(SELECT c.content FROM s.resources c WHERE c.rid = b.rid)`. */
  contentOf: string;
  /** Placeholder of the byte budget parameter. */
  budget: string;
  /** The first row is read even past the budget (default), so a page always advances. */
  firstAlways?: boolean;
}

/** The page query with content read only for the rows that fit the budget, in page order. */
export function boundedPageSql(query: BoundedPageQuery): string {
  const keys = query.keyColumns.map((column) => `b.${column}`).join(', ');
  const first = query.firstAlways === false ? '' : 'a.pos = 1 OR ';
  // No ORDER BY in the window: the frame follows the page query's own order (row by row).
  return `SELECT ${keys}, b.used, b.fits, CASE WHEN b.fits THEN ${query.contentOf} END AS content
    FROM (SELECT a.*, (${first}a.used <= ${query.budget}) AS fits
          FROM (SELECT p.*, row_number() OVER w AS pos, sum(coalesce(p.content_bytes, 0)) OVER w AS used
                FROM (${query.pageSql}) p
                WINDOW w AS (ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)) a) b
    ORDER BY b.pos`;
}

export interface BoundedRows<Row> {
  /** The rows that fit, with their content (null only for a deletion in history). */
  rows: Row[];
  /** The page query's first row left out for the budget (where the next page starts), if any. */
  firstLeftOut?: Row;
  /** How many rows the page query returned, cut or not (to tell whether there are more). */
  read: number;
  /** Stored bytes of the rows that fit. */
  bytes: number;
}

/** Splits the rows of boundedPageSql at the first one left out. */
export function splitAtBudget<Row extends { fits: boolean; used: number | string; content: Resource | null }>(rows: Row[]): BoundedRows<Row> {
  const cut = rows.findIndex((row) => !row.fits);
  const fitting = cut < 0 ? rows : rows.slice(0, cut);
  const bytes = Number(fitting[fitting.length - 1]?.used ?? 0);
  return { rows: fitting, firstLeftOut: cut < 0 ? undefined : rows[cut], read: rows.length, bytes };
}
