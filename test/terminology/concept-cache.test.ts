/**
 * The concept cache of $lookup and $validate-code (concept-cache.ts, concept-store.ts): a hit
 * answers exactly what a miss answered; any CodeSystem write (an update, a delete, a replacement
 * under the same url and version) is seen by the next call of this process, and by another
 * service instance on the same PostgreSQL database as soon as the write's announcement reaches it;
 * the cache stays within its bounds. On both drivers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_LIMITS, type Limits } from '../../src/common/limits.js';
import type { Database, Subscription } from '../../src/db/database.js';
import { openDatabase } from '../../src/db/open.js';
import type { FhirRequest } from '../../src/fhir/interaction.js';
import { ConceptCache } from '../../src/services/terminology/concept-cache.js';
import { createTerminologyEngine, type TerminologyEngine } from '../../src/services/terminology/index.js';
import { openTestDatabase, testDrivers, type TestDatabase } from '../support/databases.js';
import { FINDINGS, findings } from './support.js';

interface Answer { status: number; resource: unknown }

const call = async (tx: TerminologyEngine, method: FhirRequest['method'], path: string, query: Array<[string, string]> = [], body?: unknown): Promise<Answer> => {
  const reply = await tx.engine.handle({ method, path, query, headers: body === undefined ? {} : { 'content-type': 'application/fhir+json' }, body });
  return { status: reply.status, resource: reply.resource };
};
const lookup = (tx: TerminologyEngine, code: string, extra: Array<[string, string]> = []): Promise<Answer> =>
  call(tx, 'GET', 'CodeSystem/$lookup', [['system', FINDINGS], ['code', code], ...extra]);
const validate = (tx: TerminologyEngine, code: string, extra: Array<[string, string]> = []): Promise<Answer> =>
  call(tx, 'GET', 'CodeSystem/$validate-code', [['url', FINDINGS], ['code', code], ...extra]);
const parameter = (answer: Answer, name: string): Record<string, unknown> | undefined =>
  (answer.resource as { parameter?: Array<Record<string, unknown>> }).parameter?.find((p) => p.name === name);
const displayOf = (answer: Answer): unknown => parameter(answer, 'display')?.valueString;
const resultOf = (answer: Answer): unknown => parameter(answer, 'result')?.valueBoolean;

/** The test code system with one concept's display changed. */
const withDisplay = (code: string, display: string): typeof findings => {
  const rename = (concepts: Array<Record<string, unknown>>): Array<Record<string, unknown>> =>
    concepts.map((c) => ({ ...c, ...(c.code === code ? { display } : {}), ...(c.concept ? { concept: rename(c.concept as Array<Record<string, unknown>>) } : {}) }));
  return { ...findings, concept: rename(findings.concept as unknown as Array<Record<string, unknown>>) as unknown as typeof findings.concept };
};

describe('ConceptCache bounds', () => {
  test('keeps at most maxEntries, dropping the least recently used', () => {
    const cache = new ConceptCache<{ v: number }>(2, 1_000_000);
    cache.set('a', { v: 1 }, cache.generation);
    cache.set('b', { v: 2 }, cache.generation);
    assert.deepEqual(cache.get('a'), { v: 1 }); // a is now the most recently used
    cache.set('c', { v: 3 }, cache.generation);
    assert.equal(cache.size, 2);
    assert.equal(cache.get('b'), undefined, 'b, the least recently used, was dropped');
    assert.deepEqual(cache.get('a'), { v: 1 });
    assert.deepEqual(cache.get('c'), { v: 3 });
  });

  test('keeps at most maxBytes, and does not store a value larger than the whole cache', () => {
    const cache = new ConceptCache<string>(1_000, 2_000);
    for (let i = 0; i < 50; i++) cache.set(`k${i}`, 'x'.repeat(100), cache.generation);
    assert.ok(cache.bytes <= 2_000, `${cache.bytes} bytes held`);
    assert.ok(cache.size > 0 && cache.size < 50);
    assert.deepEqual(cache.get('k49'), 'x'.repeat(100), 'the newest is kept');
    cache.set('huge', 'y'.repeat(5_000), cache.generation);
    assert.equal(cache.get('huge'), undefined);
    assert.ok(cache.bytes <= 2_000);
  });

  test('a read that began before a clear stores nothing; 0 turns the cache off; values are frozen', () => {
    const cache = new ConceptCache<{ v: number[] }>(10, 100_000);
    const generation = cache.generation;
    cache.clear();
    cache.set('a', { v: [1] }, generation);
    assert.equal(cache.get('a'), undefined);
    cache.set('a', { v: [1] }, cache.generation);
    const value = cache.get('a')!;
    assert.ok(Object.isFrozen(value) && Object.isFrozen(value.v));
    const off = new ConceptCache<string>(0, 100_000);
    off.set('a', 'x', off.generation);
    assert.equal(off.get('a'), undefined);
    assert.equal(off.enabled, false);
  });
});

for (const driver of testDrivers) {
  describe(`the concept cache answers as the database does (${driver})`, () => {
    let database: TestDatabase;
    let tx: TerminologyEngine;
    let uncached: TerminologyEngine;
    let following: Subscription | undefined;
    let id: string;

    before(async () => {
      database = await openTestDatabase(driver);
      tx = await createTerminologyEngine({ db: database.db });
      following = await tx.store.followChanges(database.db);
      const limits: Limits = { ...DEFAULT_LIMITS, terminologyConceptCacheEntries: 0 };
      uncached = await createTerminologyEngine({ db: database.db }, { limits });
      // On PostgreSQL the cache waits for the create's announcement to come back before it is used.
      const heard = following ? tx.store.nextAnnouncement() : undefined;
      const created = await call(tx, 'POST', 'CodeSystem', [], findings);
      assert.equal(created.status, 201, JSON.stringify(created.resource));
      id = (created.resource as { id: string }).id;
      await heard;
    });
    after(async () => {
      await following?.close();
      await tx?.engine.settle();
      await uncached?.engine.settle();
      await database?.dispose();
    });

    test('a hit returns exactly what a miss returns, and what an engine without the cache returns', async () => {
      const isA = encodeURIComponent('heart');
      const requests: Array<[string, Array<[string, string]>]> = [
        ['CodeSystem/$lookup', [['system', FINDINGS], ['code', 'heart']]],
        ['CodeSystem/$lookup', [['system', FINDINGS], ['code', 'heart'], ['displayLanguage', 'fr'], ['property', 'parent,child,designation']]],
        ['CodeSystem/$lookup', [['system', FINDINGS], ['code', 'tachy'], ['property', 'severity']]],
        ['CodeSystem/$lookup', [['system', FINDINGS], ['code', 'fever']]],
        ['CodeSystem/$validate-code', [['url', FINDINGS], ['code', 'heart']]],
        ['CodeSystem/$validate-code', [['url', FINDINGS], ['code', 'heart'], ['display', 'maladie  CARDIAQUE']]],
        ['CodeSystem/$validate-code', [['url', FINDINGS], ['code', 'heart'], ['display', 'Lung disease']]],
        ['CodeSystem/$validate-code', [['url', FINDINGS], ['code', 'nope']]],
        ['ValueSet/$validate-code', [['url', `${FINDINGS}?fhir_vs=isa/${isA}`], ['system', FINDINGS], ['code', 'tachy'], ['display', 'Tachycardia']]],
        ['ValueSet/$validate-code', [['url', `${FINDINGS}?fhir_vs=isa/${isA}`], ['system', FINDINGS], ['code', 'asthma']]],
      ];
      const hitsBefore = tx.store.concepts.hits;
      for (const [path, query] of requests) {
        const miss = await call(tx, 'GET', path, query);
        const hit = await call(tx, 'GET', path, query);
        const plain = await call(uncached, 'GET', path, query);
        assert.deepEqual(hit, miss, `${path} ${JSON.stringify(query)}: hit and miss differ`);
        assert.deepEqual(plain, miss, `${path} ${JSON.stringify(query)}: cached and uncached differ`);
      }
      assert.ok(tx.store.concepts.hits - hitsBefore >= 6, `the second calls were answered from the cache (${tx.store.concepts.hits - hitsBefore} hits)`);
      assert.equal(uncached.store.concepts.size, 0);
    });

    test('a changed display is answered by the next call of this process', async () => {
      assert.equal(displayOf(await lookup(tx, 'brady')), 'Bradycardia');
      assert.equal(displayOf(await lookup(tx, 'brady')), 'Bradycardia'); // now cached
      assert.equal(resultOf(await validate(tx, 'brady', [['display', 'Bradycardia']])), true);
      const updated = await call(tx, 'PUT', `CodeSystem/${id}`, [], { ...withDisplay('brady', 'Slow heart'), id });
      assert.equal(updated.status, 200, JSON.stringify(updated.resource));
      assert.equal(displayOf(await lookup(tx, 'brady')), 'Slow heart');
      assert.equal(resultOf(await validate(tx, 'brady', [['display', 'Bradycardia']])), false);
      assert.equal(resultOf(await validate(tx, 'brady', [['display', 'Slow heart']])), true);
    });

    test('never a concept of a deleted or replaced CodeSystem', async () => {
      assert.equal((await lookup(tx, 'asthma')).status, 200);
      assert.equal((await lookup(tx, 'asthma')).status, 200);
      assert.equal(resultOf(await validate(tx, 'asthma')), true);
      assert.equal((await call(tx, 'DELETE', `CodeSystem/${id}`)).status, 204);
      assert.equal((await lookup(tx, 'asthma')).status, 404);
      assert.equal((await validate(tx, 'asthma')).status, 404, 'the code system is gone');
      // Another resource under the same url and version, without asthma: a new code system, the same key.
      const replacement = { ...findings, concept: [{ code: 'wheeze', display: 'Wheezing' }] };
      const created = await call(tx, 'POST', 'CodeSystem', [], replacement);
      assert.equal(created.status, 201, JSON.stringify(created.resource));
      id = (created.resource as { id: string }).id;
      assert.equal((await lookup(tx, 'asthma')).status, 404);
      assert.equal(resultOf(await validate(tx, 'asthma')), false);
      assert.equal(displayOf(await lookup(tx, 'wheeze')), 'Wheezing');
    });

    test('the cache stays within TERMINOLOGY_CONCEPT_CACHE_ENTRIES', async () => {
      const small = await createTerminologyEngine({ db: database.db }, { limits: { ...DEFAULT_LIMITS, terminologyConceptCacheEntries: 2 } });
      const subscription = await small.store.followChanges(database.db);
      try {
        for (const code of ['wheeze', 'wheeze', 'wheeze', 'nope', 'nope']) await lookup(small, code);
        for (const code of ['wheeze', 'wheeze']) assert.equal(resultOf(await validate(small, code, [['display', 'Wheezing']])), true);
        for (const code of ['wheeze', 'wheeze']) assert.equal(resultOf(await validate(small, code)), true);
        assert.ok(small.store.concepts.size <= 2, `${small.store.concepts.size} entries`);
        assert.ok(small.store.concepts.size > 0, 'the cache was in use');
      } finally {
        await subscription?.close();
        await small.engine.settle();
      }
    });
  });
}

describe('two service instances on one PostgreSQL database', { skip: !testDrivers.includes('postgres') }, () => {
  let database: TestDatabase;
  let secondDb: Database;
  let first: TerminologyEngine;
  let second: TerminologyEngine;
  const subscriptions: Array<Subscription | undefined> = [];
  let id: string;

  before(async () => {
    database = await openTestDatabase('postgres');
    first = await createTerminologyEngine({ db: database.db });
    subscriptions.push(await first.store.followChanges(database.db));
    // Its own pool and listening connection: another process, in effect.
    secondDb = await openDatabase(database.location);
    second = await createTerminologyEngine({ db: secondDb });
    subscriptions.push(await second.store.followChanges(secondDb));
    const heard = second.store.nextAnnouncement();
    const created = await call(first, 'POST', 'CodeSystem', [], findings);
    assert.equal(created.status, 201);
    id = (created.resource as { id: string }).id;
    await heard;
  });
  after(async () => {
    for (const s of subscriptions) await s?.close();
    await first?.engine.settle();
    await second?.engine.settle();
    await secondDb?.close();
    await database?.dispose();
  });

  test('a write made before the engine follows changes does not keep its cache off', async () => {
    const late = await createTerminologyEngine({ db: database.db });
    late.store.writeOpened(); // as the core content loaded at start: written before listening, never heard back
    const subscription = await late.store.followChanges(database.db);
    try {
      for (let i = 0; i < 2; i++) assert.equal(displayOf(await lookup(late, 'mi')), 'Myocardial infarction');
      assert.equal(late.store.concepts.hits, 1);
    } finally {
      await subscription?.close();
      await late.engine.settle();
    }
  });

  test('a display changed through one is what the other answers once the write is announced, never the cached one', async () => {
    assert.equal(displayOf(await lookup(second, 'mi')), 'Myocardial infarction');
    const hits = second.store.concepts.hits;
    assert.equal(displayOf(await lookup(second, 'mi')), 'Myocardial infarction');
    assert.equal(resultOf(await validate(second, 'mi', [['display', 'Myocardial infarction']])), true);
    assert.equal(resultOf(await validate(second, 'mi', [['display', 'Myocardial infarction']])), true);
    assert.ok(second.store.concepts.hits >= hits + 2, 'the other instance answers mi from its cache');

    // Listening before the write: the announcement may arrive before the write's answer does.
    const heard = second.store.nextAnnouncement();
    const updated = await call(first, 'PUT', `CodeSystem/${id}`, [], { ...withDisplay('mi', 'Heart attack'), id });
    assert.equal(updated.status, 200, JSON.stringify(updated.resource));
    assert.equal(displayOf(await lookup(first, 'mi')), 'Heart attack', 'the writing instance: at once');
    await heard;
    assert.equal(displayOf(await lookup(second, 'mi')), 'Heart attack');
    assert.equal(resultOf(await validate(second, 'mi', [['display', 'Myocardial infarction']])), false);
    assert.equal(resultOf(await validate(second, 'mi', [['display', 'Heart attack']])), true);

    // A write of this process still open (its transaction not committed): other connections may read
    // the concepts it replaces, so nothing is answered from, or stored in, the cache until it is announced.
    await lookup(first, 'tachy');
    const token = first.store.writeOpened();
    const before = { hits: first.store.concepts.hits, size: first.store.concepts.size };
    for (let i = 0; i < 3; i++) assert.equal(displayOf(await lookup(first, 'tachy')), 'Tachycardia');
    assert.deepEqual({ hits: first.store.concepts.hits, size: first.store.concepts.size }, before);
    const announced = first.store.nextAnnouncement();
    await database.db.query("SELECT pg_notify('tx_code_systems', $1)", [`${token} test`]);
    await announced;
    for (let i = 0; i < 2; i++) await lookup(first, 'tachy');
    assert.equal(first.store.concepts.hits, before.hits + 1, 'in use again once the write is announced');

    const deleted = second.store.nextAnnouncement();
    assert.equal((await call(first, 'DELETE', `CodeSystem/${id}`)).status, 204);
    await deleted;
    assert.equal((await lookup(second, 'mi')).status, 404);
  });
});
