/**
 * Attack repros on the terminology service (review of issue 13): each was a hang, an exponential
 * cost, a 500 or a wrong answer before its fix; now a clear 4xx or the right answer. Both drivers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDrivers } from '../support/databases.js';
import { codes, FINDINGS, findings, P, startTerminology, type Json, type TerminologyUnderTest } from '../terminology/support.js';

for (const driver of testDrivers) {
  describe(`terminology attacks on ${driver}`, () => {
    let tx: TerminologyUnderTest;
    const expectStatus = async (status: number, method: string, path: string, body?: Json): Promise<Json> => {
      const reply = await tx.request(method, path, body);
      assert.equal(reply.status, status, `${method} ${path}: ${JSON.stringify(reply.body).slice(0, 400)}`);
      return reply.body;
    };

    before(async () => {
      tx = await startTerminology(driver);
      await expectStatus(201, 'POST', 'CodeSystem', findings);
    });
    after(async () => tx?.close());

    test('value sets importing each other widely: 400 too-costly, not exponential time; a narrow tree still expands', async () => {
      const url = (level: number, i: number) => `http://example.org/vs/fan-${level}-${i}`;
      const [levels, width] = [8, 4];
      for (let level = levels; level >= 0; level--) {
        for (let i = 0; i < width; i++) {
          const include = level === levels ? [{ system: FINDINGS }] : Array.from({ length: width }, (_, j) => ({ valueSet: [url(level + 1, j)] }));
          await expectStatus(201, 'POST', 'ValueSet', { resourceType: 'ValueSet', url: url(level, i), status: 'active', compose: { include } });
        }
      }
      const body = await expectStatus(400, 'GET', `ValueSet/$expand?url=${encodeURIComponent(url(0, 0))}&count=5`);
      assert.match(JSON.stringify(body), /TERMINOLOGY_MAX_COMPOSE_WORK/);
      const narrow = await expectStatus(200, 'GET', `ValueSet/$expand?url=${encodeURIComponent(url(levels - 2, 0))}&count=5`);
      assert.ok(codes(narrow).length > 0);
    });

    const inline = (include: Json) => P({ name: 'valueSet', resource: { resourceType: 'ValueSet', status: 'active', compose: { include: [include] } } });

    test('catastrophic regex filters are refused before they reach the database; a plain one works', async () => {
      for (const value of ['(a+)+$', '(a|aa)*b', '(.*a){12}', '(x)\\1', 'a{1,1000}', 'a'.repeat(300)]) {
        await expectStatus(400, 'POST', 'ValueSet/$expand', inline({ system: FINDINGS, filter: [{ property: 'display', op: 'regex', value }] }));
      }
      const ok = await expectStatus(200, 'POST', 'ValueSet/$expand', inline({ system: FINDINGS, filter: [{ property: 'code', op: 'regex', value: '(ta|br)[a-z]+' }] }));
      assert.deepEqual(codes(ok).sort(), ['brady', 'tachy']);
    });
  });
}
