/**
 * The client registry's matching library: pure functions on FHIR Patients, no database, no HTTP.
 * The service imports only from here (contract: cr-interface, docs/client-registry.md).
 */
import type { Patient } from '@medplum/fhirtypes';
import { createMatcher } from './matcher.js';
import type { MatchRules } from './rules.js';
import { estimateMUWith, type EstimateOptions } from './em.js';

export { createMatcher, type Matcher, type MatchBounds } from './matcher.js';
export { parseMatchRules, validateMatchRules, MatchRulesError, type MatchRules, type MatchRulesInput, type MatchField, type DeterministicRule, type BlockingPass } from './rules.js';
export { DEFAULT_MATCH_RULES, DEFAULT_MATCH_RULES_INPUT } from './default-rules.js';
export { agreementWeight, disagreementWeight, GRADE_BANDS, type FieldContribution, type MatchGrade, type MatchResult } from './scoring.js';
export { COMPARATORS, type ComparatorName } from './comparators.js';
export type { EstimateOptions } from './em.js';

/** m/u estimation from data (EM) on demand: returns rules with updated m/u per field. */
export function estimateMU(rules: MatchRules, pairs: Iterable<[Patient, Patient]>, options?: EstimateOptions): MatchRules {
  return estimateMUWith(createMatcher(rules), pairs, options);
}
