/**
 * The logical backup: the schemas' definitions (catalog.ts) and every row, as gzip-compressed
 * JSON lines, read in one snapshot and written through the Database interface. It works on both
 * drivers in both directions (an embedded instance's data can be restored onto a PostgreSQL
 * server), and is what `instant backup` uses on PostgreSQL when pg_dump is not on PATH.
 *
 * Lines: a header {"format":"instant-logical-backup","version":2,"schemas":[...],"preData":[sql],
 * "postData":[sql]}, {"headerMac": hex}, per table {"table": "schema.name", "columns": [...]} then
 * {"rows": [...]} batches, and {"end": {"tables": n, "rows": n}, "mac": hex} (a file cut short is
 * refused, not half-restored).
 *
 * The file carries SQL (the definitions), so it is authenticated: an HMAC-SHA256 under the
 * instance's backup key (INSTANT_BACKUP_KEY) over the header, checked before anything runs, and
 * over every line, checked before the transaction commits. A crafted or edited file runs nothing.
 * Whatever the file says, a restore drops and fills only schemas the target instance owns (its
 * migrations made them) or that do not exist there yet: another application's schema is spared.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { createHmac, timingSafeEqual, type Hmac } from 'node:crypto';
import { createGunzip, createGzip } from 'node:zlib';
import { createInterface } from 'node:readline';
import { once } from 'node:events';
import type { Database, Queryable } from '../../db/database.js';
import { instanceSchemas, quoteIdent as q, readDefinitions } from './catalog.js';

export const LOGICAL_FORMAT = 'instant-logical-backup';
const LOGICAL_VERSION = 2;
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
    // row_to_json, not to_jsonb: a json column's text is kept as written (jsonb would reorder its keys).
    const page = await tx.query<{ position: string; row: unknown }>(
      `SELECT t.ctid::text AS position, row_to_json(t) AS row FROM ${q(schema)}.${q(name)} t WHERE t.ctid > $1::tid ORDER BY t.ctid LIMIT ${PAGE_ROWS}`,
      [after],
    );
    if (page.rows.length === 0) return;
    yield page.rows.map((r) => r.row);
    after = page.rows[page.rows.length - 1]!.position;
  }
}

/** The key that signs and checks logical backups; refused when too short to be a secret. */
function macKey(key: string | undefined): string {
  // Absent only at a restore: backup generates the key. Said with what to give, as the operator
  // moving data between instances meets it.
  if (!key) {
    throw new Error('a logical backup is signed with a backup key, and this instance has no backup key (it made no logical backup): ' +
      'give the key of the instance that made the file: INSTANT_BACKUP_KEY=<the "key" in its .instant/backup-key.json> instant restore ...');
  }
  if (key.length < 16) throw new Error(`INSTANT_BACKUP_KEY is ${key.length} characters: a backup key has 16 or more`);
  return key;
}

const hexMac = (key: string, text: string): string => createHmac('sha256', key).update(text).digest('hex');

function sameMac(expected: string, given: unknown): boolean {
  if (typeof given !== 'string' || given.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(expected), Buffer.from(given));
}

/** New files only (O_EXCL: never over an existing file, never through a symlink), owner-only. */
export const NEW_PRIVATE_FILE = { flags: 'wx', mode: 0o600 } as const;

export async function writeLogicalBackup(db: Database, file: string, report: ProgressReporter, backupKey: string | undefined): Promise<CopySummary> {
  const key = macKey(backupKey);
  const gzip = createGzip();
  const out = createWriteStream(file, NEW_PRIVATE_FILE);
  gzip.pipe(out);
  const running = createHmac('sha256', key);
  const write = async (value: unknown) => {
    const text = JSON.stringify(value);
    running.update(`${text}\n`);
    if (!gzip.write(`${text}\n`)) await once(gzip, 'drain');
  };
  const summary = { tables: 0, rows: 0 };
  let failure: unknown;
  let opened = false;
  out.on('error', (error) => (failure ??= error));
  try {
    await once(out, 'open');
    opened = true;
    // One snapshot for the whole copy: a running instance may go on writing.
    await db.transaction(async (tx) => {
      if (db.kind === 'postgres') await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      const definitions = await readDefinitions(tx);
      const header = JSON.stringify({ format: LOGICAL_FORMAT, version: LOGICAL_VERSION, created: new Date().toISOString(), driver: db.kind, schemas: definitions.schemas, preData: definitions.preData, postData: definitions.postData });
      running.update(`${header}\n`);
      gzip.write(`${header}\n`);
      await write({ headerMac: hexMac(key, header) });
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
      const mac = running.digest('hex');
      gzip.write(`${JSON.stringify({ end: summary, mac })}\n`);
    }, { maintenance: true });
  } catch (error) {
    failure ??= error;
  } finally {
    gzip.end();
    if (!failure) await once(out, 'close').catch(() => undefined);
  }
  if (failure) {
    // A half-written backup is no backup; a file that was there before (EEXIST) is not ours to remove.
    if (opened) {
      out.destroy();
      await rm(file, { force: true });
    }
    throw failure;
  }
  return summary;
}

interface Line {
  format?: string;
  version?: number;
  schemas?: string[];
  preData?: string[];
  postData?: string[];
  headerMac?: string;
  table?: string;
  schema?: string;
  name?: string;
  columns?: string[];
  rows?: unknown[];
  end?: CopySummary;
  mac?: string;
}

/**
 * Replaces the backup's schemas in `db` with the backup's, in one transaction: a failed or
 * cut-short restore leaves the database as it was.
 */
export async function restoreLogicalBackup(db: Database, file: string, report: ProgressReporter, backupKey: string | undefined): Promise<CopySummary> {
  const key = macKey(backupKey);
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
      await readLines(tx, lines, summary, report, key);
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

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** The header's schemas, if the target may take them: its own, or ones it does not have. */
async function checkSchemas(tx: Queryable, schemas: unknown): Promise<string[]> {
  if (!Array.isArray(schemas) || schemas.some((s) => typeof s !== 'string' || !SCHEMA_NAME.test(s) || s === 'public' || s.startsWith('pg_') || s === 'information_schema')) {
    throw new Error('the backup names schemas an instance does not have');
  }
  const owned = new Set(await instanceSchemas(tx));
  const present = await tx.query<{ nspname: string }>(`SELECT nspname FROM pg_namespace WHERE nspname = ANY($1::text[])`, [schemas]);
  const foreign = present.rows.map((r) => r.nspname).filter((s) => !owned.has(s));
  if (foreign.length) throw new Error(`the backup would replace schema ${foreign.join(', ')}, which this instance's migrations did not make: nothing was restored`);
  return schemas as string[];
}

async function readLines(tx: Queryable, lines: AsyncIterable<string>, summary: CopySummary, report: ProgressReporter, key: string): Promise<void> {
  let header: Line | undefined;
  let headerText = '';
  let verified = false;
  let schemas = new Set<string>();
  const running = createHmac('sha256', key) as Hmac;
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
    if (ended) throw new Error('the backup has lines after its end record');
    const line = JSON.parse(text) as Line;
    if (!header) {
      if (line.format !== LOGICAL_FORMAT) throw new Error('this is not an instant logical backup');
      if (line.version !== LOGICAL_VERSION) throw new Error('this logical backup is not signed (made before backups were authenticated): restore it with the version that made it, or make a new backup');
      header = line;
      headerText = text;
      running.update(`${text}\n`);
      continue;
    }
    if (!verified) {
      // Nothing in the file runs before its header (all the SQL it carries) is authenticated.
      if (!sameMac(hexMac(key, headerText), line.headerMac)) throw new Error('the backup is not authentic under this instance\'s backup key (INSTANT_BACKUP_KEY): it was edited, or made by another instance (give that instance\'s key)');
      verified = true;
      running.update(`${text}\n`);
      schemas = new Set(await checkSchemas(tx, header.schemas));
      for (const schema of schemas) await tx.exec(`DROP SCHEMA IF EXISTS ${q(schema)} CASCADE`);
      for (const sql of header.preData ?? []) await tx.exec(sql);
      continue;
    }
    if (line.end !== undefined) {
      finishTable();
      // Every line, rows too, must be the backup's own before the transaction commits.
      if (!sameMac(running.digest('hex'), line.mac)) throw new Error('the backup is not authentic under this instance\'s backup key: nothing was restored');
      if (line.end.rows !== summary.rows) throw new Error(`the backup says ${line.end.rows} rows, but ${summary.rows} were read`);
      for (const sql of header.postData ?? []) await tx.exec(sql);
      ended = true;
      continue;
    }
    running.update(`${text}\n`);
    if (line.table !== undefined) {
      finishTable();
      if (!line.schema || !schemas.has(line.schema) || typeof line.name !== 'string') throw new Error(`the backup has a table ${line.table} outside its schemas`);
      current = { target: `${q(line.schema)}.${q(line.name)}`, columns: line.columns ?? [], count: 0, label: line.table };
    } else if (line.rows !== undefined) {
      if (!current) throw new Error('the backup has rows before any table');
      const cols = current.columns.map(q).join(', ');
      await tx.query(`INSERT INTO ${current.target} (${cols}) SELECT ${cols} FROM json_populate_recordset(NULL::${current.target}, $1::json)`, [JSON.stringify(line.rows)]);
      current.count += line.rows.length;
      summary.rows += line.rows.length;
    }
  }
  if (!header) throw new Error('the backup file is empty');
  if (!ended) throw new Error('the backup file is cut short (no end record): nothing was restored');
}
