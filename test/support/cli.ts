/** Runs the real `instant` CLI (bin/instant.js, built) as a child process, as a user would. */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const instantBin = join(repoRoot, 'bin', 'instant.js');
export const fixturePackages = join(repoRoot, 'test', 'fixtures', 'packages');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runInstant(args: string[], options: { cwd: string; env?: Record<string, string>; timeoutMs?: number }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    // `--` as the bin's shebang has it: node leaves the CLI's own --env-file alone.
    const child = spawn(process.execPath, ['--', instantBin, ...args], {
      cwd: options.cwd,
      env: { ...process.env, INSTANT_LOG_LEVEL: 'info', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, stdout, stderr });
    });
  });
}

const tempDirs: string[] = [];
process.on('exit', () => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** A fresh working folder for one CLI scenario, removed when the test process exits. */
export function tempProject(prefix = 'instant-cli-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/**
 * A port nothing listens on, from below the kernel's ephemeral range (32768-60999 by default).
 * A port the kernel handed out for `listen(0)` is from that range, and between this check and the
 * service binding it any outgoing connection on the machine (another test file, a build) can take
 * it as its local port: the service then fails with EADDRINUSE. Below the range only listeners
 * compete, and a port is not handed out twice by one test process.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (handedOut.has(port)) continue;
    if (await portIsFree(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no free port found between 20000 and 32000');
}
const handedOut = new Set<number>();

/** True when nothing listens on the port any more. */
export async function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
