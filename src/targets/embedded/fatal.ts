import { appendFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { InstantError, errorMessage, storageFailure } from '../../common/errors.js';

export interface FatalGuardOptions {
  /** The state directory (named in the explanation of a storage failure). */
  stateDir: string;
  /** The JSON-lines log file: the reason is appended to it synchronously, before the exit. */
  logFile: string;
  /** Also told the reason (the detached child tells its parent, while it still listens). */
  report?: (failure: InstantError) => void | Promise<void>;
  /** Milliseconds the orderly stop may take before the process exits anyway. */
  stopTimeoutMs?: number;
}

export interface FatalGuard {
  /** What to stop before exiting (set once the stack runs). */
  onStop(stop: () => Promise<void>): void;
  /** Ends the process for this reason: logged, reported, an orderly stop tried, exit code 1. */
  fail(error: unknown): void;
  uninstall(): void;
}

/** The reason a stack process must stop, as an InstantError: a storage failure by its own code. */
export function fatalReason(error: unknown, stateDir: string): InstantError {
  return (
    storageFailure(error, stateDir) ??
    (error instanceof InstantError ? error : undefined) ??
    new InstantError('INSTANT_FATAL', `the instance stopped on an unexpected error: ${errorMessage(error)}`, 'see `instant logs` for what happened before; `instant up` starts it again (the data written before is kept)', { cause: error })
  );
}

/**
 * The stack process (foreground CLI or detached child) never dies silently: an uncaught
 * exception, a storage failure or a log file that cannot be written (a full disk) is written to
 * the log with its INSTANT_ code, then the process stops its services and exits 1. Any other
 * unhandled rejection is logged and the exchange keeps running.
 */
export function guardStackProcess(options: FatalGuardOptions): FatalGuard {
  let stop: (() => Promise<void>) | undefined;
  let failing = false;

  const fail = (error: unknown): void => {
    if (failing) return; // a second failure while stopping (the log stream, say) changes nothing
    failing = true;
    const failure = fatalReason(error, options.stateDir);
    const line = JSON.stringify({ level: 60, time: Date.now(), pid: process.pid, hostname: hostname(), service: 'instant', code: failure.code, err: { message: failure.message, stack: (error as Error)?.stack }, msg: `fatal: ${failure.describe()}` });
    try {
      // Synchronous: the process may not live to flush a stream. A full disk often still has
      // room in the log file's last block for one line.
      appendFileSync(options.logFile, `${line}\n`);
    } catch {
      // nothing more can be written there; stderr below is the last place
    }
    process.stderr.write(`instant: ${failure.describe()}\n  (${failure.code}: see docs/errors.md)\n`);
    const timer = setTimeout(() => process.exit(1), options.stopTimeoutMs ?? 5_000);
    // Report first (an IPC message is sent asynchronously), then stop, then exit.
    void Promise.resolve()
      .then(() => options.report?.(failure))
      .catch(() => undefined) // the parent has gone
      .then(() => stop?.())
      .catch(() => undefined)
      .finally(() => {
        clearTimeout(timer);
        process.exit(1);
      });
  };

  const onError = (error: unknown) => fail(error);
  // A promise nobody awaited failed (a custom service's stray fetch, say): logged, and the rest of
  // the exchange keeps running. Storage failures still stop the process, as they would everywhere.
  const onRejection = (error: unknown) => {
    const failure = fatalReason(error, options.stateDir);
    if (failure.code !== 'INSTANT_FATAL') return fail(error);
    const line = JSON.stringify({ level: 50, time: Date.now(), pid: process.pid, hostname: hostname(), service: 'instant', err: { message: (error as Error)?.message ?? String(error), stack: (error as Error)?.stack }, msg: 'unhandled promise rejection (a bug in the code that started it; the services keep running)' });
    try {
      appendFileSync(options.logFile, `${line}\n`);
    } catch {
      fail(error);
    }
  };
  process.on('uncaughtException', onError);
  process.on('unhandledRejection', onRejection);
  return {
    onStop: (value) => (stop = value),
    fail,
    uninstall: () => {
      process.off('uncaughtException', onError);
      process.off('unhandledRejection', onRejection);
    },
  };
}
