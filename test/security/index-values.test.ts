/**
 * Finding 12: a valid Patient with a 3,000-letter family name was a 500 (index row too large for
 * a B-tree). Index values are now bounded (storage/indexer.ts): long values are indexed by a
 * prefix and a hash (equality) and a cut folded text (prefix, :contains), and searches apply the
 * same functions, so the full value still finds the resource.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { INDEXED_TEXT_CHARS, buildIndexRows, indexKey, indexedText } from '../../src/fhir/storage/indexer.js';
import { indexKeySql } from '../../src/fhir/storage/migrations.js';
import { testDrivers } from '../support/databases.js';
import { diagnostics, startLimitedFhirServer, type LimitedFhirServer } from './fhir-body-support.js';

/** Random lower-case letters (they do not compress, as the audit's did not). */
function letters(count: number): string {
  return Array.from(randomBytes(count), (b) => String.fromCharCode(97 + (b % 26))).join('');
}

describe('index values (pure)', () => {
  test('short values are indexed as they are; long ones as a bounded key', () => {
    assert.equal(indexKey('Doe'), 'Doe');
    const long = letters(3000);
    const key = indexKey(long);
    assert.ok(key.length <= INDEXED_TEXT_CHARS, `${key.length}`);
    assert.ok(key.startsWith(long.slice(0, 100)));
    assert.notEqual(indexKey(`${long}x`), key);
    assert.equal(indexKey(long), key, 'deterministic');
    assert.equal(indexedText(long), long.slice(0, INDEXED_TEXT_CHARS));
    // code points, not UTF-16 units: an astral character is never cut in half
    const astral = '😀'.repeat(300);
    assert.equal([...indexedText(astral)].length, INDEXED_TEXT_CHARS);
    assert.ok(indexKey(astral).startsWith('😀'.repeat(10)));
  });

  test('every index row of a resource with huge strings is bounded', () => {
    const huge = letters(100_000);
    const rows = buildIndexRows({
      resourceType: 'Patient',
      name: [{ family: huge, given: [huge] }],
      identifier: [{ system: `urn:${huge}`, value: huge, type: { coding: [{ system: `urn:${huge}`, code: 'MR' }] } }],
      telecom: [{ system: 'email', value: huge }],
      generalPractitioner: [{ reference: `https://elsewhere.example/${huge}`, identifier: { system: 'urn:x', value: huge } }],
    } as never);
    for (const [table, list] of Object.entries(rows)) {
      for (const row of list as unknown[][]) {
        for (const cell of row) if (typeof cell === 'string') assert.ok(cell.length <= INDEXED_TEXT_CHARS + 32, `${table}: ${cell.length}`);
      }
    }
  });
});

for (const driver of testDrivers) {
  describe(`long values are stored and searchable (${driver})`, () => {
    let s: LimitedFhirServer;
    before(async () => {
      s = await startLimitedFhirServer(driver, { bodyLimit: 1024 * 1024, limits: { fhirSearchMaxQueryBytes: 512 * 1024 } });
    });
    after(async () => {
      await s.close();
    });

    test('migration 5 computes the same keys as the indexer', async () => {
      for (const value of ['short', letters(300), letters(3000), '😀é'.repeat(200), `${'a'.repeat(256)}`, `${'a'.repeat(257)}`]) {
        const result = await s.database.db.query<{ key: string }>(`SELECT ${indexKeySql('$1::text')} AS key`, [value]);
        assert.equal(result.rows[0]!.key, indexKey(value), `${value.slice(0, 20)}... (${value.length})`);
      }
    });

    for (const length of [3_000, 100_000]) {
      test(`a ${length}-letter family name (searches allowed that long): 201, found by prefix and :exact, not by :exact of a longer value`, async () => {
        const family = letters(length);
        const created = await s.request('POST', 'Patient', { body: { resourceType: 'Patient', name: [{ family, given: ['Ann'] }] } });
        assert.equal(created.status, 201, diagnostics(created.body));
        const id = created.body.id;
        const ids = async (query: string): Promise<string[]> => {
          const reply = await s.request('POST', 'Patient/_search', { raw: new URLSearchParams(query).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
          assert.equal(reply.status, 200, `${query.slice(0, 80)}: ${diagnostics(reply.body)}`);
          return (reply.body.entry ?? []).map((e: { resource: { id: string } }) => e.resource.id);
        };
        assert.deepEqual(await ids(`family=${family.slice(0, 10)}`), [id]);
        assert.deepEqual(await ids(`family=${family.slice(0, 10).toUpperCase()}`), [id]);
        assert.deepEqual(await ids(`family:exact=${family}`), [id]);
        assert.deepEqual(await ids(`family:exact=${family}x`), []);
        assert.deepEqual(await ids(`family:exact=${family.slice(0, -1)}`), []);
        assert.deepEqual(await ids(`family:contains=${family.slice(5, 40)}`), [id]);
        assert.deepEqual(await ids(`family=${family}`), [id], 'the full value is also a prefix of itself');
        assert.deepEqual(await ids(`name=${family.slice(0, 12)}`), [id]);
      });
    }

    test('long token codes and systems, uris and references: created and found by their full values', async () => {
      const system = `urn:oid:${letters(3000)}`;
      const value = letters(5000);
      const url = `https://elsewhere.example/${letters(4000)}`;
      const reference = `https://elsewhere.example/fhir/Organization/${letters(3000)}`;
      const patient = await s.request('POST', 'Patient', {
        body: { resourceType: 'Patient', identifier: [{ system, value }], generalPractitioner: [{ reference }], telecom: [{ system: 'url', value: url }] },
      });
      assert.equal(patient.status, 201, diagnostics(patient.body));
      const find = async (type: string, query: string): Promise<number> => {
        const reply = await s.request('POST', `${type}/_search`, { raw: new URLSearchParams(query).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
        assert.equal(reply.status, 200, diagnostics(reply.body));
        return reply.body.total ?? reply.body.entry?.length ?? 0;
      };
      assert.equal(await find('Patient', `identifier=${system}|${value}`), 1);
      assert.equal(await find('Patient', `identifier=${value}`), 1);
      assert.equal(await find('Patient', `identifier=${system}|`), 1);
      assert.equal(await find('Patient', `identifier=${system}|${value}x`), 0);
      assert.equal(await find('Patient', `identifier=${value.slice(0, -1)}`), 0);
      assert.equal(await find('Patient', `general-practitioner=${reference}`), 1);
      assert.equal(await find('Patient', `general-practitioner=${reference}x`), 0);
      assert.equal(await find('Patient', `telecom=url|${url}`), 1);

      const valueSet = await s.request('POST', 'ValueSet', { body: { resourceType: 'ValueSet', status: 'active', url } });
      assert.equal(valueSet.status, 201, diagnostics(valueSet.body));
      assert.equal(await find('ValueSet', `url=${url}`), 1);
      assert.equal(await find('ValueSet', `url=${url}x`), 0);
    });

    test('a reference whose type is an implausibly long name is stored as a plain reference', async () => {
      const observation = await s.request('POST', 'Observation', {
        body: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, focus: [{ reference: `${'A'.repeat(3000)}/1` }] },
      });
      assert.ok(observation.status === 201 || observation.status === 400, `${observation.status} ${diagnostics(observation.body)}`);
    });
  });
}
