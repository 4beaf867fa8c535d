/** HTTPS router with client certificates, and JWTs signed with RSA keys (PEM and JWKS). */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import selfsigned from 'selfsigned';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair } from 'jose';
import { testDrivers } from '../support/databases.js';
import { startIol, startUpstream, type Iol, type Upstream } from './support.js';
import { freePort } from '../support/cli.js';

function httpsGet(url: string, options: https.RequestOptions): Promise<{ status: number; body: string; certFingerprint?: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { rejectUnauthorized: false, ...options }, (res) => {
      const chunks: Buffer[] = [];
      const certFingerprint = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), certFingerprint }));
    });
    req.on('error', reject);
    req.end();
  });
}

const driver = testDrivers[0]!;

describe('router over HTTPS with mutual TLS', () => {
  let iol: Iol;
  let up: Upstream;
  let clientPems: { private: string; cert: string };
  before(async () => {
    up = await startUpstream();
    iol = await startIol(driver, { OPENHIM_ROUTER_HTTPS_PORT: String(await freePort()) });
    clientPems = await selfsigned.generate([{ name: 'commonName', value: 'lab-system' }], { keyType: 'ec', algorithm: 'sha256' });
    const fingerprint = new X509Certificate(clientPems.cert).fingerprint;
    assert.equal((await iol.call('POST', '/clients', { clientID: 'lab', name: 'Lab', roles: [], certFingerprint: fingerprint })).status, 201);
    // As in OpenHIM, the certificate is trusted through the keystore (a self-signed one: itself).
    assert.equal((await iol.call('POST', '/keystore/ca/cert', { cert: clientPems.cert })).status, 201);
    assert.equal((await iol.call('POST', '/channels', { name: 'lab', urlPattern: '^/lab$', allow: ['lab'], routes: [{ name: 'p', host: '127.0.0.1', port: up.port, primary: true }] })).status, 201);
  });
  after(async () => {
    await iol?.stop();
    await up?.close();
  });

  test('a known client certificate authenticates; none or an unknown one is refused', async () => {
    const url = `${iol.running.endpoints.routerHttps}/lab`;
    assert.match(url, /^https:/);
    const ok = await httpsGet(url, { key: clientPems.private, cert: clientPems.cert });
    assert.equal(ok.status, 200);
    assert.equal(up.seen.at(-1)!.headers['x-openhim-clientid'], 'lab');
    // The server presents the certificate made in the state directory (it seeded the keystore).
    const served = new X509Certificate(await readFile(join(iol.stateDir, 'certs', 'iol-router.crt')));
    assert.equal(ok.certFingerprint, served.fingerprint);
    assert.equal((await httpsGet(url, {})).status, 401);
    const stranger = await selfsigned.generate([{ name: 'commonName', value: 'stranger' }], { keyType: 'ec', algorithm: 'sha256' });
    assert.equal((await httpsGet(url, { key: stranger.private, cert: stranger.cert })).status, 401);
  });

  test('credentials in the header are tried before the certificate, as OpenHIM orders its authentication steps', async () => {
    assert.equal((await iol.call('POST', '/clients', { clientID: 'emr', name: 'EMR', roles: ['clinical'], password: 'emr-password-1' })).status, 201);
    assert.equal((await iol.call('POST', '/channels', { name: 'clinical', urlPattern: '^/clinical$', allow: ['clinical'], routes: [{ name: 'p', host: '127.0.0.1', port: up.port, primary: true }] })).status, 201);
    const base = iol.running.endpoints.routerHttps!;
    const emr = `Basic ${Buffer.from('emr:emr-password-1').toString('base64')}`;
    // The certificate names lab, the Basic credentials emr: emr is the caller (koaMiddleware.js: Basic before TLS).
    const asEmr = await httpsGet(`${base}/clinical`, { key: clientPems.private, cert: clientPems.cert, headers: { authorization: emr } });
    assert.equal(asEmr.status, 200);
    assert.equal(up.seen.at(-1)!.headers['x-openhim-clientid'], 'emr');
    // Wrong credentials in the header fall through to the certificate, which still names lab.
    const wrong = `Basic ${Buffer.from('emr:not-the-password').toString('base64')}`;
    assert.equal((await httpsGet(`${base}/lab`, { key: clientPems.private, cert: clientPems.cert, headers: { authorization: wrong } })).status, 200);
    assert.equal(up.seen.at(-1)!.headers['x-openhim-clientid'], 'lab');
    assert.equal((await httpsGet(`${base}/clinical`, { key: clientPems.private, cert: clientPems.cert, headers: { authorization: wrong } })).status, 401);
  });
});

describe('router JWT with RSA keys', () => {
  let up: Upstream;
  let jwks: http.Server;
  const instances: Iol[] = [];
  let keys: Awaited<ReturnType<typeof generateKeyPair>>;
  before(async () => {
    up = await startUpstream();
    keys = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    jwks = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
  });
  after(async () => {
    for (const iol of instances) await iol.stop();
    await new Promise<void>((resolve) => jwks.close(() => resolve()));
    await up.close();
  });

  for (const source of ['public key', 'JWKS'] as const) {
    test(`RS256 tokens verified with a ${source}; HS256 tokens and other keys refused`, async () => {
      const settings: Record<string, string> =
        source === 'public key'
          ? { OPENHIM_JWT_PUBLIC_KEY: await exportSPKI(keys.publicKey) }
          : { OPENHIM_JWT_JWKS_URL: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json` };
      const iol = await startIol(driver, { ...settings, OPENHIM_JWT_AUDIENCE: 'instant-iol' });
      instances.push(iol);
      await iol.call('POST', '/clients', { clientID: 'app', name: 'App', roles: ['apps'] });
      await iol.call('POST', '/channels', { name: 'apps', urlPattern: '^/apps$', allow: ['apps'], routes: [{ name: 'p', host: '127.0.0.1', port: up.port, primary: true }] });
      const sign = (key: Parameters<SignJWT['sign']>[0], alg = 'RS256', aud = 'instant-iol') =>
        new SignJWT({}).setProtectedHeader({ alg, kid: 'k1' }).setSubject('app').setAudience(aud).setExpirationTime('5m').sign(key);
      const call = async (token: string) => (await fetch(`${iol.router}/apps`, { headers: { authorization: `Bearer ${token}` } })).status;
      assert.equal(await call(await sign(keys.privateKey)), 200);
      assert.equal(await call(await sign(keys.privateKey, 'RS256', 'someone-else')), 401, 'wrong audience');
      const other = await generateKeyPair('RS256');
      assert.equal(await call(await sign(other.privateKey)), 401, 'signed by another key');
      assert.equal(await call(await sign(new TextEncoder().encode('x'.repeat(32)), 'HS256')), 401, 'algorithm confusion');
    });
  }
});
