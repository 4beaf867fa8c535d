/**
 * Client password hashes as OpenHIM stores them: bcrypt (OpenHIM's fallback) and any digest
 * node:crypto names (md5, sha256, ...) were stored (201) but never verified through the router
 * (401), and the stored hash was lower-cased, corrupting bcrypt's case-sensitive hashes. A bcrypt
 * hash carries its own cost: a hostile one (cost 31) would hold the router for days per request,
 * so a cost above OPENHIM_CLIENT_BCRYPT_MAX_COST is refused when stored and never verified.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { testDrivers } from '../support/databases.js';
import { basic, startIol, startUpstream, type Iol, type Upstream } from '../interop-layer/support.js';

/** OpenHIM's own test vector (test/unit/basicAuthenticationTest.js): bcrypt of "password", cost 10. */
const OPENHIM_BCRYPT = '$2a$10$w8GyqInkl72LMIQNpMM/fenF6VsVukyya.c6fh/GRtrKq05C2.Zgy';
const COST_31 = '$2a$31$w8GyqInkl72LMIQNpMM/fenF6VsVukyya.c6fh/GRtrKq05C2.Zgy';

for (const driver of testDrivers) {
  describe(`client password hashes through the router on ${driver}`, () => {
    let iol: Iol;
    let upstream: Upstream;
    before(async () => {
      iol = await startIol(driver);
      upstream = await startUpstream();
      const created = await iol.call('POST', '/channels', { name: 'hashes', urlPattern: '^/hashes$', allow: ['hashes'], routes: [{ name: 'p', host: '127.0.0.1', port: upstream.port, primary: true }] });
      assert.equal(created.status, 201);
    });
    after(async () => {
      await upstream?.close();
      await iol?.stop();
    });

    const through = (clientID: string, password: string) => fetch(`${iol.router}/hashes`, { headers: { authorization: basic(clientID, password) } }).then((r) => r.status);

    test('bcrypt: OpenHIM\'s test vector verifies, kept exactly as given', async () => {
      const res = await iol.call('POST', '/clients', { clientID: 'bcrypt-client', name: 'b', roles: ['hashes'], passwordAlgorithm: 'bcrypt', passwordHash: OPENHIM_BCRYPT });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const stored = await iol.t.db.query<{ hash: string }>(`SELECT secrets->>'passwordHash' AS hash FROM iol.clients WHERE client_id = 'bcrypt-client'`);
      assert.equal(stored.rows[0]!.hash, OPENHIM_BCRYPT);
      assert.equal(await through('bcrypt-client', 'password'), 200);
      assert.equal(await through('bcrypt-client', 'password'), 200); // the cached path
      assert.equal(await through('bcrypt-client', 'Password'), 401);
    });

    test('md5, sha256 and sha512 (hex of password + salt) verify; a hash in upper case too', async () => {
      for (const algorithm of ['md5', 'sha256', 'sha512']) {
        const hash = createHash(algorithm).update('s3cret').update('NaCl').digest('hex');
        const res = await iol.call('POST', '/clients', { clientID: `${algorithm}-client`, name: algorithm, roles: ['hashes'], passwordAlgorithm: algorithm, passwordHash: algorithm === 'md5' ? hash.toUpperCase() : hash, passwordSalt: 'NaCl' });
        assert.equal(res.status, 201, JSON.stringify(res.body));
        assert.equal(await through(`${algorithm}-client`, 's3cret'), 200, algorithm);
        assert.equal(await through(`${algorithm}-client`, 's3cret!'), 401, algorithm);
      }
    });

    test('a bcrypt cost above the limit is refused when stored, and a stored one never verifies', async () => {
      const res = await iol.call('POST', '/clients', { clientID: 'slow-client', name: 's', roles: ['hashes'], passwordAlgorithm: 'bcrypt', passwordHash: COST_31 });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.match(res.body.message, /cost factor 31 .*OPENHIM_CLIENT_BCRYPT_MAX_COST/);
      const put = await iol.call('PUT', '/clients/bcrypt-client', { passwordAlgorithm: 'bcrypt', passwordHash: COST_31 });
      assert.equal(put.status, 400);
      // A row written past the API (before this check): the router refuses it at once.
      await iol.t.db.query(`UPDATE iol.clients SET secrets = jsonb_set(secrets, '{passwordHash}', to_jsonb($1::text)) WHERE client_id = 'bcrypt-client'`, [COST_31]);
      assert.equal((await iol.call('PUT', '/clients/sha512-client', { name: 'reload' })).status, 200);
      assert.equal(await through('bcrypt-client', 'password'), 401);
    });

    test('an algorithm that can never verify, or a malformed bcrypt hash, is a 400', async () => {
      const unknown = await iol.call('POST', '/clients', { clientID: 'odd-client', name: 'o', passwordAlgorithm: 'rot13', passwordHash: 'abc' });
      assert.equal(unknown.status, 400, JSON.stringify(unknown.body));
      const malformed = await iol.call('POST', '/clients', { clientID: 'odd-client', name: 'o', passwordAlgorithm: 'bcrypt', passwordHash: '$2a$10$short' });
      assert.equal(malformed.status, 400, JSON.stringify(malformed.body));
    });

    test('attack: a $2x$ hash (bcryptjs throws "Invalid salt revision") is refused when stored, and one in the table is a 401, not a 500', async () => {
      const X2 = '$2x$04$abcdefghijklmnopqrstuu5Wq6CqvZ2Xh4FhXfWzGzk3CqQ1yYz1W';
      const res = await iol.call('POST', '/clients', { clientID: 'x2-client', name: 'x', roles: ['hashes'], passwordAlgorithm: 'bcrypt', passwordHash: X2 });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      const noAlgorithm = await iol.call('POST', '/clients', { clientID: 'x2-client', name: 'x', roles: ['hashes'], passwordHash: X2 });
      assert.equal(noAlgorithm.status, 400, JSON.stringify(noAlgorithm.body));
      for (const [algorithm, hash] of [['sha256', 'abc'], ['md5', ''], ['sha512', 'z'.repeat(128)]] as const) {
        const digest = await iol.call('POST', '/clients', { clientID: 'x2-client', name: 'x', roles: ['hashes'], passwordAlgorithm: algorithm, passwordHash: hash, passwordSalt: 's' });
        assert.equal(digest.status, 400, `${algorithm} ${JSON.stringify(digest.body)}`);
      }
      const ok = await iol.call('POST', '/clients', { clientID: 'x2-client', name: 'x', roles: ['hashes'], passwordAlgorithm: 'bcrypt', passwordHash: OPENHIM_BCRYPT });
      assert.equal(ok.status, 201, JSON.stringify(ok.body));
      await iol.t.db.query(`UPDATE iol.clients SET secrets = jsonb_set(secrets, '{passwordHash}', to_jsonb($1::text)) WHERE client_id = 'x2-client'`, [X2]);
      assert.equal((await iol.call('PUT', '/clients/sha512-client', { name: 'reload again' })).status, 200);
      assert.equal(await through('x2-client', 'password'), 401);
      assert.equal(await through('x2-client', 'password'), 401);
    });
  });
}
