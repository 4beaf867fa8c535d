/**
 * The update consumer against a hand-made source (a small HTTP server): a huge page is refused
 * with a clear error (it used to overflow the stack), pages are applied one by one (page 1 is
 * stored before page 2 is asked for), and stop() cuts a long Retry-After wait short.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FhirEngine } from '../../src/fhir/engine.js';
import { createCareServicesEngine } from '../../src/services/care-services/index.js';
import { UpdateConsumer } from '../../src/services/care-services/update-consumer.js';
import { openTestDatabase, testDrivers, type TestDatabase } from '../support/databases.js';

type Answer = (url: URL) => { status: number; headers?: Record<string, string>; body: unknown } | Promise<{ status: number; headers?: Record<string, string>; body: unknown }>;

async function fakeSource(answer: { current: Answer }): Promise<{ server: Server; base: string }> {
  const server = createServer((req, res) => {
    void (async () => {
      const reply = await answer.current(new URL(req.url!, 'http://x'));
      res.writeHead(reply.status, { 'content-type': 'application/fhir+json', ...reply.headers });
      res.end(reply.body instanceof Buffer ? reply.body : JSON.stringify(reply.body));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir` };
}

const version = (id: string, lastUpdated: string) => ({
  fullUrl: `Practitioner/${id}`,
  resource: { resourceType: 'Practitioner', id, meta: { versionId: '1', lastUpdated }, name: [{ family: id }] },
  request: { method: 'PUT', url: `Practitioner/${id}` },
});

for (const driver of testDrivers) {
  describe(`update consumer source limits on ${driver}`, () => {
    let database: TestDatabase;
    let engine: FhirEngine;
    const answer: { current: Answer } = { current: () => ({ status: 404, body: {} }) };
    let source: { server: Server; base: string };

    before(async () => {
      database = await openTestDatabase(driver);
      engine = await createCareServicesEngine({ db: database.db });
      source = await fakeSource(answer);
    });
    after(async () => {
      source.server.close();
      await engine.settle();
      await database.dispose();
    });

    test('a page with more entries than CARE_SERVICES_CONSUMER_MAX_PAGE_ENTRIES is a clear error, not a stack overflow', async () => {
      const entry = { request: { method: 'DELETE', url: 'Practitioner/x' }, response: { status: '204', etag: 'W/"2"', lastModified: '2024-01-01T00:00:00Z' } };
      answer.current = () => ({ status: 200, body: { resourceType: 'Bundle', type: 'history', entry: Array.from({ length: 130_000 }, () => entry) } });
      const consumer = new UpdateConsumer(engine, { source: source.base, types: ['Practitioner'] });
      await assert.rejects(consumer.runOnce(), (error: Error) => {
        assert.doesNotMatch(error.message, /call stack/);
        assert.match(error.message, /CARE_SERVICES_CONSUMER_MAX_PAGE_ENTRIES/);
        return true;
      });
      const small = new UpdateConsumer(engine, { source: source.base, types: ['Practitioner'], maxPageBytes: 64 * 1024 });
      await assert.rejects(small.runOnce(), /CARE_SERVICES_CONSUMER_MAX_PAGE_BYTES/);
    });

    test('each page is applied before the next is asked for', async () => {
      let storedWhenPage2Asked: boolean | undefined;
      answer.current = async (url) => {
        if (url.searchParams.get('page') === '2') {
          storedWhenPage2Asked = await engine.repository().read('Practitioner', 'p-page-1').then(() => true, () => false);
          return { status: 200, body: { resourceType: 'Bundle', type: 'history', entry: [version('p-page-2', '2024-01-01T00:00:00Z')] } };
        }
        return { status: 200, body: { resourceType: 'Bundle', type: 'history', entry: [version('p-page-1', '2024-01-02T00:00:00Z')], link: [{ relation: 'next', url: `${source.base}/Practitioner/_history?page=2` }] } };
      };
      const consumer = new UpdateConsumer(engine, { source: source.base, types: ['Practitioner'] });
      const report = await consumer.runOnce();
      assert.equal(report.applied, 2);
      assert.equal(storedWhenPage2Asked, true, 'page 1 was stored before page 2 was read');
      assert.equal((await consumer.status()).typeCursors.Practitioner, '2024-01-02T00:00:00.000Z');
    });

    test('next links off the source (another origin, or another path of its host) are not followed, and its credentials go nowhere else', async () => {
      const calls: Array<string | undefined> = [];
      const elsewhere = await fakeSource({ current: () => ({ status: 200, body: { resourceType: 'Bundle', type: 'history' } }) });
      elsewhere.server.prependListener('request', (req) => calls.push(req.headers.authorization));
      for (const next of [`${elsewhere.base}/Practitioner/_history?page=2`, `${new URL(source.base).origin}/admin/secrets`]) {
        answer.current = () => ({ status: 200, body: { resourceType: 'Bundle', type: 'history', entry: [], link: [{ relation: 'next', url: next }] } });
        const consumer = new UpdateConsumer(engine, { source: source.base, types: ['Practitioner'], headers: { authorization: 'Basic c2VjcmV0' } });
        await assert.rejects(consumer.runOnce(), /leaves the source/);
      }
      elsewhere.server.close();
      assert.deepEqual(calls, [], 'nothing was sent to another server');
    });

    test('a lastUpdated in the future or no time at all is a failure and does not move the cursor', async () => {
      answer.current = () => ({ status: 200, body: { resourceType: 'Bundle', type: 'history', entry: [
        version('p-future', '2999-01-01T00:00:00Z'), version('p-no-time', 'yesterday'), version('p-fine', '2024-01-03T00:00:00Z')] } });
      const consumer = new UpdateConsumer(engine, { source: `${source.base}/trust`, types: ['Practitioner'] });
      const report = await consumer.runOnce();
      assert.equal(report.failed, 2, JSON.stringify(report));
      assert.equal(report.applied, 1);
      const status = await consumer.status();
      assert.equal(status.typeCursors.Practitioner, '2024-01-03T00:00:00.000Z', 'the cursor stops at the newest valid entry');
      assert.match(status.recentErrors.join(' '), /p-future .*not a past instant/);
      await assert.rejects(engine.repository().read('Practitioner', 'p-future'));
    });

    test('a resource written here by someone else is a conflict, not overwritten or deleted by the source', async () => {
      await engine.repository().update('Practitioner', 'local-only', { resourceType: 'Practitioner', id: 'local-only', name: [{ family: 'Local' }] });
      await engine.repository().update('Practitioner', 'local-two', { resourceType: 'Practitioner', id: 'local-two', name: [{ family: 'Local' }] });
      const gone = { request: { method: 'DELETE', url: 'Practitioner/local-two' }, response: { status: '204', etag: 'W/"2"', lastModified: '2024-01-05T00:00:00Z' } };
      answer.current = () => ({ status: 200, body: { resourceType: 'Bundle', type: 'history', entry: [version('local-only', '2024-01-04T00:00:00Z'), gone] } });
      const consumer = new UpdateConsumer(engine, { source: `${source.base}/conflicts`, types: ['Practitioner'] });
      const report = await consumer.runOnce();
      assert.equal(report.failed, 2, JSON.stringify(report));
      assert.equal(report.applied, 0);
      assert.equal(((await engine.repository().read('Practitioner', 'local-only')) as { name: Array<{ family: string }> }).name[0]!.family, 'Local');
      await engine.repository().read('Practitioner', 'local-two');
      assert.match((await consumer.status()).recentErrors.join(' '), /conflict: Practitioner\/local-only/);
    });

    test('an entry that is no object is a failure of its own; an answer that is no history Bundle is a clear error', async () => {
      answer.current = () => ({ status: 200, body: { resourceType: 'Bundle', type: 'history', entry: [null, 'x', version('p-after-null', '2024-01-06T00:00:00Z')] } });
      const consumer = new UpdateConsumer(engine, { source: `${source.base}/shapes`, types: ['Practitioner'] });
      const report = await consumer.runOnce();
      assert.equal(report.failed, 2, JSON.stringify(report));
      assert.equal(report.applied, 1, 'the good entry after them is applied');
      await engine.repository().read('Practitioner', 'p-after-null');
      assert.match((await consumer.status()).recentErrors.join(' '), /entry 1 of a Practitioner history page is not an object/);
      // A 200 that is not a Bundle was read as "no changes" ({}, an OperationOutcome) or failed with a TypeError.
      for (const body of [null, {}, { resourceType: 'OperationOutcome', issue: [] }, { resourceType: 'Bundle', entry: { a: 1 } }, { resourceType: 'Bundle', entry: [], link: { relation: 'next' } }]) {
        answer.current = () => ({ status: 200, body });
        await assert.rejects(new UpdateConsumer(engine, { source: `${source.base}/shapes`, types: ['Practitioner'] }).runOnce(),
          /the source's answer to Practitioner\/_history is not a history Bundle/, JSON.stringify(body));
      }
    });

    test('an answer that is not JSON is an error that does not quote the source', async () => {
      answer.current = () => ({ status: 200, body: Buffer.from('<html>session=s3cr3t-from-the-source</html>') });
      const consumer = new UpdateConsumer(engine, { source: `${source.base}/not-json`, types: ['Practitioner'] });
      await assert.rejects(consumer.runOnce(), /the source's answer to Practitioner\/_history is not JSON/);
      const status = await consumer.status();
      assert.doesNotMatch(`${status.lastError} ${status.recentErrors.join(' ')}`, /<html>|s3cr/, 'the status, served over HTTP, carries none of the source\'s words');
    });

    test('stop() cuts a Retry-After wait short', async () => {
      let asked!: () => void;
      const busy = new Promise<void>((resolve) => { asked = resolve; });
      answer.current = () => { asked(); return { status: 503, headers: { 'retry-after': '3600' }, body: {} }; };
      const consumer = new UpdateConsumer(engine, { source: source.base, types: ['Practitioner'] });
      const run = consumer.runOnce().catch(() => undefined);
      await busy;
      // Without the cut the run would wait a minute per retry; a 30 s guard fails the test instead of hanging.
      let guard: NodeJS.Timeout | undefined;
      const stopped = await Promise.race([consumer.stop().then(() => true), new Promise((resolve) => { guard = setTimeout(() => resolve(false), 30_000); })]);
      clearTimeout(guard);
      assert.equal(stopped, true, 'stop() returned while the source asked for an hour');
      await run;
    });
  });
}
