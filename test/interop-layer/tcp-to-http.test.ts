/**
 * OpenHIM's tcp channels as its own integration tests use them (tcpIntegrationTests.js): a `tcp`
 * channel whose primary route is `http`. The bytes a sender writes, unframed, are POSTed to the
 * route and its answer body is written back as it is; a route that fails or times out is answered
 * "An internal server error occurred", and its transaction records OpenHIM's message. The
 * connection stays open for the next message. (A tcp channel with an mllp route keeps MLLP
 * framing: client-registry/router-mllp.test.ts.)
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { testDrivers } from '../support/databases.js';
import { freePort } from '../support/cli.js';
import { startIol, type Iol } from './support.js';

/** Writes each message in turn on one connection and collects each answer (OpenHIM's socketTest, several times). */
async function converse(port: number, messages: string[]): Promise<string[]> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await new Promise((resolve, reject) => {
        const answers: string[] = [];
        const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write(messages[0]!));
        socket.on('data', (data: Buffer) => {
          answers.push(data.toString('utf8'));
          if (answers.length === messages.length) {
            socket.end();
            resolve(answers);
          } else socket.write(messages[answers.length]!);
        });
        socket.on('error', reject);
        socket.on('close', () => reject(new Error(`closed after ${answers.length} answers`)));
      });
    } catch (error) {
      // The listener starts once the channel's save reaches the routing table.
      if (attempt > 100 || !/ECONNREFUSED/.test(String(error))) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

for (const driver of testDrivers) {
  describe(`tcp channels routed to http (OpenHIM tcpIntegrationTests) on ${driver}`, () => {
    let iol: Iol;
    let upstream: http.Server;
    const seen: Array<{ method: string; url: string; body: string; type: string | undefined }> = [];
    let httpPort = 0;
    let slowPort = 0;
    const ports: Record<string, number> = {};

    before(async () => {
      upstream = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          seen.push({ method: req.method!, url: req.url!, body, type: req.headers['content-type'] });
          if (req.url === '/slow') return void setTimeout(() => res.end('too late'), 500);
          res.end(`${body} with http response`);
        });
      });
      await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
      httpPort = (upstream.address() as net.AddressInfo).port;
      slowPort = await freePort(); // nothing listens: a refused connection
      iol = await startIol(driver);
      const channel = async (name: string, route: Record<string, unknown>, extra: Record<string, unknown> = {}) => {
        ports[name] = await freePort();
        const body = { name, urlPattern: '/', allow: ['tcp'], type: 'tcp', tcpHost: '127.0.0.1', tcpPort: ports[name], routes: [{ name: `${name} route`, host: '127.0.0.1', primary: true, ...route }], ...extra };
        const created = await iol.call('POST', '/channels', body);
        assert.equal(created.status, 201, JSON.stringify(created.body));
      };
      await channel('tcp-to-http', { port: httpPort, type: 'http' });
      await channel('tcp-untyped-route', { port: httpPort });
      await channel('tcp-timeout', { port: httpPort, type: 'http', path: '/slow' }, { timeout: 20 });
      await channel('tcp-down', { port: slowPort, type: 'http' });
    });
    after(async () => {
      await iol?.stop();
      await new Promise((resolve) => upstream?.close(resolve));
    });

    test('will route tcp -> http: the bytes are POSTed, the answer body comes back unframed, the connection stays open', async () => {
      const answers = await converse(ports['tcp-to-http']!, ['Tcp Request', 'Second request']);
      assert.deepEqual(answers, ['Tcp Request with http response', 'Second request with http response']);
      const calls = seen.filter((s) => s.body === 'Tcp Request' || s.body === 'Second request');
      assert.deepEqual(calls.map((c) => `${c.method} ${c.url}`), ['POST /', 'POST /']);
      const logged = await iol.call('GET', '/transactions?filterRepresentation=full&filterLimit=10');
      const ours = logged.body.filter((t: { request: { body?: string } }) => t.request.body === 'Tcp Request');
      assert.equal(ours.length, 1);
      assert.equal(ours[0].status, 'Successful');
      assert.equal(ours[0].response.body, 'Tcp Request with http response');
      // A route without a type is http, as in OpenHIM.
      assert.deepEqual(await converse(ports['tcp-untyped-route']!, ['untyped']), ['untyped with http response']);
    });

    test('will timeout a socket: "An internal server error occurred", the transaction failed with OpenHIM\'s message', async () => {
      assert.deepEqual(await converse(ports['tcp-timeout']!, ['Tcp Request slow']), ['An internal server error occurred']);
      const logged = await iol.call('GET', '/transactions?filterRepresentation=full&filterLimit=20');
      const failed = logged.body.find((t: { request: { body?: string } }) => t.request.body === 'Tcp Request slow');
      assert.equal(failed.status, 'Failed');
      assert.equal(failed.error.message, 'Request took longer than 20ms');
      const down = await converse(ports['tcp-down']!, ['Data']);
      assert.deepEqual(down, ['An internal server error occurred']);
    });
  });
}
