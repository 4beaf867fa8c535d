/**
 * Certificates this process trusts besides the system's: those an instance serves on its HTTPS
 * endpoints (the generated one, or the one the admin put in the interop layer's keystore). The
 * platform's own clients — readiness checks, importers, `instant status`, the test harness — use
 * global fetch, so the trust is installed as undici's global dispatcher (which Node's fetch uses).
 *
 * Two ways a certificate is accepted:
 * - as a trust anchor, for every host, with the usual chain and name checks (the generated
 *   certificate names 127.0.0.1 and the service's host);
 * - pinned, for loopback hosts only: the platform calls its own services at 127.0.0.1, and the
 *   certificate an admin installs is issued for the server's DNS name by the country's CA, which
 *   names no loopback address and chains to no root this process knows. On a loopback connection
 *   whose certificate fails those checks, the leaf the server presents is accepted only when it is
 *   byte for byte one the instance says it serves. A pin is stronger than a name check: nothing
 *   else is accepted, and no other host is ever exempt from the usual checks.
 */
import tls, { type TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import type { buildConnector } from 'undici';

// undici (~0.2 s of CPU to load) only once a certificate is to be trusted: most `instant` commands
// and processes never do. It is CommonJS, so it loads synchronously where it is first needed.
const undici = () => createRequire(import.meta.url)('undici') as typeof import('undici');

const trusted = new Set<string>();
/** DER (base64) of each pinned leaf certificate. */
const pinned = new Set<string>();

export function trustCertificates(pems: readonly string[] | undefined): void {
  let added = false;
  for (const pem of pems ?? []) {
    if (!pem || trusted.has(pem)) continue;
    trusted.add(pem);
    const leaf = leafDer(pem);
    if (leaf) pinned.add(leaf);
    added = true;
  }
  if (added) {
    const { Agent, setGlobalDispatcher } = undici();
    setGlobalDispatcher(new Agent({ connect: pinningConnector([...tls.rootCertificates, ...trusted]) }));
  }
}

export function trustedCertificates(): string[] {
  return [...trusted];
}

/** The first certificate of a PEM (a chain starts with its leaf), as base64 DER; undefined when unreadable. */
function leafDer(pem: string): string | undefined {
  try {
    return new X509Certificate(pem).raw.toString('base64');
  } catch {
    return undefined;
  }
}

export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/** Usual checks everywhere; on loopback, a connection that fails them still passes when its leaf is pinned. */
function pinningConnector(ca: string[]): buildConnector.connector {
  const { buildConnector } = undici();
  const strict = buildConnector({ ca });
  // No session reuse: every connection shows its certificate to the pin check.
  const checkedHere = buildConnector({ ca, rejectUnauthorized: false, maxCachedSessions: 0 });
  return (options, callback) => {
    if (options.protocol !== 'https:' || !isLoopbackHost(options.hostname)) return strict(options, callback);
    return checkedHere(options, (error, socket) => {
      if (error || !socket) return callback(error ?? new Error('no socket'), null);
      const secure = socket as TLSSocket;
      if (secure.authorized) return callback(null, socket);
      const served = secure.getPeerCertificate()?.raw?.toString('base64');
      if (served && pinned.has(served)) return callback(null, socket);
      socket.destroy();
      const refused = new Error(`the certificate served at ${options.hostname}:${options.port} is neither trusted nor one this instance serves (${String(secure.authorizationError)})`);
      return callback(Object.assign(refused, { code: 'INSTANT_TLS_UNTRUSTED' }), null);
    });
  };
}
