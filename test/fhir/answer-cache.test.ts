/** The remote terminology's answer cache (src/fhir/terminology/answer-cache.ts): weight-bounded, least recently used out first, TTL. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AnswerCache } from '../../src/fhir/terminology/answer-cache.js';

test('answers expire after their TTL, and a TTL of 0 keeps none', () => {
  let now = 0;
  const cache = new AnswerCache<string>(10, 100, () => now);
  cache.set('a', 'A');
  assert.deepEqual(cache.get('a'), { value: 'A' });
  now = 100;
  assert.equal(cache.get('a'), undefined);
  const none = new AnswerCache<string>(10, 0);
  none.set('a', 'A');
  assert.equal(none.get('a'), undefined);
});

test('past its weight the least recently used answers go; an answer heavier than the whole cache is not kept', () => {
  const cache = new AnswerCache<boolean | undefined>(5, 60_000);
  cache.set('a', true, 2);
  cache.set('b', false, 2);
  assert.ok(cache.get('a'), 'a used: b is now the oldest');
  cache.set('c', undefined, 2);
  assert.equal(cache.get('b'), undefined);
  assert.deepEqual(cache.get('a'), { value: true });
  assert.deepEqual(cache.get('c'), { value: undefined }, 'an "unknown" answer is an answer');
  cache.set('huge', true, 6);
  assert.equal(cache.get('huge'), undefined);
  assert.equal(cache.size, 2);
});
