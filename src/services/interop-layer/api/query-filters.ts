/**
 * Query parameters of the admin API's lists (transactions, audits, tasks, metrics), checked at
 * the edge: a bad value is a 400 naming the parameter, never a database error (500).
 */
import { badRequest } from '../errors.js';
import { mayHoldUnstorable } from '../store/storable.js';

/** Deepest page a list serves (filterPage); deeper paging is a 400 (narrow the filters instead). */
export const MAX_FILTER_PAGE = 100_000;
/** Longest regular expression accepted in a filter. */
export const MAX_FILTER_REGEX_LENGTH = 200;

/** Strings with NUL or lone surrogates reach no query (PostgreSQL text refuses them). */
export function checkStorable(value: unknown, name: string): void {
  if (value === undefined) return;
  if (mayHoldUnstorable(JSON.stringify(value))) throw badRequest(`${name} contains a NUL character or a lone surrogate`);
}

/**
 * Refuses parameters a list does not take (a filter that would be silently ignored returns
 * everything, which a caller reads as "these are the matches"). `_` (a browser cache-buster) passes.
 */
export function refuseUnknownParameters(query: Record<string, unknown>, known: readonly string[], where: string): void {
  const unknown = Object.keys(query).find((name) => name !== '_' && !known.includes(name));
  if (unknown !== undefined) throw badRequest(`${where} does not take the parameter "${unknown.slice(0, 60)}"`, `it takes ${known.join(', ')}`);
}

function wholeNumber(raw: unknown, name: string, min: number, max: number): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const text = String(raw);
  if (!/^\d{1,9}$/.test(text)) throw badRequest(`${name} must be a whole number from ${min} to ${max}, not "${text.slice(0, 40)}"`);
  const value = Number(text);
  if (value < min || value > max) throw badRequest(`${name} must be a whole number from ${min} to ${max}, not ${value}`);
  return value;
}

/**
 * filterLimit (0 to any size, lowered to `maxLimit`: OPENHIM_API_MAX_FILTER_LIMIT) and
 * filterPage (0 to MAX_FILTER_PAGE), as limit and offset. 0 is OpenHIM's "no limit" (Mongo's
 * limit(0)): here it is the largest page, `maxLimit` rows, so one request still has a bound.
 */
export function parsePaging(query: { filterLimit?: unknown; filterPage?: unknown }, maxLimit: number, defaultLimit = 100): { limit: number; offset: number } {
  const asked = wholeNumber(query.filterLimit, 'filterLimit', 0, 999_999_999) ?? defaultLimit;
  const limit = Math.min(asked === 0 ? maxLimit : asked, maxLimit);
  const page = wholeNumber(query.filterPage, 'filterPage', 0, MAX_FILTER_PAGE) ?? 0;
  return { limit, offset: page * limit };
}

/** An instant PostgreSQL takes (ISO 8601 dates and date-times, years 1 to 9999), as ISO text. */
export function parseTimestamp(raw: unknown, name: string): string | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  const text = typeof raw === 'string' || typeof raw === 'number' ? String(raw) : '';
  const iso = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/i.test(text);
  const time = iso ? Date.parse(text) : Number.NaN;
  if (Number.isNaN(time) || text.startsWith('0000')) {
    throw badRequest(`${name} must be an ISO 8601 date or date-time (e.g. 2026-01-31T12:00:00Z), not "${text.slice(0, 40)}"`);
  }
  return new Date(time).toISOString();
}

const RANGE_OPERATORS = ['$gte', '$gt', '$lte', '$lt'];

/**
 * A MongoDB-style range of instants (`{$gte, $gt, $lte, $lt}`, OpenHIM's filters; an object, the
 * caller having read JSON text) as inclusive bounds: `$gt`/`$lt` exclude their instant, and the
 * stored instants are whole milliseconds, so they move by one. `$gte`/`$lte` win when both forms
 * of a bound are given. Anything else is a 400 naming the filter.
 */
export function instantRange(value: unknown, name: string): { from?: string; to?: string } {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw badRequest(`${name} must be an object like {"$gte": "2026-01-01", "$lte": "2026-01-31"}`);
  for (const op of Object.keys(value)) if (!RANGE_OPERATORS.includes(op)) throw badRequest(`${name}: unknown operator "${op.slice(0, 20)}"`, 'use $gte, $gt, $lte or $lt');
  const range = value as Record<string, unknown>;
  const moved = (instant: string | undefined, ms: number): string | undefined => (instant === undefined ? undefined : new Date(Date.parse(instant) + ms).toISOString());
  const from = range.$gte !== undefined ? parseTimestamp(range.$gte, `${name} $gte`) : moved(parseTimestamp(range.$gt, `${name} $gt`), 1);
  const to = range.$lte !== undefined ? parseTimestamp(range.$lte, `${name} $lte`) : moved(parseTimestamp(range.$lt, `${name} $lt`), -1);
  return { ...(from ? { from } : {}), ...(to ? { to } : {}) };
}

/** A value from a closed list, or a 400 naming the allowed values. */
export function oneOf<T extends string>(raw: unknown, name: string, allowed: readonly T[]): T | undefined {
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'string' || !(allowed as readonly string[]).includes(raw)) {
    throw badRequest(`${name} must be one of ${allowed.join(', ')}, not "${String(raw).slice(0, 40)}"`);
  }
  return raw as T;
}

/**
 * A regular expression for PostgreSQL's `~` operator, from a user. Accepted: up to
 * MAX_FILTER_REGEX_LENGTH characters, valid in JavaScript, made of literals, escapes, character
 * classes, `.`, `^`, `$` and at most 10 quantifiers `* + ?` — no groups, alternation or counted
 * repetition, whose state blow-up held the database for seconds. The statement timeout bounds
 * whatever is left (and answers 400).
 */
export function parseFilterRegex(raw: unknown, name: string): string | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (typeof raw !== 'string') throw badRequest(`${name} must be a regular expression as a string`);
  if (raw.length > MAX_FILTER_REGEX_LENGTH) throw badRequest(`${name} is longer than ${MAX_FILTER_REGEX_LENGTH} characters`);
  checkStorable(raw, name);
  // A small, linear subset: literals, classes, `.`, anchors and single quantifiers. Groups,
  // alternation and counted repetition ({1,255}) are what makes a regex engine's states explode.
  if (/[(){}|]/.test(raw.replace(/\\./g, '').replace(/\[(?:\\.|[^\]])*\]/g, ''))) {
    throw badRequest(`${name} may not use groups, alternation or counted repetition ( ) | { }`, 'use literals, character classes, . and the quantifiers * + ?');
  }
  if ((raw.match(/[*+?]/g) ?? []).length > 10) throw badRequest(`${name} may use at most 10 quantifiers`);
  try {
    new RegExp(raw);
  } catch (error) {
    throw badRequest(`${name} is not a valid regular expression: ${(error as Error).message}`);
  }
  return raw;
}

/** PostgreSQL refused a user's regular expression (too complex, or a syntax it lacks): a 400. */
export function isRegexRefusal(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === '2201B';
}

/** A filter value that may come as JSON text (OpenHIM's console sends `filters` values both ways). */
export function asJson(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/**
 * A filter given as a string, a list of strings or `{$in: [...]}` (as OpenHIM's UI and Mongo
 * queries send them): 1 to `max` values, each a string (or a number, taken as text) of at most
 * `maxChars` characters.
 */
export function filterValues(value: unknown, name: string, max: number, maxChars = Number.POSITIVE_INFINITY): string[] {
  const v = asJson(value);
  const isObject = v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isObject && Object.keys(v).some((k) => k !== '$in')) throw badRequest(`filter ${name} accepts a value, a list or {"$in": [...]}`);
  const list = Array.isArray(v) ? v : isObject ? (v as { $in?: unknown }).$in : [v];
  if (!Array.isArray(list) || list.length === 0 || list.length > max || !list.every((x) => (typeof x === 'string' || typeof x === 'number') && String(x).length <= maxChars)) {
    throw badRequest(`filter ${name} must be a string, a list of 1 to ${max} strings, or {"$in": [...]} of them`);
  }
  return list.map(String);
}

/** The `filters` parameter (JSON text, or an object already parsed): a plain object, storable. */
export function filtersObject(raw: string | Record<string, unknown>): Record<string, unknown> {
  let filters: unknown;
  try {
    filters = typeof raw === 'string' ? JSON.parse(raw) : raw;
  } catch {
    throw badRequest('filters is not valid JSON');
  }
  if (!filters || typeof filters !== 'object' || Array.isArray(filters)) throw badRequest('filters must be a JSON object');
  checkStorable(filters, 'filters');
  return filters as Record<string, unknown>;
}
