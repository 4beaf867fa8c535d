/** A matcher compiles the rules once (FHIRPath, blocking) and caches what it extracts per patient object. */
import type { Patient } from '@medplum/fhirtypes';
import { compileBlocking } from './blocking.js';
import { compileExtractor, type ValueExtractor } from './extract.js';
import type { MatchRules } from './rules.js';
import { deterministicGrade, gradeOf, normalizedScoreOf, scoreField, scoreRange, type FieldContribution, type MatchResult } from './scoring.js';
import { DEFAULT_MATCH_RULES } from './default-rules.js';
import { DEFAULT_LIMITS } from '../../../common/limits.js';

export interface Matcher {
  readonly rules: MatchRules;
  /** Blocking keys of a patient: strings stored in an indexed column; candidates share at least one key. */
  blockingKeys(patient: Patient): string[];
  /** Scores one candidate pair; explainable (each field's contribution). */
  compare(a: Patient, b: Patient): MatchResult;
}

interface Features { fields: string[][]; identifiers: string[] }

const IDENTIFIER_PATH = 'Patient.identifier';

/**
 * What one comparison may cost: the comparators of similarity are quadratic in the characters of
 * the two values and compare every value of a field with every other, so only the first values
 * and the first characters of each count (CLIENT_REGISTRY_MATCH_MAX_VALUES, _MAX_CHARS).
 */
export interface MatchBounds { maxComparedChars: number; maxComparedValues: number }
export const DEFAULT_MATCH_BOUNDS: MatchBounds = { maxComparedChars: DEFAULT_LIMITS.crMatchMaxChars, maxComparedValues: DEFAULT_LIMITS.crMatchMaxValues };

/** Identifiers and exact values are compared for equality (cheap): cut, two different ones would agree. */
const EQUALITY_COMPARATORS = new Set(['identifier', 'exact']);

export function createMatcher(rules: MatchRules = DEFAULT_MATCH_RULES, bounds: MatchBounds = DEFAULT_MATCH_BOUNDS): Matcher {
  const extractors: ValueExtractor[] = rules.fields.map((field) => {
    const extract = compileExtractor(field.path, field.normalise);
    if (EQUALITY_COMPARATORS.has(field.comparator)) return extract;
    return (patient) => extract(patient).slice(0, bounds.maxComparedValues).map((value) => value.slice(0, bounds.maxComparedChars));
  });
  const identifiers = compileExtractor(IDENTIFIER_PATH, []);
  const makeKeys = compileBlocking(rules.blocking);
  const range = scoreRange(rules.fields);
  const swaps = rules.fields.flatMap((field, i) => (field.swapWith ? [[i, rules.fields.findIndex((other) => other.name === field.swapWith)] as const] : []));
  // Patients are compared with many candidates: extract their values once. Keyed by the object,
  // so a changed patient must be a new object (resources are not mutated in place here).
  const cache = new WeakMap<Patient, Features>();
  const keyCache = new WeakMap<Patient, string[]>(); // a registration asks twice: to store its keys, to find candidates

  function features(patient: Patient): Features {
    let found = cache.get(patient);
    if (!found) {
      found = { fields: extractors.map((extract) => extract(patient)), identifiers: rules.deterministic.length ? identifiers(patient) : [] };
      cache.set(patient, found);
    }
    return found;
  }

  return {
    rules,
    blockingKeys(patient) {
      let keys = keyCache.get(patient);
      if (!keys) {
        keys = makeKeys(patient);
        keyCache.set(patient, keys);
      }
      return [...keys];
    },
    compare(a, b) {
      const x = features(a);
      const y = features(b);
      const fields = rules.fields.map((field, index) => scoreField(field, x.fields[index], y.fields[index]));
      for (const [i, j] of swaps) applySwap(fields, i, j, x, y);
      const score = Math.round(fields.reduce((sum, field) => sum + field.weight, 0) * 10_000) / 10_000;
      const decided = deterministicGrade(rules.deterministic, x.identifiers, y.identifiers);
      if (decided) {
        const normalizedScore = decided.grade === 'certainly-not' ? 0 : decided.grade === 'certain' ? 1 : normalizedScoreOf(score, decided.grade, range, rules.thresholds);
        return { score, grade: decided.grade, normalizedScore, fields, rule: decided.rule };
      }
      const grade = gradeOf(score, rules.thresholds);
      return { score, grade, normalizedScore: normalizedScoreOf(score, grade, range, rules.thresholds), fields };
    },
  };

  /** Given and family (or any declared pair) entered in each other's place: keep the crossed scores when they are higher. */
  function applySwap(fields: FieldContribution[], i: number, j: number, x: Features, y: Features): void {
    const crossedI = scoreField(rules.fields[i], x.fields[i], y.fields[j]);
    const crossedJ = scoreField(rules.fields[j], x.fields[j], y.fields[i]);
    if (crossedI.weight + crossedJ.weight <= fields[i].weight + fields[j].weight) return;
    fields[i] = { ...crossedI, swappedWith: rules.fields[j].name };
    fields[j] = { ...crossedJ, swappedWith: rules.fields[i].name };
  }

}
