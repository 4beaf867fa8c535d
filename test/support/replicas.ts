/**
 * Test support: starts service replicas as child processes (serve-service.ts) on one PostgreSQL,
 * and kills them (SIGTERM for a clean stop, SIGKILL for a crash).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';

const launcher = join(dirname(fileURLToPath(import.meta.url)), 'serve-service.js');

export interface Replica {
  service: string;
  endpoints: Record<string, string>;
  process: ChildProcess;
  /** Resolves when the process has exited. */
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export async function startReplica(service: string, databaseUrl: string, settings: Record<string, string>): Promise<Replica> {
  const child = spawn(process.execPath, [launcher, service], {
    env: { PATH: process.env.PATH ?? '', ...settings, INSTANT_DATABASE_URL: databaseUrl },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-8000);
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ready = await new Promise<{ endpoints: Record<string, string> }>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      try {
        const message = JSON.parse(line) as { ready?: boolean; endpoints: Record<string, string> };
        if (message.ready) resolve(message);
      } catch {
        // not ours
      }
    });
    void exited.then((code) => reject(new Error(`${service} exited (${code}) before it was ready:\n${stderr}`)));
  });
  return {
    service,
    endpoints: ready.endpoints,
    process: child,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}
