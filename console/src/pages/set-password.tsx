/**
 * Setting a password from an e-mailed link (#!/set-password/<token>, the route OpenHIM's console
 * has, so links made for either console work), and asking for one from the login page. No session
 * is needed: whoever comes here has no password to log in with.
 */
import { useState } from 'preact/hooks';
import { request } from '../api';
import { decodePart } from '../router';
import { ErrorNote, Field, Notice, useAction, useLoad } from '../ui';

interface TokenDetails {
  email: string;
  firstname?: string;
  surname?: string;
  tokenType: 'newUser' | 'existingUser';
}

/** The token of a set-password path (`!/set-password/<token>` or `/set-password/<token>`), or undefined. */
export function setPasswordToken(path: string): string | undefined {
  const token = /^!?\/set-password\/([^/]+)$/.exec(path)?.[1];
  return token === undefined ? undefined : decodePart(token);
}

export function SetPasswordPage({ token }: { token: string }) {
  const details = useLoad(() => request<TokenDetails>('GET', `/console/set-password/${encodeURIComponent(token)}`), [token]);
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [firstname, setFirstname] = useState<string>();
  const [surname, setSurname] = useState<string>();
  const [done, setDone] = useState(false);
  const { busy, error, setError, run } = useAction();
  const newUser = details.data?.tokenType === 'newUser';
  const submit = (event: Event) => {
    event.preventDefault();
    if (password !== again) return setError('the two passwords differ');
    void run(async () => {
      await request('PUT', `/console/set-password/${encodeURIComponent(token)}`, {
        password,
        ...(newUser ? { firstname: firstname ?? details.data?.firstname ?? '', surname: surname ?? details.data?.surname ?? '' } : {}),
      });
      setDone(true);
    });
  };
  return (
    <main id="main" class="login">
      <h1>{newUser ? 'Set your password' : 'Choose a new password'}</h1>
      {details.loading && <p role="status">Loading…</p>}
      {details.error && (
        <>
          <ErrorNote error={`This link cannot be used: ${details.error}`} />
          <p><a href="#/">Back to the login page</a>, where you can ask for a new link.</p>
        </>
      )}
      {done && (
        <>
          <Notice message="Your password is set." />
          <p><a href="#/">Log in</a> with {details.data?.email} and your new password.</p>
        </>
      )}
      {details.data && !done && (
        <form onSubmit={submit}>
          <p>For {details.data.email}. The link can be used once.</p>
          {newUser && (
            <>
              <Field label="First name" name="firstname" autocomplete="given-name" value={firstname ?? details.data.firstname ?? ''} onInput={(e) => setFirstname((e.target as HTMLInputElement).value)} />
              <Field label="Surname" name="surname" autocomplete="family-name" value={surname ?? details.data.surname ?? ''} onInput={(e) => setSurname((e.target as HTMLInputElement).value)} />
            </>
          )}
          <Field label="New password" hint="At least 8 characters." type="password" name="password" autocomplete="new-password" required minLength={8} value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
          <Field label="The same password again" type="password" name="password-again" autocomplete="new-password" required minLength={8} value={again} onInput={(e) => setAgain((e.target as HTMLInputElement).value)} />
          <ErrorNote error={error} />
          <button type="submit" disabled={busy}>Set the password</button>
        </form>
      )}
    </main>
  );
}

/** The login page's "forgot your password" form: the answer is the same whether or not the address is a user's. */
export function PasswordResetRequest() {
  const [open, setOpen] = useState(false);
  const [email, setEmail] = useState('');
  const [sent, setSent] = useState(false);
  const { busy, error, run } = useAction();
  if (!open) return <p><button type="button" class="link" onClick={() => setOpen(true)}>Forgot your password?</button></p>;
  const submit = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      await request('POST', '/console/password-reset', { email });
      setSent(true);
    });
  };
  return (
    <form onSubmit={submit} aria-label="Ask for a password reset link">
      <Field label="Your e-mail address" type="email" name="reset-email" autocomplete="email" required value={email} onInput={(e) => setEmail((e.target as HTMLInputElement).value)} />
      {sent ? <Notice message="If this address is a user's, a link to set a new password has been sent to it." /> : <button type="submit" disabled={busy}>Send me a link</button>}
      <ErrorNote error={error} />
    </form>
  );
}
