/** One transaction: request, response, routes and orchestrations with bodies pretty-printed; rerun it. */
import { useState } from 'preact/hooks';
import { api, errorText } from '../api';
import type { Channel, Client, HttpPart, Orchestration, Task, Transaction, TransactionRoute } from '../models';
import { href } from '../router';
import { ErrorNote, Notice, PageTitle, StatusBadge, formatTime, prettyBody, useInterval, useLoad } from '../ui';

function Part({ title, part }: { title: string; part?: HttpPart }) {
  if (!part) return null;
  const headers = Object.entries(part.headers ?? {});
  return (
    <section class="part" aria-label={title}>
      <h3>{title}</h3>
      <p>
        {part.method && <code>{part.method} </code>}
        {part.host && <code>{part.host}{part.port ? `:${part.port}` : ''}</code>}
        {part.path && <code>{part.path}{part.querystring ? `?${part.querystring}` : ''}</code>}
        {part.status !== undefined && <>Status <strong>{part.status}</strong></>} · {formatTime(part.timestamp)}
      </p>
      {headers.length > 0 && (
        <details>
          <summary>Headers ({headers.length})</summary>
          <dl class="headers">{headers.map(([k, v]) => <div key={k}><dt>{k}</dt><dd>{String(v)}</dd></div>)}</dl>
        </details>
      )}
      {part.body ? <pre class="body" tabIndex={0} aria-label={`${title} body`}>{prettyBody(part.body)}</pre> : <p class="hint">No body stored.</p>}
    </section>
  );
}

function Orchestrations({ items }: { items?: Orchestration[] }) {
  if (!items?.length) return null;
  return (
    <>
      {items.map((o, i) => (
        <details key={i} class="orchestration">
          <summary>Orchestration {i + 1}: {o.name} {o.response?.status !== undefined && <>({o.response.status})</>}</summary>
          <Part title={`${o.name}: request`} part={o.request} />
          <Part title={`${o.name}: response`} part={o.response} />
          {o.error?.message && <p class="note error">{o.error.message}</p>}
        </details>
      ))}
    </>
  );
}

function RouteView({ route }: { route: TransactionRoute }) {
  return (
    <details class="route-view">
      <summary>Route {route.name} {route.response?.status !== undefined && <>({route.response.status})</>}</summary>
      <Part title={`${route.name}: request`} part={route.request} />
      <Part title={`${route.name}: response`} part={route.response} />
      <Orchestrations items={route.orchestrations} />
    </details>
  );
}

export function TransactionPage({ id }: { id: string }) {
  const tx = useLoad(() => api.get<Transaction>(`/transactions/${encodeURIComponent(id)}`), [id]);
  const channel = useLoad(() => (tx.data?.channelID ? api.get<Channel>(`/channels/${tx.data.channelID}`) : Promise.resolve(undefined)), [tx.data?.channelID]);
  // Non-admin users may not read clients: the id is shown then.
  const client = useLoad(() => (tx.data?.clientID ? api.get<Client>(`/clients/${tx.data.clientID}`).catch(() => undefined) : Promise.resolve(undefined)), [tx.data?.clientID]);
  const [message, setMessage] = useState<string>();
  const [error, setError] = useState<string>();
  // After a rerun, look again every second until its child transaction shows (or a minute passes).
  const [waitingSince, setWaitingSince] = useState<{ at: number; children: number }>();
  const children = tx.data?.childIDs?.length ?? 0;
  const waiting = !!waitingSince && children <= waitingSince.children && Date.now() - waitingSince.at < 60_000;
  useInterval(() => tx.reload(), 1_000, waiting);
  const rerun = async () => {
    setError(undefined);
    try {
      const task = await api.post<Task>('/tasks', { tids: [id], batchSize: 1, paused: false });
      setMessage(`Rerun queued as task ${task._id}.`);
      setWaitingSince({ at: Date.now(), children });
    } catch (e) {
      setError(errorText(e));
    }
  };
  if (tx.error) return <ErrorNote error={tx.error} />;
  const t = tx.data;
  if (!t) return <p role="status">Loading…</p>;
  return (
    <article>
      <PageTitle>Transaction</PageTitle>
      <p><a href={href('/transactions')}>All transactions</a></p>
      <dl class="facts">
        <div><dt>Status</dt><dd><StatusBadge status={t.status} /></dd></div>
        <div><dt>Request</dt><dd><code>{t.request.method} {t.request.path}</code></dd></div>
        <div><dt>Time</dt><dd>{formatTime(t.request.timestamp)}</dd></div>
        <div><dt>Channel</dt><dd>{t.channelID ? <a href={href(`/channels/${t.channelID}`)}>{channel.data?.name ?? t.channelID}</a> : '–'}</dd></div>
        <div><dt>Client</dt><dd>{t.clientID ? <a href={href(`/clients/${t.clientID}`)}>{client.data?.clientID ?? t.clientID}</a> : '–'}</dd></div>
        {t.parentID && <div><dt>Rerun of</dt><dd><a href={href(`/transactions/${t.parentID}`)}>{t.parentID}</a></dd></div>}
      </dl>
      {t.error?.message && <p class="note error">{t.error.message}</p>}
      <div class="actions">
        <button type="button" onClick={rerun} disabled={t.canRerun === false}>Rerun</button>
        <button type="button" onClick={tx.reload}>Refresh</button>
      </div>
      <ErrorNote error={error} />
      <Notice message={message} />
      {!!t.childIDs?.length && (
        <section aria-labelledby="reruns">
          <h2 id="reruns">Reruns</h2>
          <ul>{t.childIDs.map((c) => <li key={c}><a href={href(`/transactions/${c}`)} data-rerun={c}>Rerun {c}</a></li>)}</ul>
        </section>
      )}
      <div class="parts">
        <Part title="Request" part={t.request} />
        <Part title="Response" part={t.response} />
      </div>
      {!!t.orchestrations?.length && <><h2>Orchestrations</h2><Orchestrations items={t.orchestrations} /></>}
      {!!t.routes?.length && <><h2>Other routes</h2>{t.routes.map((r, i) => <RouteView key={i} route={r} />)}</>}
    </article>
  );
}
