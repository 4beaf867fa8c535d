/**
 * Making a certificate, as OpenHIM's console does (`POST /certificates`): a client certificate is
 * trusted at once (give a client its fingerprint), a server one replaces what the router serves.
 * The new private key is in the answer only: it is shown once here, to download or copy, and is
 * gone when the page is left or another certificate is made.
 */
import { useState } from 'preact/hooks';
import { api, errorText } from '../api';
import { ErrorNote, Field, Select } from '../ui';

interface Generated {
  type: 'client' | 'server';
  commonName: string;
  certificate: string;
  key: string;
}

const EMPTY = { type: 'client', commonName: '', organization: '', organizationUnit: '', locality: '', state: '', country: '', emailAddress: '', days: '365' };

/** The form's fields that were filled in, as the API takes them. */
function requestOf(form: typeof EMPTY): Record<string, string | number> {
  const request: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(form)) if (value.trim()) request[name] = name === 'days' ? Number(value) : value.trim();
  return request;
}

/** A link that saves `text` as a file. */
function Download({ name, text, label }: { name: string; text: string; label: string }) {
  return <a class="button" download={name} href={`data:application/x-pem-file;charset=utf-8,${encodeURIComponent(text)}`}>{label}</a>;
}

export function CertificateGenerator({ onMade }: { onMade: () => void }) {
  const [form, setForm] = useState(EMPTY);
  const [generated, setGenerated] = useState<Generated>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const set = (name: keyof typeof EMPTY) => (e: Event) => setForm({ ...form, [name]: (e.target as HTMLInputElement).value });
  const server = form.type === 'server';

  const make = async (event: Event) => {
    event.preventDefault();
    if (server && !confirm('Replace the certificate and key the router serves? Clients that pinned the current certificate must be given the new one.')) return;
    setError(undefined);
    setGenerated(undefined);
    setBusy(true);
    try {
      const answer = await api.post<{ certificate: string; key: string }>('/certificates', requestOf(form));
      setGenerated({ type: server ? 'server' : 'client', commonName: form.commonName.trim(), ...answer });
      setForm({ ...EMPTY, type: form.type });
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
      onMade();
    }
  };

  const file = generated?.commonName.replace(/[^\w.-]+/g, '_') || 'certificate';
  return (
    <form onSubmit={make} noValidate aria-labelledby="make-cert" autocomplete="off">
      <h3 id="make-cert">Make a certificate</h3>
      <p class="hint">A self-signed certificate and a new private key (RSA 2048). A client certificate is trusted at once: give a client its fingerprint. A server certificate replaces the one above.</p>
      <ErrorNote error={error} />
      <div class="parts">
        <Select label="For" value={form.type} onChange={set('type')} options={[['client', 'a client (mutual TLS)'], ['server', 'this server (replaces the one above)']]} />
        <Field label="Common name" required value={form.commonName} onInput={set('commonName')} hint={server ? "the host name clients use to reach the router" : "the client system's name"} />
        <Field label="Organization" value={form.organization} onInput={set('organization')} />
        <Field label="Organizational unit" value={form.organizationUnit} onInput={set('organizationUnit')} />
        <Field label="Locality" value={form.locality} onInput={set('locality')} />
        <Field label="State or province" value={form.state} onInput={set('state')} />
        <Field label="Country" value={form.country} onInput={set('country')} maxLength={2} hint="two letters, e.g. ZA" />
        <Field label="E-mail" type="email" value={form.emailAddress} onInput={set('emailAddress')} />
        <Field label="Valid for (days)" type="number" min={1} max={3650} value={form.days} onInput={set('days')} />
      </div>
      <button type="submit" class="primary" disabled={busy || !form.commonName.trim()}>{busy ? 'Making…' : 'Make certificate'}</button>
      {generated && (
        <div class="generated" data-testid="generated-certificate" role="status">
          <p class="note">
            {generated.type === 'client'
              ? `The certificate for ${generated.commonName} is trusted. Save its private key now: it is shown only this once.`
              : 'The router serves the new certificate on new connections. Its private key is stored; a copy is below, shown only this once.'}
          </p>
          <label>New certificate (PEM)<textarea readOnly rows={6} spellcheck={false} value={generated.certificate} /></label>
          <label>New private key (PEM)<textarea readOnly rows={6} spellcheck={false} autocomplete="off" value={generated.key} /></label>
          <div class="actions">
            <Download name={`${file}.crt`} text={generated.certificate} label="Download certificate" />
            <Download name={`${file}.key`} text={generated.key} label="Download private key" />
            <button type="button" onClick={() => setGenerated(undefined)}>Done: forget the key</button>
          </div>
        </div>
      )}
    </form>
  );
}
