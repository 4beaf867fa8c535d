/**
 * Runs a container engine's command line (docker, podman, podman-compose, kubectl) with a time
 * limit: an engine that hangs (a stuck daemon, a pull from an unreachable registry) makes the
 * command fail with what it printed, never wait for ever.
 */
import { spawn } from 'node:child_process';
import { InstantError } from '../../common/errors.js';

export interface EngineRun {
  timeoutMs: number;
  cwd?: string;
  input?: string;
  /** Exit codes that are not failures (e.g. `podman secret rm` of one already gone). */
  allowFailure?: boolean;
}

export interface EngineResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runEngine(program: string, args: string[], options: EngineRun): Promise<EngineResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { cwd: options.cwd, stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => {
      // The whole group: podman-compose and kubectl start children of their own.
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
      reject(new InstantError('INSTANT_ENGINE_TIMEOUT', `\`${program} ${args.join(' ')}\` did not finish within ${options.timeoutMs / 1000} s${tail(stderr || stdout)}`, `check that ${program} works (\`${program} version\`), then run the command again`));
    }, options.timeoutMs);
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new InstantError('INSTANT_ENGINE_MISSING', `cannot run ${program}: ${error.code === 'ENOENT' ? 'not installed (not on PATH)' : error.message}`, 'install it, or use --render-only DIR to write the files and deploy them yourself'));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      const result = { code: code ?? 1, stdout, stderr };
      if (result.code !== 0 && !options.allowFailure) {
        reject(new InstantError('INSTANT_ENGINE_FAILED', `\`${program} ${args.join(' ')}\` failed (exit ${result.code})${tail(stderr || stdout)}`, 'see the output above; fix the cause and run the command again'));
        return;
      }
      resolve(result);
    });
    if (child.stdin) {
      // A program that exits before reading its input closes the pipe: its exit code tells what happened.
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input);
    }
  });
}

function tail(text: string): string {
  const lines = text.trim().split('\n').filter(Boolean).slice(-12);
  return lines.length ? `:\n    ${lines.join('\n    ')}` : '';
}

/** True when the program is on PATH. */
export async function hasProgram(program: string): Promise<boolean> {
  const { delimiter, join } = await import('node:path');
  const { accessSync, constants } = await import('node:fs');
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, program), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}
