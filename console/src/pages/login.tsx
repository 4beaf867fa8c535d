import { useState } from 'preact/hooks';
import { errorText, request } from '../api';
import type { User } from '../models';
import { ErrorNote, Field } from '../ui';
import { PasswordResetRequest } from './set-password';

export function LoginPage({ onLogin }: { onLogin: (session: { user: User; csrfToken: string }) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onLogin(await request('POST', '/console/session', { username, password }));
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
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
