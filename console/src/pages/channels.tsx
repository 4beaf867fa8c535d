/** Channels: the list (enable/disable, which channel takes a URL) and the editor (fields, routes, the API's validation). */
import { useEffect, useState } from 'preact/hooks';
import { api, errorText } from '../api';
import type { Channel, Route } from '../models';
import { href, navigate } from '../router';
import { firstMatchingChannel, patternMatches } from '../url-match';
import { Check, ErrorNote, Field, Notice, PageTitle, Select, StatusBadge, splitList, useLoad } from '../ui';

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'CONNECT', 'TRACE'];

function UrlTester({ channels }: { channels: Channel[] }) {
  const [path, setPath] = useState('');
  const [method, setMethod] = useState('GET');
  const match = path ? firstMatchingChannel(channels, path.split('?')[0] ?? path, method) : undefined;
  return (
    <section class="panel" aria-labelledby="tester-title">
      <h2 id="tester-title">Does this URL match?</h2>
      <div class="row">
        <Field label="Path" placeholder="/fhir/Patient" value={path} onInput={(e) => setPath((e.target as HTMLInputElement).value)} />
        <Select label="Method" value={method} options={METHODS.map((m) => [m, m])} onChange={(e) => setMethod((e.target as HTMLSelectElement).value)} />
      </div>
      <p role="status" aria-live="polite" data-testid="url-match">
        {!path ? 'Type a path to see which channel the router would choose.' : match ? <>Matches channel <a href={href(`/channels/${match._id}`)}>{match.name}</a>.</> : 'No enabled channel matches: the router answers 404.'}
      </p>
    </section>
  );
}

export function ChannelsPage() {
  const channels = useLoad(() => api.get<Channel[]>('/channels'), []);
  const [message, setMessage] = useState<string>();
  const [error, setError] = useState<string>();
  const toggle = async (channel: Channel) => {
    const status = channel.status === 'disabled' ? 'enabled' : 'disabled';
    try {
      await api.put(`/channels/${channel._id}`, { status });
      setMessage(`Channel ${channel.name} ${status}.`);
      channels.reload();
    } catch (e) {
      setError(errorText(e));
    }
  };
  const list = (channels.data ?? []).filter((c) => c.status !== 'deleted');
  return (
    <section>
      <PageTitle>Channels</PageTitle>
      <p><a class="button" href={href('/channels/new')}>Add a channel</a></p>
      <ErrorNote error={channels.error ?? error} />
      <Notice message={message} />
      <div class="table-wrap">
        <table>
          <caption class="sr-only">Channels, by priority</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">URL pattern</th><th scope="col">Priority</th><th scope="col">Access</th><th scope="col">Status</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {list.map((c) => (
              <tr key={c._id}>
                <td><a href={href(`/channels/${c._id}`)}>{c.name}</a></td>
                <td><code>{c.urlPattern}</code></td>
                <td>{c.priority ?? '–'}</td>
                <td>{c.authType === 'public' ? 'public' : (c.allow ?? []).join(', ') || 'nobody'}</td>
                <td><StatusBadge status={c.status ?? 'enabled'} /></td>
                <td><button type="button" onClick={() => toggle(c)} aria-label={`${c.status === 'disabled' ? 'Enable' : 'Disable'} ${c.name}`}>{c.status === 'disabled' ? 'Enable' : 'Disable'}</button></td>
              </tr>
            ))}
            {!channels.loading && list.length === 0 && <tr><td colSpan={6}>No channels yet.</td></tr>}
          </tbody>
        </table>
      </div>
      <UrlTester channels={list} />
    </section>
  );
}

const emptyRoute = (): Route => ({ name: '', host: '', port: 80, path: '', primary: true, secured: false, type: 'http', status: 'enabled' });
const emptyChannel = (): Channel => ({
  name: '', description: '', urlPattern: '', methods: [...METHODS], type: 'http', authType: 'private', allow: [], routes: [emptyRoute()],
  status: 'enabled', requestBody: true, responseBody: true,
});

function RouteEditor({ route, index, onChange, onRemove }: { route: Route; index: number; onChange: (r: Route) => void; onRemove: () => void }) {
  const set = (patch: Partial<Route>) => onChange({ ...route, ...patch });
  const value = (e: Event) => (e.target as HTMLInputElement).value;
  return (
    <fieldset class="route">
      <legend>Route {index + 1}{route.name ? `: ${route.name}` : ''}</legend>
      <div class="row">
        <Field label="Route name" required value={route.name} onInput={(e) => set({ name: value(e) })} />
        <Field label="Host" required value={route.host} onInput={(e) => set({ host: value(e) })} />
        <Field label="Port" type="number" min={1} max={65535} required value={String(route.port)} onInput={(e) => set({ port: Number(value(e)) })} />
        <Field label="Path (optional)" value={route.path ?? ''} onInput={(e) => set({ path: value(e) || undefined })} hint="replaces the request path" />
      </div>
      <div class="row">
        <Field label="Upstream username (optional)" autocomplete="off" value={route.username ?? ''} onInput={(e) => set({ username: value(e) || undefined })} />
        <Field label="Upstream password (optional)" type="password" autocomplete="new-password" value={route.password ?? ''} onInput={(e) => set({ password: value(e) || undefined })} hint="shown masked; leave the mask to keep the stored one" />
      </div>
      <div class="row">
        <Check label="Primary route" checked={!!route.primary} onChange={(v) => set({ primary: v })} />
        <Check label="HTTPS (secured)" checked={!!route.secured} onChange={(v) => set({ secured: v })} />
        <Check label="Enabled" checked={(route.status ?? 'enabled') === 'enabled'} onChange={(v) => set({ status: v ? 'enabled' : 'disabled' })} />
        <button type="button" onClick={onRemove}>Remove route {index + 1}</button>
      </div>
    </fieldset>
  );
}

export function ChannelEditPage({ id }: { id: string }) {
  const isNew = id === 'new';
  const loaded = useLoad(() => (isNew ? Promise.resolve(emptyChannel()) : api.get<Channel>(`/channels/${encodeURIComponent(id)}`)), [id]);
  const [channel, setChannel] = useState<Channel>();
  const [error, setError] = useState<string>();
  const [saved, setSaved] = useState<string>();
  const [testPath, setTestPath] = useState('');
  useEffect(() => setChannel(loaded.data), [loaded.data]);
  if (loaded.error) return <ErrorNote error={loaded.error} />;
  if (!channel) return <p role="status">Loading…</p>;
  const set = (patch: Partial<Channel>) => setChannel({ ...channel, ...patch });
  const value = (e: Event) => (e.target as HTMLInputElement).value;
  const routes = channel.routes ?? [];
  const save = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    try {
      const body = { ...channel };
      delete body._id;
      if (isNew) {
        const created = await api.post<Channel>('/channels', body);
        setSaved(`Channel ${channel.name} created.`);
        if (created?._id) navigate(`/channels/${created._id}`);
        else navigate('/channels');
      } else {
        await api.put(`/channels/${channel._id}`, body);
        setSaved(`Channel ${channel.name} saved.`);
      }
    } catch (e) {
      setError(errorText(e));
    }
  };
  const remove = async () => {
    if (!confirm(`Delete channel ${channel.name}?`)) return;
    try {
      await api.del(`/channels/${channel._id}`);
      navigate('/channels');
    } catch (e) {
      setError(errorText(e));
    }
  };
  const tested = testPath ? patternMatches(channel.urlPattern, testPath) : undefined;
  return (
    <section>
      <PageTitle>{isNew ? 'New channel' : `Channel ${channel.name}`}</PageTitle>
      <p><a href={href('/channels')}>All channels</a></p>
      <form onSubmit={save} noValidate>
        <div class="row">
          <Field label="Name" required value={channel.name} onInput={(e) => set({ name: value(e) })} />
          <Field label="Description" value={channel.description ?? ''} onInput={(e) => set({ description: value(e) })} />
        </div>
        <div class="row">
          <Field label="URL pattern" required value={channel.urlPattern} onInput={(e) => set({ urlPattern: value(e) })} hint="a regular expression, tested unanchored: write ^...$ to anchor" />
          <Field label="Priority" type="number" min={1} value={channel.priority == null ? '' : String(channel.priority)} onInput={(e) => set({ priority: value(e) === '' ? undefined : Number(value(e)) })} hint="lower first" />
        </div>
        <div class="row">
          <Field label="Test a path against this pattern" placeholder="/example/path" value={testPath} onInput={(e) => setTestPath(value(e))} />
          <p role="status" aria-live="polite" data-testid="pattern-test">
            {tested === undefined ? '' : tested === 'invalid' ? 'The pattern is not a valid regular expression.' : tested ? 'The pattern matches this path.' : 'The pattern does not match this path.'}
          </p>
        </div>
        <fieldset>
          <legend>Methods (none: the channel takes no request, as in OpenHIM)</legend>
          <div class="row">
            {METHODS.map((m) => (
              <Check key={m} label={m} checked={!!channel.methods?.includes(m)} onChange={(on) => set({ methods: on ? [...(channel.methods ?? []), m] : (channel.methods ?? []).filter((x) => x !== m) })} />
            ))}
          </div>
        </fieldset>
        <div class="row">
          <Select label="Access" value={channel.authType ?? 'private'} options={[['private', 'Private: allowed clients and roles'], ['public', 'Public: anyone']]} onChange={(e) => set({ authType: (e.target as HTMLSelectElement).value as 'public' | 'private' })} />
          <Field label="Allowed clients and roles" value={(channel.allow ?? []).join(', ')} onInput={(e) => set({ allow: splitList(value(e)) })} hint="comma-separated" />
          <Select label="Status" value={channel.status ?? 'enabled'} options={[['enabled', 'Enabled'], ['disabled', 'Disabled']]} onChange={(e) => set({ status: (e.target as HTMLSelectElement).value as 'enabled' | 'disabled' })} />
        </div>
        <div class="row">
          <Check label="Store request bodies" checked={channel.requestBody !== false} onChange={(v) => set({ requestBody: v })} />
          <Check label="Store response bodies" checked={channel.responseBody !== false} onChange={(v) => set({ responseBody: v })} />
        </div>
        <h2>Routes</h2>
        {routes.map((route, index) => (
          <RouteEditor key={index} route={route} index={index}
            onChange={(r) => set({ routes: routes.map((x, i) => (i === index ? r : x)) })}
            onRemove={() => set({ routes: routes.filter((_, i) => i !== index) })} />
        ))}
        <p><button type="button" onClick={() => set({ routes: [...routes, { ...emptyRoute(), primary: routes.length === 0 }] })}>Add a route</button></p>
        <ErrorNote error={error} />
        <Notice message={saved} />
        <div class="actions">
          <button type="submit" class="primary">{isNew ? 'Create channel' : 'Save channel'}</button>
          {!isNew && <button type="button" class="danger" onClick={remove}>Delete channel</button>}
        </div>
      </form>
    </section>
  );
}
