/**
 * Care services review (issue 14), the update consumer against hand-made sources:
 * - valid history entries without their optional elements (a DELETE without etag, a resource
 *   without meta.versionId) are applied, and an entry that cannot be applied is counted, not
 *   skipped silently;
 * - a page listing children before their parents is applied in one pass (attempts counted by a
 *   write interceptor: child-first used to cost n²/2 inside one transaction);
 * - a source that never answers, or stalls mid-page, ends the run at the fetch deadline;
 * - endless paging (empty pages with next links, a page asked again) ends the run with an error;
 * - a redirect is not followed (it would carry the source's Authorization header);
 * - a clean run clears the last error.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FhirEngine } from '../../src/fhir/engine.js';
import { createCareServicesEngine } from '../../src/services/care-services/index.js';
import { UpdateConsumer } from '../../src/services/care-services/update-consumer.js';
import { openTestDatabase, testDrivers, type TestDatabase } from '../support/databases.js';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const ago = (seconds: number): string => new Date(Date.now() - seconds * 1000).toISOString();
const history = (entry: unknown[], next?: string) => ({ resourceType: 'Bundle', type: 'history', entry, ...(next ? { link: [{ relation: 'next', url: next }] } : {}) });
function json(res: ServerResponse, body: unknown, status = 200): void {
  res.writeHead(status, { 'content-type': 'application/fhir+json' });
  res.end(JSON.stringify(body));
}

/** Settles with the run's outcome, or 'still running' after `ms`. */
async function outcomeWithin(run: Promise<unknown>, ms: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      run.then(() => 'finished', (error: Error) => `error: ${error.message}`),
      new Promise<string>((resolve) => { timer = setTimeout(() => resolve('still running'), ms); }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

for (const driver of testDrivers) {
  describe(`update consumer review findings on ${driver}`, () => {
    let database: TestDatabase;
    let engine: FhirEngine;
    let server: Server;
    let origin: string;
    let handler: Handler = (_req, res) => json(res, history([]));
    const requests: Array<{ path: string; authorization?: string }> = [];
    let locationWrites = 0;

    before(async () => {
      database = await openTestDatabase(driver);
      engine = await createCareServicesEngine({ db: database.db });
      engine.addWriteInterceptor({ name: 'count Location writes', types: ['Location'], before: () => { locationWrites++; } });
      server = createServer((req, res) => {
        requests.push({ path: req.url!, ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
        handler(req, res);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(async () => {
      server.closeAllConnections();
      server.close();
      await engine.settle();
      await database.dispose();
    });

    test('a DELETE without etag and a resource without versionId are applied; an entry without a time is reported', async () => {
      const base = `${origin}/optional/fhir`;
      let page: unknown[] = [{ fullUrl: `${base}/Location/gone`, resource: { resourceType: 'Location', id: 'gone', name: 'Gone', meta: { versionId: '1', lastUpdated: ago(60) } }, request: { method: 'PUT', url: 'Location/gone' } }];
      handler = (req, res) => json(res, history(req.url!.includes('/Location/') ? page : []));
      const consumer = new UpdateConsumer(engine, { source: base, types: ['Location'] });
      assert.equal((await consumer.runOnce()).applied, 1);
      page = [
        { fullUrl: `${base}/Location/gone`, request: { method: 'DELETE', url: 'Location/gone' }, response: { status: '204', lastModified: ago(30) } },
        { fullUrl: `${base}/Location/unversioned`, resource: { resourceType: 'Location', id: 'unversioned', name: 'No versionId', meta: { lastUpdated: ago(30) } }, request: { method: 'PUT', url: 'Location/unversioned' } },
        { fullUrl: `${base}/Location/timeless`, request: { method: 'DELETE', url: 'Location/timeless' }, response: { status: '204' } },
      ];
      const report = await consumer.runOnce();
      assert.equal(report.applied, 2, JSON.stringify(report));
      assert.equal(report.failed, 1, 'the entry without a time is counted');
      const repo = engine.repository();
      await assert.rejects(repo.read('Location', 'gone'), (error: { status: number }) => error.status === 410);
      assert.equal(((await repo.read('Location', 'unversioned')) as { name?: string }).name, 'No versionId');
      const status = await consumer.status();
      assert.match(status.recentErrors.at(-1)!, /Location\/timeless: neither meta.lastUpdated nor response.lastModified/);
      // Read again (the look-back window): the unversioned change is recognised, not written again.
      const again = await consumer.runOnce();
      assert.equal(again.applied, 0, JSON.stringify(again));
    });

    test('Locations listed children first are applied in one pass, one attempt each', async () => {
      const base = `${origin}/childfirst/fhir`;
      const t0 = Date.now() - 3600_000;
      const entries: unknown[] = [];
      for (let chain = 0; chain < 2; chain++) {
        for (let i = 0; i < 16; i++) {
          // Each child is older than its parent and listed before it: the worst order there is.
          const resource = { resourceType: 'Location', id: `cf${chain}-${i}`, name: 'c', meta: { versionId: '1', lastUpdated: new Date(t0 + (chain * 20 + i) * 1000).toISOString() },
            ...(i < 15 ? { partOf: { reference: `Location/cf${chain}-${i + 1}` } } : {}) };
          entries.push({ fullUrl: `${base}/Location/${resource.id}`, resource, request: { method: 'PUT', url: `Location/${resource.id}` } });
        }
      }
      handler = (req, res) => json(res, history(req.url!.includes('/Location/') ? entries : []));
      locationWrites = 0;
      const report = await new UpdateConsumer(engine, { source: base, types: ['Location'], chunkSize: 10 }).runOnce();
      assert.equal(report.applied, 32, JSON.stringify(report));
      assert.equal(report.failed, 0);
      assert.equal(locationWrites, 32, 'one write attempt per Location');
    });

    test('a source that never answers, or stalls mid-page, ends the run at the fetch deadline', async () => {
      handler = (req, res) => {
        if (req.url!.startsWith('/stall/')) {
          res.writeHead(200, { 'content-type': 'application/fhir+json' });
          res.write('{"resourceType":"Bundle","type":"history","entry":[');
        }
        // /silent/: accepts and never answers
      };
      for (const path of ['silent', 'stall']) {
        const consumer = new UpdateConsumer(engine, { source: `${origin}/${path}/fhir`, types: ['Practitioner'], fetchTimeoutMs: 300 });
        const outcome = await outcomeWithin(consumer.runOnce(), 20_000);
        if (outcome === 'still running') await consumer.stop();
        assert.match(outcome, /error: the source did not answer Practitioner\/_history within 300 ms/, path);
        assert.equal((await consumer.status()).running, false);
      }
    });

    test('endless paging ends the run: empty pages with next links, or a page asked again', async () => {
      handler = (req, res) => {
        const url = new URL(req.url!, origin);
        const n = Number(url.searchParams.get('n') ?? 0);
        if (url.pathname.startsWith('/empty/')) json(res, history([], `${origin}/empty/fhir/Practitioner/_history?n=${n + 1}`));
        // The same unchanged version on every page, each with a new next link (a reviewer's source: 600 pages a second).
        else if (url.pathname.startsWith('/same/')) json(res, history([{ fullUrl: 'Practitioner/same', resource: { resourceType: 'Practitioner', id: 'same', meta: { versionId: '1', lastUpdated: ago(100) } }, request: { method: 'PUT', url: 'Practitioner/same' } }],
          `${origin}/same/fhir/Practitioner/_history?n=${n + 1}`));
        else json(res, history([{ fullUrl: 'Practitioner/p', resource: { resourceType: 'Practitioner', id: `loop-${n}`, meta: { versionId: '1', lastUpdated: ago(100) } }, request: { method: 'PUT', url: 'Practitioner/p' } }],
          `${origin}/loop/fhir/Practitioner/_history?n=${(n + 1) % 2}`));
      };
      // One run against a source path: how it ended (a run still going after 20 s is stopped).
      const runAgainst = async (path: string): Promise<string> => {
        requests.length = 0;
        const consumer = new UpdateConsumer(engine, { source: `${origin}/${path}/fhir`, types: ['Practitioner'] });
        const outcome = await outcomeWithin(consumer.runOnce(), 20_000);
        if (outcome === 'still running') await consumer.stop();
        return outcome;
      };
      assert.match(await runAgainst('empty'), /error: the source sent 10 pages of Practitioner\/_history in a row with nothing new/);
      assert.ok(requests.length <= 10, `asked ${requests.length} times`);
      assert.match(await runAgainst('loop'), /error: the source's next link for Practitioner\/_history points at a page already read/);
      assert.match(await runAgainst('same'), /error: the source sent 10 pages of Practitioner\/_history in a row with nothing new/);
      assert.ok(requests.length <= 11, `asked ${requests.length} times`);
    });

    test('a redirect is not followed, so the source\'s credentials go nowhere else', async () => {
      handler = (req, res) => {
        if (req.url!.startsWith('/redirecting/')) {
          res.writeHead(307, { location: `${origin}/admin/secrets` });
          res.end();
        } else json(res, history([]));
      };
      requests.length = 0;
      const consumer = new UpdateConsumer(engine, { source: `${origin}/redirecting/fhir`, types: ['Practitioner'], headers: { authorization: 'Bearer source-only' } });
      await assert.rejects(consumer.runOnce(), /redirect \(307\): not followed/);
      assert.deepEqual(requests.filter((r) => !r.path.startsWith('/redirecting/')), []);
    });

    test('a clean run clears the last error', async () => {
      let broken = true;
      handler = (_req, res) => (broken ? json(res, { resourceType: 'OperationOutcome' }, 500) : json(res, history([])));
      const consumer = new UpdateConsumer(engine, { source: `${origin}/flaky/fhir`, types: ['Practitioner'] });
      await assert.rejects(consumer.runOnce(), /answered 500/);
      assert.match((await consumer.status()).lastError ?? '', /answered 500/);
      broken = false;
      await consumer.runOnce();
      assert.equal((await consumer.status()).lastError, null);
    });
  });
}
