/** Rerun tasks: their progress and the transactions each rerun made. */
import { useState } from 'preact/hooks';
import { api, errorText, query } from '../api';
import type { Task } from '../models';
import { href } from '../router';
import { ErrorNote, PageTitle, Pager, StatusBadge, formatTime, useInterval, useLoad } from '../ui';

const PAGE_SIZE = 20;

/**
 * A task's transactions and their reruns. The list leaves them out (as OpenHIM's GET /tasks), so
 * each row reads its task, again only when its progress changes.
 */
function TaskReruns({ task }: { task: Task }) {
  const detail = useLoad(() => api.get<Task>(`/tasks/${encodeURIComponent(task._id)}`), [task._id, task.status, task.remainingTransactions]);
  return (
    <ul class="plain">
      {(detail.data?.transactions ?? []).map((x) => (
        <li key={x.tid}>
          <a href={href(`/transactions/${x.tid}`)} aria-label={`original transaction ${x.tid}`}>original</a>
          {x.rerunID && <> → <a href={href(`/transactions/${x.rerunID}`)} data-rerun={x.rerunID} aria-label={`rerun transaction ${x.rerunID}`}>rerun</a> <StatusBadge status={x.rerunStatus} /></>}
          {x.error && <span class="note error"> {x.error}</span>}
        </li>
      ))}
    </ul>
  );
}

export function TasksPage() {
  const [page, setPage] = useState(0);
  const [error, setError] = useState<string>();
  const tasks = useLoad(() => api.get<Task[]>(`/tasks${query({ filterPage: page, filterLimit: PAGE_SIZE + 1 })}`), [page]);
  useInterval(() => tasks.reload(), 2_000, page === 0);
  const setStatus = async (task: Task, status: string) => {
    try {
      await api.put(`/tasks/${task._id}`, { status });
      tasks.reload();
    } catch (e) {
      setError(errorText(e));
    }
  };
  return (
    <section>
      <PageTitle>Tasks</PageTitle>
      <ErrorNote error={tasks.error ?? error} />
      <div class="table-wrap">
        <table>
          <caption class="sr-only">Rerun tasks, newest first</caption>
          <thead><tr><th scope="col">Created</th><th scope="col">Status</th><th scope="col">Progress</th><th scope="col">Reruns</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {(tasks.data ?? []).slice(0, PAGE_SIZE).map((t) => (
              <tr key={t._id} data-task={t._id}>
                <td>{formatTime(t.created)}<br /><small>{t._id}</small></td>
                <td><StatusBadge status={t.status} /></td>
                <td>{(t.totalTransactions ?? 0) - (t.remainingTransactions ?? 0)} of {t.totalTransactions ?? 0}</td>
                <td>
                  <TaskReruns task={t} />
                </td>
                <td>
                  {t.status === 'Queued' && <button type="button" onClick={() => setStatus(t, 'Paused')}>Pause</button>}
                  {t.status === 'Paused' && <button type="button" onClick={() => setStatus(t, 'Queued')}>Resume</button>}
                  {(t.status === 'Queued' || t.status === 'Paused') && <button type="button" onClick={() => setStatus(t, 'Cancelled')}>Cancel</button>}
                </td>
              </tr>
            ))}
            {!tasks.loading && !tasks.data?.length && <tr><td colSpan={5}>No tasks yet: rerun transactions from the transaction list.</td></tr>}
          </tbody>
        </table>
      </div>
      <Pager page={page} hasMore={(tasks.data?.length ?? 0) > PAGE_SIZE} onPage={setPage} />
    </section>
  );
}
