/**
 * OpenHIM parity: setting a password by e-mailed link (OpenHIM v8.5's api/users.js, its
 * usersAPITests' userPasswordResetRequest, getUserByToken and updateUserByToken cases), with the
 * mail delivered to a real SMTP server (smtp-server, nodemailer's own): a user created without a
 * password is locked and mailed a link, a reset link is mailed on request, each token is read,
 * used once, expires; open routes that tell no one which addresses are users, and are throttled.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { basic, eventually, startIol, type Iol } from './support.js';
import { startSmtp, type Mail } from '../support/smtp.js';
import { CONSOLE_BROWSER_PREFIX, senderIdentityHeaders } from '../../src/common/sender-identity.js';

const SECRET = 'test-sender-identity-secret-0123456789';

const tokenIn = (mail: Mail) => /https:\/\/console\.example\.org\/#!\/set-password\/([0-9a-f]{32})/.exec(mail.text)?.[1];

for (const driver of testDrivers) {
  describe(`set a password by e-mailed link (OpenHIM /password-reset-request, /token) on ${driver}`, () => {
    let iol: Iol;
    let smtp: Awaited<ReturnType<typeof startSmtp>>;
    const open = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(iol.api + path, { method, ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}) });
      const text = await res.text();
      // Errors come as OpenHIM sends them, their message as plain text (api/error-body.ts).
      const json = res.headers.get('content-type')?.startsWith('application/json');
      return { status: res.status, headers: res.headers, body: text && json ? (JSON.parse(text) as any) : text || undefined };
    };
    const mailTo = (email: string, count = 1) =>
      eventually(async () => {
        const mails = smtp.mails.filter((m) => m.to.includes(email));
        return mails.length >= count && mails[count - 1]!;
      }, `mail number ${count} to ${email}`);
    const login = (username: string, password: string) => open('POST', '/authenticate/local', { username, password });

    before(async () => {
      smtp = await startSmtp();
      iol = await startIol(driver, { OPENHIM_SMTP_URL: smtp.url, OPENHIM_CONSOLE_URL: 'https://console.example.org/', OPENHIM_EMAIL_FROM: 'him@example.org', OPENHIM_INSTANCE_NAME: 'Test HIE', OPENHIM_SENDER_IDENTITY_SECRET: SECRET });
    });
    after(async () => {
      await iol?.stop();
      await smtp?.close();
    });

    test('a user created without a password is locked and mailed a link; the token reads its basic details and sets the password once', async () => {
      const created = await iol.call('POST', '/users', { email: 'Jane@Doe.net', firstname: 'Jane', surname: 'Doe', groups: ['viewers'] });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.locked, true);
      const mail = await mailTo('jane@doe.net');
      assert.match(mail.text, /From: him@example\.org/);
      assert.match(mail.text, /A profile has been created for you on the OpenHIM instance running on Test HIE/);
      const token = tokenIn(mail)!;
      assert.ok(token, mail.text);

      const details = await open('GET', `/token/${token}`);
      assert.equal(details.status, 200, JSON.stringify(details.body));
      assert.equal(details.body.email, 'jane@doe.net');
      assert.equal(details.body.firstname, 'Jane');
      assert.equal(details.body.surname, 'Doe');
      assert.equal(details.body.token, token);
      assert.equal(details.body.tokenType, 'newUser');
      assert.equal(details.body.locked, true);
      assert.ok(Date.parse(details.body.expiry) > Date.now() + 6 * 24 * 3600_000, 'a new user\'s link lasts 7 days');
      assert.equal(details.body.password, undefined);
      assert.equal(details.body.groups, undefined);

      assert.equal((await login('jane@doe.net', 'password-updated')).status, 401, 'no password yet');
      assert.equal((await open('PUT', `/token/${token}`, { password: 'short' })).status, 400);
      const set = await open('PUT', `/token/${token}`, { firstname: 'Jane Sally', surname: 'Doe', msisdn: '27123456789', password: 'password-updated' });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      assert.equal((await login('jane@doe.net', 'password-updated')).status, 200);
      const user = (await iol.call('GET', '/users/jane@doe.net')).body;
      assert.equal(user.firstname, 'Jane Sally');
      assert.equal(user.msisdn, '27123456789');
      assert.equal(user.locked, undefined, 'unlocked');
      assert.equal(user.groups[0], 'viewers', 'a link sets no groups');
      const again = await open('GET', `/token/${token}`);
      assert.equal(again.status, 404, 'a token is used once');
      assert.equal(again.body, `User with token ${token} could not be found.`);
      assert.equal((await open('PUT', `/token/${token}`, { password: 'another-password' })).status, 404);
    });

    test('a password reset: asked for by address in any case, mailed, used once; the old password and its sessions end', async () => {
      assert.equal((await iol.call('POST', '/users', { email: 'ryan@jembi.org', firstname: 'Ryan', surname: 'Chrichton', password: 'old-password-1', groups: ['viewers'] })).status, 201);
      const before = smtp.mails.filter((m) => m.to.includes('ryan@jembi.org')).length;
      assert.equal(before, 0, 'a user created with a password gets no link');
      const session = (await login('ryan@jembi.org', 'old-password-1')).headers.get('set-cookie')!.split(';')[0]!;
      const asked = await open('GET', '/password-reset-request/R..yan@jembi.org'.replace('..', ''));
      assert.equal(asked.status, 201, JSON.stringify(asked.body));
      const mail = await mailTo('ryan@jembi.org');
      assert.match(mail.text, /A request has been made to reset your password/);
      const token = tokenIn(mail)!;
      const details = (await open('GET', `/token/${token}`)).body;
      assert.equal(details.tokenType, 'existingUser');
      assert.equal(details.locked, false);
      assert.ok(Date.parse(details.expiry) < Date.now() + 61 * 60_000, 'a reset link lasts an hour');
      // A reset does not change names (only a new user completes the profile).
      assert.equal((await open('PUT', `/token/${token}`, { firstname: 'Someone Else', password: 'new-password-1' })).status, 200);
      assert.equal((await iol.call('GET', '/users/ryan@jembi.org')).body.firstname, 'Ryan');
      assert.equal((await login('ryan@jembi.org', 'old-password-1')).status, 401);
      assert.equal((await login('ryan@jembi.org', 'new-password-1')).status, 200);
      assert.equal((await fetch(`${iol.api}/me`, { headers: { cookie: session } })).status, 404, 'the session opened with the old password ended');
      assert.equal((await fetch(`${iol.api}/channels`, { headers: { authorization: basic('ryan@jembi.org', 'old-password-1') } })).status, 401);
    });

    test('root is refused (403); an unknown address is answered as a known one and mailed nothing; requests are throttled', async () => {
      const root = await open('GET', '/password-reset-request/root@openhim.org');
      assert.equal(root.status, 403);
      assert.equal(root.body, "Cannot request password reset for 'root@openhim.org'");
      const mailsBefore = smtp.mails.length;
      const unknown = await open('GET', '/password-reset-request/test@jembi.org');
      assert.equal(unknown.status, 201, 'no answer tells which addresses are users');
      assert.deepEqual(unknown.body, { result: 'Successfully set user token/expiry for password reset.' });
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(smtp.mails.length, mailsBefore, 'nothing is mailed to an address that is no user');
      // Three an hour per address: the fourth is 429 with Retry-After.
      for (let i = 0; i < 2; i += 1) assert.equal((await open('GET', '/password-reset-request/test@jembi.org')).status, 201);
      const throttled = await open('GET', '/password-reset-request/TEST@jembi.org');
      assert.equal(throttled.status, 429);
      assert.ok(Number(throttled.headers.get('retry-after')) > 0);
    });

    test('a refused caller uses up nobody else\'s budget; the console\'s browsers are throttled each on their own; an address list is no user', async () => {
      assert.equal((await iol.call('POST', '/users', { email: 'victim@example.org', firstname: 'V', password: 'victim-password-1' })).status, 201);
      const asBrowser = (ip: string, email: string) => {
        const target = `/password-reset-request/${encodeURIComponent(email)}`;
        return fetch(iol.api + target, { headers: senderIdentityHeaders(SECRET, `${CONSOLE_BROWSER_PREFIX}${ip}`, 'GET', target) });
      };
      // One browser behind the console spends its 30 an hour on strangers, then is refused...
      for (let i = 0; i < 30; i += 1) assert.equal((await asBrowser('198.51.100.7', `stranger${i}@example.org`)).status, 201);
      assert.equal((await asBrowser('198.51.100.7', 'victim@example.org')).status, 429);
      // ...which neither used the victim's budget nor another browser's.
      assert.equal((await asBrowser('198.51.100.8', 'victim@example.org')).status, 201);
      await mailTo('victim@example.org');
      // A signature that does not match counts as the caller's own address.
      const forged = await fetch(`${iol.api}/password-reset-request/victim%40example.org`, { headers: senderIdentityHeaders('not-the-secret-0123456789abcdef', `${CONSOLE_BROWSER_PREFIX}203.0.113.9`, 'GET', '/password-reset-request/victim%40example.org') });
      assert.equal(forged.status, 201);
      const list = await iol.call('POST', '/users', { email: 'a@example.org,evil@example.net', firstname: 'A' });
      assert.equal(list.status, 400, 'one mailbox only');
    });

    test('at most three reset links an hour reach a mailbox, whatever the request throttle forgot (a restart, a flood of other addresses)', async () => {
      assert.equal((await iol.call('POST', '/users', { email: 'capped@example.org', firstname: 'C', password: 'capped-password-1' })).status, 201);
      const fromAddress = (ip: string) => {
        const target = '/password-reset-request/capped%40example.org';
        return fetch(iol.api + target, { headers: senderIdentityHeaders(SECRET, `${CONSOLE_BROWSER_PREFIX}${ip}`, 'GET', target) });
      };
      for (const ip of ['198.51.100.21', '198.51.100.22', '198.51.100.23']) assert.equal((await fromAddress(ip)).status, 201);
      await mailTo('capped@example.org', 3);
      // The in-memory throttle is gone with a restart; the mails counted in the database are not.
      await iol.restart();
      assert.equal((await fromAddress('198.51.100.24')).status, 201, 'the answer is the same as ever');
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(smtp.mails.filter((m) => m.to.includes('capped@example.org')).length, 3, 'no fourth mail');
    });

    test('an expired token is 410; a token of another shape, or of a deleted user, 404; users of an identity provider cannot reset', async () => {
      assert.equal((await iol.call('POST', '/users', { email: 'late@example.org', firstname: 'Late' })).status, 201);
      const token = tokenIn(await mailTo('late@example.org'))!;
      await iol.t.db.query(`UPDATE iol.user_tokens SET expiry = now() - interval '1 minute'`);
      const expired = await open('GET', `/token/${token}`);
      assert.equal(expired.status, 410);
      assert.equal(expired.body, `Token ${token} has expired`);
      const expiredPut = await open('PUT', `/token/${token}`, { password: 'password-updated' });
      assert.equal(expiredPut.status, 410);
      assert.equal(expiredPut.body, `User with token ${token} has expired to set their password.`, 'OpenHIM\'s updateUserByToken text');
      for (const bad of ['hSas987asdS7y9vqqKJHDSoARXtA098g', 'x'.repeat(100), '%00', '%27%20OR%201%3D1']) assert.equal((await open('GET', `/token/${bad}`)).status, 404, bad);
      // Escaped slashes stay in the token (no other route is reached).
      assert.equal((await open('GET', '/token/..%2F..%2Fusers')).status, 404);
      assert.equal((await iol.call('POST', '/users', { email: 'gone@example.org', firstname: 'Gone' })).status, 201);
      const goneToken = tokenIn(await mailTo('gone@example.org'))!;
      assert.equal((await iol.call('DELETE', '/users/gone@example.org')).status, 200);
      assert.equal((await open('GET', `/token/${goneToken}`)).status, 404, 'the token went with its user');
      // As OpenHIM's test user (saved without a password: one given makes a local user, as OpenHIM's addUser).
      assert.equal((await iol.call('POST', '/users', { email: 'kc@keycloak.net', firstname: 'Key', provider: 'openid' })).status, 201);
      assert.equal((await open('GET', '/password-reset-request/kc@keycloak.net')).status, 403);
    });
  });
}

describe('without a mail server', () => {
  let iol: Iol;
  before(async () => {
    iol = await startIol('pglite');
  });
  after(async () => {
    await iol?.stop();
  });

  test('a reset request is 503 saying what is missing; a user created without a password is still created, locked', async () => {
    const res = await fetch(`${iol.api}/password-reset-request/someone@example.org`);
    assert.equal(res.status, 503);
    assert.match(await res.text(), /OPENHIM_SMTP_URL/);
    const created = await iol.call('POST', '/users', { email: 'nomail@example.org', firstname: 'No' });
    assert.equal(created.status, 201);
    assert.equal(created.body.locked, true);
    // An admin sets the password instead; that unlocks the user.
    assert.equal((await iol.call('PUT', '/users/nomail@example.org', { password: 'set-by-admin-1' })).status, 200);
    assert.equal((await iol.call('GET', '/users/nomail@example.org')).body.locked, undefined);
  });
});
