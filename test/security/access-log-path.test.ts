/**
 * Access log lines never hold URL userinfo, a query or path parameters (a re-check found the
 * Fastify services' lines, the admin API's among them, logging `//root:PASSWORD@h/heartbeat`
 * as sent, after the router's own lines had been cleaned).
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import net from 'node:net';
import { test } from 'node:test';
import { createHttpApp, enableAccessLog } from '../../src/common/http-app.js';
import { createLogger } from '../../src/common/logger.js';
import { loggablePath } from '../../src/common/loggable-path.js';

const SECRET = 'PW-s3cret-9';

test('loggablePath drops userinfo in every spelling, queries, path parameters and encoded queries', () => {
  const cases: Array<[string, string]> = [
    [`http://emr:${SECRET}@127.0.0.1:5001/echo/abs1`, '/echo/abs1'],
    [`//emr:${SECRET}@h/echo/abs2`, '//h/echo/abs2'],
    [`/%2F%2Femr:${SECRET}@h/echo`, '/%2Fh/echo'],
    [`/%2f%2femr:${SECRET}%40h/echo`, '/%2fh/echo'],
    [`/\\emr:${SECRET}@h/echo`, '/\\h/echo'],
    [`/fhir/Patient;jsessionid=${SECRET}`, '/fhir/Patient'],
    [`/fhir/Patient%3Faccess_token=${SECRET}`, '/fhir/Patient'],
    [`/fhir/Patient?_token=${SECRET}`, '/fhir/Patient'],
    ['/users/root@openhim.org', '/users/root@openhim.org'],
  ];
  for (const [target, logged] of cases) {
    assert.equal(loggablePath(target), logged, target);
    assert.ok(!loggablePath(target).includes(SECRET), target);
  }
});

test("a Fastify service's access line (the admin API's, the FHIR services') holds no userinfo sent in the request target", async () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  enableAccessLog();
  const app = createHttpApp({ logger: createLogger({ extra: [sink], level: 'info' }) });
  app.get('/heartbeat', async () => ({ ok: true }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as net.AddressInfo;
  try {
    for (const target of [`//root:${SECRET}@h/heartbeat`, `/heartbeat;jsessionid=${SECRET}`, `http://root:${SECRET}@127.0.0.1/heartbeat`]) {
      await new Promise<void>((resolve, reject) => {
        const socket = net.connect(port, '127.0.0.1', () => socket.end(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`));
        socket.on('data', () => undefined);
        socket.on('close', () => resolve());
        socket.on('error', reject);
      });
    }
    // The line is written by an onResponse hook, after the answer went out: wait for all three.
    const requestLines = () => lines.filter((line) => line.includes('"msg":"request"'));
    for (let waited = 0; requestLines().length < 3 && waited < 10_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(requestLines().length, 3, lines.join(''));
    for (const line of requestLines()) assert.ok(!line.includes(SECRET), line);
  } finally {
    await app.close();
  }
});
