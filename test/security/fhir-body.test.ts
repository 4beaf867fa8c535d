/**
 * Finding 12 (large bodies): 24 concurrent 14 MB valid creates gave 500s and 2.6 GB of RSS that
 * stayed. A FHIR service now holds at most FHIR_MAX_INFLIGHT_BODY_BYTES of request bodies at once
 * (503 with Retry-After past it, reserved from Content-Length before the body is read), a body over
 * the body limit is a 413 before it is read, and large valid resources are stored (their long
 * strings no longer overflow the index, their many tokens no longer take minutes to index).
 * Sizes are scaled down so the test stays small.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { testDrivers } from '../support/databases.js';
import { diagnostics, startLimitedFhirServer, type LimitedFhirServer } from './fhir-body-support.js';

const KB = 1024;
const MB = 1024 * KB;

/** Opens a connection and sends a request's head (and optionally part of its body), returning what comes back. */
function partialRequest(base: string, head: Record<string, string>, firstBytes = ''): { socket: Socket; response: Promise<string> } {
  const url = new URL(`${base}/Patient`);
  const socket = connect(Number(url.port), url.hostname);
  const lines = [`POST ${url.pathname} HTTP/1.1`, `host: ${url.host}`, 'content-type: application/fhir+json', ...Object.entries(head).map(([k, v]) => `${k}: ${v}`)];
  socket.write(`${lines.join('\r\n')}\r\n\r\n${firstBytes}`);
  const response = new Promise<string>((resolve) => {
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString('utf8');
      if (/\r\n\r\n[\s\S]*\}$/.test(text)) resolve(text);
    });
    socket.on('close', () => resolve(text));
    socket.on('error', () => resolve(text));
  });
  return { socket, response };
}

/** A valid Patient of about `bytes` bytes: many identifiers and names with long strings. */
function largePatient(bytes: number): Record<string, unknown> {
  const identifiers = Math.floor(bytes / 2 / 100);
  return {
    resourceType: 'Patient',
    identifier: Array.from({ length: identifiers }, (_, i) => ({ system: `urn:test:${i}`, value: randomBytes(32).toString('hex') })),
    name: Array.from({ length: 4 }, () => ({ family: randomBytes(Math.floor(bytes / 16)).toString('hex'), given: ['Large'] })),
  };
}

for (const driver of testDrivers) {
  describe(`FHIR request bodies are bounded one by one and together (${driver})`, () => {
    let s: LimitedFhirServer;
    before(async () => {
      s = await startLimitedFhirServer(driver, { bodyLimit: 2 * MB, limits: { fhirInflightBodyBytes: 1 * MB } });
    });
    after(async () => {
      await s.close();
    });

    test('a declared Content-Length over the body limit is a 413 before the body is sent', async () => {
      const { socket, response } = partialRequest(s.base, { 'content-length': String(100 * MB) }, '{"resourceType":');
      const text = await response;
      socket.destroy();
      assert.match(text, /^HTTP\/1\.1 413/);
      assert.match(text, /OperationOutcome/);
    });

    test('bodies past the in-flight budget get 503 with Retry-After; the budget returns when a body is done or abandoned', async () => {
      // A slow client declares 700 KB and sends a little: the budget (1 MB) holds its 700 KB.
      const slow = partialRequest(s.base, { 'content-length': String(700 * KB) }, '{"resourceType":"Patient",');
      await new Promise((resolve) => setTimeout(resolve, 200));
      const body = JSON.stringify({ resourceType: 'Patient', name: [{ family: 'x'.repeat(600 * KB) }] });
      const refused = await s.request('POST', 'Patient', { raw: body });
      assert.equal(refused.status, 503, diagnostics(refused.body));
      assert.equal(refused.body.resourceType, 'OperationOutcome');
      assert.equal(refused.headers.get('retry-after'), '1');
      assert.match(diagnostics(refused.body), /FHIR_MAX_INFLIGHT_BODY_BYTES/);
      // small requests still fit beside it
      const small = await s.request('POST', 'Patient', { body: { resourceType: 'Patient', gender: 'other' } });
      assert.equal(small.status, 201, diagnostics(small.body));
      // the slow client gives up: its reservation is released
      slow.socket.destroy();
      await slow.response;
      await new Promise((resolve) => setTimeout(resolve, 100));
      const accepted = await s.request('POST', 'Patient', { raw: body });
      assert.notEqual(accepted.status, 503, diagnostics(accepted.body));
      assert.ok(accepted.status < 500, `${accepted.status} ${diagnostics(accepted.body)}`);
    });

    test('a chunked body without Content-Length is counted as it arrives', async () => {
      const slow = partialRequest(s.base, { 'transfer-encoding': 'chunked' });
      const chunk = `{"resourceType":"Patient","name":[{"family":"${'y'.repeat(900 * KB)}`;
      slow.socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const refused = await s.request('POST', 'Patient', { raw: JSON.stringify({ resourceType: 'Patient', name: [{ family: 'z'.repeat(300 * KB) }] }) });
      assert.equal(refused.status, 503, diagnostics(refused.body));
      slow.socket.destroy();
      await slow.response;
    });
  });

  describe(`large valid resources are stored, never a 500 (${driver})`, () => {
    let s: LimitedFhirServer;
    before(async () => {
      s = await startLimitedFhirServer(driver, { bodyLimit: 4 * MB, limits: { fhirInflightBodyBytes: 8 * MB } });
    });
    after(async () => {
      await s.close();
    });

    test('concurrent ~1.5 MB creates: each 201 (or 503 when the budget is full), RSS bounded, and readable', async () => {
      const bodies = Array.from({ length: 6 }, () => JSON.stringify(largePatient(1.5 * MB)));
      const replies = await Promise.all(bodies.map((raw) => s.request('POST', 'Patient', { raw })));
      const statuses = replies.map((r) => r.status);
      assert.ok(statuses.every((status) => status === 201 || status === 503), `${statuses} ${replies.map((r) => diagnostics(r.body)).join(' | ').slice(0, 500)}`);
      assert.ok(statuses.includes(201));
      const stored = replies.find((r) => r.status === 201)!;
      const read = await s.request('GET', `Patient/${stored.body.id}`);
      assert.equal(read.status, 200);
      assert.equal(read.body.identifier.length, stored.body.identifier.length);
      const found = await s.request('GET', `Patient?identifier=${encodeURIComponent(`${stored.body.identifier[7].system}|${stored.body.identifier[7].value}`)}&_elements=id`);
      assert.equal(found.body.total, 1);
      assert.ok(process.memoryUsage().rss < 1.5 * 1024 * MB, `rss ${process.memoryUsage().rss}`);
    });
  });
}
