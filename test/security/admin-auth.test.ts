/**
 * Issue 7, authentication of the interop layer: token-header replay by letter case (9), user and
 * client enumeration by timing (17), login throttling (18), sessions after a password change
 * (19), and router JWT checks (23).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { SignJWT, UnsecuredJWT } from 'jose';
import { createJwtVerifier } from '../../src/services/interop-layer/router/jwt.js';
import { testDrivers } from '../support/databases.js';
import { basic, eventually, startIol, startUpstream, type Iol, type Upstream } from '../interop-layer/support.js';

const sha512 = (s: string) => createHash('sha512').update(s).digest('hex');

/** OpenHIM's token headers for a user, as openhim-mediator-utils computes them. */
async function tokenHeaders(iol: Iol, email: string, password: string): Promise<Record<string, string>> {
  const { salt } = (await (await fetch(`${iol.api}/authenticate/${encodeURIComponent(email)}`)).json()) as { salt: string };
  const ts = new Date().toISOString();
  return { 'auth-username': email, 'auth-ts': ts, 'auth-salt': salt, 'auth-token': sha512(sha512(salt + password) + salt + ts) };
}

async function login(iol: Iol, username: string, password: string): Promise<{ status: number; cookie?: string; retryAfter: string | null }> {
  const res = await fetch(`${iol.api}/authenticate/local`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  await res.text();
  return { status: res.status, cookie: res.headers.get('set-cookie')?.split(';')[0], retryAfter: res.headers.get('retry-after') };
}

const me = async (iol: Iol, headers: Record<string, string>) => (await fetch(`${iol.api}/me`, { headers })).status;
/** What GET /me answers a session it does not know: 404 "Not authenticated", as OpenHIM's. */
const NO_SESSION = 404;

/** Milliseconds a request takes. */
async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

/** Fastest request times of a known and an unknown name, alternating, after a warm-up. */
async function compare(known: () => Promise<unknown>, unknown: () => Promise<unknown>): Promise<{ known: number; unknown: number }> {
  await known(); // warm up (the dummy hash is made on first use)
  await unknown();
  const k: number[] = [];
  const u: number[] = [];
  // The fastest of each: load on a shared machine only adds time, so the minimum is each path's
  // own cost (a skipped password hash shows as a minimum far below the known one's, however many
  // rounds). On a very busy machine the minimum of a few rounds can still carry load, so rounds
  // go on (up to 30) while the unknown path looks less than half as dear.
  for (let i = 0; i < 30; i++) {
    k.push(await timed(known));
    u.push(await timed(unknown));
    if (i >= 6 && Math.min(...u) >= 0.5 * Math.min(...k)) break;
  }
  return { known: Math.min(...k), unknown: Math.min(...u) };
}

for (const driver of testDrivers) {
  // Timing (17) involves no storage of note: measured on one driver only.
  const oneDriver = { skip: driver !== testDrivers[0] && 'timing is measured on one driver' };
  describe(`admin authentication on ${driver}`, () => {
    let iol: Iol;
    const user = { email: 'clerk@example.org', password: 'clerk-password-1', groups: ['viewers'] };
    before(async () => {
      // Throttling out of the way here (these tests send wrong passwords on purpose); see 18 below.
      iol = await startIol(driver, { OPENHIM_LOGIN_MAX_FAILURES: '1000' });
      assert.equal((await iol.call('POST', '/users', { ...user, firstname: 'C', surname: 'L' })).status, 201);
      assert.equal((await iol.call('POST', '/clients', { clientID: 'lab', name: 'Lab', roles: [], password: 'lab-password-1' })).status, 201);
    });
    after(async () => {
      await iol?.stop();
    });

    test('9: a token-header request cannot be replayed, whatever the letter case of the token', async () => {
      const headers = await tokenHeaders(iol, iol.rootEmail, iol.rootPassword);
      assert.equal(await me(iol, headers), 200);
      assert.equal(await me(iol, headers), 401, 'the same token again is a replay');
      assert.equal(await me(iol, { ...headers, 'auth-token': headers['auth-token']!.toUpperCase() }), 401, 'upper case is the same token');
      const mixed = headers['auth-token']!.replace(/[a-f]/g, (c, i: number) => (i % 2 ? c.toUpperCase() : c));
      assert.equal(await me(iol, { ...headers, 'auth-token': mixed }), 401, 'mixed case is the same token');
      // A fresh token still works (the replay check did not lock the user out).
      assert.equal(await me(iol, await tokenHeaders(iol, iol.rootEmail, iol.rootPassword)), 200);
    });

    test('19: a password change (by the user or an admin) or deleting the user ends their sessions', async () => {
      const first = await login(iol, user.email, user.password);
      assert.equal(first.status, 200);
      assert.equal(await me(iol, { cookie: first.cookie! }), 200);

      // The user changes their own password through their session: every session of theirs ends.
      const other = await login(iol, user.email, user.password);
      const changed = await fetch(`${iol.api}/users/${user.email}`, {
        method: 'PUT',
        headers: { cookie: first.cookie!, 'content-type': 'application/json' },
        body: JSON.stringify({ password: 'clerk-password-2' }),
      });
      assert.equal(changed.status, 200);
      assert.equal(await me(iol, { cookie: first.cookie! }), NO_SESSION);
      assert.equal(await me(iol, { cookie: other.cookie! }), NO_SESSION);
      assert.equal(await me(iol, { authorization: basic(user.email, user.password) }), 401, 'the old password no longer works');

      // An admin changes it: the session opened with the second password ends too.
      const second = await login(iol, user.email, 'clerk-password-2');
      assert.equal(await me(iol, { cookie: second.cookie! }), 200);
      const oldToken = await tokenHeaders(iol, user.email, 'clerk-password-2');
      assert.equal((await iol.call('PUT', `/users/${user.email}`, { password: user.password })).status, 200);
      assert.equal(await me(iol, { cookie: second.cookie! }), NO_SESSION);
      assert.equal(await me(iol, oldToken), 401, 'token headers made from the old password are refused');

      // Deleting the user ends the session opened last.
      const third = await login(iol, user.email, user.password);
      assert.equal(await me(iol, { cookie: third.cookie! }), 200);
      assert.equal((await iol.call('DELETE', `/users/${user.email}`)).status, 200);
      assert.equal(await me(iol, { cookie: third.cookie! }), NO_SESSION);
      assert.equal((await iol.call('POST', '/users', { ...user, firstname: 'C', surname: 'L' })).status, 201);
    });

    test('the salt of GET /authenticate/:username does not show who exists: the same before, during and after a user, across password changes and restarts', async () => {
      const saltOf = async (name: string) => {
        const res = await fetch(`${iol.api}/authenticate/${encodeURIComponent(name)}`);
        assert.equal(res.status, 200, 'every name gets a salt (OpenHIM answers 404 for unknown names)');
        const body = (await res.json()) as { salt: string; ts: string };
        assert.ok(!Number.isNaN(Date.parse(body.ts)));
        return body.salt;
      };
      const name = 'pharmacist@example.org';
      const before = await saltOf(name);
      assert.match(before, /^[0-9a-f]{32}$/);
      assert.equal(await saltOf(name), before, 'stable for an unknown name');
      assert.equal(await saltOf(name.toUpperCase()), before, 'names are compared without case');
      assert.notEqual(await saltOf('someone-else@example.org'), before);

      assert.equal((await iol.call('POST', '/users', { email: name, firstname: 'P', surname: 'H', groups: ['viewers'], password: 'pharm-password-1' })).status, 201);
      assert.equal(await saltOf(name), before, 'creating the user does not change the salt');
      assert.equal(await me(iol, await tokenHeaders(iol, name, 'pharm-password-1')), 200, 'token auth works with it');

      assert.equal((await iol.call('PUT', `/users/${name}`, { password: 'pharm-password-2' })).status, 200);
      assert.equal(await saltOf(name), before, 'a password change does not change the salt');
      assert.equal(await me(iol, await tokenHeaders(iol, name, 'pharm-password-2')), 200, 'token auth works after the change');
      assert.equal(await me(iol, await tokenHeaders(iol, name, 'pharm-password-1')), 401, 'the old password does not');

      await iol.restart();
      assert.equal(await saltOf(name), before, 'the key lives in the database, not the process');
      assert.equal(await saltOf('nobody-at-all@example.org'), await saltOf('nobody-at-all@example.org'));
      assert.equal((await iol.call('DELETE', `/users/${name}`)).status, 200);
      assert.equal(await saltOf(name), before, 'deleting the user does not change it either');
    });

    test('17: unknown users cost as much time as known ones (admin API Basic and session login)', oneDriver, async () => {
      const basicTimes = await compare(
        () => fetch(`${iol.api}/me`, { headers: { authorization: basic(iol.rootEmail, 'wrong-password') } }),
        () => fetch(`${iol.api}/me`, { headers: { authorization: basic('nobody@example.org', 'wrong-password') } }),
      );
      assert.ok(basicTimes.unknown >= 0.5 * basicTimes.known, `unknown ${basicTimes.unknown} ms vs known ${basicTimes.known} ms`);
      const loginTimes = await compare(
        () => login(iol, iol.rootEmail, 'wrong-password'),
        () => login(iol, 'nobody@example.org', 'wrong-password'),
      );
      assert.ok(loginTimes.unknown >= 0.5 * loginTimes.known, `unknown ${loginTimes.unknown} ms vs known ${loginTimes.known} ms`);
    });

    test('17: unknown clients cost as much time as known ones (router Basic)', oneDriver, async () => {
      const times = await compare(
        () => fetch(`${iol.router}/anything`, { headers: { authorization: basic('lab', 'wrong-password') } }),
        () => fetch(`${iol.router}/anything`, { headers: { authorization: basic('no-such-client', 'wrong-password') } }),
      );
      assert.ok(times.unknown >= 0.5 * times.known, `unknown ${times.unknown} ms vs known ${times.known} ms`);
    });
  });
}

/**
 * An admin API request sent from a chosen loopback address (all of 127.0.0.0/8 reaches the API on
 * Linux), so each test counts its failures on addresses of its own.
 */
function callFrom(
  iol: Iol,
  localAddress: string,
  path: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; retryAfter: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(new URL(path, iol.api), { method: init.method ?? 'GET', headers: init.headers ?? {}, localAddress }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}

const loginFrom = (iol: Iol, from: string, username: string, password: string) =>
  callFrom(iol, from, '/authenticate/local', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });

describe('18: login throttling', () => {
  let iol: Iol;
  // A window far longer than any test takes, on any machine: no test waits for it to pass (the
  // window's end is tested on a fake clock in admin-auth-throttle.test.ts).
  const settings = {
    OPENHIM_LOGIN_MAX_FAILURES: '3',
    OPENHIM_LOGIN_MAX_FAILURES_PER_ADDRESS: '30',
    OPENHIM_LOGIN_MAX_FAILURES_PER_USER: '30',
    OPENHIM_LOGIN_WINDOW_MS: String(3_600_000),
  };
  const users = ['nurse', 'doctor', 'admin2', 'clerk2'].map((name) => ({ email: `${name}@example.org`, password: `${name}-password-1` }));
  const [nurse, doctor, admin, clerk] = users as [(typeof users)[0], (typeof users)[0], (typeof users)[0], (typeof users)[0]];
  before(async () => {
    iol = await startIol(testDrivers[0]!, settings);
    for (const user of users) assert.equal((await iol.call('POST', '/users', { ...user, firstname: 'F', surname: 'S', groups: ['admin'] })).status, 201);
  });
  after(async () => {
    await iol?.stop();
  });

  test('after the allowed failures every login path answers 429 with Retry-After, even with the right password', async () => {
    const from = '127.0.0.11';
    for (let i = 0; i < 3; i++) assert.equal((await loginFrom(iol, from, nurse.email, `wrong-${i}`)).status, 401);
    const throttled = await loginFrom(iol, from, nurse.email, nurse.password);
    assert.equal(throttled.status, 429);
    assert.ok(Number(throttled.retryAfter) >= 1, 'Retry-After in seconds');
    const viaBasic = await callFrom(iol, from, '/me', { headers: { authorization: basic(nurse.email, nurse.password) } });
    assert.equal(viaBasic.status, 429);
    assert.ok(viaBasic.retryAfter);
    assert.equal((await callFrom(iol, from, '/me', { headers: await tokenHeaders(iol, nurse.email, nurse.password) })).status, 429);
    // The same user from another address is not locked out by what happened on this one.
    assert.equal((await loginFrom(iol, '127.0.0.12', nurse.email, nurse.password)).status, 200);

    const audits = await eventually(async () => {
      const found = await iol.call('GET', '/audit-events?kind=auth-failure&filterLimit=100');
      const hits = (found.body as Array<{ outcomeDesc?: string; entity?: Array<{ detail?: Array<{ type: string }> }> }>).filter((a) =>
        a.entity?.[0]?.detail?.some((d) => d.type === 'throttled'),
      );
      return hits.length >= 3 && hits;
    }, 'throttled attempts in the audit log');
    assert.match(audits[0]!.outcomeDesc!, /too many failed logins/);
  });

  test('a success clears the count of that user on that address', async () => {
    const from = '127.0.0.21';
    for (let i = 0; i < 2; i++) assert.equal((await loginFrom(iol, from, doctor.email, 'wrong')).status, 401);
    assert.equal((await loginFrom(iol, from, doctor.email, doctor.password)).status, 200);
    for (let i = 0; i < 2; i++) assert.equal((await loginFrom(iol, from, doctor.email, 'wrong')).status, 401, 'counting started again');
    assert.equal((await loginFrom(iol, from, doctor.email, doctor.password)).status, 200);
  });

  test('failures for made-up users from one address do not stop the real user there, up to the per-address threshold', async () => {
    const from = '127.0.0.31';
    // An attacker on the same address (localhost, a NAT, a proxy) fails logins for made-up names.
    for (let i = 0; i < 29; i++) assert.equal((await loginFrom(iol, from, `made-up-${i}@example.org`, 'guess')).status, 401);
    assert.equal((await loginFrom(iol, from, admin.email, admin.password)).status, 200, 'the real admin still logs in');
    assert.equal((await callFrom(iol, from, '/me', { headers: { authorization: basic(admin.email, admin.password) } })).status, 200);
    // Password spraying past the per-address threshold stops every login from that address.
    assert.equal((await loginFrom(iol, from, 'made-up-29@example.org', 'guess')).status, 401);
    assert.equal((await loginFrom(iol, from, 'made-up-30@example.org', 'guess')).status, 429);
    assert.equal((await loginFrom(iol, from, admin.email, admin.password)).status, 429);
    assert.equal((await loginFrom(iol, '127.0.0.32', admin.email, admin.password)).status, 200, 'other addresses are not affected');
  });

  test('guessing one user from many addresses does not lock that user out where it logged in before', async () => {
    const home = '127.0.0.41';
    assert.equal((await loginFrom(iol, home, clerk.email, clerk.password)).status, 200);
    for (let a = 0; a < 15; a++) for (let i = 0; i < 2; i++) assert.equal((await loginFrom(iol, `127.0.1.${a + 1}`, clerk.email, 'guess')).status, 401);
    assert.equal((await loginFrom(iol, '127.0.0.42', clerk.email, clerk.password)).status, 429, 'a new address is refused for this user');
    assert.equal((await loginFrom(iol, home, clerk.email, clerk.password)).status, 200, 'where the user logged in before, it still can');
  });
});

describe('23: router JWTs', () => {
  const secret = 'a-shared-secret-of-32-characters!';
  const audience = 'instant-iol';
  const issuer = 'https://idp.example.org';
  let up: Upstream;
  let iol: Iol;
  const call = async (token: string) => (await fetch(`${iol.router}/jwt`, { headers: { authorization: `Bearer ${token}` } })).status;
  const hs = (claims: { exp?: boolean; aud?: string; iss?: string } = {}) => {
    let jwt = new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('emr').setIssuedAt();
    if (claims.exp !== false) jwt = jwt.setExpirationTime('5m');
    jwt = jwt.setAudience(claims.aud ?? audience).setIssuer(claims.iss ?? issuer);
    return jwt.sign(new TextEncoder().encode(secret));
  };

  before(async () => {
    up = await startUpstream();
    iol = await startIol(testDrivers[0]!, {
      OPENHIM_ROUTER_AUTH_TYPES: 'jwt',
      OPENHIM_JWT_SECRET: secret,
      OPENHIM_JWT_AUDIENCE: audience,
      OPENHIM_JWT_ISSUER: issuer,
    });
    assert.equal((await iol.call('POST', '/clients', { clientID: 'emr', name: 'EMR', roles: [] })).status, 201);
    const channel = { name: 'jwt', urlPattern: '^/jwt$', allow: ['emr'], routes: [{ name: 'p', host: '127.0.0.1', port: up.port, primary: true }] };
    assert.equal((await iol.call('POST', '/channels', channel)).status, 201);
  });
  after(async () => {
    await iol?.stop();
    await up?.close();
  });

  test('through the router: exp required, audience and issuer enforced, alg none refused', async () => {
    assert.equal(await call(await hs()), 200);
    assert.equal(await call(await hs({ exp: false })), 401, 'no exp');
    assert.equal(await call(await hs({ aud: 'someone-else' })), 401, 'wrong audience');
    assert.equal(await call(await hs({ iss: 'https://evil.example.org' })), 401, 'wrong issuer');
    const none = new UnsecuredJWT({}).setSubject('emr').setAudience(audience).setIssuer(issuer).setExpirationTime('5m').encode();
    assert.equal(await call(none), 401, 'alg none');
  });

  test('OPENHIM_JWT_REQUIRE_EXP=false accepts a token without exp', async () => {
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('emr').sign(new TextEncoder().encode(secret));
    const strict = createJwtVerifier({ secret, requireExp: true })!;
    await assert.rejects(strict.verify(token), /exp/);
    assert.equal(await createJwtVerifier({ secret, requireExp: false })!.verify(token), 'emr');
  });

  test('algorithm confusion: an HS token keyed with the RSA public key is refused; HS algorithms with a public key are a start error', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const verifier = createJwtVerifier({ publicKey: publicPem, requireExp: true })!;
    const rs = await new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setSubject('emr').setExpirationTime('5m').sign(privateKey);
    assert.equal(await verifier.verify(rs), 'emr');
    const confused = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('emr').setExpirationTime('5m').sign(new TextEncoder().encode(publicPem));
    await assert.rejects(verifier.verify(confused));
    assert.throws(() => createJwtVerifier({ publicKey: publicPem, algorithms: ['RS256', 'HS256'], requireExp: true }), /HS256/);
    assert.throws(() => createJwtVerifier({ secret, algorithms: ['RS256'], requireExp: true }), /RS256/);
  });
});
