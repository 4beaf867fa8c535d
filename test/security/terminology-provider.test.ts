/**
 * A terminology service over HTTP that fails or misbehaves must not make the shared health record
 * hang, crash, accept a write unchecked or read without bound: a write whose bound codings cannot
 * be judged, and a search whose :in cannot be expanded, get a 503 OperationOutcome once
 * FHIR_TERMINOLOGY_TIMEOUT_MS has passed (the message says which deadline ended it); an answer past FHIR_TERMINOLOGY_MAX_RESPONSE_BYTES is dropped; an
 * expansion past FHIR_SEARCH_MAX_TERMINOLOGY_CODES is refused from its first page, and a large
 * one is read in bounded pages.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_LIMITS, type Limits } from '../../src/common/limits.js';
import type { FhirEngine } from '../../src/fhir/engine.js';
import { HttpTerminologyProvider } from '../../src/fhir/terminology/http-provider.js';
import { fallingBackToCore } from '../../src/fhir/terminology/process-provider.js';
import { createSharedHealthRecordEngine } from '../../src/services/shared-health-record/index.js';
import { openTestDatabase, testDrivers, type TestDatabase } from '../support/databases.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any
type Behaviour = (req: IncomingMessage, res: ServerResponse, url: URL) => void;

const CLINICAL_VS = 'http://hl7.org/fhir/ValueSet/condition-clinical';
const BIG_VS = 'http://example.org/vs/big';
const SYSTEM = 'http://example.org/cs/big';
const TIMEOUT_MS = 300;

/** A fake terminology server whose behaviour each test sets. */
async function fakeTerminology(): Promise<{ server: Server; base: string; set(b: Behaviour): void; calls: URL[] }> {
  let behaviour: Behaviour = (_req, res) => res.end();
  const calls: URL[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url!, 'http://x');
    calls.push(url);
    behaviour(req, res, url);
    if (req.listenerCount('data') === 0) req.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return { server, base: `http://127.0.0.1:${port}/terminology/fhir`, set: (b) => { behaviour = b; }, calls };
}

const json = (res: ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, { 'content-type': 'application/fhir+json' });
  res.end(JSON.stringify(body));
};

/** A paged expansion of `total` codes, as a terminology service answers count/offset. */
const pagedExpansion = (total: number): Behaviour => (_req, res, url) => {
  const count = Number(url.searchParams.get('count'));
  const offset = Number(url.searchParams.get('offset'));
  const contains = Array.from({ length: Math.max(0, Math.min(count, total - offset)) }, (_, n) => ({ system: SYSTEM, code: `c${offset + n}` }));
  json(res, 200, { resourceType: 'ValueSet', expansion: { total, offset, contains } });
};

const conditionWith = (code: string) => ({ resourceType: 'Condition', subject: { reference: 'Patient/p1' }, clinicalStatus: { coding: [{ system: SYSTEM, code }] } });

for (const driver of testDrivers) {
  describe(`a misbehaving terminology service over HTTP, on ${driver}`, () => {
    let fake: Awaited<ReturnType<typeof fakeTerminology>>;
    let database: TestDatabase;
    let provider: HttpTerminologyProvider;
    let shr: FhirEngine;
    const limits: Limits = { ...DEFAULT_LIMITS, fhirTerminologyTimeoutMs: TIMEOUT_MS, fhirTerminologyMaxResponseBytes: 128 * 1024, fhirTerminologyCacheTtlMs: 0, fhirSearchMaxTerminologyCodes: 2_500 };
    const post = async (body: unknown) => {
      const reply = await shr.handle({ method: 'POST', path: 'Condition', query: [], headers: {}, body });
      return { status: reply.status, body: reply.resource as Json, headers: reply.headers };
    };
    const search = async (query: string) => {
      const reply = await shr.handle({ method: 'GET', path: 'Condition', query: [...new URLSearchParams(query)] as Array<[string, string]>, headers: {} });
      return { status: reply.status, body: reply.resource as Json };
    };
    const stored = async () => ((await search('_summary=count')).body.total as number);

    before(async () => {
      fake = await fakeTerminology();
      database = await openTestDatabase(driver);
      provider = new HttpTerminologyProvider({ baseUrl: fake.base, limits });
      shr = await createSharedHealthRecordEngine({ db: database.db }, undefined, limits, fallingBackToCore(() => provider));
    });
    after(async () => {
      await shr.settle();
      await database.dispose();
      await provider.close();
      fake.server.closeAllConnections();
      await new Promise((resolve) => fake.server.close(resolve));
    });

    test('a terminology that never answers: the write gets 503 within the timeout, and nothing is stored', async () => {
      fake.set(() => undefined); // holds the request open
      const answer = await post(conditionWith('x'));
      assert.equal(answer.status, 503, JSON.stringify(answer.body));
      // Ended by the provider's own deadline (not a database budget nor the client giving up): the message says so.
      assert.match(answer.body.issue[0].details.text, new RegExp(`terminology service is unavailable \\(no answer within ${TIMEOUT_MS} ms`));
      assert.equal(answer.headers?.['retry-after'] !== undefined, true);
      assert.equal(await stored(), 0);
    });

    test('a terminology answering 500, garbage, or too much: 503, never 500 and never a silent accept', async () => {
      for (const behaviour of [
        ((_req, res) => json(res, 500, { resourceType: 'OperationOutcome' })) as Behaviour,
        ((_req, res) => { res.writeHead(200); res.end('<html>not fhir'); }) as Behaviour,
        ((_req, res) => json(res, 200, { resourceType: 'Parameters', parameter: [{ name: 'result', valueBoolean: true }], padding: 'x'.repeat(200_000) })) as Behaviour,
        ((_req, res) => { res.writeHead(200); res.write('{"resourceType":"Parameters","x":"'); const more = (): void => { if (!res.destroyed) res.write('x'.repeat(1024), () => setTimeout(more, 1)); }; more(); }) as Behaviour,
      ]) {
        fake.set(behaviour);
        const answer = await post(conditionWith('x'));
        assert.equal(answer.status, 503, JSON.stringify(answer.body));
      }
      assert.equal(await stored(), 0);
    });

    test('a terminology that is down: 503 for writes and for :in searches', async () => {
      const down = new HttpTerminologyProvider({ baseUrl: 'http://127.0.0.1:1/terminology/fhir', limits });
      const engine = await createSharedHealthRecordEngine({ db: database.db }, undefined, limits, fallingBackToCore(() => down));
      try {
        const reply = await engine.handle({ method: 'POST', path: 'Condition', query: [], headers: {}, body: conditionWith('x') });
        assert.equal(reply.status, 503, JSON.stringify(reply.resource));
        const found = await engine.handle({ method: 'GET', path: 'Condition', query: [['clinical-status:in', BIG_VS]], headers: {} });
        assert.equal(found.status, 503, JSON.stringify(found.resource));
      } finally {
        await engine.settle();
        await down.close();
      }
    });

    test('verdicts it gives are used: result false refuses, true accepts, an unknown value set (404) falls back to the core ones', async () => {
      fake.set((req, res) => {
        let text = '';
        req.on('data', (chunk: Buffer) => { text += chunk.toString(); });
        req.on('end', () => {
          const code = (JSON.parse(text) as Json).parameter.find((p: Json) => p.name === 'code').valueCode;
          json(res, 200, { resourceType: 'Parameters', parameter: [{ name: 'result', valueBoolean: code === 'good' }] });
        });
      });
      assert.equal((await post(conditionWith('good'))).status, 201);
      const refused = await post(conditionWith('bad'));
      assert.equal(refused.status, 400);
      assert.match(JSON.stringify(refused.body), /Condition\.clinicalStatus.*bad|bad.*condition-clinical/);
      fake.set((_req, res) => json(res, 404, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found' }] }));
      assert.equal((await post({ ...conditionWith('x'), clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] } })).status, 201);
      assert.equal((await post(conditionWith('x'))).status, 400, 'judged by the core condition-clinical');
    });

    test('an expansion larger than the search may use is refused from its first page; a large one is read in bounded pages', async () => {
      fake.set(pagedExpansion(1_000_000));
      fake.calls.length = 0;
      const huge = await search(`clinical-status:in=${BIG_VS}`);
      assert.equal(huge.status, 400, JSON.stringify(huge.body));
      assert.equal(huge.body.issue[0].code, 'too-costly');
      assert.equal(fake.calls.length, 1, 'one page asked, not a million codes');

      fake.set(pagedExpansion(2_400));
      fake.calls.length = 0;
      const big = await search(`clinical-status:in=${CLINICAL_VS}-big`);
      assert.equal(big.status, 200, JSON.stringify(big.body));
      assert.deepEqual(fake.calls.map((u) => [u.searchParams.get('offset'), u.searchParams.get('count')]), [['0', '1000'], ['1000', '1000'], ['2000', '501']]);
    });
  });
}
