/**
 * Terminology review ("term", 2026-12-01), item 4: long codes and values were 500s (a btree index
 * entry holds at most 2,704 bytes on PostgreSQL, 8,191 on PGlite). Now a code or property code
 * past TERMINOLOGY_MAX_CODE_BYTES is a 422 naming it, at write, $import and ConceptMap write;
 * long property values (indexed by hash) and designations are stored and found. Both drivers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDrivers } from '../support/databases.js';
import { codes, P, param, startTerminology, type Json, type TerminologyUnderTest } from '../terminology/support.js';

const text = (n: number, seed = 'x'): string => Array.from({ length: n }, (_, i) => String.fromCharCode(97 + ((i * 7 + seed.charCodeAt(0)) % 26))).join('');

for (const driver of testDrivers) {
  describe(`terminology long codes and values on ${driver}`, () => {
    let tx: TerminologyUnderTest;
    const codeSystem = (id: string, concept: Json[], extra: Json = {}) => ({ resourceType: 'CodeSystem', id, url: `urn:test:long/${id}`, status: 'active', content: 'complete', concept, ...extra });

    before(async () => {
      tx = await startTerminology(driver);
    });
    after(async () => tx?.close());

    test('a code of 2,800 or 20,000 characters is 422 naming TERMINOLOGY_MAX_CODE_BYTES (was 500); 1,000 characters are stored', async () => {
      for (const n of [2_800, 20_000]) {
        const reply = await tx.request('PUT', 'CodeSystem/longcode', codeSystem('longcode', [{ code: text(n), display: 'x' }]));
        assert.equal(reply.status, 422, JSON.stringify(reply.body).slice(0, 300));
        assert.match(JSON.stringify(reply.body), /TERMINOLOGY_MAX_CODE_BYTES/);
      }
      // Multi-byte characters count as bytes: 400 four-byte characters are 1,600 bytes.
      const emoji = await tx.request('PUT', 'CodeSystem/emoji', codeSystem('emoji', [{ code: '\u{1F600}'.repeat(400), display: 'x' }]));
      assert.equal(emoji.status, 422);
      const ok = await tx.request('PUT', 'CodeSystem/okcode', codeSystem('okcode', [{ code: text(1_000), display: 'long but fine' }]));
      assert.equal(ok.status, 201, JSON.stringify(ok.body).slice(0, 300));
      const lookup = await tx.get(`CodeSystem/$lookup?system=urn:test:long/okcode&code=${text(1_000)}`);
      assert.equal(param(lookup.body, 'display'), 'long but fine');
    });

    test('a 20,000-character property value or designation is stored and found (was 500)', async () => {
      const value = text(20_000, 'v');
      const designation = text(20_000, 'd');
      const reply = await tx.request('PUT', 'CodeSystem/longprop', codeSystem('longprop', [
        { code: 'a', display: 'A', property: [{ code: 'p', valueString: value }], designation: [{ language: 'fr', value: designation }] },
        { code: 'b', display: 'B', property: [{ code: 'p', valueString: 'short' }] },
      ], { property: [{ code: 'p', type: 'string' }] }));
      assert.equal(reply.status, 201, JSON.stringify(reply.body).slice(0, 300));
      const found = await tx.post('ValueSet/$expand', P({ name: 'valueSet', resource: { resourceType: 'ValueSet', status: 'active',
        compose: { include: [{ system: 'urn:test:long/longprop', filter: [{ property: 'p', op: '=', value }] }] } } }));
      assert.equal(found.status, 200, JSON.stringify(found.body).slice(0, 300));
      assert.deepEqual(codes(found.body), ['a']);
      const short = await tx.post('ValueSet/$expand', P({ name: 'valueSet', resource: { resourceType: 'ValueSet', status: 'active',
        compose: { include: [{ system: 'urn:test:long/longprop', filter: [{ property: 'p', op: 'in', value: 'short,other' }] }] } } }));
      assert.deepEqual(codes(short.body), ['b']);
      const lookup = await tx.get('CodeSystem/$lookup?system=urn:test:long/longprop&code=a');
      assert.equal(lookup.status, 200);
      assert.ok(JSON.stringify(lookup.body).includes(designation));
    });

    test('$import of a CSV with a 20,000-character code is 422 (was 500), nothing stored', async () => {
      const reply = await tx.post('$import', P({ name: 'csv', valueString: `code,display\nok,fine\n${text(20_000)},x\n` }, { name: 'url', valueUri: 'urn:test:long/csv' }));
      assert.equal(reply.status, 422, JSON.stringify(reply.body).slice(0, 300));
      assert.match(JSON.stringify(reply.body), /TERMINOLOGY_MAX_CODE_BYTES/);
      const search = await tx.get('CodeSystem?url=urn:test:long/csv');
      assert.equal(search.body.entry?.length ?? 0, 0);
    });

    test('a ConceptMap with a 20,000-character code is 422 (was 500)', async () => {
      const reply = await tx.request('PUT', 'ConceptMap/longmap', { resourceType: 'ConceptMap', id: 'longmap', url: 'urn:test:long/map', status: 'active',
        group: [{ source: 'urn:a', target: 'urn:b', element: [{ code: text(20_000), target: [{ code: 'y', equivalence: 'equivalent' }] }] }] });
      assert.equal(reply.status, 422, JSON.stringify(reply.body).slice(0, 300));
    });
  });
}
