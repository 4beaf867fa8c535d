/** Users, the roles matrix (which role may use which channel) and the audit log. */
import { useState } from 'preact/hooks';
import { api, errorText, query } from '../api';
import type { Channel, Client, User } from '../models';
import { ErrorNote, Field, Notice, PageTitle, Pager, formatTime, splitList, useLoad } from '../ui';

export function UsersPage() {
  const users = useLoad(() => api.get<User[]>('/users'), []);
  const [draft, setDraft] = useState({ email: '', firstname: '', surname: '', groups: 'users', password: '' });
  const [error, setError] = useState<string>();
  const [message, setMessage] = useState<string>();
  const value = (e: Event) => (e.target as HTMLInputElement).value;
  const create = async (event: Event) => {
    event.preventDefault();
    setError(undefined);
    try {
      await api.post('/users', { ...draft, groups: splitList(draft.groups) });
      setMessage(`User ${draft.email} created.`);
      setDraft({ email: '', firstname: '', surname: '', groups: 'users', password: '' });
      users.reload();
    } catch (e) {
      setError(errorText(e));
    }
  };
  const [editing, setEditing] = useState<{ email: string; firstname: string; surname: string; groups: string; password: string }>();
  const startEdit = (user: User) => {
    setError(undefined);
    setEditing({ email: user.email, firstname: user.firstname ?? '', surname: user.surname ?? '', groups: (user.groups ?? []).join(', '), password: '' });
  };
  /** PUT /users/:email as OpenHIM's console does; a blank password keeps the current one. */
  const saveEdit = async (event: Event) => {
    event.preventDefault();
    if (!editing) return;
    setError(undefined);
    const { email, password, groups, ...names } = editing;
    try {
      await api.put(`/users/${encodeURIComponent(email)}`, { ...names, groups: splitList(groups), ...(password ? { password } : {}) });
      setMessage(`User ${email} saved${password ? ', with the new password' : ''}.`);
      setEditing(undefined);
      users.reload();
    } catch (e) {
      setError(errorText(e));
    }
  };
  const remove = async (user: User) => {
    if (!confirm(`Delete user ${user.email}?`)) return;
    try {
      await api.del(`/users/${encodeURIComponent(user.email)}`);
      users.reload();
    } catch (e) {
      setError(errorText(e));
    }
  };
  return (
    <section>
      <PageTitle>Users</PageTitle>
      <ErrorNote error={users.error ?? error} />
      <Notice message={message} />
      <div class="table-wrap">
        <table>
          <caption class="sr-only">Users</caption>
          <thead><tr><th scope="col">Email</th><th scope="col">Name</th><th scope="col">Groups</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {(users.data ?? []).map((u) => (
              <tr key={u.email}>
                <td>{u.email}</td>
                <td>{[u.firstname, u.surname].filter(Boolean).join(' ')}</td>
                <td>{(u.groups ?? []).join(', ')}</td>
                <td>
                  <button type="button" onClick={() => startEdit(u)} aria-label={`Edit ${u.email}`}>Edit</button>{' '}
                  <button type="button" onClick={() => remove(u)} aria-label={`Delete ${u.email}`}>Delete</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {editing && (
        <form onSubmit={saveEdit} class="panel" aria-labelledby="edit-user">
          <h2 id="edit-user">Edit {editing.email}</h2>
          <div class="row">
            <Field label="First name" value={editing.firstname} onInput={(e) => setEditing({ ...editing, firstname: value(e) })} />
            <Field label="Surname" value={editing.surname} onInput={(e) => setEditing({ ...editing, surname: value(e) })} />
          </div>
          <div class="row">
            <Field label="Groups" value={editing.groups} onInput={(e) => setEditing({ ...editing, groups: value(e) })} hint="comma-separated" />
            <Field label="New password" type="password" autocomplete="new-password" value={editing.password} onInput={(e) => setEditing({ ...editing, password: value(e) })} hint="leave blank to keep the current password" />
          </div>
          <button type="submit" class="primary">Save user</button>{' '}
          <button type="button" onClick={() => setEditing(undefined)}>Cancel</button>
        </form>
      )}
      <form onSubmit={create} class="panel" aria-labelledby="new-user">
        <h2 id="new-user">Add a user</h2>
        <div class="row">
          <Field label="Email" type="email" required value={draft.email} onInput={(e) => setDraft({ ...draft, email: value(e) })} />
          <Field label="First name" value={draft.firstname} onInput={(e) => setDraft({ ...draft, firstname: value(e) })} />
          <Field label="Surname" value={draft.surname} onInput={(e) => setDraft({ ...draft, surname: value(e) })} />
        </div>
        <div class="row">
          <Field label="Groups" value={draft.groups} onInput={(e) => setDraft({ ...draft, groups: value(e) })} hint="comma-separated; add admin only for those who may do everything" />
          <Field label="Password" type="password" autocomplete="new-password" required value={draft.password} onInput={(e) => setDraft({ ...draft, password: value(e) })} />
        </div>
        <button type="submit" class="primary">Create user</button>
      </form>
    </section>
  );
}

/**
 * Roles as OpenHIM has them: a role is a name in clients' roles and channels' allow lists. The
 * matrix toggles a role on a channel by changing that channel's allow list.
 */
export function RolesPage() {
  const channels = useLoad(() => api.get<Channel[]>('/channels'), []);
  const clients = useLoad(() => api.get<Client[]>('/clients'), []);
  const [error, setError] = useState<string>();
  const [message, setMessage] = useState<string>();
  const [newRole, setNewRole] = useState('');
  const live = (channels.data ?? []).filter((c) => c.status !== 'deleted');
  const roles = [...new Set([...(clients.data ?? []).flatMap((c) => c.roles), ...live.flatMap((c) => c.allow ?? []), ...(newRole ? [newRole] : [])])]
    .filter((r) => !(clients.data ?? []).some((c) => c.clientID === r))
    .sort();
  const toggle = async (channel: Channel, role: string, on: boolean) => {
    const allow = on ? [...(channel.allow ?? []), role] : (channel.allow ?? []).filter((r) => r !== role);
    try {
      await api.put(`/channels/${channel._id}`, { allow });
      setMessage(`${role} ${on ? 'may now use' : 'may no longer use'} ${channel.name}.`);
      channels.reload();
    } catch (e) {
      setError(errorText(e));
    }
  };
  return (
    <section>
      <PageTitle>Roles</PageTitle>
      <p>Each row is a role; tick the channels its clients may use.</p>
      <ErrorNote error={channels.error ?? clients.error ?? error} />
      <Notice message={message} />
      <div class="table-wrap">
        <table class="matrix">
          <caption class="sr-only">Channel access by role</caption>
          <thead><tr><th scope="col">Role (clients)</th>{live.map((c) => <th scope="col" key={c._id}>{c.name}</th>)}</tr></thead>
          <tbody>
            {roles.map((role) => (
              <tr key={role}>
                <th scope="row">{role}<br /><small>{(clients.data ?? []).filter((c) => c.roles.includes(role)).map((c) => c.clientID).join(', ') || 'no clients'}</small></th>
                {live.map((c) => (
                  <td key={c._id}>
                    <input type="checkbox" aria-label={`${role} may use ${c.name}`} checked={(c.allow ?? []).includes(role)} onChange={(e) => toggle(c, role, (e.target as HTMLInputElement).checked)} />
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <div class="panel">
        <Field label="Add a role to the matrix" value={newRole} onInput={(e) => setNewRole((e.target as HTMLInputElement).value.trim())} hint="then tick its channels and give it to clients" />
      </div>
    </section>
  );
}

interface Audit {
  _id: string;
  eventIdentification?: { eventDateTime?: string; eventOutcomeIndicator?: string; eventActionCode?: string; eventID?: { displayName?: string; code?: string } };
  activeParticipant?: Array<{ userID?: string }>;
}

export function AuditsPage() {
  const [page, setPage] = useState(0);
  const audits = useLoad(() => api.get<Audit[]>(`/audits${query({ filterPage: page, filterLimit: 21, filterRepresentation: 'simpledetails' })}`), [page]);
  return (
    <section>
      <PageTitle>Audits</PageTitle>
      <ErrorNote error={audits.error} />
      <div class="table-wrap">
        <table>
          <caption class="sr-only">Audit records, newest first</caption>
          <thead><tr><th scope="col">Time</th><th scope="col">Event</th><th scope="col">Action</th><th scope="col">Outcome</th><th scope="col">Who</th></tr></thead>
          <tbody>
            {(audits.data ?? []).slice(0, 20).map((a) => (
              <tr key={a._id}>
                <td>{formatTime(a.eventIdentification?.eventDateTime)}</td>
                <td>{a.eventIdentification?.eventID?.displayName ?? a.eventIdentification?.eventID?.code ?? '–'}</td>
                <td>{a.eventIdentification?.eventActionCode ?? '–'}</td>
                <td>{a.eventIdentification?.eventOutcomeIndicator === '0' ? 'success' : `failure (${a.eventIdentification?.eventOutcomeIndicator ?? '?'})`}</td>
                <td>{a.activeParticipant?.map((p) => p.userID).filter(Boolean).slice(-1)[0] ?? '–'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <Pager page={page} hasMore={(audits.data?.length ?? 0) > 20} onPage={setPage} />
    </section>
  );
}
