/**
 * The SMS gateway of alerts (common/sms-gateway.ts): a URL template filled and fetched, refused at
 * start when it cannot be one, and never letting its key into an error.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createSmsGateway } from '../../src/common/sms-gateway.js';
import { startUpstream, type Upstream } from './support.js';

let gateway: Upstream;
before(async () => {
  gateway = await startUpstream();
  gateway.handle('/refuse', (_req, res) => res.writeHead(401).end('bad key'));
});
after(async () => {
  await gateway?.close();
});

test('the number and the text are URL-encoded into the template; a 2xx is a message taken', async () => {
  const sms = createSmsGateway(`http://127.0.0.1:${gateway.port}/send?key=s3cret&to={to}&text={text}`);
  assert.equal(sms.configured, true);
  await sms.send('+27 (83) 123-4567', 'Alert - 2 transactions & more?');
  const query = new URL(gateway.seen.at(-1)!.url, 'http://x').searchParams;
  assert.equal(query.get('to'), '+27831234567');
  assert.equal(query.get('text'), 'Alert - 2 transactions & more?');
  assert.equal(query.get('key'), 's3cret');
});

test('not a phone number, a refusal, an unreachable gateway: errors that never show the key', async () => {
  const refusing = createSmsGateway(`http://127.0.0.1:${gateway.port}/refuse?key=s3cret&to={to}&text={text}`);
  await assert.rejects(refusing.send('27831234567', 'x'), (error: Error) => /HTTP 401/.test(error.message) && !error.message.includes('s3cret'));
  await assert.rejects(refusing.send('27831234567&key=other', 'x'), /not a phone number/);
  await assert.rejects(refusing.send('call me', 'x'), /not a phone number/);
  const down = createSmsGateway('http://127.0.0.1:1/send?key=s3cret&to={to}&text={text}');
  await assert.rejects(down.send('27831234567', 'x'), (error: Error) => /could not be reached/.test(error.message) && !error.message.includes('s3cret'));
  const none = createSmsGateway(undefined);
  assert.equal(none.configured, false);
  await assert.rejects(none.send('27831234567', 'x'), /OPENHIM_SMS_URL/);
});

test('a template that cannot be one is refused at start, saying what it needs', () => {
  for (const [template, reason] of [
    ['not a url {to} {text}', /not a URL/],
    ['ftp://gw.example.org/?to={to}&text={text}', /http or https/],
    ['https://gw.example.org/send?to={to}', /\{to\} and \{text\}/],
  ] as const) {
    assert.throws(() => createSmsGateway(template), (error: Error & { code?: string }) => error.code === 'INSTANT_SETTING_INVALID' && reason.test(error.message));
  }
});
