import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import selfsigned from 'selfsigned';

export interface RouterCertificate {
  key: string;
  cert: string;
  /** SHA-1 fingerprint as OpenHIM shows it (AA:BB:...). */
  fingerprint: string;
}

/**
 * The router's generated TLS certificate: made once, on first start, in <stateDir>/certs (key
 * 0600), and reused after. It seeds the keystore (keystore/seed.ts), which is what the listeners
 * serve from then on: replace the certificate through the keystore API, not these files.
 */
export async function ensureRouterCertificate(stateDir: string, hostName: string, extraHostNames: readonly string[] = []): Promise<RouterCertificate> {
  const dir = join(stateDir, 'certs');
  const keyPath = join(dir, 'iol-router.key');
  const certPath = join(dir, 'iol-router.crt');
  try {
    const [key, cert] = await Promise.all([readFile(keyPath, 'utf8'), readFile(certPath, 'utf8')]);
    return { key, cert, fingerprint: new X509Certificate(cert).fingerprint };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const pems = await generateRouterCertificate(hostName, extraHostNames);
  await writeFile(keyPath, pems.key, { mode: 0o600 });
  await chmod(keyPath, 0o600);
  await writeFile(certPath, pems.cert, { mode: 0o644 });
  return pems;
}

/** A new self-signed certificate for the router (two years, the host's names), in memory. */
export async function generateRouterCertificate(hostName: string, extraHostNames: readonly string[] = []): Promise<RouterCertificate> {
  const notAfter = new Date();
  notAfter.setFullYear(notAfter.getFullYear() + 2);
  const altNames: Array<{ type: 2; value: string } | { type: 7; ip: string }> = [
    { type: 2, value: 'localhost' },
    { type: 7, ip: '127.0.0.1' },
    { type: 7, ip: '::1' },
  ];
  for (const name of [hostName, ...extraHostNames]) {
    if (!name || name === 'localhost' || name === '0.0.0.0' || name === '::') continue;
    if (/^[\d.]+$/.test(name) || name.includes(':')) altNames.push({ type: 7, ip: name });
    else altNames.push({ type: 2, value: name });
  }
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'instant-openhie-iol' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate: notAfter,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  return { key: pems.private, cert: pems.cert, fingerprint: new X509Certificate(pems.cert).fingerprint };
}
