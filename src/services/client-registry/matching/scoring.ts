/**
 * Fellegi-Sunter scoring: each field adds log2(m/u) when it agrees, log2((1-m)/(1-u)) when it
 * disagrees, a share in between for partial agreement, and its missing weight when a side has
 * no value. Deterministic identifier rules may then force the grade.
 */
import { compareValues, splitIdentifier } from './comparators.js';
import type { DeterministicRule, MatchField, MatchRules } from './rules.js';

export type MatchGrade = 'certain' | 'probable' | 'possible' | 'certainly-not';

export interface FieldContribution {
  field: string;
  comparator: string;
  /** 0..1; 0 also when a side has no value (see `missing`). */
  similarity: number;
  weight: number;
  /** The two values compared (the best-matching pair for multi-valued fields). */
  a?: string;
  b?: string;
  missing?: boolean;
  /** Compared with the values of the field named in swapWith (given and family swapped). */
  swappedWith?: string;
}

export interface MatchResult {
  score: number;
  grade: MatchGrade;
  /** 0..1 for FHIR search.score: the score placed between the lowest and highest possible scores (1 or 0 when a deterministic rule decided). */
  normalizedScore: number;
  fields: FieldContribution[];
  /** The deterministic rule that decided the grade, if one did. */
  rule?: string;
}

export function agreementWeight(field: Pick<MatchField, 'm' | 'u'>): number {
  return Math.log2(field.m / field.u);
}

export function disagreementWeight(field: Pick<MatchField, 'm' | 'u'>): number {
  return Math.log2((1 - field.m) / (1 - field.u));
}

/** Where similarity sits between disagreement (at or below the threshold) and full agreement (1), in 0..1. */
export function agreementLevel(similarity: number, threshold: number): number {
  if (similarity >= 1) return 1;
  if (similarity < threshold || threshold >= 1) return 0;
  return (similarity - threshold) / (1 - threshold);
}

export function scoreField(field: MatchField, a: readonly string[], b: readonly string[]): FieldContribution {
  const base = { field: field.name, comparator: field.comparator };
  const comparison = a.length && b.length ? compareValues(field.comparator, a, b, field) : undefined;
  if (!comparison) return { ...base, similarity: 0, weight: field.missingWeight, missing: true, a: a[0], b: b[0] };
  const level = agreementLevel(comparison.similarity, field.threshold);
  const weight = disagreementWeight(field) + level * (agreementWeight(field) - disagreementWeight(field));
  return { ...base, similarity: round(comparison.similarity), weight: round(weight), a: comparison.a, b: comparison.b };
}

export function gradeOf(score: number, thresholds: MatchRules['thresholds']): MatchGrade {
  if (score >= thresholds.autoMatch) return 'certain';
  if (score >= thresholds.review) return 'probable';
  if (score >= thresholds.possible) return 'possible';
  return 'certainly-not';
}

/** The lowest and highest scores the fields allow, to place a score in 0..1. */
export function scoreRange(fields: readonly MatchField[]): { min: number; max: number } {
  let min = 0;
  let max = 0;
  for (const field of fields) {
    const weights = [agreementWeight(field), disagreementWeight(field), field.missingWeight];
    min += Math.min(...weights);
    max += Math.max(...weights);
  }
  return { min, max };
}

/**
 * The grade a deterministic rule forces, if any. A conflict in a unique domain wins over a shared
 * identifier elsewhere: two people with different national ids are not auto-linked because they
 * share, say, a clinic number.
 */
export function deterministicGrade(rules: readonly DeterministicRule[], a: readonly string[], b: readonly string[]): { grade: MatchGrade; rule: string } | undefined {
  let agreement: { grade: MatchGrade; rule: string } | undefined;
  for (const rule of rules) {
    const systems = new Set(rule.systems);
    const aValues = valuesBySystem(a, systems);
    const bValues = valuesBySystem(b, systems);
    let shared = false;
    let conflicting = false;
    for (const [system, values] of aValues) {
      const other = bValues.get(system);
      if (!other) continue;
      if ([...values].some((value) => other.has(value))) shared = true;
      else conflicting = true;
    }
    if (rule.kind === 'different-identifier' && conflicting && !shared) return { grade: rule.grade, rule: rule.name };
    if (rule.kind === 'same-identifier' && shared) agreement ??= { grade: rule.grade, rule: rule.name };
  }
  return agreement;
}

function valuesBySystem(tokens: readonly string[], systems: ReadonlySet<string>): Map<string, Set<string>> {
  const bySystem = new Map<string, Set<string>>();
  for (const token of tokens) {
    const [system, value] = splitIdentifier(token);
    if (!systems.has(system)) continue;
    if (!bySystem.has(system)) bySystem.set(system, new Set());
    bySystem.get(system)!.add(value);
  }
  return bySystem;
}

function round(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}
