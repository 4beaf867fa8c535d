/**
 * The default rules for Patient: names, birth date, gender, identifiers, address and telecom.
 * Tuned on FEBRL (bench/client-registry/febrl.ts, figures in docs/client-registry.md); a
 * deployment replaces it with its own rules file and, better, m/u estimated on its data.
 */
import { validateMatchRules, type MatchRules, type MatchRulesInput } from './rules.js';

export const DEFAULT_MATCH_RULES_INPUT: MatchRulesInput = {
  description: 'Default Patient matching: Fellegi-Sunter on names, birth date, gender, identifiers, address and telecom',
  fields: [
    { name: 'given', path: 'Patient.name.given', comparator: 'jaro-winkler', threshold: 0.8, m: 0.9, u: 0.01, swapWith: 'family' },
    { name: 'family', path: 'Patient.name.family', comparator: 'jaro-winkler', threshold: 0.8, m: 0.9, u: 0.01 },
    { name: 'birthDate', path: 'Patient.birthDate', comparator: 'date', threshold: 0.75, m: 0.95, u: 0.01, transpositionSimilarity: 0.9 },
    { name: 'gender', path: 'Patient.gender', comparator: 'exact', m: 0.98, u: 0.5 },
    { name: 'identifier', path: 'Patient.identifier', comparator: 'identifier', m: 0.95, u: 0.0001 },
    { name: 'addressLine', path: 'Patient.address.line', comparator: 'damerau-levenshtein', threshold: 0.6, m: 0.8, u: 0.01 },
    { name: 'city', path: 'Patient.address.city', comparator: 'jaro-winkler', threshold: 0.85, m: 0.85, u: 0.02 },
    { name: 'postalCode', path: 'Patient.address.postalCode', comparator: 'damerau-levenshtein', threshold: 0.7, m: 0.85, u: 0.01 },
    { name: 'state', path: 'Patient.address.state', comparator: 'exact', m: 0.9, u: 0.2 },
    { name: 'phone', path: "Patient.telecom.where(system = 'phone').value", comparator: 'damerau-levenshtein', threshold: 0.8, m: 0.8, u: 0.0001, normalise: ['digits-only'] },
    { name: 'email', path: "Patient.telecom.where(system = 'email').value", comparator: 'exact', m: 0.8, u: 0.0001, normalise: ['lowercase', 'collapse-spaces'] },
  ],
  deterministic: [],
  thresholds: { autoMatch: 20, review: 10, possible: 4 },
  blocking: [
    { name: 'family-soundex-birthyear', keys: [{ path: 'Patient.name.family', transform: 'soundex' }, { path: 'Patient.birthDate', transform: 'year' }] },
    { name: 'birthdate-postcode', keys: [{ path: 'Patient.birthDate' }, { path: 'Patient.address.postalCode' }] },
    // Either name, so given and family entered the other way round still meet.
    { name: 'name-soundex-postcode', keys: [{ path: 'Patient.name.given | Patient.name.family', transform: 'soundex' }, { path: 'Patient.address.postalCode' }] },
    { name: 'given-soundex-birthdate', keys: [{ path: 'Patient.name.given', transform: 'soundex' }, { path: 'Patient.birthDate' }] },
    { name: 'identifier', keys: [{ path: 'Patient.identifier', normalise: ['collapse-spaces'] }] },
    { name: 'phone', keys: [{ path: "Patient.telecom.where(system = 'phone').value", normalise: ['digits-only'] }] },
  ],
};

export const DEFAULT_MATCH_RULES: MatchRules = validateMatchRules(DEFAULT_MATCH_RULES_INPUT, 'DEFAULT_MATCH_RULES');
