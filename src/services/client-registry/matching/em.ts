/**
 * Estimates m and u per field from unlabelled candidate pairs with expectation-maximisation
 * (Fellegi-Sunter with independent fields). A field's agreement level (0..1, see agreementLevel)
 * is used as a soft agreement, the same reading the scoring uses, so the weights EM gives are the
 * ones the matcher applies. Pairs where a side has no value leave that field out.
 */
import type { Patient } from '@medplum/fhirtypes';
import type { Matcher } from './matcher.js';
import type { MatchRules } from './rules.js';
import { agreementLevel } from './scoring.js';

export interface EstimateOptions {
  iterations?: number;
  /** Starting share of true matches among the pairs. */
  matchShare?: number;
}

/** Probabilities stay inside these bounds so no weight becomes infinite. */
const LOW = 1e-6;
const HIGH = 1 - 1e-6;

export function estimateMUWith(matcher: Matcher, pairs: Iterable<[Patient, Patient]>, options: EstimateOptions = {}): MatchRules {
  const fields = matcher.rules.fields;
  // Agreement levels per pair and field; NaN for missing.
  const levels: Float64Array[] = [];
  for (const [a, b] of pairs) {
    const result = matcher.compare(a, b);
    const row = new Float64Array(fields.length);
    result.fields.forEach((contribution, index) => {
      row[index] = contribution.missing ? Number.NaN : agreementLevel(contribution.similarity, fields[index].threshold);
    });
    levels.push(row);
  }
  if (!levels.length) return matcher.rules;

  const m = fields.map((field) => field.m);
  const u = fields.map((field) => field.u);
  let share = options.matchShare ?? 0.1;
  const posterior = new Float64Array(levels.length);
  for (let iteration = 0; iteration < (options.iterations ?? 50); iteration++) {
    // E-step: probability each pair is a match, in log space for stability.
    let posteriorSum = 0;
    for (let p = 0; p < levels.length; p++) {
      let logMatch = Math.log(share);
      let logNonMatch = Math.log(1 - share);
      const row = levels[p];
      for (let f = 0; f < fields.length; f++) {
        const level = row[f];
        if (Number.isNaN(level)) continue;
        logMatch += level * Math.log(m[f]) + (1 - level) * Math.log(1 - m[f]);
        logNonMatch += level * Math.log(u[f]) + (1 - level) * Math.log(1 - u[f]);
      }
      posterior[p] = 1 / (1 + Math.exp(logNonMatch - logMatch));
      posteriorSum += posterior[p];
    }
    // M-step: agreement rates weighted by the posteriors.
    for (let f = 0; f < fields.length; f++) {
      let matchAgree = 0, matchTotal = 0, nonAgree = 0, nonTotal = 0;
      for (let p = 0; p < levels.length; p++) {
        const level = levels[p][f];
        if (Number.isNaN(level)) continue;
        matchAgree += posterior[p] * level;
        matchTotal += posterior[p];
        nonAgree += (1 - posterior[p]) * level;
        nonTotal += 1 - posterior[p];
      }
      if (matchTotal > 0) m[f] = clamp(matchAgree / matchTotal);
      if (nonTotal > 0) u[f] = clamp(nonAgree / nonTotal);
    }
    share = clamp(posteriorSum / levels.length);
  }
  return {
    ...matcher.rules,
    // A field EM finds uninformative (m <= u) keeps the rules' values rather than a negative agreement weight.
    fields: fields.map((field, f) => (m[f] > u[f] ? { ...field, m: m[f], u: u[f] } : field)),
  };
}

function clamp(value: number): number {
  return Math.min(HIGH, Math.max(LOW, value));
}
