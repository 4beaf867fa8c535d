/**
 * Certificates this process trusts besides the system's: those an instance generated for itself
 * (the interop layer's, when its admin API or router speaks HTTPS). The platform's own clients —
 * readiness checks, importers, `instant status`, the test harness — use global fetch, so the trust
 * is installed as undici's global dispatcher (which Node's fetch uses).
 */
import tls from 'node:tls';
import { Agent, setGlobalDispatcher } from 'undici';

const trusted = new Set<string>();

export function trustCertificates(pems: readonly string[] | undefined): void {
  let added = false;
  for (const pem of pems ?? []) {
    if (!pem || trusted.has(pem)) continue;
    trusted.add(pem);
    added = true;
  }
  if (added) setGlobalDispatcher(new Agent({ connect: { ca: [...tls.rootCertificates, ...trusted] } }));
}

export function trustedCertificates(): string[] {
  return [...trusted];
}
