/** How the detached background process (detached.ts) gets its command line. Small: main.ts reads it at every start. */

/** Set in the background process's environment. */
export const DAEMON_ENV = 'INSTANT_DAEMON';
/**
 * The command line the background process runs, handed over in its environment: a process's
 * arguments are readable by every local user (/proc/<pid>/cmdline), its environment by its owner
 * only, and `-e NAME=value` may carry a password (an SMTP URL, a root password).
 */
export const DAEMON_ARGS_ENV = 'INSTANT_DAEMON_ARGS';

/** The background process's own command line, from its environment (see DAEMON_ARGS_ENV), else argv. */
export function daemonArgv(argv: readonly string[]): string[] {
  const handed = process.env[DAEMON_ARGS_ENV];
  if (process.env[DAEMON_ENV] !== '1' || handed === undefined) return [...argv];
  delete process.env[DAEMON_ARGS_ENV];
  return [...argv.slice(0, 2), ...(JSON.parse(handed) as string[])];
}
