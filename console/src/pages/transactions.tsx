/** Transactions: filters and paging done by the admin API, a live tail, and rerun of the selected ones. */
import { useMemo, useState } from 'preact/hooks';
import { api, errorText, query } from '../api';
import { TRANSACTION_STATUSES, type Channel, type Client, type Task, type Transaction } from '../models';
import { href } from '../router';
import { filtersJson, type Filters } from '../transaction-filters.js';
import { Check, ErrorNote, Field, Notice, PageTitle, Pager, Select, StatusBadge, formatTime, useInterval, useLoad } from '../ui';

const PAGE_SIZE = 20;

export function TransactionsPage() {
  const [filters, setFilters] = useState<Filters>({ channelID: '', status: '', clientID: '', from: '', to: '' });
  const [page, setPage] = useState(0);
  const [tail, setTail] = useState(false);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [message, setMessage] = useState<string>();
  const [error, setError] = useState<string>();
  const channels = useLoad(() => api.get<Channel[]>('/channels'), []);
  const clients = useLoad(() => api.get<Client[]>('/clients').catch(() => [] as Client[]), []);
  const path = `/transactions${query({ filterPage: page, filterLimit: PAGE_SIZE + 1, filterRepresentation: 'simpledetails', filters: filtersJson(filters) })}`;
  const transactions = useLoad(() => api.get<Transaction[]>(path), [path]);
  useInterval(() => transactions.reload(), 2_000, tail && page === 0);
  const channelName = useMemo(() => new Map((channels.data ?? []).map((c) => [c._id, c.name])), [channels.data]);
  const clientName = useMemo(() => new Map((clients.data ?? []).map((c) => [c._id, c.clientID])), [clients.data]);
  const rows = (transactions.data ?? []).slice(0, PAGE_SIZE);
  const update = (patch: Partial<Filters>) => {
    setFilters({ ...filters, ...patch });
    setPage(0);
  };
  const value = (e: Event) => (e.target as HTMLInputElement).value;
  const toggle = (id: string, on: boolean) => {
    const next = new Set(selected);
    if (on) next.add(id);
    else next.delete(id);
    setSelected(next);
  };
  const rerun = async () => {
    setError(undefined);
    try {
      const task = await api.post<Task>('/tasks', { tids: [...selected], batchSize: 10, paused: false });
      setMessage(`Rerun task ${task._id} queued for ${selected.size} transaction(s).`);
      setSelected(new Set());
    } catch (e) {
      setError(errorText(e));
    }
  };
  // Every transaction the filters match (not only this page), rerun as one task, paused first when asked.
  const rerunAllMatching = async () => {
    setError(undefined);
    const filters_ = filtersJson(filters);
    if (!confirm(filters_ ? 'Rerun every transaction these filters match?' : 'No filter is set: rerun every transaction that can be rerun?')) return;
    try {
      // As OpenHIM: tasks of up to 50 transactions each, none when nothing can be rerun.
      const bulk = await api.post<{ tasks: Array<{ _id: string }>; totalTransactions: number }>('/bulkrerun', { filters: filters_ ?? '{}', batchSize: 10, pauseQueue: false });
      setMessage(bulk.tasks.length === 0
        ? 'No matching transaction can be rerun.'
        : `${bulk.tasks.length} rerun task(s) queued for ${bulk.totalTransactions} matching transaction(s).`);
    } catch (e) {
      setError(errorText(e));
    }
  };
  return (
    <section>
      <PageTitle>Transactions</PageTitle>
      <form class="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter transactions">
        <Select label="Channel" value={filters.channelID} onChange={(e) => update({ channelID: (e.target as HTMLSelectElement).value })}
          options={[['', 'Any channel'], ...(channels.data ?? []).map((c): [string, string] => [c._id ?? '', c.name])]} />
        <Select label="Status" value={filters.status} onChange={(e) => update({ status: (e.target as HTMLSelectElement).value })}
          options={[['', 'Any status'], ...TRANSACTION_STATUSES.map((s): [string, string] => [s, s])]} />
        <Select label="Client" value={filters.clientID} onChange={(e) => update({ clientID: (e.target as HTMLSelectElement).value })}
          options={[['', 'Any client'], ...(clients.data ?? []).map((c): [string, string] => [c._id ?? '', c.clientID])]} />
        <Field label="From" type="datetime-local" value={filters.from} onInput={(e) => update({ from: value(e) })} />
        <Field label="To" type="datetime-local" value={filters.to} onInput={(e) => update({ to: value(e) })} />
        <Check label="Live tail (every 2 s)" checked={tail} onChange={setTail} />
      </form>
      <ErrorNote error={transactions.error ?? error} />
      <Notice message={message} />
      <div class="actions">
        <button type="button" disabled={selected.size === 0} onClick={rerun}>Rerun selected ({selected.size})</button>
        <button type="button" onClick={rerunAllMatching}>Rerun all matching</button>
        <a href={href('/tasks')}>Rerun tasks</a>
      </div>
      <div class="table-wrap">
        <table aria-busy={transactions.loading}>
          <caption class="sr-only">Transactions, newest first</caption>
          <thead><tr><th scope="col"><span class="sr-only">Select</span></th><th scope="col">Time</th><th scope="col">Method and path</th><th scope="col">Channel</th><th scope="col">Client</th><th scope="col">Status</th><th scope="col">Response</th></tr></thead>
          <tbody>
            {rows.map((t) => (
              <tr key={t._id} data-tx={t._id}>
                <td><input type="checkbox" aria-label={`Select transaction ${t.request.method} ${t.request.path} at ${formatTime(t.request.timestamp)}`} checked={selected.has(t._id)} disabled={t.canRerun === false} onChange={(e) => toggle(t._id, (e.target as HTMLInputElement).checked)} /></td>
                <td><a href={href(`/transactions/${t._id}`)}>{formatTime(t.request.timestamp)}</a></td>
                <td><code>{t.request.method} {t.request.path}</code>{t.parentID && <span class="tag">rerun</span>}</td>
                <td>{channelName.get(t.channelID) ?? t.channelID ?? '–'}</td>
                <td>{clientName.get(t.clientID) ?? t.clientID ?? '–'}</td>
                <td><StatusBadge status={t.status} /></td>
                <td>{t.response?.status ?? '–'}</td>
              </tr>
            ))}
            {!transactions.loading && rows.length === 0 && <tr><td colSpan={7}>No transactions match.</td></tr>}
          </tbody>
        </table>
      </div>
      <Pager page={page} hasMore={(transactions.data?.length ?? 0) > PAGE_SIZE} onPage={setPage} />
    </section>
  );
}
