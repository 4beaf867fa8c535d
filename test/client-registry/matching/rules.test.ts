import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_MATCH_RULES, DEFAULT_MATCH_RULES_INPUT, MatchRulesError, parseMatchRules } from '../../../src/services/client-registry/matching/index.js';

const VALID_YAML = `
fields:
  - { name: family, path: Patient.name.family, comparator: jaro-winkler, m: 0.9, u: 0.01 }
  - { name: birthDate, path: Patient.birthDate, comparator: date, m: 0.95, u: 0.01, toleranceDays: 3 }
thresholds: { autoMatch: 12, review: 6, possible: 2 }
blocking:
  - name: family
    keys: [{ path: Patient.name.family, transform: soundex }]
`;

function reasonsOf(text: string, fileName?: string): string[] {
  try {
    parseMatchRules(text, fileName);
  } catch (error) {
    assert.ok(error instanceof MatchRulesError, `not a MatchRulesError: ${error}`);
    assert.equal(error.code, 'CR_RULES_INVALID');
    return error.reasons;
  }
  assert.fail('rules were accepted');
}

describe('match rules file', () => {
  test('YAML rules are parsed with defaults filled in', () => {
    const rules = parseMatchRules(VALID_YAML, 'rules.yaml');
    assert.equal(rules.fields[0].threshold, 0.8); // jaro-winkler default
    assert.deepEqual(rules.fields[0].normalise, ['lowercase', 'strip-diacritics', 'strip-punctuation', 'collapse-spaces']);
    assert.equal(rules.fields[1].toleranceDays, 3);
    assert.equal(rules.fields[1].missingWeight, 0);
    assert.deepEqual(rules.deterministic, []);
  });

  test('JSON rules are parsed too, and the default rules are valid', () => {
    const rules = parseMatchRules(JSON.stringify(DEFAULT_MATCH_RULES_INPUT), 'rules.json');
    assert.deepEqual(rules, DEFAULT_MATCH_RULES);
  });

  test('each invalid field is named with its reason', () => {
    const reasons = reasonsOf(`
fields:
  - { name: family, path: "Patient.name.family((", comparator: jaro-winker, m: 1.5, u: 0.01 }
  - { name: given, path: Patient.name.given, comparator: exact, m: 0.1, u: 0.2, colour: blue }
thresholds: { autoMatch: 1, review: 6, possible: 2 }
blocking: []
`);
    const text = reasons.join('\n');
    assert.match(text, /^fields\.0\.path: not a FHIRPath expression/m);
    assert.match(text, /^fields\.0\.comparator: Invalid enum value/m);
    assert.match(text, /^fields\.0\.m: must be below 1/m);
    assert.match(text, /^fields\.1: Unrecognized key\(s\) in object: 'colour'/m);
    assert.match(text, /^thresholds: thresholds must be ordered/m);
    assert.match(text, /^blocking: Array must contain at least 1/m);
  });

  test('m not above u, duplicate names, a bad swapWith and a prefix without length are refused', () => {
    const reasons = reasonsOf(`
fields:
  - { name: a, path: Patient.name.family, comparator: exact, m: 0.1, u: 0.2, swapWith: nowhere }
  - { name: a, path: Patient.name.given, comparator: exact, m: 0.9, u: 0.2 }
thresholds: { autoMatch: 3, review: 2, possible: 1 }
blocking:
  - { name: p, keys: [{ path: Patient.name.family, transform: prefix }] }
`).join('\n');
    assert.match(reasons, /fields\.0\.m: m must be greater than u/);
    assert.match(reasons, /fields\.1\.name: field name "a" is used twice/);
    assert.match(reasons, /fields\.0\.swapWith: swapWith must name another field/);
    assert.match(reasons, /blocking\.0\.keys\.0\.length: a prefix transform needs a length/);
  });

  test('text that is neither JSON nor YAML is refused, not thrown as a parser error', () => {
    assert.match(reasonsOf('{ "fields": ', 'rules.json')[0], /^not valid JSON/);
    assert.match(reasonsOf('fields: [unclosed', 'rules.yaml')[0], /^not valid JSON or YAML/);
    assert.match(reasonsOf('42', 'rules.yaml')[0], /^\(root\): Expected object/);
  });
});
