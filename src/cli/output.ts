import type { Progress } from '../platform/progress.js';

/** Progress as plain lines: readable in a terminal, in CI logs and in a detached parent. */
export function lineProgress(out: NodeJS.WritableStream = process.stdout): Progress {
  return {
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
