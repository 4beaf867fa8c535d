import type { Progress } from '../platform/progress.js';

/** Progress as plain lines: readable in a terminal, in CI logs and in a detached parent. */
export function lineProgress(out: NodeJS.WritableStream = process.stdout): Progress {
  return {
    step(message) {
      out.write(`  … ${message}\n`);
    },
    packageStep(packageId, message) {
      out.write(`  … ${packageId}: ${message}\n`);
    },
    packageDone(packageId, message, elapsedMs) {
      out.write(`  ✔ ${packageId} ${message} (${(elapsedMs / 1000).toFixed(1)} s)\n`);
    },
    info(message) {
      out.write(`${message}\n`);
    },
  };
}

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n');
}

/** Warnings of commands that carry on (a broken package left out, a likely typo): on stderr, so stdout stays the result. */
export function warnOnStderr(message: string): void {
  process.stderr.write(`instant: warning: ${message}\n`);
}

/**
 * `instant status | head`: the reader went away (EPIPE). A command that only prints stops quietly;
 * a foreground stack keeps running, without its printed logs (the log file still has them).
 */
export function quietOnClosedOutput(keepRunning: () => boolean): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE') throw error;
      if (!keepRunning()) process.exit(0);
      stream.write = (() => true) as typeof stream.write;
    });
  }
}

let stackInThisProcess = false;
/** Set by the foreground init/up: closed output then must not end the stack. */
export function markStackRunning(): void {
  stackInThisProcess = true;
}
export function stackRunning(): boolean {
  return stackInThisProcess;
}
