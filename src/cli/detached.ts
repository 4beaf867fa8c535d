/**
 * `instant init|up -d`: the CLI forks itself (the child runs the stack) and the two talk over
 * an IPC channel until the stack is ready. Whatever happens during start-up, the parent returns
 * with the real reason, and a child that could not start never stays behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InstantError, onStorage } from '../common/errors.js';
import { formatLogLine } from '../common/logger.js';
import type { Deployment } from '../platform/deployment.js';
import type { Progress } from '../platform/progress.js';
import { fatalReason } from '../targets/embedded/fatal.js';
import { embeddedTarget } from '../targets/embedded/target.js';
import { progressView } from './progress-view.js';
import { printReady } from './ready.js';
import { CurrentStep, INTERRUPTED } from './interrupt.js';
import { DAEMON_ARGS_ENV, DAEMON_ENV } from './daemon-args.js';

type DaemonMessage =
  | { type: 'started'; pid: number }
  | { type: 'instance-step'; message: string }
  | { type: 'step'; packageId: string; message: string }
  | { type: 'done'; packageId: string; message: string; elapsedMs: number }
  | { type: 'info'; message: string }
  | { type: 'ready'; endpoints: Record<string, Record<string, string>>; generatedSecrets: string[] }
  | { type: 'failed'; code: string; message: string; hint?: string };

export { DAEMON_ENV } from './daemon-args.js';

/** The child's first report comes once Node and the CLI are loaded: seconds, even on a busy machine. */
const FIRST_REPORT_TIMEOUT_MS = 30_000;
/** How long a child that reported a failure (or closed the channel) has to exit before it is killed. */
const EXIT_GRACE_MS = 10_000;
/** Log lines shown when the child ended without saying why. */
const LOG_TAIL_LINES = 15;

/** The detached child: runs the stack, reports to the parent over IPC, then carries on alone. */
export async function runAsDaemon(command: 'init' | 'up', deployment: Deployment, databaseUrl: string | undefined, watch: boolean): Promise<void> {
  // After ready the parent has gone: later progress (stopping) only reaches the log.
  const send = (message: DaemonMessage): Promise<void> =>
    new Promise((resolve) => {
      if (!process.connected || !process.send) return resolve();
      process.send(message, undefined, {}, () => resolve());
    });
  const sendFailure = (failure: InstantError) => send({ type: 'failed', code: failure.code, message: failure.message, ...(failure.hint ? { hint: failure.hint } : {}) });
  const progress: Progress = {
    step: (message) => void send({ type: 'instance-step', message }),
    packageStep: (packageId, message) => void send({ type: 'step', packageId, message }),
    packageDone: (packageId, message, elapsedMs) => void send({ type: 'done', packageId, message, elapsedMs }),
    info: (message) => void send({ type: 'info', message }),
  };
  await send({ type: 'started', pid: process.pid });
  // Until ready, a stop request (the parent's Ctrl-C) or a parent that went away aborts the start:
  // a background stack nobody waits for must not go on starting and hold the ports.
  const starting = new AbortController();
  const abortStart = (why: string) => () => starting.abort(new InstantError(INTERRUPTED, `the background start was ${why}`, 'what had started was stopped, and nothing new is recorded as initialised; run the command again to start'));
  const onStopRequest = abortStart('interrupted');
  const onParentGone = abortStart('abandoned (the command that started it ended)');
  process.on('SIGTERM', onStopRequest);
  process.on('SIGINT', onStopRequest);
  process.on('disconnect', onParentGone);
  let instance;
  try {
    instance = await embeddedTarget({ detached: true, reportFatal: sendFailure, watch }).deploy({ deployment, command, ...(databaseUrl ? { databaseUrl } : {}), progress, signal: starting.signal });
  } catch (error) {
    await sendFailure(fatalReason(error, deployment.store.dir));
    // Exit now: a half-opened database thread or a timer must not keep an orphan alive.
    process.exit(1);
  }
  process.off('SIGTERM', onStopRequest);
  process.off('SIGINT', onStopRequest);
  process.off('disconnect', onParentGone);
  process.on('SIGTERM', () => void instance.stop());
  process.on('SIGINT', () => void instance.stop());
  await send({ type: 'ready', endpoints: instance.endpoints, generatedSecrets: instance.generatedSecrets });
  process.disconnect?.();
  await instance.stopped;
  exitIfLingering();
}

/**
 * Everything is stopped, closed and logged: if something still holds the event loop (a socket a
 * peer keeps open), the process ends anyway after a grace, rather than live on unseen.
 */
export function exitIfLingering(graceMs = 2000): void {
  setTimeout(() => process.exit(process.exitCode ?? 0), graceMs).unref();
}

/** The parent: starts the child, shows its progress, and returns when it is ready or has failed. */
export function startDetached(command: 'init' | 'up', deployment: Deployment): Promise<void> {
  const { store } = deployment;
  store.ensure();
  const live = store.liveRuntime();
  if (live) {
    throw new InstantError('INSTANT_ALREADY_RUNNING', `an instance is already running from ${store.dir} (pid ${live.pid}) with ${live.packages.join(', ')}`, 'run `instant down` first');
  }
  process.stdout.write(`${command === 'init' ? 'Deploying' : 'Starting'} ${deployment.plan.ordered.map((p) => p.id).join(', ')} detached (embedded, state in ${store.dir})\n`);
  // Nothing else writes to the terminal meanwhile (the services log to the log file): spinners there.
  const progress = progressView(deployment.plan.ordered.map((p) => p.id));
  const output = onStorage(store.logFile, () => openSync(store.logFile, 'a'));
  const logStart = statSync(store.logFile).size;
  const bin = fileURLToPath(new URL('../../../bin/instant.js', import.meta.url));
  const args = process.argv.slice(2).filter((arg) => arg !== '-d' && arg !== '--detach');
  let child: ChildProcess;
  try {
    // `--`: our --env-file is the CLI's flag, not node's (see bin/instant.js).
    // The command alone on the command line; its flags (settings among them) in the environment.
    child = spawn(process.execPath, ['--', bin, command], { detached: true, stdio: ['ignore', output, output, 'ipc'], env: { ...process.env, [DAEMON_ENV]: '1', [DAEMON_ARGS_ENV]: JSON.stringify(args) } });
  } finally {
    closeSync(output); // the child has its own copy
  }
  const t0 = Date.now();
  const logTail = () => recentLogLines(store.logFile, logStart);
  progress.step(`starting the background process (pid ${child.pid})`);

  const current = new CurrentStep();
  current.setInstance(`starting the background process (pid ${child.pid})`);
  return new Promise((resolve, reject) => {
    let settled = false;
    // Ctrl-C here: the background start is told to stop (it stops what had started and reports);
    // a second Ctrl-C kills it. Either way no stack is left behind holding the ports.
    let interrupts = 0;
    const onInterrupt = () => {
      interrupts++;
      if (interrupts > 1) {
        child.kill('SIGKILL');
        process.exit(130);
      }
      process.stderr.write(`\nInterrupted while ${current.get()}: stopping the background start (pid ${child.pid})… (Ctrl-C again to force)\n`);
      child.kill('SIGTERM');
    };
    process.on('SIGINT', onInterrupt);
    process.on('SIGTERM', onInterrupt);
    let exited = false;
    /** Why the start failed, once known: reported by the child, or seen by the parent. */
    let failure: InstantError | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    const finish = (error?: InstantError, then?: () => void) => {
      if (settled) return;
      settled = true;
      process.off('SIGINT', onInterrupt);
      process.off('SIGTERM', onInterrupt);
      clearTimeout(firstReportTimer);
      clearTimeout(killTimer);
      if (child.connected) child.disconnect();
      child.unref();
      // The progress display ends before anything else is printed.
      void progress.close().then(() => {
        if (error) return reject(error);
        then?.();
        resolve();
      });
    };
    // A child that has failed or fallen silent gets a grace period to exit, then is killed.
    const endChild = (error: InstantError) => {
      if (failure) return;
      failure = error;
      if (exited) return finish(error);
      killTimer = setTimeout(() => {
        child.kill('SIGKILL');
        finish(new InstantError(error.code, `${error.message}\n  (the background process ${child.pid} did not exit; it was killed)`, error.hint));
      }, EXIT_GRACE_MS);
    };
    const firstReportTimer = setTimeout(() => {
      endChild(new InstantError('INSTANT_START_FAILED', `the background process (pid ${child.pid}) did not report within ${FIRST_REPORT_TIMEOUT_MS / 1000} s${logTail()}`, 'the machine may be overloaded; see `instant logs`, then run the command again'));
    }, FIRST_REPORT_TIMEOUT_MS);

    child.on('message', (message: DaemonMessage) => {
      if (settled || failure) return;
      if (message.type === 'started') clearTimeout(firstReportTimer);
      else if (message.type === 'instance-step') {
        current.setInstance(message.message);
        progress.step(message.message);
      } else if (message.type === 'step') {
        current.set(message.packageId, message.message);
        progress.packageStep(message.packageId, message.message);
      }
      else if (message.type === 'done') progress.packageDone(message.packageId, message.message, message.elapsedMs);
      else if (message.type === 'info') progress.info(message.message);
      else if (message.type === 'ready') {
        finish(undefined, () => {
          printReady(deployment, message.endpoints, message.generatedSecrets, Date.now() - t0);
          process.stdout.write(`Running in the background (pid ${child.pid}). Stop it with \`instant down\`; logs: \`instant logs -f\`.\n`);
        });
      } else if (message.type === 'failed') {
        // The child exits by itself after reporting; the parent waits for it, so none is left behind.
        endChild(new InstantError(message.code, message.message, message.hint));
      }
    });
    child.on('error', (error) => finish(new InstantError('INSTANT_START_FAILED', `cannot start the background process: ${error.message}`)));
    child.on('exit', (code, signal) => {
      exited = true;
      if (failure) return finish(failure);
      if (interrupts) return finish(new InstantError(INTERRUPTED, `the background start (pid ${child.pid}) was interrupted before it could report`, 'run the command again to start'));
      finish(
        new InstantError(
          'INSTANT_START_FAILED',
          `the background process (pid ${child.pid}) exited (${signal ? `signal ${signal}` : `code ${code}`}) before it was ready${logTail()}`,
          `see \`instant logs\` (${store.logFile}); fix the cause, then run the command again`,
        ),
      );
    });
    child.on('disconnect', () => {
      if (settled || exited || failure) return;
      // The channel closes just before an exit, which then says why; a child that stays has a bounded wait.
      killTimer = setTimeout(() => {
        child.kill('SIGKILL');
        finish(new InstantError('INSTANT_START_FAILED', `the background process (pid ${child.pid}) stopped talking before it was ready, and was killed${logTail()}`, `see \`instant logs\` (${store.logFile})`));
      }, EXIT_GRACE_MS);
    });
  });
}

/** The last lines the child logged (since it was started), readable. */
function recentLogLines(logFile: string, from: number): string {
  let text = '';
  try {
    text = readFileSync(logFile).subarray(from).toString('utf8');
  } catch {
    return '';
  }
  const lines = text.split('\n').filter(Boolean).slice(-LOG_TAIL_LINES).map((line) => formatLogLine(line) ?? line);
  return lines.length ? `\n  last log lines:\n    ${lines.join('\n    ')}` : '';
}
