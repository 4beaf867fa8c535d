/**
 * pg_dump and pg_restore, when they are on PATH and can read the server (a pg_dump older than the
 * server refuses it): the custom archive format, compressed, restorable table by table.
 * Their --verbose lines are the progress.
 */
import { spawn } from 'node:child_process';
import { open, rm } from 'node:fs/promises';
import { NEW_PRIVATE_FILE } from './logical.js';
import { createInterface } from 'node:readline';
import type { ProgressReporter } from './logical.js';

function run(command: string, args: string[], env: NodeJS.ProcessEnv, report?: ProgressReporter, stdoutFd?: number): Promise<{ code: number; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(command, args, { env, stdio: ['ignore', stdoutFd ?? 'pipe', 'pipe'] });
    } catch {
      resolve({ code: -1, stderr: `${command} could not be started`, stdout: '' });
      return;
    }
    let stderr = '';
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    createInterface({ input: child.stderr! }).on('line', (line) => {
      stderr = `${stderr}${line}\n`.slice(-20_000);
      // "pg_dump: dumping contents of table "iol.users"" → the progress line.
      const shown = line.replace(/^pg_(dump|restore): /, '');
      if (report && /^(dumping contents|processing data|creating|executing|restoring)/.test(shown)) report(shown);
    });
    child.on('error', () => resolve({ code: -1, stderr: `${command} is not on PATH`, stdout }));
    child.on('close', (code) => resolve({ code: code ?? -1, stderr, stdout }));
  });
}

/**
 * The URL without its password, which goes in PGPASSWORD instead: a password in the command
 * line would show in the process list.
 */
function connection(url: string): { dbname: string; env: NodeJS.ProcessEnv } {
  const parsed = new URL(url);
  const password = decodeURIComponent(parsed.password);
  parsed.password = '';
  return { dbname: parsed.toString(), env: { ...process.env, ...(password ? { PGPASSWORD: password } : {}) } };
}

/** pg_dump's major version, or undefined when it is not on PATH. */
export async function pgDumpMajor(): Promise<number | undefined> {
  const r = await run('pg_dump', ['--version'], process.env);
  const m = /(\d+)(?:\.\d+)?/.exec(r.stdout);
  return r.code === 0 && m ? Number(m[1]) : undefined;
}

export async function pgDump(url: string, file: string, report: ProgressReporter): Promise<void> {
  const { dbname, env } = connection(url);
  // The file is ours, made new and owner-only before pg_dump writes (it would follow a symlink and
  // make it world-readable under the usual umask): pg_dump writes to its stdout, our descriptor.
  const handle = await open(file, NEW_PRIVATE_FILE.flags, NEW_PRIVATE_FILE.mode);
  let r;
  try {
    r = await run('pg_dump', ['--format=custom', '--no-owner', '--no-privileges', '--verbose', `--dbname=${dbname}`], env, report, handle.fd);
  } finally {
    await handle.close();
  }
  if (r.code !== 0) await rm(file, { force: true });
  if (r.code !== 0) throw new Error(`pg_dump failed: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`);
}

/** Replaces what the archive holds, in one transaction (a failed restore changes nothing). */
export async function pgRestore(url: string, file: string, report: ProgressReporter): Promise<void> {
  const { dbname, env } = connection(url);
  const r = await run('pg_restore', ['--clean', '--if-exists', '--no-owner', '--no-privileges', '--single-transaction', '--exit-on-error', '--verbose', `--dbname=${dbname}`, file], env, report);
  if (r.code !== 0) throw new Error(`pg_restore failed: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`);
}
