/**
 * Comparators: each turns the values of one field on two patients into a similarity in 0..1
 * (1 = agree), or undefined when the values cannot be compared (as if missing). Fields can hold
 * several values (two given names, old and new addresses): the best-matching pair counts.
 */
import { damerauLevenshteinSimilarity, jaroWinkler, prefixSimilarity } from './string-similarity.js';
import { doubleMetaphone, soundex } from './phonetic.js';

export const COMPARATORS = ['exact', 'jaro-winkler', 'damerau-levenshtein', 'soundex', 'double-metaphone', 'identifier', 'date', 'prefix'] as const;
export type ComparatorName = (typeof COMPARATORS)[number];

export interface ComparatorOptions {
  /** date: dates this many days apart or fewer still agree partly (linear from 1 down to 0.5). */
  toleranceDays: number;
  /** date: similarity of two dates with day and month swapped (0 turns the check off). */
  transpositionSimilarity: number;
  /** date: also score digit typos (one wrong digit in yyyymmdd gives 0.875). */
  dateTypos: boolean;
}

export interface Comparison { similarity: number; a: string; b: string }

export function compareValues(comparator: ComparatorName, as: readonly string[], bs: readonly string[], options: ComparatorOptions): Comparison | undefined {
  if (comparator === 'identifier') return compareIdentifiers(as, bs);
  let best: Comparison | undefined;
  for (const a of as) {
    for (const b of bs) {
      const similarity = compareOne(comparator, a, b, options);
      if (similarity === undefined) continue;
      if (!best || similarity > best.similarity) best = { similarity, a, b };
      if (similarity >= 1) return best;
    }
  }
  return best;
}

function compareOne(comparator: Exclude<ComparatorName, 'identifier'>, a: string, b: string, options: ComparatorOptions): number | undefined {
  switch (comparator) {
    case 'exact': return a === b ? 1 : 0;
    case 'jaro-winkler': return jaroWinkler(a, b);
    case 'damerau-levenshtein': return damerauLevenshteinSimilarity(a, b);
    case 'soundex': return soundex(a) === soundex(b) ? 1 : 0;
    case 'double-metaphone': return phoneticallyEqual(a, b) ? 1 : 0;
    case 'prefix': return prefixSimilarity(a, b);
    case 'date': return compareDates(a, b, options);
  }
}

function phoneticallyEqual(a: string, b: string): boolean {
  const [aPrimary, aAlternate] = doubleMetaphone(a);
  const [bPrimary, bAlternate] = doubleMetaphone(b);
  if (!aPrimary || !bPrimary) return a === b;
  return aPrimary === bPrimary || aPrimary === bAlternate || aAlternate === bPrimary || (aAlternate !== '' && aAlternate === bAlternate);
}

/**
 * Identifiers as "system|value": only identifiers of the same system are compared (a passport
 * number says nothing about a national id), so two patients with no system in common give
 * undefined. Equal value in a shared system: 1; shared systems but no equal value: 0.
 */
function compareIdentifiers(as: readonly string[], bs: readonly string[]): Comparison | undefined {
  let disagreement: Comparison | undefined;
  for (const a of as) {
    const [aSystem, aValue] = splitIdentifier(a);
    for (const b of bs) {
      const [bSystem, bValue] = splitIdentifier(b);
      if (aSystem !== bSystem) continue;
      if (aValue === bValue) return { similarity: 1, a, b };
      disagreement ??= { similarity: 0, a, b };
    }
  }
  return disagreement;
}

export function splitIdentifier(token: string): [string, string] {
  const bar = token.lastIndexOf('|');
  return bar < 0 ? ['', token] : [token.slice(0, bar), token.slice(bar + 1)];
}

const DAY_MS = 86_400_000;

/** FHIR dates (yyyy, yyyy-mm, yyyy-mm-dd); a partial date is compared at its own precision. */
export function compareDates(a: string, b: string, options: ComparatorOptions): number | undefined {
  const x = parseDate(a);
  const y = parseDate(b);
  if (!x || !y) return undefined;
  if (x.precision < 3 || y.precision < 3) {
    const precision = Math.min(x.precision, y.precision);
    const same = x.year === y.year && (precision < 2 || x.month === y.month);
    return same ? 1 : 0;
  }
  if (x.year === y.year && x.month === y.month && x.day === y.day) return 1;
  let similarity = 0;
  if (options.transpositionSimilarity > 0 && x.year === y.year && x.day === y.month && x.month === y.day) {
    similarity = options.transpositionSimilarity;
  }
  if (options.toleranceDays > 0) {
    const days = Math.abs(Date.UTC(x.year, x.month - 1, x.day) - Date.UTC(y.year, y.month - 1, y.day)) / DAY_MS;
    if (days <= options.toleranceDays) similarity = Math.max(similarity, 1 - 0.5 * (days / options.toleranceDays));
  }
  if (options.dateTypos) similarity = Math.max(similarity, damerauLevenshteinSimilarity(digits(x), digits(y)));
  return similarity;
}

interface ParsedDate { year: number; month: number; day: number; precision: 1 | 2 | 3 }

function parseDate(text: string): ParsedDate | undefined {
  const match = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?/.exec(text);
  if (!match) return undefined;
  const [, year, month, day] = match;
  return { year: Number(year), month: Number(month ?? 0), day: Number(day ?? 0), precision: day ? 3 : month ? 2 : 1 };
}

function digits(date: ParsedDate): string {
  return `${date.year}${String(date.month).padStart(2, '0')}${String(date.day).padStart(2, '0')}`;
}
