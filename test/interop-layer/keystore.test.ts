/**
 * OpenHIM's keystore API (openhim-core-js src/api/keystore.js): shapes, admin only, bad PEMs
 * refused, the key never returned; the router serving a replaced certificate on new connections
 * (one process, router workers, and another replica through the change feed); the trusted list as
 * what mutual TLS trusts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import tls from 'node:tls';
import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import { domainToASCII } from 'node:url';
import selfsigned from 'selfsigned';
import { testDrivers } from '../support/databases.js';
import { startIol, startUpstream, type Iol, type Upstream } from './support.js';
import { interopLayerService } from '../../src/services/interop-layer/index.js';
import { SettingsMap } from '../../src/platform/settings.js';
import { createLogger } from '../../src/common/logger.js';
import type { RunningService } from '../../src/services/service.js';
import { freePort } from '../support/cli.js';
import { httpsGet } from '../support/https-get.js';

/** The fingerprint of the certificate a new TLS connection to `url` is served. */
function servedFingerprint(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: hostname, port: Number(port), rejectUnauthorized: false }, () => {
      const fingerprint = socket.getPeerCertificate().fingerprint;
      socket.end();
      resolve(fingerprint);
    });
    socket.on('error', reject);
  });
}

/** Waits for `probe` to return true (a change reaching another replica); fails after a generous deadline. */
async function eventually(probe: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (await probe()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.fail(`${what} did not happen`);
}

const ec = { keyType: 'ec', algorithm: 'sha256' } as const;
const serverExtensions: NonNullable<NonNullable<Parameters<typeof selfsigned.generate>[1]>["extensions"]> = [
  { name: 'basicConstraints', cA: false },
  { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
  { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
];

function makeServerCert(cn: string, passphrase?: string) {
  return selfsigned.generate(
    [
      { name: 'commonName', value: cn },
      { name: 'countryName', value: 'ZA' },
      { name: 'organizationName', value: 'Jembi' },
    ],
    { ...ec, extensions: [...serverExtensions], ...(passphrase ? { passphrase } : {}) },
  );
}

for (const driver of testDrivers) {
  describe(`keystore API (${driver})`, () => {
    let iol: Iol;
    let up: Upstream;
    const viewerPassword = randomBytes(9).toString('base64url');
    let viewer: Record<string, string>;
    /** Every answer body of the keystore API in this file: none may hold a private key. */
    const answers: string[] = [];
    const call = async (method: string, path: string, body?: unknown, headers?: Record<string, string>) => {
      const r = await iol.call(method, path, body, headers);
      answers.push(typeof r.body === 'string' ? r.body : JSON.stringify(r.body));
      return r;
    };

    before(async () => {
      up = await startUpstream();
      iol = await startIol(driver, { OPENHIM_ROUTER_HTTPS_PORT: String(await freePort()) });
      assert.equal((await iol.call('POST', '/users', { email: 'viewer@example.org', firstname: 'V', surname: 'W', groups: ['viewers'], password: viewerPassword })).status, 201);
      viewer = { authorization: `Basic ${Buffer.from(`viewer@example.org:${viewerPassword}`).toString('base64')}` };
      assert.equal((await iol.call('POST', '/channels', { name: 'lab', urlPattern: '^/lab$', allow: ['lab-role'], routes: [{ name: 'p', host: '127.0.0.1', port: up.port, primary: true }] })).status, 201);
    });
    after(async () => {
      await iol?.stop();
      await up?.close();
    });

    test('GET /keystore/cert: the generated certificate as OpenHIM shows it, the one the router serves; valid', async () => {
      const cert = await call('GET', '/keystore/cert');
      assert.equal(cert.status, 200);
      assert.deepEqual(Object.keys(cert.body).sort(), ['commonName', 'data', 'fingerprint', 'validity', 'watchFSForCert']);
      assert.equal(cert.body.commonName, 'instant-openhie-iol');
      assert.match(cert.body.fingerprint, /^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
      assert.ok(Date.parse(cert.body.validity.start) < Date.now() && Date.parse(cert.body.validity.end) > Date.now());
      assert.match(cert.body.data, /^-----BEGIN CERTIFICATE-----/);
      assert.equal(cert.body.watchFSForCert, false);
      assert.equal(await servedFingerprint(iol.running.endpoints.routerHttps!), cert.body.fingerprint);
      assert.deepEqual((await call('GET', '/keystore/validity')).body, { valid: true });
    });

    test('every keystore route is refused to a non-admin user (403)', async () => {
      const pem = (await makeServerCert('x')).cert;
      for (const [method, path, body] of [
        ['GET', '/keystore/cert'],
        ['POST', '/keystore/cert', { cert: pem }],
        ['POST', '/keystore/key', { key: 'x' }],
        ['POST', '/keystore/passphrase', { passphrase: 'x' }],
        ['GET', '/keystore/validity'],
        ['GET', '/keystore/ca'],
        ['GET', '/keystore/ca/0123456789abcdef01234567'],
        ['DELETE', '/keystore/ca/0123456789abcdef01234567'],
        ['POST', '/keystore/ca/cert', { cert: pem }],
        ['POST', '/certificates', { type: 'client', commonName: 'x' }],
        ['POST', '/restart'],
      ] as Array<[string, string, unknown?]>) {
        assert.equal((await call(method, path, body, viewer)).status, 403, `${method} ${path}`);
      }
    });

    test('bad input: no PEM, garbage, a key where a certificate goes, a huge body: 400/413, nothing changed', async () => {
      const before = (await call('GET', '/keystore/cert')).body.fingerprint;
      const pair = await makeServerCert('other');
      const huge = `-----BEGIN CERTIFICATE-----\n${'A'.repeat(70 * 1024)}\n-----END CERTIFICATE-----\n`;
      for (const body of [{}, { cert: '' }, { cert: 'hello' }, { cert: 42 }, { cert: '-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----' },
        { cert: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----' }, { cert: pair.private }, { cert: `${pair.cert}\n${pair.private}` }, { cert: huge }]) {
        const r = await call('POST', '/keystore/cert', body);
        assert.equal(r.status, 400, JSON.stringify(body).slice(0, 80));
        assert.match(r.body.message, /cert/);
        assert.equal((await call('POST', '/keystore/ca/cert', body)).status, 400);
      }
      // Past twice the PEM limit the body is not even read.
      const tooLarge = await call('POST', '/keystore/cert', { cert: 'A'.repeat(1024 * 1024) });
      assert.equal(tooLarge.status, 413);
      assert.equal((tooLarge.body as { error: string }).error, 'IOL_BODY_TOO_LARGE', 'our documented code, not Fastify\'s');
      for (const body of [{}, { key: 'hello' }, { key: pair.cert }, { key: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----' }]) {
        assert.equal((await call('POST', '/keystore/key', body)).status, 400, JSON.stringify(body).slice(0, 80));
      }
      assert.equal((await call('GET', '/keystore/cert')).body.fingerprint, before);
      assert.deepEqual((await call('GET', '/keystore/validity')).body, { valid: true });
    });

    test('replacing the certificate, then its key: the router serves the new pair on a new connection, not before the key matches', async () => {
      const url = iol.running.endpoints.routerHttps!;
      const old = await servedFingerprint(url);
      const pair = await makeServerCert('router.example.org');
      const fingerprint = new X509Certificate(pair.cert).fingerprint;
      const set = await call('POST', '/keystore/cert', { cert: pair.cert });
      assert.equal(set.status, 201);
      assert.equal(set.body.fingerprint, fingerprint);
      const cert = (await call('GET', '/keystore/cert')).body;
      assert.equal(cert.commonName, 'router.example.org');
      assert.equal(cert.country, 'ZA');
      assert.equal(cert.organization, 'Jembi');
      // The old key does not match the new certificate: the router keeps the old pair meanwhile.
      assert.equal((await call('GET', '/keystore/validity')).body.valid, false);
      assert.equal(await servedFingerprint(url), old);
      assert.equal((await call('POST', '/keystore/key', { key: pair.private })).status, 201);
      assert.deepEqual((await call('GET', '/keystore/validity')).body, { valid: true });
      assert.equal(await servedFingerprint(url), fingerprint);
      // The audit names each change.
      const audits = await iol.call('GET', '/audit-events?kind=admin-change');
      const entities = JSON.stringify(audits.body);
      assert.match(entities, new RegExp(`Keystore/cert/${fingerprint}`));
      assert.match(entities, /Keystore\/key/);
    });

    test('a restart between a new certificate and its key serves the last matching pair; a keystore broken in the database stops the start with a clear error', async () => {
      const served = (await call('GET', '/keystore/cert')).body.fingerprint as string;
      const pair = await makeServerCert('restart.example.org');
      assert.equal((await call('POST', '/keystore/cert', { cert: pair.cert })).status, 201);
      await iol.restart();
      assert.equal(await servedFingerprint(iol.running.endpoints.routerHttps!), served);
      assert.equal((await call('GET', '/keystore/validity')).body.valid, false);
      assert.equal((await call('POST', '/keystore/key', { key: pair.private })).status, 201);
      assert.equal(await servedFingerprint(iol.running.endpoints.routerHttps!), new X509Certificate(pair.cert).fingerprint);
      // A hand edit (or a restore) that leaves a served pair that does not match.
      const other = await makeServerCert('other.example.org');
      await iol.t.db.query('UPDATE iol.keystore SET served_key = $1', [other.private]);
      await iol.running.stop();
      const start = () => interopLayerService.start({ name: 'interop-layer', db: iol.t.db, settings: new SettingsMap(iol.settings), logger: createLogger(), stateDir: iol.stateDir });
      await assert.rejects(start(), (error: Error & { code?: string }) => error.code === 'IOL_KEYSTORE_INVALID');
      await iol.t.db.query('UPDATE iol.keystore SET served_key = key');
      iol.running = await start();
      iol.api = iol.running.endpoints.api!;
      assert.deepEqual((await call('GET', '/keystore/validity')).body, { valid: true });
    });

    test("POST /restart as OpenHIM answers it: 200 when the certificate and key match, 400 when they do not; nothing stops", async () => {
      const ok = await call('POST', '/restart');
      assert.equal(ok.status, 200);
      assert.equal(ok.body, 'Server being restarted');
      const url = iol.running.endpoints.routerHttps!;
      const served = await servedFingerprint(url);
      const other = await makeServerCert('mismatch.example.org');
      assert.equal((await call('POST', '/keystore/cert', { cert: other.cert })).status, 201);
      const refused = await call('POST', '/restart');
      assert.equal(refused.status, 400);
      assert.equal(refused.body, 'Certificates and Key did not match. Cancelling restart...');
      assert.equal(await servedFingerprint(url), served, 'the last matching pair is still served');
      assert.equal((await call('POST', '/keystore/key', { key: other.private })).status, 201);
      assert.equal((await call('POST', '/restart')).status, 200);
      assert.equal(await servedFingerprint(url), new X509Certificate(other.cert).fingerprint);
      assert.equal(await httpsGet(`${url}/lab`, {}), 401, 'the router still answers');
    });

    test('an encrypted key with its passphrase; a wrong passphrase leaves the key invalid and the router on the last good pair', async () => {
      const url = iol.running.endpoints.routerHttps!;
      const pair = await makeServerCert('encrypted.example.org', 'correct horse');
      assert.match(pair.private, /ENCRYPTED PRIVATE KEY/);
      const fingerprint = new X509Certificate(pair.cert).fingerprint;
      const served = await servedFingerprint(url);
      assert.equal((await call('POST', '/keystore/cert', { cert: pair.cert })).status, 201);
      assert.equal((await call('POST', '/keystore/key', { key: pair.private, passphrase: 'wrong' })).status, 201);
      assert.equal((await call('GET', '/keystore/validity')).body.valid, false);
      assert.equal(await servedFingerprint(url), served);
      assert.equal((await call('POST', '/keystore/passphrase', { passphrase: 'correct horse' })).status, 201);
      assert.deepEqual((await call('GET', '/keystore/validity')).body, { valid: true });
      assert.equal(await servedFingerprint(url), fingerprint);
    });

    test('POST /keystore/cert without a passphrase clears the stored one, as OpenHIM does', async () => {
      const pair = await makeServerCert('cleared.example.org', 'battery staple');
      assert.equal((await call('POST', '/keystore/cert', { cert: pair.cert })).status, 201);
      assert.equal((await call('POST', '/keystore/key', { key: pair.private, passphrase: 'battery staple' })).status, 201);
      assert.deepEqual((await call('GET', '/keystore/validity')).body, { valid: true });
      assert.equal((await call('POST', '/keystore/cert', { cert: pair.cert })).status, 201);
      const cleared = (await call('GET', '/keystore/validity')).body;
      assert.equal(cleared.valid, false, 'the encrypted key no longer decrypts: its passphrase went');
      assert.match(String(cleared.reason), /no passphrase/);
      assert.equal((await call('POST', '/keystore/cert', { cert: pair.cert, passphrase: 'battery staple' })).status, 201);
      assert.deepEqual((await call('GET', '/keystore/validity')).body, { valid: true });
    });

    test('trusted certificates: add a chain, list, read, remove; unknown ids 404', async () => {
      const a = await makeServerCert('trusted-a');
      const b = await makeServerCert('trusted-b');
      const added = await call('POST', '/keystore/ca/cert', { cert: `${a.cert}\n${b.cert}` });
      assert.equal(added.status, 201);
      assert.equal(added.body.length, 2);
      // Adding the same certificate again keeps it once.
      assert.deepEqual((await call('POST', '/keystore/ca/cert', { cert: a.cert })).body, []);
      const list = (await call('GET', '/keystore/ca')).body as Array<Record<string, any>>;
      const item = list.find((c) => c.commonName === 'trusted-a')!;
      assert.match(item._id, /^[0-9a-f]{24}$/);
      assert.deepEqual(Object.keys(item).sort(), ['_id', 'commonName', 'country', 'data', 'fingerprint', 'organization', 'validity']);
      assert.equal(item.fingerprint, new X509Certificate(a.cert).fingerprint);
      assert.deepEqual((await call('GET', `/keystore/ca/${item._id}`)).body, item);
      assert.equal((await call('DELETE', `/keystore/ca/${item._id}`)).status, 200);
      assert.equal((await call('GET', `/keystore/ca/${item._id}`)).status, 404);
      assert.equal((await call('DELETE', `/keystore/ca/${item._id}`)).status, 404);
      assert.deepEqual(((await call('GET', '/keystore/ca')).body as Array<{ commonName: string }>).map((c) => c.commonName), ['trusted-b']);
    });

    test('mutual TLS trusts the trusted list: a client certificate works once it (or its issuer) is trusted, and stops when removed', async () => {
      const url = `${iol.running.endpoints.routerHttps}/lab`;
      const ca = await selfsigned.generate([{ name: 'commonName', value: 'Lab CA' }], { ...ec, extensions: [{ name: 'basicConstraints', cA: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true }] });
      const issued = await selfsigned.generate([{ name: 'commonName', value: 'lab-system' }], { ...ec, ca: { key: ca.private, cert: ca.cert } });
      assert.equal((await iol.call('POST', '/clients', { clientID: 'lab', name: 'Lab', roles: ['lab-role'], certFingerprint: new X509Certificate(issued.cert).fingerprint })).status, 201);
      const asLab = { key: issued.private, cert: issued.cert };
      assert.equal(await httpsGet(url, asLab), 401, 'an untrusted certificate does not authenticate, even with a known fingerprint');
      const added = await call('POST', '/keystore/ca/cert', { cert: ca.cert });
      assert.equal(added.status, 201);
      assert.equal(await httpsGet(url, asLab), 200);
      assert.equal(up.seen.at(-1)!.headers['x-openhim-clientid'], 'lab');
      assert.equal((await call('DELETE', `/keystore/ca/${added.body[0]._id}`)).status, 200);
      assert.equal(await httpsGet(url, asLab), 401);
    });

    test('a secured route presents the keystore\'s certificate to its upstream and checks it against the trusted certificate its `cert` names (OpenHIM router.js)', async () => {
      const ca = await selfsigned.generate([{ name: 'commonName', value: 'Upstream CA' }], { ...ec, extensions: [{ name: 'basicConstraints', cA: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true }] });
      const issued = await selfsigned.generate([{ name: 'commonName', value: '127.0.0.1' }], { ...ec, extensions: [...serverExtensions], ca: { key: ca.private, cert: ca.cert } });
      const presented: string[] = [];
      const upstream = https.createServer({ key: issued.private, cert: issued.cert, requestCert: true, rejectUnauthorized: false }, (req, res) => {
        const peer = (req.socket as tls.TLSSocket).getPeerCertificate();
        presented.push(peer?.fingerprint ?? '');
        res.writeHead(200, { 'content-type': 'text/plain' }).end('secured ok');
      });
      await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
      const port = (upstream.address() as { port: number }).port;
      try {
        const added = await call('POST', '/keystore/ca/cert', { cert: ca.cert });
        assert.equal(added.status, 201);
        const caId = added.body[0]._id as string;
        const channel = (name: string, route: Record<string, unknown>) => iol.call('POST', '/channels', { name, urlPattern: `^/${name}$`, allow: ['lab-role'], routes: [{ name: 'p', host: '127.0.0.1', port, primary: true, secured: true, ...route }] });
        assert.equal((await channel('secured-ca', { cert: caId })).status, 201);
        assert.equal((await channel('secured-roots', {})).status, 201);
        assert.equal((await channel('secured-gone', { cert: '0123456789abcdef01234567' })).status, 201);
        assert.equal((await iol.call('POST', '/clients', { clientID: 'sec', name: 'Sec', roles: ['lab-role'], password: 'sec-password-1' })).status, 201);
        const auth = { authorization: `Basic ${Buffer.from('sec:sec-password-1').toString('base64')}` };
        const router = iol.running.endpoints.router!; // an earlier test restarted the service
        const through = await fetch(`${router}/secured-ca`, { headers: auth });
        assert.equal(through.status, 200, await through.clone().text());
        assert.equal(await through.text(), 'secured ok');
        const served = await servedFingerprint(iol.running.endpoints.routerHttps!);
        assert.equal(presented.at(-1)?.replace(/:/g, '').toLowerCase(), served.replace(/:/g, '').toLowerCase(), 'the router presented the keystore\'s certificate');
        // Not issued by a public root: refused without the route's trusted certificate, and with one the keystore does not hold.
        assert.equal((await fetch(`${router}/secured-roots`, { headers: auth })).status, 502);
        const gone = await fetch(`${router}/secured-gone`, { headers: auth });
        assert.equal(gone.status, 502);
        assert.match(await gone.text(), /does not hold/);
      } finally {
        upstream.closeAllConnections();
        await new Promise((resolve) => upstream.close(resolve));
      }
    });

    test("POST /certificates (OpenHIM's generation): a client certificate is trusted and authenticates by mutual TLS; a server one is served; bad requests change nothing", async () => {
      const url = iol.running.endpoints.routerHttps!;
      const subject = { commonName: 'testcert.com', country: 'za', days: 365, emailAddress: 'test@testcert.com', state: 'test state', locality: 'test locality', organization: 'test Org', organizationUnit: 'testOrg unit' };
      const trustedBefore = (await call('GET', '/keystore/ca')).body.length;
      const servedBefore = await servedFingerprint(url);
      // OpenHIM's own test's request (test/integration/certificateApiTests.js); the answer is the only one to hold the new key.
      // OpenHIM's console sends "" for a field typed in and cleared: left out, as OpenHIM's pem leaves it.
      const client = await iol.call('POST', '/certificates', { type: 'client', ...subject, commonName: 'lab-generated', state: '' });
      assert.equal(client.status, 201, JSON.stringify(client.body));
      assert.equal(client.headers.get('cache-control'), 'no-store', 'the answer holds a private key');
      assert.deepEqual(Object.keys(client.body).sort(), ['certificate', 'key']);
      const clientCert = new X509Certificate(client.body.certificate);
      assert.ok(clientCert.checkPrivateKey(createPrivateKey(client.body.key)));
      assert.ok(Date.parse(clientCert.validTo) - Date.now() > 364 * 86_400_000 && Date.parse(clientCert.validTo) - Date.now() < 366 * 86_400_000);
      const trusted = (await call('GET', '/keystore/ca')).body as Array<Record<string, string>>;
      assert.equal(trusted.length, trustedBefore + 1);
      const item = trusted.find((c) => c.fingerprint === clientCert.fingerprint)!;
      assert.equal(item.commonName, 'lab-generated');
      assert.equal(item.organization, 'test Org');
      assert.equal(item.country, 'za');
      assert.equal(item.organizationUnit, 'testOrg unit');
      assert.equal(item.emailAddress, 'test@testcert.com');
      assert.equal(item.state, undefined);
      assert.equal(await servedFingerprint(url), servedBefore, 'a client certificate leaves the served pair alone');
      assert.equal((await iol.call('POST', '/clients', { clientID: 'generated', name: 'Generated', roles: ['lab-role'], certFingerprint: clientCert.fingerprint })).status, 201);
      assert.equal(await httpsGet(`${url}/lab`, { key: client.body.key, cert: client.body.certificate }), 200);
      assert.equal(up.seen.at(-1)!.headers['x-openhim-clientid'], 'generated');

      const server = await iol.call('POST', '/certificates', { type: 'server', ...subject });
      assert.equal(server.status, 201, JSON.stringify(server.body));
      const serverCert = new X509Certificate(server.body.certificate);
      assert.ok(serverCert.checkPrivateKey(createPrivateKey(server.body.key)));
      assert.equal(serverCert.subjectAltName, 'DNS:testcert.com', 'TLS clients check the name against the alternative names');
      const cert = (await call('GET', '/keystore/cert')).body;
      assert.equal(cert.commonName, 'testcert.com');
      assert.equal(cert.organization, 'test Org');
      assert.equal(cert.country, 'za');
      assert.equal(cert.fingerprint, serverCert.fingerprint);
      assert.deepEqual((await call('GET', '/keystore/validity')).body, { valid: true });
      assert.equal(await servedFingerprint(url), serverCert.fingerprint);
      assert.equal((await call('GET', '/keystore/ca')).body.length, trustedBefore + 1, 'a server certificate is not trusted as a client');

      // A field that would add a subject attribute if the subject were written as a DN string.
      const forged = await iol.call('POST', '/certificates', { type: 'client', commonName: 'a, O=Forged+CN=admin', organization: 'x=y' });
      assert.equal(forged.status, 201);
      const forgedSubject = new X509Certificate(forged.body.certificate).subject.split('\n');
      assert.deepEqual(forgedSubject, ['O=x=y', 'CN=a\\, O=Forged\\+CN=admin'], 'one organization, one common name: the separators are escaped text');
      const count = (await call('GET', '/keystore/ca')).body.length;
      for (const body of [{}, { commonName: '' }, { commonName: 'x'.repeat(65) }, { commonName: 'x', country: 'ZAF' }, { commonName: 'x', days: 0 }, { commonName: 'x', days: 100_000 },
        { commonName: 'x', type: 'ca' }, { commonName: 'a\nb' }, { commonName: 'x', emailAddress: 'not an address' }, { commonName: 42 }, []]) {
        const r = await call('POST', '/certificates', body);
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.match(r.body.message, /certificate request/);
      }
      assert.equal((await call('GET', '/keystore/ca')).body.length, count);
      assert.equal((await call('GET', '/keystore/cert')).body.fingerprint, serverCert.fingerprint);
      const audits = JSON.stringify((await iol.call('GET', '/audit-events?kind=admin-change&filterLimit=1000')).body);
      assert.match(audits, new RegExp(`Keystore/cert/${serverCert.fingerprint}`));
      // Certificates are made one at a time (each RSA key holds a thread of libuv's pool): the others are told to retry.
      const burst = await Promise.all(Array.from({ length: 4 }, (_, i) => iol.call('POST', '/certificates', { commonName: `burst-${i}` })));
      const statuses = burst.map((r) => r.status);
      assert.ok(statuses.includes(201) && statuses.includes(429), statuses.join());
      const busy = burst.find((r) => r.status === 429)!;
      assert.equal(busy.body.error, 'IOL_BUSY');
      assert.equal(busy.headers.get('retry-after'), '1');
      // An internationalised host name is written in punycode where TLS clients compare it.
      const idn = await iol.call('POST', '/certificates', { type: 'server', commonName: 'hôpital.example' });
      assert.equal(idn.status, 201, JSON.stringify(idn.body));
      const punycode = domainToASCII('hôpital.example');
      assert.match(punycode, /^xn--/);
      assert.equal(new X509Certificate(idn.body.certificate).subjectAltName, `DNS:${punycode}`);
      assert.equal(new X509Certificate(idn.body.certificate).checkHost(punycode), punycode);
    });

    test('no answer and no audit ever holds a private key', async () => {
      assert.ok(answers.length > 30);
      // Key material: a PEM private key block with its base64 (an error message may name the header).
      const keyMaterial = /PRIVATE KEY-----(\\n|\n)[A-Za-z0-9+/]/;
      for (const body of answers) assert.doesNotMatch(body, keyMaterial);
      for (const body of answers) assert.doesNotMatch(body, /passphrase"\s*:|correct horse/);
      const audits = JSON.stringify((await iol.call('GET', '/audit-events?filterLimit=1000')).body);
      assert.doesNotMatch(audits, keyMaterial);
      assert.doesNotMatch(audits, /correct horse/);
    });
  });
}

describe('keystore with OPENHIM_TLS_CLIENT_TRUST=pinned: a known fingerprint alone authenticates (before the keystore)', () => {
  let iol: Iol;
  let up: Upstream;
  before(async () => {
    up = await startUpstream();
    iol = await startIol(testDrivers[0]!, { OPENHIM_ROUTER_HTTPS_PORT: String(await freePort()), OPENHIM_TLS_CLIENT_TRUST: 'pinned' });
  });
  after(async () => {
    await iol?.stop();
    await up?.close();
  });
  test('a self-signed client certificate not in the trusted list', async () => {
    const pems = await selfsigned.generate([{ name: 'commonName', value: 'lab-system' }], ec);
    assert.equal((await iol.call('POST', '/clients', { clientID: 'lab', name: 'Lab', roles: [], certFingerprint: new X509Certificate(pems.cert).fingerprint })).status, 201);
    assert.equal((await iol.call('POST', '/channels', { name: 'lab', urlPattern: '^/lab$', allow: ['lab'], routes: [{ name: 'p', host: '127.0.0.1', port: up.port, primary: true }] })).status, 201);
    assert.equal(await httpsGet(`${iol.running.endpoints.routerHttps}/lab`, { key: pems.private, cert: pems.cert }), 200);
  });
});

describe('keystore across router workers and replicas', () => {
  let iol: Iol;
  let second: RunningService | undefined;
  before(async () => {
    const driver = testDrivers.includes('postgres') ? 'postgres' : 'pglite';
    // The admin API over HTTPS too (OpenHIM's default): it serves the keystore's certificate as well.
    iol = await startIol(driver, { OPENHIM_ROUTER_HTTPS_PORT: String(await freePort()), OPENHIM_ROUTER_WORKERS: '2', OPENHIM_API_TLS: 'true' });
  });
  after(async () => {
    await second?.stop();
    await iol?.stop();
  });

  test('a replaced certificate reaches every router worker and the HTTPS admin API; on PostgreSQL another replica serves it too', async () => {
    const url = iol.running.endpoints.routerHttps!;
    assert.match(iol.api, /^https:/);
    // The generated certificate is self-signed: this client trusts whatever the API serves.
    const post = (path: string, body: unknown) =>
      new Promise<number>((resolve, reject) => {
        const req = https.request(`${iol.api}${path}`, { method: 'POST', rejectUnauthorized: false, agent: false, headers: { authorization: iol.rootAuth, 'content-type': 'application/json' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end(JSON.stringify(body));
      });
    if (iol.t.db.listen) {
      second = await interopLayerService.start({
        name: 'interop-layer',
        db: iol.t.db,
        settings: new SettingsMap({ ...iol.settings, OPENHIM_API_PORT: '0', OPENHIM_ROUTER_HTTP_PORT: '0', OPENHIM_ROUTER_HTTPS_PORT: String(await freePort()), OPENHIM_ROUTER_WORKERS: '1' }),
        logger: createLogger(),
        stateDir: iol.stateDir,
      });
      // Both replicas serve the one keystore.
      assert.equal(await servedFingerprint(second.endpoints.routerHttps!), await servedFingerprint(url));
    }
    const pair = await makeServerCert('rotated.example.org');
    const fingerprint = new X509Certificate(pair.cert).fingerprint;
    assert.equal(await post('/keystore/cert', { cert: pair.cert }), 201);
    assert.equal(await post('/keystore/key', { key: pair.private }), 201);
    assert.equal(await servedFingerprint(iol.api), fingerprint);
    // Connections are handed to the workers in turn: several new ones reach both.
    await eventually(async () => {
      const seen = await Promise.all(Array.from({ length: 6 }, () => servedFingerprint(url)));
      return seen.every((f) => f === fingerprint);
    }, 'every worker serving the new certificate');
    if (second) {
      const other = second.endpoints.routerHttps!;
      await eventually(async () => (await servedFingerprint(other)) === fingerprint, 'the other replica serving the new certificate');
    }
  });
});
