/**
 * Placeholder for the matching library: replaced by cr-matching at merge (the lead takes
 * cr-matching's version of this folder). It keeps the contract's exports and signatures
 * (/work/cr-interface.md) with the smallest real implementation: exact identifier and normalised
 * family / given / birthDate comparison with a score.
 */
import type { Patient } from '@medplum/fhirtypes';
import { InstantError } from '../../../common/errors.js';

export interface MatchRules {
  thresholds: { autoMatch: number; review: number; possible: number };
}

export function parseMatchRules(text: string, fileName?: string): MatchRules {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InstantError('CR_RULES_INVALID', `${fileName ?? 'rules'}: not JSON (${(error as Error).message})`);
  }
  const t = (parsed as { thresholds?: Record<string, unknown> })?.thresholds;
  if (!t || typeof t.autoMatch !== 'number' || typeof t.review !== 'number' || typeof t.possible !== 'number') {
    throw new InstantError('CR_RULES_INVALID', `${fileName ?? 'rules'}: thresholds.autoMatch, thresholds.review and thresholds.possible must be numbers`);
  }
  return { thresholds: { autoMatch: t.autoMatch, review: t.review, possible: t.possible } };
}

export const DEFAULT_MATCH_RULES: MatchRules = { thresholds: { autoMatch: 10, review: 6, possible: 3 } };

export type MatchGrade = 'certain' | 'probable' | 'possible' | 'certainly-not';
export interface FieldContribution { field: string; comparator: string; similarity: number; weight: number; a?: string; b?: string; }
export interface MatchResult { score: number; grade: MatchGrade; /** 0..1 for FHIR search.score */ normalizedScore: number; fields: FieldContribution[]; }

export interface Matcher {
  readonly rules: MatchRules;
  blockingKeys(patient: Patient): string[];
  compare(a: Patient, b: Patient): MatchResult;
}

const norm = (s: string | undefined): string => (s ?? '').normalize('NFKD').replace(/[\u0300-\u036f]/g, '').toLowerCase().replace(/[^a-z0-9]/g, '');
const family = (p: Patient): string => norm(p.name?.[0]?.family);
const given = (p: Patient): string => norm(p.name?.[0]?.given?.[0]);
const identifiers = (p: Patient): string[] => (p.identifier ?? []).filter((i) => i.system && i.value).map((i) => `${i.system}|${i.value}`);

const WEIGHTS = { identifier: 12, family: 4, given: 3, birthDate: 4 };
const MAX_SCORE = WEIGHTS.identifier + WEIGHTS.family + WEIGHTS.given + WEIGHTS.birthDate;

export function createMatcher(rules: MatchRules = DEFAULT_MATCH_RULES): Matcher {
  return {
    rules,
    blockingKeys(patient) {
      const keys = identifiers(patient).map((id) => `id:${id}`);
      if (family(patient) && patient.birthDate) keys.push(`fb:${family(patient)}|${patient.birthDate}`);
      if (given(patient) && patient.birthDate) keys.push(`gb:${given(patient)}|${patient.birthDate}`);
      if (family(patient) && given(patient)) keys.push(`fg:${family(patient)}|${given(patient)}`);
      return keys;
    },
    compare(a, b) {
      const fields: FieldContribution[] = [];
      const field = (name: string, comparator: string, x: string, y: string, weight: number): void => {
        if (!x || !y) return;
        const similarity = x === y ? 1 : 0;
        fields.push({ field: name, comparator, similarity, weight: similarity ? weight : -weight / 2, a: x, b: y });
      };
      const shared = identifiers(a).find((id) => identifiers(b).includes(id));
      if (shared) fields.push({ field: 'identifier', comparator: 'exact', similarity: 1, weight: WEIGHTS.identifier, a: shared, b: shared });
      field('family', 'exact', family(a), family(b), WEIGHTS.family);
      field('given', 'exact', given(a), given(b), WEIGHTS.given);
      field('birthDate', 'exact', a.birthDate ?? '', b.birthDate ?? '', WEIGHTS.birthDate);
      const score = fields.reduce((sum, f) => sum + f.weight, 0);
      const t = rules.thresholds;
      const grade: MatchGrade = score >= t.autoMatch ? 'certain' : score >= t.review ? 'probable' : score >= t.possible ? 'possible' : 'certainly-not';
      return { score, grade, normalizedScore: Math.max(0, Math.min(1, score / MAX_SCORE)), fields };
    },
  };
}

export function estimateMU(rules: MatchRules, _pairs: Iterable<[Patient, Patient]>, _options?: { iterations?: number }): MatchRules {
  return rules;
}
