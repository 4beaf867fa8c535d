/**
 * The embedded database's backup: PGlite's own archive of its data directory (dumpDataDir, a
 * gzip-compressed tar), exact and complete. Restoring unpacks it into a new directory beside the
 * old one and swaps them only once it opened, so a failed restore leaves the data as it was.
 */
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import type { ProgressReporter } from './logical.js';

export async function dumpPgliteDir(dataDir: string, file: string, report: ProgressReporter): Promise<number> {
  report(`opening the embedded database in ${dataDir}`);
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

export async function loadPgliteDir(dataDir: string, file: string, report: ProgressReporter): Promise<void> {
  const incoming = `${dataDir}.restoring`;
  const previous = `${dataDir}.before-restore`;
  await rm(incoming, { recursive: true, force: true });
  report(`unpacking ${file}`);
  const archive = new Blob([await readFile(file)]);
  const pg = new PGlite(incoming, { loadDataDir: archive });
  try {
    await pg.waitReady;
    await pg.query('SELECT 1');
  } catch (error) {
    await pg.close().catch(() => undefined);
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
