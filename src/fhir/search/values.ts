/** Parsing of prefixed search values (dates, numbers, quantities) into ranges. */
import { badRequest } from '../outcome.js';
import { PREFIXES, type Prefix } from './parse.js';

export function splitPrefix(value: string): { prefix: Prefix; rest: string } {
  const head = value.slice(0, 2) as Prefix;
  if (PREFIXES.includes(head) && value.length > 2 && !/^[a-z]/.test(value.slice(2))) return { prefix: head, rest: value.slice(2) };
  return { prefix: 'eq', rest: value };
}

// A timezone is at most ±14:00, as in FHIR's dateTime (`+99:00` would shift the range silently).
const ZONE = '(Z|[+-](?:(?:0\\d|1[0-3]):[0-5]\\d|14:00))';
const INSTANT = new RegExp(`^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?${ZONE}$`);
const DATE = new RegExp(`^(\\d{4})(?:-(\\d{2})(?:-(\\d{2})(?:T(\\d{2}):(\\d{2})(?::(\\d{2})(?:\\.(\\d{1,9}))?)?${ZONE}?)?)?)?$`);

/**
 * Whether a `_since` value (history, `$everything`) is one this server takes: a FHIR instant with
 * its timezone (a time without one would be read in the server's zone), or a date alone (as HAPI
 * and many clients send it), taken as its first moment in UTC.
 */
export function isSinceValue(text: string): boolean {
  return INSTANT.test(withTimezonePlus(text)) || /^\d{4}(-\d{2}(-\d{2})?)?$/.test(text);
}

/**
 * A dateTime whose timezone `+` was written unencoded in a URL, and so arrives as a space
 * (`T10:00:00 05:00`), with its `+` back: every date value of a query (search, `_since`, `_at`)
 * reads it the same way.
 */
export function withTimezonePlus(text: string): string {
  return text.replace(/(T[\d:.]+) (\d{2}:\d{2})$/, '$1+$2');
}

/** A date search value as the range of instants it covers, e.g. 2020-03 → all of March 2020 (UTC). */
export function parseDateRange(text: string): { low: Date; high: Date } {
  // The `+` of a timezone written unencoded in a URL arrives as a space (`T10:00:00 05:00`).
  const m = DATE.exec(withTimezonePlus(text));
  if (!m) throw badRequest(`"${text}" is not a FHIR date, dateTime or instant`, 'FHIR_BAD_SEARCH');
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const year = Number(y);
  const month = mo ? Number(mo) - 1 : 0;
  const day = d ? Number(d) : 1;
  // Days past the month's end (2024-02-30) are no date: Date.UTC would roll them into the next month.
  const daysInMonth = new Date(utc(year, month + 1, 0)).getUTCDate();
  if (year === 0 || month > 11 || day < 1 || day > daysInMonth || (mo && Number(mo) < 1) || (h && Number(h) > 23) || (mi && Number(mi) > 59) || (s && Number(s) > 60)) {
    throw badRequest(`"${text}" is not a valid date`, 'FHIR_BAD_SEARCH');
  }
  const offsetMs = zone && zone !== 'Z' ? (zone.startsWith('-') ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60000 : 0;
  // A leap second (23:59:60) is the last millisecond before it, as the indexer stores it.
  const leap = s === '60';
  const ms = leap ? 999 : frac ? Number(frac.slice(0, 3).padEnd(3, '0')) : 0;
  const start = utc(year, month, day, h ? Number(h) : 0, mi ? Number(mi) : 0, leap ? 59 : s ? Number(s) : 0, ms) - offsetMs;
  let end: number;
  if (!mo) end = utc(year + 1, 0, 1) - offsetMs;
  else if (!d) end = utc(year, month + 1, 1) - offsetMs;
  else if (!h) end = utc(year, month, day + 1) - offsetMs;
  else if (!s) end = start + 60_000;
  else if (!frac && !leap) end = start + 1000;
  else end = start + 1;
  return { low: new Date(start), high: new Date(end - 1) };
}

/** Date.UTC for any year: Date.UTC reads years 0-99 as 1900-1999, so `birthdate=0050` searched 1950. */
function utc(year: number, month: number, day: number, hours = 0, minutes = 0, seconds = 0, ms = 0): number {
  const date = new Date(0);
  date.setUTCFullYear(year, month, day);
  date.setUTCHours(hours, minutes, seconds, ms);
  return date.getTime();
}

/**
 * A number search value and the half-open range its precision implies (R4 search.html#number):
 * `100` is [99.5, 100.5), `100.00` [99.995, 100.005), each a half unit of its last digit. A value in
 * exponential form is read as R4's table reads it: `1e2` is [95, 105), a half unit of the digit after
 * the significand's last (`1.5e2` [149.5, 150.5)), so it is less precise than `100`, as R4 means.
 */
export function parseNumberRange(text: string): { value: number; low: number; high: number; text: string; half: string } {
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text)) {
    throw badRequest(`"${text}" is not a number`, 'FHIR_BAD_SEARCH');
  }
  const value = Number(text);
  if (!Number.isFinite(value) || Math.abs(value) > 1e300) throw badRequest(`"${text.slice(0, 40)}" is out of range`, 'FHIR_BAD_SEARCH');
  const [mantissa, exponentText] = text.split(/[eE]/) as [string, string | undefined];
  const decimals = mantissa.includes('.') ? mantissa.split('.')[1]!.length : 0;
  // The power of ten of the half unit: 5e-1 for `100`, 5e-3 for `100.00`, 5e0 for `1e2`.
  const halfExponent = exponentText === undefined ? -decimals - 1 : Number(exponentText) - decimals - 2;
  const half = 5 * 10 ** halfExponent;
  return { value, low: value - half, high: value + half, text, half: `5e${halfExponent}` };
}
