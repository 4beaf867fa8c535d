/** Clients: who may call the router, and how they authenticate (Basic, custom token, JWT, certificate). */
import { useEffect, useState } from 'preact/hooks';
import { api, errorText } from '../api';
import type { CertificateInfo, Client } from '../models';
import { href, navigate } from '../router';
import { ErrorNote, Field, Notice, PageTitle, Select, splitList, useLoad } from '../ui';

type AuthKind = 'basic' | 'token' | 'jwt' | 'certificate';

function authOf(client: Client): string {
  const kinds = [
    client.passwordAlgorithm ? 'Basic' : '',
    client.customTokenSet ? 'custom token' : '',
    client.certFingerprint ? 'certificate' : '',
  ].filter(Boolean);
  return kinds.length ? kinds.join(', ') : 'JWT only';
}

export function ClientsPage() {
  const clients = useLoad(() => api.get<Client[]>('/clients'), []);
  return (
    <section>
      <PageTitle>Clients</PageTitle>
      <p><a class="button" href={href('/clients/new')}>Add a client</a></p>
      <ErrorNote error={clients.error} />
      <div class="table-wrap">
        <table>
          <caption class="sr-only">Clients</caption>
          <thead><tr><th scope="col">Client ID</th><th scope="col">Name</th><th scope="col">Roles</th><th scope="col">Authentication</th></tr></thead>
          <tbody>
            {(clients.data ?? []).map((c) => (
              <tr key={c._id}>
                <td><a href={href(`/clients/${c._id}`)}>{c.clientID}</a></td>
                <td>{c.name}</td>
                <td>{c.roles.join(', ')}</td>
                <td>{authOf(c)}</td>
              </tr>
            ))}
            {!clients.loading && !clients.data?.length && <tr><td colSpan={4}>No clients yet.</td></tr>}
          </tbody>
        </table>
      </div>
    </section>
  );
}

export function ClientEditPage({ id }: { id: string }) {
  const isNew = id === 'new';
  const loaded = useLoad(() => (isNew ? Promise.resolve<Client>({ clientID: '', name: '', roles: [] }) : api.get<Client>(`/clients/${encodeURIComponent(id)}`)), [id]);
  const [client, setClient] = useState<Client>();
  const [kind, setKind] = useState<AuthKind>('basic');
  // Secrets are write-only: typed here, sent once, never shown again (the API never returns them).
  const [secret, setSecret] = useState('');
  const [error, setError] = useState<string>();
  const [saved, setSaved] = useState<string>();
  useEffect(() => {
    setClient(loaded.data);
    if (loaded.data?.certFingerprint) setKind('certificate');
    else if (loaded.data?.customTokenSet) setKind('token');
  }, [loaded.data]);
  // As OpenHIM's console: a certificate client is picked from the keystore's trusted certificates.
  const trusted = useLoad(() => (kind === 'certificate' ? api.get<CertificateInfo[]>('/keystore/ca') : Promise.resolve([])), [kind]);
  if (loaded.error) return <ErrorNote error={loaded.error} />;
  if (!client) return <p role="status">Loading…</p>;
  const value = (e: Event) => (e.target as HTMLInputElement).value;
  const set = (patch: Partial<Client>) => setClient({ ...client, ...patch });
  const save = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    const body: Record<string, unknown> = { clientID: client.clientID, name: client.name, roles: client.roles, organization: client.organization, description: client.description };
    if (kind === 'basic' && secret) body.password = secret;
    if (kind === 'token' && secret) body.customTokenID = secret;
    if (kind === 'certificate') body.certFingerprint = client.certFingerprint;
    try {
      if (isNew) await api.post('/clients', body);
      else await api.put(`/clients/${client._id}`, body);
      setSecret('');
      setSaved(`Client ${client.clientID} saved.`);
      if (isNew) navigate('/clients');
    } catch (e) {
      setError(errorText(e));
    }
  };
  const remove = async () => {
    if (!confirm(`Delete client ${client.clientID}?`)) return;
    try {
      await api.del(`/clients/${client._id}`);
      navigate('/clients');
    } catch (e) {
      setError(errorText(e));
    }
  };
  return (
    <section>
      <PageTitle>{isNew ? 'New client' : `Client ${client.clientID}`}</PageTitle>
      <p><a href={href('/clients')}>All clients</a></p>
      <form onSubmit={save} noValidate>
        <div class="row">
          <Field label="Client ID" required value={client.clientID} onInput={(e) => set({ clientID: value(e) })} />
          <Field label="Name" required value={client.name} onInput={(e) => set({ name: value(e) })} />
          <Field label="Roles" value={client.roles.join(', ')} onInput={(e) => set({ roles: splitList(value(e)) })} hint="comma-separated; channels allow roles or client IDs" />
        </div>
        <div class="row">
          <Field label="Organisation" value={client.organization ?? ''} onInput={(e) => set({ organization: value(e) })} />
          <Field label="Description" value={client.description ?? ''} onInput={(e) => set({ description: value(e) })} />
        </div>
        <fieldset>
          <legend>Authentication</legend>
          <Select label="Type" value={kind} onChange={(e) => setKind((e.target as HTMLSelectElement).value as AuthKind)}
            options={[['basic', 'Basic (client ID and password)'], ['token', 'Custom token'], ['jwt', 'JWT (bearer token whose sub is the client ID)'], ['certificate', 'Client certificate (mutual TLS)']]} />
          {kind === 'basic' && <Field label="Password" type="password" autocomplete="new-password" value={secret} onInput={(e) => setSecret(value(e))} hint={isNew ? 'required for Basic' : client.passwordAlgorithm ? 'a password is set; type a new one to replace it' : 'no password set'} />}
          {kind === 'token' && <Field label="Custom token" type="password" autocomplete="off" value={secret} onInput={(e) => setSecret(value(e))} hint={client.customTokenSet ? 'a token is set; type a new one to replace it' : 'sent as Authorization: Custom <token>'} />}
          {kind === 'jwt' && <p class="hint">The router checks the token against the interop layer's JWT settings; nothing is stored on the client.</p>}
          {kind === 'certificate' && !!trusted.data?.length && (
            <Select label="Trusted certificate" value={client.certFingerprint ?? ''} onChange={(e) => set({ certFingerprint: (e.target as HTMLSelectElement).value })}
              options={[['', 'choose one, or type a fingerprint below'], ...trusted.data.map((c): [string, string] => [c.fingerprint, `${c.commonName ?? 'no common name'} (${c.fingerprint.slice(0, 11)}…)`])]} />
          )}
          {kind === 'certificate' && <Field label="Certificate fingerprint (SHA-1)" value={client.certFingerprint ?? ''} onInput={(e) => set({ certFingerprint: value(e) })} hint="AA:BB:...; the router's HTTPS port asks for the certificate, which the keystore must trust (Certificates)" />}
        </fieldset>
        <ErrorNote error={error} />
        <Notice message={saved} />
        <div class="actions">
          <button type="submit" class="primary">{isNew ? 'Create client' : 'Save client'}</button>
          {!isNew && <button type="button" class="danger" onClick={remove}>Delete client</button>}
        </div>
      </form>
    </section>
  );
}
