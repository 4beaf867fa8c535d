/**
 * Attacks on the keystore API and on the mutual TLS it feeds: bodies past the limits, many tiny
 * PEM blocks, a trusted list past its cap, a key that does not match, and client certificates
 * that must not authenticate (expired, or naming a trusted CA as issuer without its signature).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { X509Certificate } from 'node:crypto';
import selfsigned from 'selfsigned';
import { testDrivers } from '../support/databases.js';
import { startIol, startUpstream, type Iol, type Upstream } from '../interop-layer/support.js';
import { freePort } from '../support/cli.js';
import { httpsGet } from '../support/https-get.js';

const ec = { keyType: 'ec', algorithm: 'sha256' } as const;
const caExtensions = [{ name: 'basicConstraints', cA: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true }] as Array<{ name: 'basicConstraints'; cA: boolean } | { name: 'keyUsage'; keyCertSign: boolean; cRLSign: boolean; digitalSignature: boolean }>;

describe('keystore attacks', () => {
  let iol: Iol;
  let up: Upstream;
  before(async () => {
    up = await startUpstream();
    iol = await startIol(testDrivers[0]!, { OPENHIM_ROUTER_HTTPS_PORT: String(await freePort()), OPENHIM_KEYSTORE_MAX_TRUSTED_CERTS: '3' });
    assert.equal((await iol.call('POST', '/channels', { name: 'lab', urlPattern: '^/lab$', allow: ['lab'], routes: [{ name: 'p', host: '127.0.0.1', port: up.port, primary: true }] })).status, 201);
  });
  after(async () => {
    await iol?.stop();
    await up?.close();
  });

  test('a 20 MB body is refused before it is read (413), and the API still answers', async () => {
    const r = await fetch(`${iol.api}/keystore/ca/cert`, {
      method: 'POST',
      headers: { authorization: iol.rootAuth, 'content-type': 'application/json' },
      body: JSON.stringify({ cert: 'A'.repeat(20 * 1024 * 1024) }),
    });
    assert.equal(r.status, 413);
    assert.equal((await iol.call('GET', '/keystore/cert')).status, 200);
  });

  test('thousands of tiny PEM blocks, a non-string, an array, a nested object: 400, nothing stored', async () => {
    const tiny = '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'.repeat(1100);
    for (const cert of [tiny, ['x'], { data: 'x' }, null, 12, '-----BEGIN CERTIFICATE-----\n'.repeat(2000)]) {
      const r = await iol.call('POST', '/keystore/ca/cert', { cert });
      assert.equal(r.status, 400, JSON.stringify(cert).slice(0, 60));
    }
    assert.equal((await iol.call('POST', '/keystore/ca/cert', JSON.parse('{"cert": "x", "__proto__": {"admin": true}}'))).status, 400);
    assert.deepEqual((await iol.call('GET', '/keystore/ca')).body, []);
  });

  test('the trusted list stops at OPENHIM_KEYSTORE_MAX_TRUSTED_CERTS, and a chain past it adds nothing', async () => {
    const certs = await Promise.all([1, 2, 3, 4].map((i) => selfsigned.generate([{ name: 'commonName', value: `t${i}` }], ec)));
    assert.equal((await iol.call('POST', '/keystore/ca/cert', { cert: `${certs[0]!.cert}${certs[1]!.cert}` })).status, 201);
    const r = await iol.call('POST', '/keystore/ca/cert', { cert: `${certs[2]!.cert}${certs[3]!.cert}` });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /at most 3/);
    assert.equal((await iol.call('GET', '/keystore/ca')).body.length, 2);
    for (const item of (await iol.call('GET', '/keystore/ca')).body as Array<{ _id: string }>) assert.equal((await iol.call('DELETE', `/keystore/ca/${item._id}`)).status, 200);
  });

  test('concurrent additions cannot take the trusted list past its cap; a certificate to be made past it is refused before its key is made', async () => {
    const certs = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => selfsigned.generate([{ name: 'commonName', value: `c${i}` }], ec)));
    const replies = await Promise.all(certs.map((c) => iol.call('POST', '/keystore/ca/cert', { cert: c.cert })));
    assert.deepEqual(replies.map((r) => r.status).sort(), [201, 201, 201, 400, 400, 400]);
    assert.equal((await iol.call('GET', '/keystore/ca')).body.length, 3);
    const started = Date.now();
    const made = await iol.call('POST', '/certificates', { type: 'client', commonName: 'one-too-many' });
    assert.equal(made.status, 400);
    assert.match(made.body.message, /at most 3/);
    assert.ok(Date.now() - started < 2000, 'refused without making a key');
    for (const item of (await iol.call('GET', '/keystore/ca')).body as Array<{ _id: string }>) assert.equal((await iol.call('DELETE', `/keystore/ca/${item._id}`)).status, 200);
  });

  test('certificate requests that would make a certificate clients cannot read are 400, nothing changed', async () => {
    const served = (await iol.call('GET', '/keystore/cert')).body.fingerprint;
    for (const body of [
      { type: 'server', commonName: 'him.example.org:5000' }, { type: 'server', commonName: 'https://him.example.org' }, { type: 'server', commonName: '256.1.1.1' },
      { type: 'server', commonName: 'my server' }, { type: 'server', commonName: '[::1]' }, { type: 'server', commonName: 'example.org/x' },
      { type: 'server', commonName: 'ex%41mple.org' }, { type: 'server', commonName: '::ffff:1.2.3.4' }, { type: 'server', commonName: 'fe80::1%eth0' },
      { type: 'server', commonName: '*.org' }, { type: 'server', commonName: 'ex\u00adample.org' }, { commonName: 'a\u061cb' }, { commonName: 'a\u2028b' },
      { commonName: 'x', state: 'a\ud800' }, { commonName: '\u200b' }, { commonName: 'a\u202eb' }, { commonName: 'a\u0085b' },
      { commonName: 'x', emailAddress: 'a\u0000b@c' }, { commonName: 'x', emailAddress: 'josé@hôpital.example' },
      { commonName: 'x', days: true }, { commonName: 'x', days: [7] }, { commonName: 'x', days: '0x10' }, { commonName: 'x', days: 1.5 },
    ]) {
      const r = await iol.call('POST', '/certificates', body);
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
    }
    assert.equal((await iol.call('GET', '/keystore/cert')).body.fingerprint, served);
    assert.deepEqual((await iol.call('GET', '/keystore/ca')).body, []);
  });

  test('a key that does not match is stored but never served; ids that are not ids are 4xx, not 500', async () => {
    const served = (await iol.call('GET', '/keystore/cert')).body.fingerprint;
    const stranger = await selfsigned.generate([{ name: 'commonName', value: 'stranger' }], ec);
    assert.equal((await iol.call('POST', '/keystore/key', { key: stranger.private })).status, 201);
    assert.equal((await iol.call('GET', '/keystore/validity')).body.valid, false);
    const socket = await new Promise<string>((resolve, reject) => {
      const req = https.request(`${iol.running.endpoints.routerHttps}/lab`, { rejectUnauthorized: false, agent: false }, (res) => {
        resolve((res.socket as import('node:tls').TLSSocket).getPeerCertificate().fingerprint);
        res.resume();
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(socket, served);
    for (const id of ['..%2F..', "x' OR '1'='1", 'a'.repeat(300), '%00']) {
      // 404, or 400 for a NUL the database cannot hold: never a 500.
      for (const method of ['GET', 'DELETE']) assert.ok([400, 404].includes((await iol.call(method, `/keystore/ca/${id}`)).status), `${method} ${id}`);
    }
  });

  test('client certificates that must not authenticate: expired, or naming a trusted CA as issuer without its signature', async () => {
    const url = `${iol.running.endpoints.routerHttps}/lab`;
    const ca = await selfsigned.generate([{ name: 'commonName', value: 'Lab CA' }], { ...ec, extensions: caExtensions });
    assert.equal((await iol.call('POST', '/keystore/ca/cert', { cert: ca.cert })).status, 201);
    // The same issuer name, another key: a forger's "Lab CA".
    const forger = await selfsigned.generate([{ name: 'commonName', value: 'Lab CA' }], { ...ec, extensions: caExtensions });
    const forged = await selfsigned.generate([{ name: 'commonName', value: 'lab-system' }], { ...ec, ca: { key: forger.private, cert: forger.cert } });
    const expired = await selfsigned.generate([{ name: 'commonName', value: 'lab-system' }], {
      ...ec,
      ca: { key: ca.private, cert: ca.cert },
      notBeforeDate: new Date(Date.now() - 3 * 86_400_000),
      notAfterDate: new Date(Date.now() - 86_400_000),
    });
    const good = await selfsigned.generate([{ name: 'commonName', value: 'lab-system' }], { ...ec, ca: { key: ca.private, cert: ca.cert } });
    for (const [i, pems] of [forged, expired, good].entries()) {
      assert.equal((await iol.call('POST', '/clients', { clientID: `lab${i}`, name: 'Lab', roles: ['lab'], certFingerprint: new X509Certificate(pems.cert).fingerprint })).status, 201);
    }
    assert.equal(await httpsGet(url, { key: forged.private, cert: forged.cert }), 401, 'forged issuer');
    assert.equal(await httpsGet(url, { key: expired.private, cert: expired.cert }), 401, 'expired');
    assert.equal(await httpsGet(url, { key: good.private, cert: good.cert }), 200);
  });
});
