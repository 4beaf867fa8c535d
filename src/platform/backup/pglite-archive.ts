/**
 * The embedded database's backup: PGlite's own archive of its data directory (dumpDataDir, a
 * gzip-compressed tar), exact and complete. Restoring unpacks it into a new directory beside the
 * old one and swaps them only once it opened, so a failed restore leaves the data as it was.
 */
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { limitsFromEnvironment } from '../../common/limits.js';
import { existsSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import type { ProgressReporter } from './logical.js';
import { chooseWasmTiering } from '../../db/wasm-tiering.js';

export async function dumpPgliteDir(dataDir: string, file: string, report: ProgressReporter): Promise<number> {
  report(`opening the embedded database in ${dataDir}`);
  chooseWasmTiering();
  const pg = new PGlite(dataDir);
  try {
    await pg.waitReady;
    // A checkpoint first: the archive then needs no WAL replay when it is opened.
    await pg.exec('CHECKPOINT');
    report('archiving the data directory');
    const archive = await pg.dumpDataDir('gzip');
    const bytes = Buffer.from(await archive.arrayBuffer());
    await writeFile(file, bytes, { mode: 0o600, flag: 'wx' }); // new file only: never through a symlink
    return bytes.length;
  } finally {
    await pg.close();
  }
}

/**
 * The archive's tar, decompressed here under a cap (PGlite would decompress it whole, without
 * one: a small crafted gzip could fill the memory). A truncated or damaged file fails here.
 */
async function readArchiveTar(file: string, maxBytes: number): Promise<Buffer> {
  if ((await stat(file)).size > maxBytes) throw new Error(`the archive is larger than INSTANT_RESTORE_MAX_ARCHIVE_BYTES (${maxBytes} bytes); raise it if the archive is yours`);
  try {
    return await promisify(gunzip)(await readFile(file), { maxOutputLength: maxBytes });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError) {
      throw new Error(`the archive unpacks to more than INSTANT_RESTORE_MAX_ARCHIVE_BYTES (${maxBytes} bytes); raise it if the archive is yours`);
    }
    throw new Error(`the archive is damaged or cut short (${(error as Error).message})`);
  }
}

export async function loadPgliteDir(dataDir: string, file: string, report: ProgressReporter, maxBytes = limitsFromEnvironment().restoreMaxArchiveBytes): Promise<void> {
  const incoming = `${dataDir}.restoring`;
  const previous = `${dataDir}.before-restore`;
  await rm(incoming, { recursive: true, force: true });
  report(`unpacking ${file}`);
  const archive = new Blob([await readArchiveTar(file, maxBytes)]);
  let pg: PGlite | undefined;
  try {
    // PGlite unpacks while it starts: a broken tar throws here, or later from waitReady.
    chooseWasmTiering();
    pg = new PGlite(incoming, { loadDataDir: archive });
    await pg.waitReady;
    await pg.query('SELECT 1');
  } catch (error) {
    await pg?.close().catch(() => undefined);
    await rm(incoming, { recursive: true, force: true });
    throw new Error(`the archive does not open as an embedded database: ${(error as Error).message}`);
  }
  await pg.close();
  report('replacing the data directory');
  await rm(previous, { recursive: true, force: true });
  if (existsSync(dataDir)) await rename(dataDir, previous);
  await rename(incoming, dataDir);
  await rm(previous, { recursive: true, force: true });
}
