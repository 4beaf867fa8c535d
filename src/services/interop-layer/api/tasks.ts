/**
 * Rerun tasks: a list of transaction ids rerun in batches (POST /tasks, POST /bulkrerun), which
 * can be paused, resumed and cancelled. Reruns go through the router's rerun pipeline and link
 * parent and child transactions. A runner per replica works the queue in order; each task is
 * claimed by one replica (FOR UPDATE SKIP LOCKED), and a dead replica's task goes back to the
 * queue (replicas/reaper.ts), where it continues with the transactions not yet rerun.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { IolDeps } from '../deps.js';
import { badRequest, forbidden, missing } from '../errors.js';
import { newObjectId } from '../ids.js';
import { parseBody } from '../validation.js';
import { isAdmin, userOf } from './auth.js';
import type { Transaction, User } from '../models.js';
import { auditChange } from './common.js';
import type { ScopedRoutes } from './scopes.js';
import { parseFilters, withFilterErrors } from './transactions.js';
import { parseTaskFilters, taskWhere } from './task-filters.js';
import { checkStorable, parsePaging } from './query-filters.js';
import { storableJson } from '../store/storable.js';
import { settlePendingAsyncTasks } from './pending-async-tasks.js';

type TaskStatus = 'Queued' | 'Processing' | 'Paused' | 'Cancelled' | 'Completed' | 'Pending Async';

interface TaskTransaction {
  tid: string;
  tstatus: 'Queued' | 'Processing' | 'Completed' | 'Failed';
  rerunID?: string;
  rerunStatus?: string;
  error?: string;
}

export interface Task {
  /** Why the runner cancelled a task it could not read. */
  error?: string;
  _id: string;
  status: TaskStatus;
  transactions: TaskTransaction[];
  totalTransactions: number;
  remainingTransactions: number;
  batchSize: number;
  user: string;
  created: string;
  completedDate?: string;
}

const createSchema = z.object({ tids: z.array(z.string()).min(1), batchSize: z.number().int().min(1).max(1000).default(1), paused: z.boolean().default(false) });
const bulkSchema = z.object({
  filters: z.union([z.string(), z.record(z.unknown())]).default({}),
  batchSize: z.number().int().min(1).max(1000).default(1),
  pauseQueue: z.boolean().default(false),
});
/**
 * What PUT /tasks/:id sets. OpenHIM's updateTask (src/api/tasks.js 303-367) writes whatever it is
 * sent but the _id (its test sets `status: 'Completed'`); here the status, as the console sends it,
 * and other fields are dropped: the task's transactions and counts are the runner's.
 */
const updateSchema = z.object({ status: z.enum(['Queued', 'Paused', 'Cancelled', 'Completed']).optional() });

/** OpenHIM's rerun.taskTransactionsLength (config/default.json): a bulk rerun makes tasks of this many transactions. */
const BULK_TASK_TRANSACTIONS = 50;
/** The most transactions one bulk rerun takes (in tasks of BULK_TASK_TRANSACTIONS). */
const BULK_MAX_TRANSACTIONS = 100_000;

/** After the runner's loop fails (database down), it tries again this much later. */
const RUNNER_RETRY_MS = 5_000;

/** A stored task in the shape the runner needs, or an error saying what is wrong with it. */
function checkedTask(doc: unknown): Task {
  const task = doc as Task | null;
  if (!task || typeof task !== 'object' || Array.isArray(task)) throw new Error('the task document is not an object');
  if (!Array.isArray(task.transactions) || !task.transactions.every((t) => t && typeof t === 'object')) throw new Error('the task has no list of transactions');
  const batchSize = Number(task.batchSize);
  task.batchSize = Number.isInteger(batchSize) && batchSize >= 1 ? Math.min(batchSize, 1000) : 1;
  return task;
}

/**
 * Works queued tasks, one loop per process. One bad task (a malformed document) is cancelled
 * with the reason and the loop goes on; a transaction that is gone or cannot be rerun fails
 * alone in its task; a database failure ends the loop, which is tried again a little later.
 */
class TaskRunner {
  private running: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly deps: IolDeps) {}

  async load(id: string): Promise<Task | undefined> {
    const r = await this.deps.db.query<{ doc: Task }>('SELECT doc FROM iol.tasks WHERE id = $1', [id]);
    return r.rows[0]?.doc;
  }

  async save(task: Task): Promise<void> {
    await this.deps.db.query(
      `INSERT INTO iol.tasks (id, status, doc) VALUES ($1, $2, $3::jsonb)
       ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, doc = EXCLUDED.doc`,
      [task._id, task.status, storableJson(task)],
    );
  }

  kick(): void {
    if (this.running || this.stopped) return;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.running = this.work()
      .catch((error: unknown) => {
        this.deps.logger.error({ err: { message: (error as Error)?.message } }, 'rerun task runner failed; trying again shortly');
        if (!this.stopped) {
          this.retryTimer = setTimeout(() => this.kick(), RUNNER_RETRY_MS);
          this.retryTimer.unref();
        }
      })
      .finally(() => {
        this.running = undefined;
      });
  }

  /** The next task this replica may work: its own, or a free one it now claims. */
  private async claimNext(): Promise<string | undefined> {
    const me = this.deps.replicaId ?? 'single';
    const next = await this.deps.db.query<{ id: string }>(
      `UPDATE iol.tasks SET claimed_by = $1 WHERE id = (
         SELECT id FROM iol.tasks WHERE status IN ('Queued', 'Processing') AND (claimed_by IS NULL OR claimed_by = $1)
          ORDER BY created, id LIMIT 1 FOR UPDATE SKIP LOCKED)
       RETURNING id`,
      [me],
    );
    return next.rows[0]?.id;
  }

  /** A task that stopped running here (done, paused, cancelled) may be claimed by any replica again. */
  private async release(id: string): Promise<void> {
    await this.deps.db.query('UPDATE iol.tasks SET claimed_by = NULL WHERE id = $1', [id]);
  }

  private async work(): Promise<void> {
    const rerun = this.deps.rerun;
    if (!rerun) return;
    await settlePendingAsyncTasks(this.deps);
    for (;;) {
      if (this.stopped) return;
      const id = await this.claimNext();
      if (!id) return;
      let task: Task;
      try {
        task = checkedTask(await this.load(id));
      } catch (error) {
        await this.cancelMalformed(id, error);
        await this.release(id);
        continue;
      }
      await this.runTask(task, rerun);
      // Stopped mid-task: the claim stays, and the reaper frees it once this replica has left.
      if (this.stopped) return;
      await this.release(id);
    }
  }

  private async runTask(task: Task, rerun: (id: string, taskID?: string) => Promise<string>): Promise<void> {
    task.status = 'Processing';
    await this.save(task);
    for (;;) {
      const batch = task.transactions.filter((t) => t.tstatus === 'Queued').slice(0, task.batchSize);
      if (batch.length === 0) break;
      await Promise.all(
        batch.map(async (t) => {
          try {
            if (typeof t.tid !== 'string') throw new Error('the task lists a transaction without an id');
            t.rerunID = await rerun(t.tid, task._id);
            const child = await this.deps.transactions.byId(t.rerunID);
            t.rerunStatus = child?.status;
            // As OpenHIM (src/tasks.js 183-185): a rerun an asynchronous channel accepted waits for its mediator.
            t.tstatus = child?.status === 'Pending Async' ? 'Processing' : 'Completed';
          } catch (error) {
            t.tstatus = 'Failed';
            t.error = error instanceof Error ? error.message : String(error);
          }
        }),
      );
      task.remainingTransactions = task.transactions.filter((t) => t.tstatus === 'Queued').length;
      // Pause or cancel set through the API since the last batch wins over our copy.
      const stored = await this.load(task._id);
      if (stored && (stored.status === 'Paused' || stored.status === 'Cancelled')) {
        task.status = stored.status;
        await this.save(task);
        return;
      }
      await this.save(task);
      if (this.stopped) return;
    }
    // As OpenHIM (src/tasks.js 204-206): reruns still waiting for their mediator leave the task Pending Async.
    if (task.transactions.some((t) => t.tstatus === 'Processing')) await this.save({ ...task, status: 'Pending Async' });
    else await this.save({ ...task, status: 'Completed', completedDate: new Date().toISOString() });
  }

  /** A task the runner cannot read is cancelled in place, with the reason, so the queue moves on. */
  private async cancelMalformed(id: string, error: unknown): Promise<void> {
    const reason = `this task could not be run: ${(error as Error)?.message ?? String(error)}`;
    this.deps.logger.warn({ task: id, reason }, 'rerun task is malformed: cancelled');
    await this.deps.db.query(
      `UPDATE iol.tasks SET status = 'Cancelled',
              doc = (CASE WHEN jsonb_typeof(doc) = 'object' THEN doc ELSE '{}'::jsonb END)
                    || jsonb_build_object('_id', id, 'status', 'Cancelled', 'error', $2::text)
        WHERE id = $1`,
      [id, reason],
    );
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    await this.running;
  }
}

/**
 * Any user creates rerun tasks for channels whose txRerunAcl names one of their groups and sees
 * and pauses their own; admins bulk-rerun by filter and delete. `app` runs the task runner.
 */
export function taskRoutes(app: FastifyInstance, deps: IolDeps): ScopedRoutes {
  const runner = new TaskRunner(deps);
  // Tasks queued through another replica, or freed by the reaper, are picked up on the next poll.
  let poll: NodeJS.Timeout | undefined;
  app.addHook('onReady', async () => {
    runner.kick();
    poll = setInterval(() => runner.kick(), deps.config.replicaHeartbeatMs);
    poll.unref();
  });
  app.addHook('onClose', async () => {
    if (poll) clearInterval(poll);
    await runner.stop();
  });

  /** Non-admins may rerun transactions of channels whose txRerunAcl names one of their groups. */
  async function rerunnableChannels(user: User): Promise<Set<string> | undefined> {
    if (isAdmin(user)) return undefined;
    const channels = await deps.channels.list(true);
    return new Set(channels.filter((c) => c.txRerunAcl.some((g) => user.groups.includes(g))).map((c) => c._id));
  }

  function visibleTask(user: User, task: Task): boolean {
    return isAdmin(user) || task.user === user.email;
  }

  /**
   * A task as OpenHIM's addTask makes it (src/api/tasks.js 66-163): every id given is queued,
   * also one that names no transaction or one that cannot be rerun (it fails in the task, with
   * OpenHIM's words); a user needs txRerunAcl on the channels of the transactions that exist, and
   * a transaction of a disabled or deleted channel refuses the whole task. Queued transactions
   * leave the auto-retry queue, their attempts reset.
   */
  async function createTask(tids: string[], batchSize: number, paused: boolean, user: User): Promise<Task> {
    const allowed = await rerunnableChannels(user);
    const found: Transaction[] = [];
    for (const tid of new Set(tids)) {
      const tx = await deps.transactions.byId(tid);
      if (tx) found.push(tx);
    }
    const channelIDs = [...new Set(found.map((tx) => tx.channelID ?? ''))];
    if (allowed) {
      if (allowed.size === 0) throw forbidden('User is not authorised to create rerun tasks for any channel');
      const restricted = channelIDs.filter((id) => !allowed.has(id));
      if (restricted.length) throw forbidden(`User is not authorised to create rerun tasks for channels ${restricted.join(', ')}`);
    }
    const stopped: string[] = [];
    for (const id of channelIDs) {
      const channel = id ? await deps.channels.byId(id) : undefined;
      if (channel && channel.status !== 'enabled') stopped.push(channel.name);
    }
    if (stopped.length) throw badRequest(`Cannot rerun transactions for disabled or deleted channels - ${stopped.join(', ')}`);
    await leaveAutoRetryQueue(found);
    return queueTask(tids, batchSize, paused, user);
  }

  /** As OpenHIM: a transaction queued for rerun leaves the auto-retry queue, its attempts reset. */
  async function leaveAutoRetryQueue(txs: Transaction[]): Promise<void> {
    for (const tx of txs) if (tx.autoRetry || tx.autoRetryAttempt) await deps.transactions.save({ ...tx, autoRetry: false, autoRetryAttempt: 0 });
  }

  async function queueTask(tids: string[], batchSize: number, paused: boolean, user: User): Promise<Task> {
    const transactions: TaskTransaction[] = tids.map((tid) => ({ tid, tstatus: 'Queued' }));
    const task: Task = {
      _id: newObjectId(),
      status: paused ? 'Paused' : 'Queued',
      transactions,
      totalTransactions: transactions.length,
      remainingTransactions: transactions.length,
      batchSize,
      user: user.email,
      created: new Date().toISOString(),
    };
    await runner.save(task);
    runner.kick();
    return task;
  }

  /**
   * POST /bulkrerun as OpenHIM's rerunTransactions (src/api/transactions.js 261-396): the
   * transactions the filters match, newest first, in tasks of 50 (its taskTransactionsLength);
   * 200 `{success, message}` also when none matches (no task then). A user reruns only channels
   * whose txRerunAcl names one of their groups (OpenHIM checks the view ACLs there, and its own
   * txRerunAcl for POST /tasks): a channelID filter naming another is 403 "Forbidden:
   * Unauthorized channel <id>", none at all 403. Beyond OpenHIM, only transactions that can be
   * rerun on an enabled channel are taken (OpenHIM queues them and they fail in the task).
   */
  async function bulkRerun(rawFilters: string | Record<string, unknown>, batchSize: number, paused: boolean, user: User): Promise<Task[]> {
    const filters = parseFilters(rawFilters);
    const allowed = await rerunnableChannels(user);
    if (allowed) {
      if (filters.channelIDs !== undefined) {
        const refused = filters.channelIDs.find((id) => !allowed.has(id));
        if (refused !== undefined) throw forbidden(`Forbidden: Unauthorized channel ${refused}`);
      } else {
        if (allowed.size === 0) throw forbidden('Forbidden: User not authorized to rerun transactions for any channel');
        filters.channelIDs = [...allowed];
      }
    }
    const txs = await withFilterErrors(filters, () => deps.transactions.find({ ...filters, limit: BULK_MAX_TRANSACTIONS, offset: 0 }, false));
    const enabled = new Set(deps.routing.enabledChannels().map((c) => c.channel._id));
    const rerunnable = txs.filter((t) => t.canRerun && enabled.has(t.channelID ?? ''));
    await leaveAutoRetryQueue(rerunnable);
    const tasks: Task[] = [];
    for (let i = 0; i < rerunnable.length; i += BULK_TASK_TRANSACTIONS) {
      tasks.push(await queueTask(rerunnable.slice(i, i + BULK_TASK_TRANSACTIONS).map((t) => t._id), batchSize, paused, user));
    }
    return tasks;
  }

  return {
    user(scope) {
      scope.get<{ Querystring: { filterLimit?: string; filterPage?: string; filters?: string } }>('/tasks', { config: { userCheck: 'own-task' } }, async (request) => {
        const user = userOf(request);
        const { limit, offset } = parsePaging(request.query, deps.config.apiMaxFilterLimit);
        const filters = parseTaskFilters(request.query.filters);
        // Non-admins list their own tasks: in the query, so that paging counts only those.
        if (!isAdmin(user)) filters.user = [user.email];
        const { sql, params } = taskWhere(filters);
        params.push(limit, offset);
        // As OpenHIM's getTasks: the list leaves out each task's transactions (GET /tasks/:id has them).
        const r = await deps.db.query<{ doc: Task }>(
          `SELECT doc - 'transactions' AS doc FROM iol.tasks ${sql} ORDER BY created DESC, id DESC LIMIT $${params.length - 1} OFFSET $${params.length}`,
          params,
        );
        return r.rows.map((x) => x.doc);
      });

      scope.post('/tasks', { config: { userCheck: 'txRerunAcl' } }, async (request, reply) => {
        const user = userOf(request);
        const input = parseBody(createSchema, request.body, 'task');
        checkStorable(input.tids, 'tids');
        const task = await createTask(input.tids, input.batchSize, input.paused, user);
        auditChange(deps, request, 'C', `Task/${task._id}`);
        reply.code(201);
        return task;
      });

      scope.post('/bulkrerun', { config: { userCheck: 'txRerunAcl' } }, async (request) => {
        const user = userOf(request);
        const input = parseBody(bulkSchema, request.body, 'bulk rerun');
        const tasks = await bulkRerun(input.filters as string | Record<string, unknown>, input.batchSize, input.pauseQueue, user);
        for (const task of tasks) auditChange(deps, request, 'C', `Task/${task._id}`);
        // OpenHIM answers 200 {success, message}; the tasks it made come with it.
        return {
          success: true,
          message: 'Tasks created for bulk rerun of transactions',
          tasks: tasks.map(({ _id, status, totalTransactions }) => ({ _id, status, totalTransactions })),
          totalTransactions: tasks.reduce((n, t) => n + t.totalTransactions, 0),
        };
      });

      scope.get<{ Params: { taskId: string }; Querystring: { filterLimit?: string; filterPage?: string; filters?: string } }>('/tasks/:taskId', { config: { userCheck: 'own-task' } }, async (request) => {
        const user = userOf(request);
        checkStorable(request.params.taskId, 'taskId');
        const task = await runner.load(request.params.taskId);
        if (!task || !visibleTask(user, task)) throw missing(`We could not find a Task with this ID: ${request.params.taskId}.`);
        return pageOfTask(task, request.query, deps.config.apiMaxFilterLimit);
      });

      scope.put<{ Params: { taskId: string } }>('/tasks/:taskId', { config: { userCheck: 'own-task' } }, async (request) => {
        const user = userOf(request);
        checkStorable(request.params.taskId, 'taskId');
        const task = await runner.load(request.params.taskId);
        if (!task || !visibleTask(user, task)) throw missing(`We could not find a Task with this ID: ${request.params.taskId}.`);
        const { status } = parseBody(updateSchema, request.body, 'task update');
        if (status === undefined || status === task.status) return task;
        if (task.status === 'Completed' || task.status === 'Cancelled') throw badRequest(`task is ${task.status} and cannot change`);
        const next: Task = { ...task, status, ...(status === 'Completed' ? { completedDate: new Date().toISOString() } : {}) };
        await runner.save(next);
        if (status === 'Queued') runner.kick();
        auditChange(deps, request, 'U', `Task/${task._id}`);
        return next;
      });
    },
    admin(scope) {
      scope.delete<{ Params: { taskId: string } }>('/tasks/:taskId', async (request) => {
        checkStorable(request.params.taskId, 'taskId');
        const r = await deps.db.query('DELETE FROM iol.tasks WHERE id = $1', [request.params.taskId]);
        if (r.rowCount === 0) throw missing(`We could not find a Task with this ID: ${request.params.taskId}.`);
        auditChange(deps, request, 'D', `Task/${request.params.taskId}`);
        return { result: 'task deleted' };
      });
    },
  };
}

const taskTransactionFilters = z.object({ tstatus: z.string().max(40).optional(), rerunStatus: z.string().max(40).optional(), hasErrors: z.enum(['yes', 'no']).optional() }).strict();

/**
 * A task with a page of its transactions, as OpenHIM's getTask (the console's task details):
 * `filters` ({tstatus, rerunStatus, hasErrors}) and `filterPage`/`filterLimit` choose them, and
 * `totalFilteredTransactions` says how many the filters keep. Without paging, all of them.
 */
function pageOfTask(task: Task, query: { filterLimit?: string; filterPage?: string; filters?: string }, maxLimit: number): Task & { totalFilteredTransactions: number } {
  let filters: z.infer<typeof taskTransactionFilters> = {};
  if (query.filters !== undefined && query.filters !== '') {
    let given: unknown;
    try {
      given = JSON.parse(query.filters);
    } catch {
      throw badRequest('filters must be a JSON object, e.g. {"tstatus":"Completed"}');
    }
    filters = parseBody(taskTransactionFilters, given, 'task transaction filters');
  }
  const kept = task.transactions.filter((t) =>
    (filters.tstatus === undefined || t.tstatus === filters.tstatus) &&
    (filters.rerunStatus === undefined || t.rerunStatus === filters.rerunStatus) &&
    (filters.hasErrors === undefined || (filters.hasErrors === 'yes') === Boolean(t.error)));
  const paged = query.filterLimit !== undefined || query.filterPage !== undefined;
  const { limit, offset } = paged ? parsePaging(query, maxLimit) : { limit: kept.length, offset: 0 };
  return { ...task, transactions: kept.slice(offset, offset + limit), totalFilteredTransactions: kept.length };
}
