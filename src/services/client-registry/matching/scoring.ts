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
  /** 0..1 for FHIR search.score, within its grade's band (normalizedScoreOf); 1 or 0 when a deterministic rule decided certain or certainly-not. */
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

/**
 * Where each grade's scores sit in 0..1 (search.score), so a score never contradicts its grade:
 * certainly-not below 0.25, possible from 0.25, probable from 0.5, certain from 0.75.
 */
export const GRADE_BANDS: Record<MatchGrade, readonly [number, number]> = {
  'certainly-not': [0, 0.25], possible: [0.25, 0.5], probable: [0.5, 0.75], certain: [0.75, 1],
};

/**
 * The score as search.score: piecewise linear through the lowest possible score (0), the
 * thresholds (0.25, 0.5, 0.75) and the highest (1), then kept inside its grade's band (a grade a
 * deterministic rule forced may lie outside what the score alone gives).
 */
export function normalizedScoreOf(score: number, grade: MatchGrade, range: { min: number; max: number }, thresholds: MatchRules['thresholds']): number {
  const anchors: Array<[number, number]> = [[range.min, 0], [thresholds.possible, 0.25], [thresholds.review, 0.5], [thresholds.autoMatch, 0.75], [range.max, 1]];
  let placed = score <= range.min ? 0 : 1;
  for (let i = 1; i < anchors.length; i++) {
    const [x0, y0] = anchors[i - 1]!;
    const [x1, y1] = anchors[i]!;
    if (score < x1) {
      placed = x1 > x0 ? y0 + ((Math.max(score, x0) - x0) / (x1 - x0)) * (y1 - y0) : y1;
      break;
    }
  }
  const [low, high] = GRADE_BANDS[grade];
  return round(Math.min(high, Math.max(low, placed)));
}
