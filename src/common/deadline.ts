/**
 * Runs synchronous work that a caller's input can make arbitrarily slow (an XPath expression an
 * admin wrote, on a body a client sent) under a deadline: V8 interrupts it when the time is up.
 * The watchdog costs tens of microseconds a call, so use it only where the cost is unbounded.
 */
import { Script, createContext } from 'node:vm';

const runScript = new Script('work()');
const runContext = createContext({ work: (): unknown => undefined });

export const DEADLINE_PASSED = Symbol('deadline passed');

/** `work()`'s result, or DEADLINE_PASSED when it ran past `ms` (it was stopped). */
export function runWithDeadline<T>(work: () => T, ms: number): T | typeof DEADLINE_PASSED {
  runContext.work = work;
  try {
    return runScript.runInContext(runContext, { timeout: ms }) as T;
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') return DEADLINE_PASSED;
    throw error;
  } finally {
    runContext.work = () => undefined;
  }
}
