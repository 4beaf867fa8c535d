import { useState } from 'preact/hooks';
import { request } from '../api';
import type { User } from '../models';
import { ErrorNote, Field, useAction } from '../ui';
import { PasswordResetRequest } from './set-password';

export function LoginPage({ onLogin }: { onLogin: (session: { user: User; csrfToken: string }) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const { busy, error, run } = useAction();
  const submit = (event: Event) => {
    event.preventDefault();
    void run(async () => onLogin(await request('POST', '/console/session', { username, password })));
  };
  return (
    <main id="main" class="login">
      <h1>Instant OpenHIE console</h1>
      <form onSubmit={submit} aria-describedby="login-help">
        <p id="login-help">Log in with an interoperability layer user.</p>
        <Field label="Email" type="email" name="username" autocomplete="username" required value={username} onInput={(e) => setUsername((e.target as HTMLInputElement).value)} />
        <Field label="Password" type="password" name="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
        <ErrorNote error={error} />
        <button type="submit" disabled={busy}>Log in</button>
      </form>
      <PasswordResetRequest />
    </main>
  );
}
