import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compareDates, compareValues, type ComparatorOptions } from '../../../src/services/client-registry/matching/comparators.js';
import { normalise, DEFAULT_NORMALISE } from '../../../src/services/client-registry/matching/normalise.js';
import { doubleMetaphone, soundex } from '../../../src/services/client-registry/matching/phonetic.js';
import { damerauLevenshteinDistance, damerauLevenshteinSimilarity, jaro, jaroWinkler, prefixSimilarity } from '../../../src/services/client-registry/matching/string-similarity.js';

const close = (actual: number, expected: number) => assert.ok(Math.abs(actual - expected) < 0.001, `${actual} is not ${expected}`);
const DATE_OPTIONS: ComparatorOptions = { toleranceDays: 0, transpositionSimilarity: 0.9, dateTypos: false };

describe('string similarity', () => {
  test('jaro and jaro-winkler give the published values', () => {
    // Winkler's examples (1990) and the usual textbook pairs.
    close(jaro('martha', 'marhta'), 0.944);
    close(jaroWinkler('martha', 'marhta'), 0.961);
    close(jaro('dwayne', 'duane'), 0.822);
    close(jaroWinkler('dwayne', 'duane'), 0.84);
    close(jaro('dixon', 'dicksonx'), 0.767);
    close(jaroWinkler('dixon', 'dicksonx'), 0.813);
    assert.equal(jaroWinkler('abc', 'abc'), 1);
    assert.equal(jaroWinkler('abc', 'xyz'), 0);
    assert.equal(jaroWinkler('', 'abc'), 0);
  });

  test('damerau-levenshtein counts an adjacent transposition as one edit', () => {
    assert.equal(damerauLevenshteinDistance('ca', 'ac'), 1);
    assert.equal(damerauLevenshteinDistance('kitten', 'sitting'), 3);
    assert.equal(damerauLevenshteinDistance('smith', 'smiht'), 1);
    assert.equal(damerauLevenshteinDistance('', 'abc'), 3);
    close(damerauLevenshteinSimilarity('4557', '4575'), 0.75);
    assert.equal(damerauLevenshteinSimilarity('', ''), 1);
  });

  test('prefix similarity is the share of the longer string in the common prefix', () => {
    assert.equal(prefixSimilarity('4223', '4233'), 0.5);
    assert.equal(prefixSimilarity('4223', '4223'), 1);
    assert.equal(prefixSimilarity('1', '9'), 0);
  });
});

describe('phonetic codes', () => {
  test('soundex follows the census rules', () => {
    assert.equal(soundex('Robert'), 'R163');
    assert.equal(soundex('Rupert'), 'R163');
    assert.equal(soundex('Rubin'), 'R150');
    assert.equal(soundex('Ashcraft'), 'A261'); // h between s and c: coded once
    assert.equal(soundex('Tymczak'), 'T522');
    assert.equal(soundex('Pfister'), 'P236');
    assert.equal(soundex('Lee'), 'L000');
    assert.equal(soundex('123'), '');
  });

  test('double metaphone gives primary and alternate codes', () => {
    assert.deepEqual(doubleMetaphone('Smith'), ['SM0', 'XMT']);
    assert.deepEqual(doubleMetaphone('Schmidt'), ['XMT', 'SMT']);
    assert.deepEqual(doubleMetaphone(''), ['', '']);
  });
});

describe('comparators', () => {
  test('phonetic comparators agree on names that sound alike', () => {
    assert.equal(compareValues('soundex', ['robert'], ['rupert'], DATE_OPTIONS)?.similarity, 1);
    assert.equal(compareValues('soundex', ['robert'], ['smith'], DATE_OPTIONS)?.similarity, 0);
    assert.equal(compareValues('double-metaphone', ['smith'], ['schmidt'], DATE_OPTIONS)?.similarity, 1);
    assert.equal(compareValues('double-metaphone', ['smith'], ['jones'], DATE_OPTIONS)?.similarity, 0);
  });

  test('multi-valued fields count their best pair', () => {
    const result = compareValues('jaro-winkler', ['anna', 'maria'], ['marie', 'zoe'], DATE_OPTIONS);
    assert.equal(result?.a, 'maria');
    assert.equal(result?.b, 'marie');
  });

  test('identifiers are compared only within a shared system', () => {
    assert.equal(compareValues('identifier', ['urn:a|1'], ['urn:a|1'], DATE_OPTIONS)?.similarity, 1);
    assert.equal(compareValues('identifier', ['urn:a|1'], ['urn:a|2'], DATE_OPTIONS)?.similarity, 0);
    assert.equal(compareValues('identifier', ['urn:a|1'], ['urn:b|1'], DATE_OPTIONS), undefined);
    assert.equal(compareValues('identifier', ['urn:a|1', 'urn:b|7'], ['urn:a|2', 'urn:b|7'], DATE_OPTIONS)?.similarity, 1);
  });

  test('dates: equal, day/month transposed, within tolerance, digit typos, partial dates', () => {
    assert.equal(compareDates('1980-03-04', '1980-03-04', DATE_OPTIONS), 1);
    assert.equal(compareDates('1980-03-04', '1980-04-03', DATE_OPTIONS), 0.9);
    assert.equal(compareDates('1980-03-04', '1980-04-03', { ...DATE_OPTIONS, transpositionSimilarity: 0 }), 0);
    assert.equal(compareDates('1980-03-04', '1980-03-06', DATE_OPTIONS), 0);
    assert.equal(compareDates('1980-03-04', '1980-03-06', { ...DATE_OPTIONS, toleranceDays: 4 }), 0.75);
    assert.equal(compareDates('1980-03-04', '1980-03-07', { ...DATE_OPTIONS, dateTypos: true }), 0.875);
    assert.equal(compareDates('1980', '1980-03-04', DATE_OPTIONS), 1);
    assert.equal(compareDates('1980-02', '1980-03-04', DATE_OPTIONS), 0);
    assert.equal(compareDates('not a date', '1980-03-04', DATE_OPTIONS), undefined);
  });

  test('normalisation lowercases and strips diacritics and punctuation', () => {
    assert.equal(normalise("  Zoë  O'Brien-Núñez ", DEFAULT_NORMALISE), 'zoe o brien nunez');
    assert.equal(normalise('+1 (555) 010-2000', ['digits-only']), '15550102000');
  });
});
