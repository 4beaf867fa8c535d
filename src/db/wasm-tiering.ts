/**
 * How V8 compiles PGlite's WebAssembly (PostgreSQL, a ~9 MB module). V8 runs every function
 * first through its baseline compiler (Liftoff) and recompiles the hot ones with its optimiser
 * (TurboFan) on background threads. A long-running instance gains from that (sustained FHIR
 * writes ~1.5x faster), but a process that lives a few seconds pays for optimising compiles it
 * never profits from: ~half of a short test process's CPU. INSTANT_WASM_TIER_UP=false keeps
 * PGlite on the baseline compiler: the test runner sets it for the suite (scripts/run-tests.js);
 * operators have no reason to. Measured by bench/pglite-tiering.ts (docs/benchmarks.md).
 *
 * A V8 flag is process-wide: it applies to all WebAssembly the process compiles afterwards.
 */
import { setFlagsFromString } from 'node:v8';

let chosen = false;

/** Sets the tiering before the first PGlite of the process compiles its module (later calls do nothing). */
export function chooseWasmTiering(): void {
  if (chosen) return;
  chosen = true;
  if (process.env.INSTANT_WASM_TIER_UP === 'false') setFlagsFromString('--liftoff-only');
}
