/**
 * The platform's clients accept, on loopback only, a certificate that fails the name/chain checks
 * when it is exactly one the instance serves (common/trust.ts): any other certificate on loopback
 * is still refused, and a pinned certificate exempts no other host.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import selfsigned from 'selfsigned';
import { isLoopbackHost, trustCertificates } from '../../src/common/trust.js';

const named = (cn: string) => selfsigned.generate([{ name: 'commonName', value: cn }], { keySize: 2048, algorithm: 'sha256' });
let served: { cert: string; private: string };
let impostor: { cert: string; private: string };
const servers: https.Server[] = [];

async function serve(pair: { cert: string; private: string }): Promise<string> {
  const server = https.createServer({ cert: pair.cert, key: pair.private }, (_req, res) => res.end('ok'));
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
}

let pinnedUrl = '';
let impostorUrl = '';
before(async () => {
  served = await named('him.ministry.example');
  impostor = await named('him.ministry.example');
  pinnedUrl = await serve(served);
  impostorUrl = await serve(impostor);
  trustCertificates([served.cert]);
});
after(() => servers.forEach((s) => s.close()));

test('loopback: the certificate the instance serves is accepted though it names another host', async () => {
  assert.equal((await fetch(pinnedUrl)).status, 200);
});

test('loopback: another certificate with the same name is refused', async () => {
  await assert.rejects(fetch(impostorUrl), (error: Error) => /neither trusted nor one this instance serves/.test(String((error.cause as Error)?.message ?? error.message)));
});

test('only loopback hosts are exempt from the name check', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '[::1]']) assert.equal(isLoopbackHost(host), true, host);
  for (const host of ['10.0.0.1', 'him.ministry.example', '0.0.0.0', '127.0.0.1.example.org', '::ffff:10.0.0.1']) assert.equal(isLoopbackHost(host), false, host);
});
