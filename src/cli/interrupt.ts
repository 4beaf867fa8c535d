import { InstantError } from '../common/errors.js';

export const INTERRUPTED = 'INSTANT_INTERRUPTED';

/**
 * Ctrl-C (or SIGTERM) while a stack is starting: the start is aborted at its next step, what had
 * started is stopped, and the command says what it was doing. A second Ctrl-C exits at once.
 */
export function abortOnInterrupt(doing: () => string, onFirst?: (reason: InstantError) => void): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(130);
    const reason = new InstantError(INTERRUPTED, `interrupted (${name === 'SIGINT' ? 'Ctrl-C' : name}) while ${doing()}`, 'what had started was stopped, and nothing new is recorded as initialised; run the command again to start');
    process.stderr.write(`\nInterrupted while ${doing()}: stopping what had started… (Ctrl-C again to force)\n`);
    onFirst?.(reason);
    controller.abort(reason);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose() {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

/** What a start is doing, from its progress: named in an interruption's message. */
export class CurrentStep {
  private step = 'starting';
  set(packageId: string, message: string): void {
    this.step = `${packageId}: ${message}`;
  }
  setInstance(message: string): void {
    this.step = message;
  }
  get(): string {
    return this.step;
  }
}
