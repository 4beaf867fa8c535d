/**
 * The PostgreSQL settings an embedded database starts with: PGlite's own, and shared_buffers when
 * INSTANT_PGLITE_SHARED_BUFFERS gives it (`16MB`). PostgreSQL sets up its shared memory at start,
 * the buffer pool (128 MB by default) with it: ~0.3-0.7 s of CPU per start in WebAssembly. A
 * long-running instance gains from that cache; a test process that lives a few seconds pays for
 * memory it never uses (a tenth of the suite's CPU). The test runner sets it (scripts/run-tests.js);
 * operators have no reason to.
 */
import { PGlite } from '@electric-sql/pglite';

const SIZE = /^[1-9][0-9]{0,6}(kB|MB|GB)?$/;

/** PGlite's start parameters with the configured shared_buffers, or undefined for PGlite's defaults. */
export function pgliteStartParams(env: NodeJS.ProcessEnv = process.env): string[] | undefined {
  const size = env.INSTANT_PGLITE_SHARED_BUFFERS?.trim();
  if (!size) return undefined;
  if (!SIZE.test(size)) throw new Error(`INSTANT_PGLITE_SHARED_BUFFERS "${size.slice(0, 40)}" is not a size such as 16MB`);
  return [...PGlite.defaultStartParams, '-c', `shared_buffers=${size}`];
}
