/** Blocking, scoring and pairwise evaluation over in-memory record sets, for the FEBRL bench. */
import type { Matcher, MatchResult } from '../../src/services/client-registry/matching/index.js';
import type { FebrlRecord } from './febrl-data.js';

export interface ScoredPair { a: number; b: number; score: number; truth: boolean; result: MatchResult }

/**
 * Candidate pairs sharing a blocking key: within one set (deduplication, `right` omitted) or
 * between two sets (linkage). Pairs are indexes into the sets.
 */
export function candidatePairs(matcher: Matcher, left: FebrlRecord[], right?: FebrlRecord[]): Array<[number, number]> {
  const index = new Map<string, number[]>();
  const other = right ?? left;
  other.forEach((record, position) => {
    for (const key of matcher.blockingKeys(record.patient)) {
      let bucket = index.get(key);
      if (!bucket) index.set(key, (bucket = []));
      bucket.push(position);
    }
  });
  const seen = new Set<number>();
  const pairs: Array<[number, number]> = [];
  left.forEach((record, i) => {
    for (const key of matcher.blockingKeys(record.patient)) {
      for (const j of index.get(key) ?? []) {
        if (!right && j <= i) continue; // each unordered pair once, never a record with itself
        const code = i * other.length + j;
        if (seen.has(code)) continue;
        seen.add(code);
        pairs.push([i, j]);
      }
    }
  });
  return pairs;
}

export function truePairCount(left: FebrlRecord[], right?: FebrlRecord[]): number {
  const counts = new Map<string, number>();
  for (const record of right ?? left) counts.set(record.person, (counts.get(record.person) ?? 0) + 1);
  if (right) return left.reduce((sum, record) => sum + (counts.get(record.person) ?? 0), 0);
  let total = 0;
  for (const count of counts.values()) total += (count * (count - 1)) / 2;
  return total;
}

export interface Quality { threshold: number; truePositives: number; falsePositives: number; falseNegatives: number; precision: number; recall: number; f1: number }

export function quality(scored: readonly ScoredPair[], threshold: number, truePairs: number): Quality {
  let truePositives = 0;
  let falsePositives = 0;
  for (const pair of scored) {
    if (pair.score < threshold) continue;
    if (pair.truth) truePositives++;
    else falsePositives++;
  }
  const falseNegatives = truePairs - truePositives;
  const precision = truePositives + falsePositives ? truePositives / (truePositives + falsePositives) : 1;
  const recall = truePairs ? truePositives / truePairs : 1;
  const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
  return { threshold, truePositives, falsePositives, falseNegatives, precision, recall, f1 };
}

/** The threshold with the best F1 (an upper bound: chosen knowing the truth). */
export function bestQuality(scored: readonly ScoredPair[], truePairs: number): Quality {
  const thresholds = [...new Set(scored.map((pair) => Math.round(pair.score * 2) / 2))].sort((x, y) => x - y);
  let best = quality(scored, Number.POSITIVE_INFINITY, truePairs);
  for (const threshold of thresholds) {
    const candidate = quality(scored, threshold, truePairs);
    if (candidate.f1 > best.f1) best = candidate;
  }
  return best;
}
