/**
 * `instant backup` and `instant restore`: the whole database of an instance to one file and
 * back. Three kinds of file, told apart by their first bytes:
 * - the embedded database's archive (pglite-archive.ts): exact, restored onto an embedded instance;
 * - a pg_dump custom archive (pg-dump.ts): PostgreSQL, when pg_dump on PATH can read the server;
 * - a logical backup (logical.ts): both drivers, either direction; the fallback without pg_dump,
 *   and the way to move an embedded instance's data onto a server (--format logical).
 */
import { open } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { openDatabase, type Database } from '../../db/open.js';
import { dumpPgliteDir, loadPgliteDir } from './pglite-archive.js';
import { LOGICAL_FORMAT, restoreLogicalBackup, writeLogicalBackup, type ProgressReporter } from './logical.js';
import { pgDump, pgDumpMajor, pgRestore } from './pg-dump.js';

export type BackupFormat = 'auto' | 'native' | 'logical';
export type BackupKind = 'pglite-archive' | 'pg-dump' | 'logical';
export type DatabaseLocationForBackup = { dataDir: string } | { url: string };

export interface BackupResult {
  kind: BackupKind;
  file: string;
  /** Why the logical backup was used where a native one was asked for or expected. */
  note?: string;
}

/** The file name ending of each kind, for a default name. */
export const BACKUP_EXTENSIONS: Record<BackupKind, string> = {
  'pglite-archive': 'pglite.tar.gz',
  'pg-dump': 'pgdump',
  logical: 'logical.jsonl.gz',
};

async function withDatabase<T>(location: DatabaseLocationForBackup, fn: (db: Database) => Promise<T>): Promise<T> {
  const db = await openDatabase('url' in location ? { url: location.url } : { dataDir: location.dataDir, thread: 'main' });
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** Whether pg_dump on PATH can dump this server (it refuses servers newer than itself); why not otherwise. */
async function pgDumpUsable(url: string): Promise<string | undefined> {
  const major = await pgDumpMajor();
  if (major === undefined) return 'pg_dump is not on PATH';
  const server = await withDatabase({ url }, async (db) => Number((await db.query<{ v: string }>('SHOW server_version_num')).rows[0]!.v));
  const serverMajor = Math.floor(server / 10_000);
  return major < serverMajor ? `pg_dump ${major} cannot dump a PostgreSQL ${serverMajor} server` : undefined;
}

/** The kind a backup of this location will be, and why, before anything is written. */
export async function chooseBackupKind(location: DatabaseLocationForBackup, format: BackupFormat): Promise<{ kind: BackupKind; note?: string }> {
  if (format === 'logical') return { kind: 'logical' };
  if ('dataDir' in location) return { kind: 'pglite-archive' };
  const unusable = await pgDumpUsable(location.url);
  if (!unusable) return { kind: 'pg-dump' };
  if (format === 'native') throw new Error(`${unusable}: install a pg_dump of the server's version, or use --format logical`);
  return { kind: 'logical', note: `${unusable}: made a logical backup instead` };
}

/** backupKey signs a logical backup (logical.ts); the other kinds do not carry SQL of ours to run. */
export async function backupDatabase(location: DatabaseLocationForBackup, file: string, kind: BackupKind, report: ProgressReporter, backupKey?: string): Promise<void> {
  if (kind === 'pglite-archive') {
    if (!('dataDir' in location)) throw new Error('an embedded archive is made of an embedded database only');
    await dumpPgliteDir(location.dataDir, file, report);
  } else if (kind === 'pg-dump') {
    if (!('url' in location)) throw new Error('pg_dump backs up a PostgreSQL server only');
    await pgDump(location.url, file, report);
  } else {
    await withDatabase(location, (db) => writeLogicalBackup(db, file, report, backupKey));
  }
}

/** Tells the kind of a backup file from its first bytes. */
export async function sniffBackup(file: string): Promise<BackupKind> {
  const handle = await open(file, 'r');
  const head = Buffer.alloc(64 * 1024);
  let length: number;
  try {
    ({ bytesRead: length } = await handle.read(head, 0, head.length, 0));
  } finally {
    await handle.close();
  }
  const bytes = head.subarray(0, length);
  if (bytes.subarray(0, 5).toString('latin1') === 'PGDMP') return 'pg-dump';
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    let text = '';
    try {
      text = gunzipSync(bytes, { finishFlush: 2 /* Z_SYNC_FLUSH: the start of a longer stream */ }).subarray(0, 200).toString('utf8');
    } catch {
      // not whole: the start is enough for the check below only when it decompressed
    }
    return text.startsWith(`{"format":"${LOGICAL_FORMAT}"`) ? 'logical' : 'pglite-archive';
  }
  throw new Error(`${file} is not a backup made by instant backup (an embedded archive, a pg_dump archive or a logical backup)`);
}

export async function restoreDatabase(location: DatabaseLocationForBackup, file: string, report: ProgressReporter, backupKey?: string): Promise<BackupKind> {
  const kind = await sniffBackup(file);
  if (kind === 'pglite-archive') {
    if (!('dataDir' in location)) throw new Error('this is an embedded database archive: restore it onto an embedded instance, or make a logical backup (instant backup --format logical) to move the data to a server');
    await loadPgliteDir(location.dataDir, file, report);
  } else if (kind === 'pg-dump') {
    if (!('url' in location)) throw new Error('this is a pg_dump archive: restore it onto a PostgreSQL server (--database-url), or make a logical backup to move it to an embedded instance');
    await pgRestore(location.url, file, report);
  } else {
    await withDatabase(location, (db) => restoreLogicalBackup(db, file, report, backupKey));
  }
  return kind;
}
