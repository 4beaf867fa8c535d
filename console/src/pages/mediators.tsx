/** Mediators: heartbeat state, config forms generated from configDefs, default channels to install. */
import { useState } from 'preact/hooks';
import { api, errorText } from '../api';
import type { ConfigDef, Mediator } from '../models';
import { href } from '../router';
import { Check, ErrorNote, Field, Notice, PageTitle, Select, StatusBadge, TextArea, formatTime, useInterval, useLoad } from '../ui';

/** Up when it beat in the last minute (the interop layer's GET /heartbeat uses the same window). */
export function heartbeatState(m: Mediator, now = Date.now()): 'up' | 'down' {
  return m._lastHeartbeat && now - Date.parse(m._lastHeartbeat) < 60_000 ? 'up' : 'down';
}

export function MediatorsPage() {
  const mediators = useLoad(() => api.get<Mediator[]>('/mediators'), []);
  useInterval(() => mediators.reload(), 10_000);
  return (
    <section>
      <PageTitle>Mediators</PageTitle>
      <ErrorNote error={mediators.error} />
      <div class="table-wrap">
        <table>
          <caption class="sr-only">Registered mediators</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Version</th><th scope="col">Heartbeat</th><th scope="col">Last beat</th><th scope="col">Uptime</th></tr></thead>
          <tbody>
            {(mediators.data ?? []).map((m) => (
              <tr key={m.urn}>
                <td><a href={href(`/mediators/${encodeURIComponent(m.urn)}`)}>{m.name}</a><br /><small>{m.urn}</small></td>
                <td>{m.version}</td>
                <td><StatusBadge status={heartbeatState(m)} /></td>
                <td>{formatTime(m._lastHeartbeat)}</td>
                <td>{m._uptime == null ? '–' : `${Math.round(m._uptime / 60)} min`}</td>
              </tr>
            ))}
            {!mediators.loading && !mediators.data?.length && <tr><td colSpan={5}>No mediator has registered.</td></tr>}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function ConfigInput({ def, value, onChange }: { def: ConfigDef; value: unknown; onChange: (v: unknown) => void }) {
  const label = def.displayName ?? def.param;
  const text = (e: Event) => (e.target as HTMLInputElement).value;
  if (def.array || def.type === 'map' || def.type === 'struct') {
    return <JsonInput label={label} hint={def.description} value={value} onChange={onChange} />;
  }
  switch (def.type) {
    case 'bool': return <Check label={label} checked={value === true} onChange={onChange} />;
    case 'number': return <Field label={label} hint={def.description} type="number" value={value == null ? '' : String(value)} onInput={(e) => onChange(text(e) === '' ? undefined : Number(text(e)))} />;
    case 'option': return <Select label={label} value={String(value ?? '')} options={(def.values ?? []).map((v): [string, string] => [v, v])} onChange={(e) => onChange((e.target as HTMLSelectElement).value)} />;
    case 'password': return <Field label={label} hint={def.description ?? 'shown masked; leave the mask to keep it'} type="password" autocomplete="off" value={String(value ?? '')} onInput={(e) => onChange(text(e))} />;
    case 'bigstring': return <TextArea label={label} hint={def.description} rows={4} value={String(value ?? '')} onInput={(e) => onChange((e.target as HTMLTextAreaElement).value)} />;
    default: return <Field label={label} hint={def.description} value={String(value ?? '')} onInput={(e) => onChange(text(e))} />;
  }
}

function JsonInput({ label, hint, value, onChange }: { label: string; hint?: string; value: unknown; onChange: (v: unknown) => void }) {
  const [text, setText] = useState(JSON.stringify(value ?? null, null, 2));
  const [bad, setBad] = useState(false);
  return (
    <TextArea label={`${label} (JSON)`} hint={bad ? 'not valid JSON yet' : hint} rows={5} value={text} aria-invalid={bad}
      onInput={(e) => {
        const next = (e.target as HTMLTextAreaElement).value;
        setText(next);
        try {
          onChange(JSON.parse(next));
          setBad(false);
        } catch {
          setBad(true);
        }
      }} />
  );
}

/** The form owns its values from its first render (seeded from the stored config), so nothing resets what a user types. */
function ConfigForm({ mediator, onSaved, onError }: { mediator: Mediator; onSaved: (message: string) => void; onError: (error?: string) => void }) {
  const [config, setConfig] = useState<Record<string, unknown>>({ ...(mediator.config ?? {}) });
  const save = async (event: Event) => {
    event.preventDefault();
    onError(undefined);
    try {
      await api.put(`/mediators/${encodeURIComponent(mediator.urn)}/config`, config);
      onSaved('Configuration saved: the mediator takes it at its next heartbeat.');
    } catch (e) {
      onError(errorText(e));
    }
  };
  return (
    <form onSubmit={save} aria-label="Mediator configuration">
      {(mediator.configDefs ?? []).map((def) => (
        <ConfigInput key={def.param} def={def} value={config[def.param]} onChange={(v) => setConfig({ ...config, [def.param]: v })} />
      ))}
      <button type="submit" class="primary">Save configuration</button>
    </form>
  );
}

export function MediatorPage({ urn }: { urn: string }) {
  const loaded = useLoad(() => api.get<Mediator>(`/mediators/${encodeURIComponent(urn)}`), [urn]);
  const [error, setError] = useState<string>();
  const [message, setMessage] = useState<string>();
  if (loaded.error) return <ErrorNote error={loaded.error} />;
  const m = loaded.data;
  if (!m) return <p role="status">Loading…</p>;
  const install = async () => {
    setError(undefined);
    try {
      await api.post(`/mediators/${encodeURIComponent(urn)}/channels`, []);
      setMessage('Default channels installed (existing ones were left as they are).');
    } catch (e) {
      setError(errorText(e));
    }
  };
  return (
    <section>
      <PageTitle>{`Mediator ${m.name}`}</PageTitle>
      <p><a href={href('/mediators')}>All mediators</a></p>
      <dl class="facts">
        <div><dt>URN</dt><dd><code>{m.urn}</code></dd></div>
        <div><dt>Version</dt><dd>{m.version}</dd></div>
        <div><dt>Heartbeat</dt><dd><StatusBadge status={heartbeatState(m)} /> {formatTime(m._lastHeartbeat)}</dd></div>
        <div><dt>Endpoints</dt><dd>{(m.endpoints ?? []).map((e) => `${e.name} (${e.host}:${e.port})`).join(', ') || '–'}</dd></div>
      </dl>
      {m.description && <p>{m.description}</p>}
      <h2>Configuration</h2>
      {(m.configDefs ?? []).length === 0 ? <p>This mediator has no configuration.</p> : <ConfigForm key={m.urn} mediator={m} onSaved={setMessage} onError={setError} />}
      <h2>Default channels</h2>
      <p>{(m.defaultChannelConfig ?? []).map((c) => c.name).join(', ') || 'None.'}</p>
      {!!m.defaultChannelConfig?.length && <button type="button" onClick={install}>Install default channels</button>}
      <ErrorNote error={error} />
      <Notice message={message} />
    </section>
  );
}
