import { Listr, ListrLogger, PRESET_TIMER, ProcessOutput, type ListrTaskWrapper } from 'listr2';
import type { Progress } from '../platform/progress.js';
import { lineProgress } from './output.js';

/** Progress shown while a start runs; close() ends the display (and prints what it held back). */
export interface ProgressView extends Progress {
  close(): Promise<void>;
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

type Task = ListrTaskWrapper<unknown, never, never>;

/**
 * In a terminal, a spinner per package (listr2) with what it waits for and, once done, how long
 * it took; elsewhere (CI logs, pipes, tests) the plain lines of lineProgress. Used where nothing
 * else writes to the terminal meanwhile (the detached start: service logs go to the log file).
 */
export function progressView(packageIds: string[], options: { stdout?: NodeJS.WriteStream; stderr?: NodeJS.WriteStream; tty?: boolean } = {}): ProgressView {
  const stdout = options.stdout ?? process.stdout;
  if (!(options.tty ?? stdout.isTTY)) {
    const lines = lineProgress(stdout);
    return { ...lines, close: async () => undefined };
  }
  const held: string[] = [];
  const preparing = deferred();
  const done = new Map(packageIds.map((id) => [id, deferred()]));
  const tasks = new Map<string, Task>();
  let preparingTask: Task | undefined;
  let preparingStep = 'starting';
  const titles = new Map<string, string>();
  const setTitle = (packageId: string, title: string) => {
    titles.set(packageId, title);
    const task = tasks.get(packageId);
    if (task) task.title = title;
  };

  const list = new Listr(
    [
      {
        title: 'Preparing',
        task: async (_ctx, task) => {
          preparingTask = task as unknown as Task;
          task.title = `Preparing: ${preparingStep}`;
          await preparing.promise;
          task.title = 'Background process and database ready';
        },
      },
      {
        title: 'Packages',
        task: (_ctx, parent) =>
          parent.newListr(
            packageIds.map((id) => ({
              title: `${id}: waiting for its dependencies`,
              task: async (_c: unknown, task: Task) => {
                tasks.set(id, task);
                // Steps reported before the display reached this package are not lost.
                const last = titles.get(id);
                if (last) task.title = last;
                await done.get(id)!.promise;
              },
            })),
            { concurrent: true, exitOnError: false },
          ),
      },
    ],
    {
      concurrent: false,
      exitOnError: false,
      registerSignalListeners: false, // Ctrl-C is ours: it stops the start and says what was interrupted
      rendererOptions: { timer: PRESET_TIMER, collapseSubtasks: false, logger: new ListrLogger({ processOutput: new ProcessOutput(stdout, options.stderr ?? process.stderr) }) },
      ...(options.tty ? { forceTTY: true } : {}),
    },
  );
  const running = list.run().catch(() => undefined);
  return {
    step(message) {
      preparingStep = message;
      if (preparingTask) preparingTask.title = `Preparing: ${message}`;
    },
    packageStep(packageId, message) {
      preparing.resolve();
      setTitle(packageId, `${packageId}: ${message}`);
    },
    packageDone(packageId, message) {
      preparing.resolve();
      setTitle(packageId, `${packageId} ${message}`);
      done.get(packageId)?.resolve();
    },
    info(message) {
      held.push(message);
    },
    async close() {
      // Packages that never finished (the start failed or was interrupted) end the display as they are.
      preparing.resolve();
      for (const [id, wait] of done) {
        const task = tasks.get(id);
        if (task && !task.task.isCompleted()) task.skip(`${id}: not started`);
        wait.resolve();
      }
      await running;
      for (const message of held) stdout.write(`${message}\n`);
    },
  };
}
