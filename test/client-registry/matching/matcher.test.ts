import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Patient } from '@medplum/fhirtypes';
import { createMatcher, DEFAULT_MATCH_RULES, GRADE_BANDS, validateMatchRules } from '../../../src/services/client-registry/matching/index.js';
import { jaroWinkler } from '../../../src/services/client-registry/matching/string-similarity.js';

const NATIONAL_ID = 'https://example.org/national-id';
const CLINIC = 'https://example.org/clinic-a';

const rules = validateMatchRules({
  fields: [
    { name: 'given', path: 'Patient.name.given', comparator: 'jaro-winkler', threshold: 0.8, m: 0.9, u: 0.01, swapWith: 'family' },
    { name: 'family', path: 'Patient.name.family', comparator: 'jaro-winkler', threshold: 0.8, m: 0.9, u: 0.01 },
    { name: 'birthDate', path: 'Patient.birthDate', comparator: 'date', m: 0.95, u: 0.01 },
    { name: 'gender', path: 'Patient.gender', comparator: 'exact', m: 0.98, u: 0.5, missingWeight: -0.5 },
  ],
  deterministic: [
    { name: 'same-national-id', kind: 'same-identifier', systems: [NATIONAL_ID] },
    { name: 'national-id-conflict', kind: 'different-identifier', systems: [NATIONAL_ID] },
  ],
  thresholds: { autoMatch: 15, review: 8, possible: 3 },
  blocking: [{ name: 'family', keys: [{ path: 'Patient.name.family', transform: 'soundex' }] }],
});

function patient(given: string, family: string, birthDate?: string, extra: Partial<Patient> = {}): Patient {
  return { resourceType: 'Patient', name: [{ given: [given], family }], ...(birthDate ? { birthDate } : {}), gender: 'female', ...extra };
}

const log2 = Math.log2;
const close = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) < 0.001, `${actual} is not ${expected}`);

describe('matcher: scoring a pair', () => {
  const matcher = createMatcher(rules);

  test('full agreement adds log2(m/u) per field, and each contribution is explained', () => {
    const result = matcher.compare(patient('Zoë', 'Smith', '1980-03-04'), patient('zoe', 'SMITH', '1980-03-04'));
    close(result.score, log2(0.9 / 0.01) * 2 + log2(0.95 / 0.01) + log2(0.98 / 0.5));
    assert.equal(result.grade, 'certain');
    assert.deepEqual(result.fields.map((f) => [f.field, f.comparator, f.similarity, f.a, f.b]), [
      ['given', 'jaro-winkler', 1, 'zoe', 'zoe'],
      ['family', 'jaro-winkler', 1, 'smith', 'smith'],
      ['birthDate', 'date', 1, '1980-03-04', '1980-03-04'],
      ['gender', 'exact', 1, 'female', 'female'],
    ]);
    assert.equal(result.normalizedScore, 1);
  });

  test('partial agreement is scaled between the disagreement and agreement weights; missing values take the missing weight', () => {
    const result = matcher.compare(patient('Anna', 'Smith', '1980-03-04'), patient('Anna', 'Smyth', undefined, { gender: undefined }));
    const family = result.fields[1];
    const similarity = jaroWinkler('smith', 'smyth');
    const agree = log2(0.9 / 0.01);
    const disagree = log2(0.1 / 0.99);
    close(family.similarity, similarity);
    close(family.weight, disagree + ((similarity - 0.8) / 0.2) * (agree - disagree));
    assert.deepEqual([result.fields[2].missing, result.fields[2].weight], [true, 0]);
    assert.deepEqual([result.fields[3].missing, result.fields[3].weight], [true, -0.5]);
  });

  test('disagreement adds log2((1-m)/(1-u)) and grades follow the thresholds', () => {
    const different = matcher.compare(patient('Anna', 'Smith', '1980-03-04'), patient('Peter', 'Jones', '1955-11-20', { gender: 'male' }));
    close(different.fields[3].weight, log2(0.02 / 0.5));
    assert.equal(different.grade, 'certainly-not');
    assert.equal(different.normalizedScore, 0);
    // Names agree, birth date missing: 13.0 + gender 0.97 = 13.97: review, not auto-link.
    const probable = matcher.compare(patient('Anna', 'Smith'), patient('Anna', 'Smith'));
    assert.equal(probable.grade, 'probable');
    // Only the family name: 6.49 + 0.97 = 7.46 (given disagrees: -3.3): possible... below 8.
    const possible = matcher.compare(patient('Anna', 'Smith', '1980-03-04'), patient('Bob', 'Smith'));
    assert.equal(possible.grade, 'possible');
    assert.ok(possible.normalizedScore > 0 && possible.normalizedScore < 1);
  });

  test('given and family swapped are compared crossed, and said so', () => {
    const result = matcher.compare(patient('Anna', 'Smith', '1980-03-04'), patient('Smith', 'Anna', '1980-03-04'));
    assert.equal(result.grade, 'certain');
    assert.deepEqual(result.fields.slice(0, 2).map((f) => [f.field, f.swappedWith, f.a, f.b, f.similarity]), [
      ['given', 'family', 'anna', 'anna', 1],
      ['family', 'given', 'smith', 'smith', 1],
    ]);
  });

  test('deterministic rules: a shared national id is certain, a conflicting one certainly-not whatever the score', () => {
    const id = (system: string, value: string) => ({ identifier: [{ system, value }] });
    const same = matcher.compare(patient('Anna', 'Smith', undefined, id(NATIONAL_ID, '42')), patient('Ann', 'Smit', undefined, id(NATIONAL_ID, '42')));
    assert.deepEqual([same.grade, same.rule, same.normalizedScore], ['certain', 'same-national-id', 1]);
    const conflict = matcher.compare(patient('Anna', 'Smith', '1980-03-04', id(NATIONAL_ID, '42')), patient('Anna', 'Smith', '1980-03-04', id(NATIONAL_ID, '43')));
    assert.deepEqual([conflict.grade, conflict.rule, conflict.normalizedScore], ['certainly-not', 'national-id-conflict', 0]);
    assert.ok(conflict.score > rules.thresholds.autoMatch, 'the score is still computed and shown');
    // Another system says nothing either way.
    const other = matcher.compare(patient('Anna', 'Smith', '1980-03-04', id(CLINIC, '1')), patient('Anna', 'Smith', '1980-03-04', id(CLINIC, '2')));
    assert.deepEqual([other.grade, other.rule], ['certain', undefined]);
  });

  test('default rules: identical registrations are certain, different people certainly-not', () => {
    const matcher = createMatcher();
    assert.equal(matcher.rules, DEFAULT_MATCH_RULES);
    const a: Patient = { ...patient('Anna', 'Smith', '1980-03-04'), identifier: [{ system: CLINIC, value: '7' }], address: [{ line: ['1 Main St'], city: 'Springfield', postalCode: '4223' }] };
    assert.equal(matcher.compare(a, structuredClone(a)).grade, 'certain');
    assert.equal(matcher.compare(a, patient('Peter', 'Jones', '1955-11-20', { gender: 'male' })).grade, 'certainly-not');
  });
});

describe('matcher: blocking keys', () => {
  test('the default passes give one key per pass, normalised, and none for a pass missing a part', () => {
    const matcher = createMatcher();
    const keys = matcher.blockingKeys({
      resourceType: 'Patient',
      name: [{ given: ['Zoë'], family: "O'Brien" }],
      birthDate: '1980-03-04',
      address: [{ postalCode: '4223' }],
      identifier: [{ system: 'urn:oid:1.2.3', value: 'A-17' }],
    });
    assert.deepEqual(keys.sort(), [
      'birthdate-postcode:1980-03-04|4223',
      'family-soundex-birthyear:O165|1980',
      'given-soundex-birthdate:Z000|1980-03-04',
      'identifier:urn:oid:1.2.3|A-17',
      'name-soundex-postcode:O165|4223',
      'name-soundex-postcode:Z000|4223',
    ]);
    assert.deepEqual(matcher.blockingKeys({ resourceType: 'Patient' }), []);
  });

  test('a very long value gives a short hashed key, the same for the same value', () => {
    const matcher = createMatcher();
    const long: Patient = { resourceType: 'Patient', identifier: [{ system: 'urn:x', value: 'x'.repeat(10_000) }] };
    const [key] = matcher.blockingKeys(long);
    assert.match(key, /^identifier:sha256:[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(matcher.blockingKeys(structuredClone(long)), [key]);
  });

  test('typos that keep the sound keep the key', () => {
    const matcher = createMatcher(rules);
    assert.deepEqual(matcher.blockingKeys(patient('a', 'Smith')), matcher.blockingKeys(patient('b', 'Smyth')));
  });
});

describe('matcher: bounded work whatever the values (review finding 4)', () => {
  test('only the first CLIENT_REGISTRY_MATCH_MAX_CHARS characters and MATCH_MAX_VALUES values of a field are compared', () => {
    const bounded = createMatcher(rules, { maxComparedChars: 64, maxComparedValues: 3 });
    // 'K'*6000 against 'K'*5000+'J': unbounded, jaro costs 30 million steps per pair on the event loop.
    const stored = patient('Z', 'K'.repeat(6000), '1980-01-01');
    const asked = patient('Z', `${'K'.repeat(5000)}J`, '1980-01-01');
    const result = bounded.compare(asked, stored);
    for (const field of result.fields) {
      assert.ok((field.a?.length ?? 0) <= 64 && (field.b?.length ?? 0) <= 64, `${field.field} compared ${field.a?.length} and ${field.b?.length} characters`);
    }
    assert.equal(result.fields.find((f) => f.field === 'family')!.similarity, 1, 'the first 64 characters agree');
    const manyNames = (n: number, last: string) => ({ ...patient('Z', 'Other', '1980-01-01'), name: [...Array.from({ length: n }, (_, i) => ({ family: `Filler${i}` })), { family: last }] });
    const many = bounded.compare(manyNames(20, 'Phiri'), patient('Z', 'Phiri', '1980-01-01'));
    assert.notEqual(many.fields.find((f) => f.field === 'family')!.a, 'phiri', 'the 21st name is not compared');
  });
});

describe('matcher: search.score agrees with the grade (review finding 14)', () => {
  test('each grade\'s normalised score lies in its band: certain >= 0.75, probable 0.5-0.75, possible 0.25-0.5, certainly-not < 0.25', () => {
    const matcher = createMatcher(rules);
    const pairs: Array<[Patient, Patient]> = [
      [patient('Anna', 'Smith', '1980-03-04'), patient('Anna', 'Smith', '1980-03-04')],
      [patient('Anna', 'Smith'), patient('Anna', 'Smith')],
      [patient('Anna', 'Smith', '1980-03-04'), patient('Bob', 'Smith')],
      [patient('Anna', 'Smith', '1980-03-04'), patient('Peter', 'Jones', '1955-11-20', { gender: 'male' })],
      [patient('Anna', 'Smith', '1980-03-04'), patient('Anna', 'Smith', '1980-03-05')],
      [patient('Anna', 'Smith', '1980-03-04'), patient('Anne', 'Smith', '1980-03-04')],
    ];
    const grades = new Set<string>();
    for (const [a, b] of pairs) {
      const result = matcher.compare(a, b);
      grades.add(result.grade);
      const [low, high] = GRADE_BANDS[result.grade];
      assert.ok(result.normalizedScore >= low && result.normalizedScore <= high, `${result.grade} scored ${result.normalizedScore} (raw ${result.score})`);
    }
    assert.deepEqual([...grades].sort(), ['certain', 'certainly-not', 'possible', 'probable']);
    // The bare threshold of certain is 0.75, not where it happens to fall between the lowest and highest scores.
    const atAutoMatch = createMatcher(rules).compare(patient('Anna', 'Smith', '1980-03-04'), patient('Anna', 'Smith', '1980-03-04'));
    assert.ok(atAutoMatch.normalizedScore >= 0.75);
  });
});
