/**
 * Certificates: OpenHIM's keystore through the admin API. The server certificate the router's
 * HTTPS serves (details, validity, whether the key matches), replacing it and its key, and the
 * trusted certificates mutual TLS accepts. A private key is write-only: typed or uploaded, sent
 * once, cleared, and never read back (the API has no way to return it).
 */
import { useState } from 'preact/hooks';
import { api, errorText } from '../api';
import type { CertificateInfo } from '../models';
import { subjectOf } from '../certificate-subject';
import { CertificateGenerator } from './certificate-generator';
import { ErrorNote, Field, Notice, PageTitle, TextArea, formatTime, useLoad } from '../ui';

const DAY_MS = 86_400_000;

/** How soon a certificate stops being valid, as a badge status and words. */
function expiryOf(cert: CertificateInfo, now = Date.now()): [status: string, text: string] {
  const start = Date.parse(cert.validity.start);
  const end = Date.parse(cert.validity.end);
  if (now < start) return ['warn', `not valid before ${formatTime(cert.validity.start)}`];
  if (now > end) return ['bad', 'expired'];
  const days = Math.floor((end - now) / DAY_MS);
  return [days < 30 ? 'warn' : 'good', `valid, ${days} day${days === 1 ? '' : 's'} left`];
}

function ExpiryBadge({ cert }: { cert: CertificateInfo }) {
  const [status, text] = expiryOf(cert);
  return <span class={`badge ${status}`} data-expiry={status}>{text}</span>;
}


/** A file input that puts the file's text where a PEM is typed. */
function PemFile({ label, onText, multiple }: { label: string; onText: (text: string) => void; multiple?: boolean }) {
  const id = `pem-${label.replace(/\W+/g, '-').toLowerCase()}`;
  const read = async (event: Event) => {
    const input = event.target as HTMLInputElement;
    const texts = await Promise.all([...(input.files ?? [])].map((file) => file.text()));
    onText(texts.join('\n'));
    input.value = '';
  };
  return (
    <div class="field">
      <label for={id}>{label}</label>
      <input id={id} type="file" accept=".pem,.crt,.cer,.key,text/plain" multiple={multiple} onChange={read} />
    </div>
  );
}

export function CertificatesPage() {
  const cert = useLoad(() => api.get<CertificateInfo>('/keystore/cert'), []);
  const validity = useLoad(() => api.get<{ valid: boolean; reason?: string }>('/keystore/validity'), []);
  const trusted = useLoad(() => api.get<CertificateInfo[]>('/keystore/ca'), []);
  const [certPem, setCertPem] = useState('');
  const [keyPem, setKeyPem] = useState('');
  const [passphrase, setPassphrase] = useState('');
  const [trustedPem, setTrustedPem] = useState('');
  const [error, setError] = useState<string>();
  const [message, setMessage] = useState<string>();
  const value = (e: Event) => (e.target as HTMLInputElement).value;

  /** Runs a change, then shows the keystore as it is now. */
  const change = async (event: Event, send: () => Promise<string>) => {
    event.preventDefault();
    setError(undefined);
    setMessage(undefined);
    try {
      setMessage(await send());
    } catch (e) {
      setError(errorText(e));
    }
    cert.reload();
    validity.reload();
    trusted.reload();
  };
  const replaceCert = (event: Event) =>
    change(event, async () => {
      await api.post('/keystore/cert', { cert: certPem });
      setCertPem('');
      return 'Server certificate replaced. New connections get it once the key matches.';
    });
  const replaceKey = (event: Event) =>
    change(event, async () => {
      try {
        await api.post('/keystore/key', { key: keyPem, ...(passphrase ? { passphrase } : {}) });
      } finally {
        // Write-only: the key and passphrase leave the page whatever the answer.
        setKeyPem('');
        setPassphrase('');
      }
      // The keystore stores a key that does not (yet) pair with the certificate: say which it is.
      const now = await api.get<{ valid: boolean }>('/keystore/validity').catch(() => undefined);
      if (now && !now.valid) return 'Private key stored, but it does not decrypt with the passphrase given or does not match the certificate: the router keeps serving the last pair that matched.';
      return 'Private key replaced.';
    });
  const addTrusted = (event: Event) =>
    change(event, async () => {
      const added = await api.post<CertificateInfo[]>('/keystore/ca/cert', { cert: trustedPem });
      setTrustedPem('');
      return added.length ? `Trusted ${added.map((c) => c.commonName ?? c.fingerprint).join(', ')}.` : 'Already trusted.';
    });
  const removeTrusted = async (item: CertificateInfo) => {
    if (!confirm(`Stop trusting ${item.commonName ?? item.fingerprint}? Clients using it can no longer authenticate by certificate.`)) return;
    setError(undefined);
    try {
      await api.del(`/keystore/ca/${encodeURIComponent(item._id!)}`);
      setMessage(`${item.commonName ?? item.fingerprint} is no longer trusted.`);
    } catch (e) {
      setError(errorText(e));
    }
    trusted.reload();
  };

  const server = cert.data;
  return (
    <section>
      <PageTitle>Certificates</PageTitle>
      <ErrorNote error={cert.error ?? trusted.error ?? error} />
      <Notice message={message} />

      <h2>Server certificate</h2>
      <p class="hint">What the router's HTTPS port (and the admin API over HTTPS) presents. A new certificate or key reaches new connections without a restart, on every replica, once the two match.</p>
      {server && (
        <dl class="facts" data-testid="server-certificate">
          <div><dt>Common name</dt><dd>{server.commonName ?? '–'}</dd></div>
          <div><dt>Subject</dt><dd>{subjectOf(server)}</dd></div>
          <div><dt>Valid from</dt><dd>{formatTime(server.validity.start)}</dd></div>
          <div><dt>Valid until</dt><dd>{formatTime(server.validity.end)} <ExpiryBadge cert={server} /></dd></div>
          <div><dt>Fingerprint (SHA-1)</dt><dd><code data-testid="server-fingerprint">{server.fingerprint}</code></dd></div>
          <div><dt>Private key</dt><dd data-testid="key-match">
            {validity.data ? <span class={`badge ${validity.data.valid ? 'good' : 'bad'}`}>{validity.data.valid ? 'matches the certificate' : 'does not match the certificate'}</span> : '…'}
          </dd></div>
        </dl>
      )}
      {validity.data && !validity.data.valid && (
        <p class="note error" role="alert">The certificate and key cannot be served{validity.data.reason ? `: ${validity.data.reason}` : ''}. The router keeps serving the last pair that could be. Replace the other half.</p>
      )}

      <div class="parts">
        <form onSubmit={replaceCert} noValidate aria-labelledby="replace-cert">
          <h3 id="replace-cert">Replace the certificate</h3>
          <TextArea label="Server certificate (PEM)" rows={6} spellcheck={false} value={certPem} onInput={(e) => setCertPem(value(e))}
            hint="-----BEGIN CERTIFICATE-----, the server's first, then its chain" />
          <PemFile label="Or upload a certificate file" onText={setCertPem} />
          <button type="submit" class="primary" disabled={!certPem.trim()}>Replace certificate</button>
        </form>
        <form onSubmit={replaceKey} noValidate aria-labelledby="replace-key" autocomplete="off">
          <h3 id="replace-key">Replace the private key</h3>
          <TextArea label="Private key (PEM)" rows={6} spellcheck={false} autocomplete="off" value={keyPem} onInput={(e) => setKeyPem(value(e))}
            hint="RSA of at least 2048 bits, or EC on P-256, P-384 or P-521; never shown again: the console and the API only accept it" />
          <PemFile label="Or upload a key file" onText={setKeyPem} />
          <Field label="Key passphrase" type="password" autocomplete="off" value={passphrase} onInput={(e) => setPassphrase(value(e))} hint="only for an encrypted key" />
          <button type="submit" class="primary" disabled={!keyPem.trim()}>Replace key</button>
        </form>
      </div>

      <h2>Trusted certificates</h2>
      <p class="hint">Mutual TLS accepts a client certificate that is one of these or is signed by one, and whose fingerprint a client has.</p>
      <div class="table-wrap">
        <table>
          <caption class="sr-only">Trusted certificates</caption>
          <thead><tr><th scope="col">Common name</th><th scope="col">Subject</th><th scope="col">Valid until</th><th scope="col">Fingerprint (SHA-1)</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>
            {(trusted.data ?? []).map((item) => (
              <tr key={item._id} data-trusted={item.fingerprint}>
                <td>{item.commonName ?? '–'}</td>
                <td>{subjectOf(item)}</td>
                <td>{formatTime(item.validity.end)} <ExpiryBadge cert={item} /></td>
                <td><code>{item.fingerprint}</code></td>
                <td><button type="button" class="danger" aria-label={`Remove ${item.commonName ?? item.fingerprint}`} onClick={() => removeTrusted(item)}>Remove</button></td>
              </tr>
            ))}
            {!trusted.loading && !trusted.data?.length && <tr><td colSpan={5}>No trusted certificates yet.</td></tr>}
          </tbody>
        </table>
      </div>
      <form onSubmit={addTrusted} noValidate aria-labelledby="add-trusted">
        <h3 id="add-trusted">Trust a certificate</h3>
        <TextArea label="Trusted certificates (PEM)" rows={5} spellcheck={false} value={trustedPem} onInput={(e) => setTrustedPem(value(e))}
          hint="a client's certificate or its issuer; a chain adds each certificate" />
        <PemFile label="Or upload certificate files" onText={setTrustedPem} multiple />
        <button type="submit" class="primary" disabled={!trustedPem.trim()}>Add trusted certificate</button>
      </form>

      <CertificateGenerator onMade={() => { cert.reload(); validity.reload(); trusted.reload(); }} />
    </section>
  );
}
