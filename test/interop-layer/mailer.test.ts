/**
 * The mailer's bounds (common/mailer.ts): a mail server that answers a line at a time forever
 * cannot hold a send or the process once the mailer closes; credentials are not sent in the clear
 * to a server elsewhere; only one mailbox is ever an address.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { createMailer } from '../../src/common/mailer.js';
import { createLogger } from '../../src/common/logger.js';
import { ONE_MAILBOX } from '../../src/common/email-address.js';

test('a server that drips its greeting line by line: close() ends the send at once and drops its connection', async () => {
  let serverSide: net.Socket | undefined;
  const server = net.createServer((socket) => {
    serverSide = socket;
    socket.on('error', () => undefined);
    socket.write('220-mail.example.org dripping\r\n');
    const drip = setInterval(() => socket.write('220-still here\r\n'), 200);
    socket.on('close', () => clearInterval(drip));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const mailer = createMailer(`smtp://127.0.0.1:${port}`, 'openhim@example.org', createLogger());
  const started = Date.now();
  const sending = mailer.send({ to: 'ops@example.org', subject: 'x', text: 'y' });
  await new Promise((resolve) => setTimeout(resolve, 700));
  mailer.close();
  await assert.rejects(sending, /did not take the message/);
  assert.ok(Date.now() - started < 3000, `the send ended ${Date.now() - started} ms after it began`);
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(serverSide?.destroyed || serverSide?.readableEnded, true, 'the connection is gone');
  server.close();
});

test('one mailbox: source routes, relay hacks, look-alike commas and invisible characters are not addresses', () => {
  for (const good of ['root@openhim.org', 'a.b+c@x.co.za', 'user@localhost', 'Jöns@exämple.org', "o'brien@example.ie"]) assert.ok(ONE_MAILBOX.test(good), good);
  for (const bad of ['a12@x.org@y.org', 'a26%b@y.org', 'a!b@y.org', 'a\u0085b@x.org', 'a\uff0cb@x.org', 'a\u060cb@x.org', 'a\u200bb@x.org', 'a\u00adb@x.org', 'a b@x.org', '"q"@x.org', 'a@x.org.', 'a,b@x.org', '<a@x.org>', 'a@[127.0.0.1]']) {
    assert.ok(!ONE_MAILBOX.test(bad), JSON.stringify(bad));
  }
});
