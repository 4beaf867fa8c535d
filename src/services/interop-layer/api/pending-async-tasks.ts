/**
 * Rerun tasks waiting for asynchronous mediators, as OpenHIM's src/tasks.js (checkAsyncTaskStatus,
 * 59-84): a rerun that an asynchronous channel accepted (its child transaction `Pending Async`)
 * stays `Processing` in its task, and a task whose last round left such reruns is `Pending
 * Async`, without a completedDate. Once the mediator reports the child's end (PUT
 * /transactions/:id), the rerun is `Completed` with the child's status as rerunStatus, and when
 * none is left waiting the task is `Completed`. Checked when a task's child is updated and on the
 * task runner's poll. OpenHIM counts only Successful, Completed with error(s) and Failed as an
 * end, so a mediator that reports `Completed` left its task waiting forever there: here any
 * status but Processing and Pending Async ends the wait.
 */
import type { IolDeps } from '../deps.js';
import { storableJson } from '../store/storable.js';

const WAITING = new Set(['Processing', 'Pending Async']);

interface WaitingTask {
  _id: string;
  status: string;
  completedDate?: string;
  transactions: Array<{ tid: string; tstatus: string; rerunID?: string; rerunStatus?: string; error?: string }>;
}

/** Settles the `Pending Async` tasks (or the one given) whose waiting reruns have ended. */
export async function settlePendingAsyncTasks(deps: IolDeps, taskId?: string): Promise<void> {
  const r = await deps.db.query<{ id: string; doc: WaitingTask }>(
    `SELECT id, doc FROM iol.tasks WHERE status = 'Pending Async'${taskId ? ' AND id = $1' : ''} ORDER BY created LIMIT 100`,
    taskId ? [taskId] : [],
  );
  for (const { id, doc: task } of r.rows) {
    if (!task || typeof task !== 'object' || !Array.isArray(task.transactions)) continue;
    let changed = false;
    for (const t of task.transactions) {
      if (!t || t.tstatus !== 'Processing' || typeof t.rerunID !== 'string') continue;
      const child = await deps.transactions.byId(t.rerunID);
      if (!child) {
        t.tstatus = 'Failed';
        t.error = `Transaction ${t.rerunID} could not be found`;
        changed = true;
      } else if (!WAITING.has(child.status)) {
        t.tstatus = 'Completed';
        t.rerunStatus = child.status;
        changed = true;
      }
    }
    const waiting = task.transactions.some((t) => t?.tstatus === 'Processing');
    if (!waiting) {
      task.status = 'Completed';
      task.completedDate = new Date().toISOString();
      changed = true;
    }
    if (!changed) continue;
    // Only while it still waits: a task paused, cancelled or deleted meanwhile is left as it is.
    await deps.db.query(`UPDATE iol.tasks SET status = $2, doc = $3::jsonb WHERE id = $1 AND status = 'Pending Async'`, [id, task.status, storableJson(task)]);
  }
}
