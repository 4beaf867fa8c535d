/**
 * A new embedded database starts as a copy of an initialised, empty cluster when
 * INSTANT_PGLITE_TEMPLATE names one: PGlite's initdb costs ~2-3 s of CPU per new directory,
 * opening a copy ~0.2 s. The test runner sets it (scripts/run-tests.js) so the many `instant init`
 * of the suite do not each run initdb; a few tests unset it to keep the real first start covered.
 * Not meant for operators: a template from another PGlite version would not open.
 */
import { cpSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Creates `dataDir` (when missing) and, when a template is given and the folder is empty, fills it with a copy. */
export function prepareDataDir(dataDir: string): void {
  mkdirSync(dataDir, { recursive: true });
  const template = process.env.INSTANT_PGLITE_TEMPLATE;
  if (!template || !existsSync(join(template, 'PG_VERSION'))) return;
  if (readdirSync(dataDir).length) return; // an existing cluster, or someone else's files: left alone
  cpSync(template, dataDir, { recursive: true });
}
