/**
 * The logical backup: the schemas' definitions (catalog.ts) and every row, as gzip-compressed
 * JSON lines, read in one snapshot and written through the Database interface. It works on both
 * drivers in both directions (an embedded instance's data can be restored onto a PostgreSQL
 * server), and is what `instant backup` uses on PostgreSQL when pg_dump is not on PATH.
 *
 * Lines: a header {"format":"instant-logical-backup",...}, {"pre": sql}..., per table
 * {"table": "schema.name", "columns": [...]} then {"rows": [...]} batches, {"post": sql}..., and
 * {"end": {"tables": n, "rows": n}} (a file cut short is refused, not half-restored).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { createGunzip, createGzip } from 'node:zlib';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import type { Database, Queryable } from '../../db/database.js';
import { quoteIdent as q, readDefinitions } from './catalog.js';

export const LOGICAL_FORMAT = 'instant-logical-backup';
const PAGE_ROWS = 1000;

export type ProgressReporter = (message: string) => void;

export interface CopySummary {
  tables: number;
  rows: number;
}

/** Rows of a table as JSON, page by page along ctid (a TID range scan, no OFFSET). */
async function* tableRows(tx: Queryable, schema: string, name: string): AsyncGenerator<unknown[]> {
  let after = '(0,0)';
  for (;;) {
    // Ordered by t.ctid itself: an output column named ctid (text) would sort "(0,10)" before "(0,9)".
    const page = await tx.query<{ position: string; row: unknown }>(
      `SELECT t.ctid::text AS position, to_jsonb(t) AS row FROM ${q(schema)}.${q(name)} t WHERE t.ctid > $1::tid ORDER BY t.ctid LIMIT ${PAGE_ROWS}`,
      [after],
    );
    if (page.rows.length === 0) return;
    yield page.rows.map((r) => r.row);
    after = page.rows[page.rows.length - 1]!.position;
  }
}

export async function writeLogicalBackup(db: Database, file: string, report: ProgressReporter): Promise<CopySummary> {
  const gzip = createGzip();
  const out = createWriteStream(file, { mode: 0o600 });
  gzip.pipe(out);
  const write = async (value: unknown) => {
    if (!gzip.write(`${JSON.stringify(value)}\n`)) await once(gzip, 'drain');
  };
  const summary = { tables: 0, rows: 0 };
  try {
    // One snapshot for the whole copy: a running instance may go on writing.
    await db.transaction(async (tx) => {
      if (db.kind === 'postgres') await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      const definitions = await readDefinitions(tx);
      await write({ format: LOGICAL_FORMAT, version: 1, created: new Date().toISOString(), driver: db.kind, schemas: definitions.schemas });
      for (const sql of definitions.preData) await write({ pre: sql });
      for (const [n, table] of definitions.tables.entries()) {
        await write({ table: `${table.schema}.${table.name}`, schema: table.schema, name: table.name, columns: table.columns });
        let count = 0;
        for await (const rows of tableRows(tx, table.schema, table.name)) {
          await write({ rows });
          count += rows.length;
        }
        summary.tables++;
        summary.rows += count;
        report(`${table.schema}.${table.name} (${n + 1}/${definitions.tables.length}): ${count} rows`);
      }
      for (const sql of definitions.postData) await write({ post: sql });
      await write({ end: summary });
    }, { maintenance: true });
  } finally {
    gzip.end();
    await once(out, 'close');
  }
  return summary;
}

interface Line {
  format?: string;
  schemas?: string[];
  pre?: string;
  table?: string;
  schema?: string;
  name?: string;
  columns?: string[];
  rows?: unknown[];
  post?: string;
  end?: CopySummary;
}

/**
 * Replaces the backup's schemas in `db` with the backup's, in one transaction: a failed or
 * cut-short restore leaves the database as it was.
 */
export async function restoreLogicalBackup(db: Database, file: string, report: ProgressReporter): Promise<CopySummary> {
  const summary = { tables: 0, rows: 0 };
  await db.transaction(async (tx) => {
    // Opened here, just before it is read: lines a readline emits before its iterator is
    // attached are lost (the connection is acquired after this call began).
    const input = createReadStream(file);
    const gunzip = createGunzip();
    const lines = createInterface({ input: input.pipe(gunzip), crlfDelay: Infinity });
    // readline does not pass on its input's errors (a damaged gzip stream): end the lines, say why.
    let broken: Error | undefined;
    const fail = (error: Error) => {
      broken ??= error;
      lines.close();
    };
    input.on('error', fail);
    gunzip.on('error', fail);
    try {
      await readLines(tx, lines, summary, report);
      if (broken) throw broken;
    } catch (error) {
      throw broken ? new Error(`the backup file cannot be read (${broken.message}): nothing was restored`) : error;
    } finally {
      lines.close();
      input.destroy();
    }
  }, { maintenance: true });
  return summary;
}

async function readLines(tx: Queryable, lines: AsyncIterable<string>, summary: CopySummary, report: ProgressReporter): Promise<void> {
  {
    let header = false;
    let current: { target: string; columns: string[]; count: number; label: string } | undefined;
    let ended = false;
    const finishTable = () => {
      if (!current) return;
      report(`${current.label}: ${current.count} rows`);
      summary.tables++;
      current = undefined;
    };
    for await (const text of lines) {
      if (!text) continue;
      const line = JSON.parse(text) as Line;
      if (!header) {
        if (line.format !== LOGICAL_FORMAT) throw new Error('this is not an instant logical backup');
        header = true;
        for (const schema of line.schemas ?? []) {
          if (schema === 'public') continue;
          await tx.exec(`DROP SCHEMA IF EXISTS ${q(schema)} CASCADE`);
        }
        continue;
      }
      if (line.pre !== undefined) await tx.exec(line.pre);
      else if (line.table !== undefined) {
        finishTable();
        current = { target: `${q(line.schema!)}.${q(line.name!)}`, columns: line.columns ?? [], count: 0, label: line.table };
      } else if (line.rows !== undefined) {
        if (!current) throw new Error('the backup has rows before any table');
        const cols = current.columns.map(q).join(', ');
        await tx.query(`INSERT INTO ${current.target} (${cols}) SELECT ${cols} FROM jsonb_populate_recordset(NULL::${current.target}, $1::jsonb)`, [JSON.stringify(line.rows)]);
        current.count += line.rows.length;
        summary.rows += line.rows.length;
      } else if (line.post !== undefined) {
        finishTable();
        await tx.exec(line.post);
      } else if (line.end !== undefined) {
        finishTable();
        if (line.end.rows !== summary.rows) throw new Error(`the backup says ${line.end.rows} rows, but ${summary.rows} were read`);
        ended = true;
      }
    }
    if (!header) throw new Error('the backup file is empty');
    if (!ended) throw new Error('the backup file is cut short (no end record): nothing was restored');
  }
}
