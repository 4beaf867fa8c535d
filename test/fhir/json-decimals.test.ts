/**
 * The JSON reader and writer that keep decimals' written form (src/common/json-decimals.ts): what
 * they keep, what they never change (strings, other numbers), and hostile input (prototype keys,
 * duplicate keys, strings imitating the writer's marker, more decimals than it keeps).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  cloneJsonKeepingDecimals, holdsDecimalText, MAX_KEPT_TEXTS_PER_PARSE, parseJsonKeepingDecimals as parse, stringifyJsonKeepingDecimals as stringify,
} from '../../src/common/json-decimals.js';

const roundTrip = (text: string): string => stringify(parse(text));

test('numbers a double would rewrite keep their text; the values are plain numbers', () => {
  const text = '{"a":1.50,"b":[1.0,2,3.10],"c":{"d":0.0000001,"e":-0.10,"f":100,"g":12345678901234567890.5}}';
  assert.equal(roundTrip(text), text);
  const value = parse(text) as { a: number; b: number[] };
  assert.equal(value.a, 1.5);
  assert.deepEqual([...value.b], [1, 2, 3.1]);
  assert.equal(JSON.stringify(value), '{"a":1.5,"b":[1,2,3.1],"c":{"d":1e-7,"e":-0.1,"f":100,"g":12345678901234567000}}', 'plain JSON is unchanged');
});

test('exponents are written out as jsonb writes them, up to 30 (jsonb would write 1e-16000 out in 16,001 characters); negative zero loses its sign, as in jsonb', () => {
  assert.equal(roundTrip('{"a":1e-16000,"b":1.50e2,"c":1E+2,"d":2.5e-7,"e":1.50e1,"f":1e21,"g":0.5e1,"h":-1.0e-1,"i":1e31}'),
    '{"a":0,"b":150,"c":100,"d":0.00000025,"e":15.0,"f":1000000000000000000000,"g":5,"h":-0.10,"i":1e+31}');
  assert.equal(roundTrip('{"a":-0.0,"b":-0,"c":-0.10}'), '{"a":0.0,"b":0,"c":-0.10}');
});

test('JSON without such numbers is what JSON.parse gives, unmarked; strings are never rewritten', () => {
  const text = '{"a":1.5,"b":"1.50","t":"10:00:00.000Z","s":"\\"x\\":1.0,","n":[1,2,3]}';
  const value = parse(text);
  assert.deepEqual(value, JSON.parse(text));
  assert.equal(holdsDecimalText(value), false);
  assert.equal(roundTrip(text), text);
  const mixed = '{"k":1.0,"s":"\\"k\\":1.0,","u":"\\ue000x\\ue0011.0"}';
  assert.equal(roundTrip(mixed), JSON.stringify(JSON.parse(mixed)).replace('"k":1,', '"k":1.0,'), 'a string imitating the marker stays a string');
});

test('copies: spreads keep the texts, a changed number is written as it now is, clones keep them', () => {
  const value = parse('{"resourceType":"Observation","valueQuantity":{"value":4.0},"factor":0.50}') as Record<string, unknown>;
  assert.equal(stringify({ ...value, id: 'x' }), '{"resourceType":"Observation","valueQuantity":{"value":4.0},"factor":0.50,"id":"x"}');
  assert.equal(stringify({ ...value, factor: 0.75 }), '{"resourceType":"Observation","valueQuantity":{"value":4.0},"factor":0.75}');
  assert.equal(stringify(cloneJsonKeepingDecimals(value)), '{"resourceType":"Observation","valueQuantity":{"value":4.0},"factor":0.50}');
  assert.equal(stringify({ resourceType: 'Bundle', entry: [{ resource: { ...value } }] }),
    '{"resourceType":"Bundle","entry":[{"resource":{"resourceType":"Observation","valueQuantity":{"value":4.0},"factor":0.50}}]}');
});

test('hostile keys: __proto__ stays an own key and pollutes nothing; a duplicate key keeps the last value as written', () => {
  const value = parse('{"__proto__":{"v":1.50},"x":1}');
  assert.equal(stringify(value), '{"__proto__":{"v":1.50},"x":1}');
  assert.equal(Object.getOwnPropertySymbols(Object.prototype).length, 0);
  assert.equal(roundTrip('{"d":1.50,"d":1.5}'), '{"d":1.5}');
  assert.equal(roundTrip('{"d":1.5,"d":1.50}'), '{"d":1.50}');
  assert.equal(roundTrip('{"d":{"v":1.50},"d":{"v":2}}'), '{"d":{"v":2}}');
  const pastCap = `{"d":1.0,"n":[${Array(MAX_KEPT_TEXTS_PER_PARSE + 1).fill('1.0').join(',')}],"d":1}`;
  assert.ok(roundTrip(pastCap).startsWith('{"d":1,"n":[1.0,'), 'a duplicate past the cap still replaces the earlier text');
});

test(`past ${MAX_KEPT_TEXTS_PER_PARSE} kept texts in one document the rest are plain numbers`, () => {
  const text = `[${Array(MAX_KEPT_TEXTS_PER_PARSE + 2).fill('1.0').join(',')}]`;
  const written = roundTrip(text);
  assert.ok(written.startsWith('[1.0,1.0,'));
  assert.ok(written.endsWith(',1.0,1,1]'), written.slice(-20));
});
