/**
 * JSON whose numbers keep the form they were written in. FHIR decimals carry their precision
 * (R4 datatypes.html#decimal: `0.010` is not `0.01`; a potassium of `4.0` mmol/L is not `4`), but
 * a JavaScript number is a double: `JSON.parse` turns `1.50` into 1.5 and `JSON.stringify` writes
 * `1.5`. PostgreSQL's jsonb keeps the scale of its numerics, so only the JavaScript side loses it.
 *
 * Here the parsed values stay plain numbers (validation, FHIRPath and the search indexes work on
 * them as before); a number whose shortest JavaScript form differs from its text (`1.50`,
 * `0.0000001`, more digits than a double holds; an exponent as jsonb writes it out, textToKeep)
 * has its text kept beside it, in a symbol property
 * of the object or array holding it, and every container above it is marked with another. Object
 * spreads copy symbol properties and JSON, Object.keys and for-in ignore them, so a resource
 * copied with `{ ...resource, id }` still holds its texts and says so.
 * Writing such a value puts each kept text back where the number is still the same number.
 * JSON without such numbers (nearly all) costs one scan of its number tokens more than plain
 * JSON.parse, and nothing more to write.
 */
import { randomBytes } from 'node:crypto';

type Holder = Record<string, unknown> | unknown[];

/** Marks a container that holds, at some depth, a number with a kept text. */
const HOLDS_DECIMAL_TEXT: unique symbol = Symbol('holds decimal text');

/** The kept texts of a holder's numbers, by key, and the holder they were made for. */
const DECIMAL_TEXTS: unique symbol = Symbol('decimal texts');

interface KeptTexts {
  owner: object;
  /** By index for an array holder, by name (no prototype) for an object: faster than a Map for many. */
  byKey: Record<string | number, string | undefined>;
}
type WithTexts = { [DECIMAL_TEXTS]?: KeptTexts };

/**
 * A number token in a value position (after `:`, `[` or `,`) that ends where a JSON value ends:
 * times inside strings (`"10:00:00.000Z"`) do not end at a delimiter and are not candidates.
 */
const NUMBER_TOKEN = /[:,[]\s*(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?=\s*[,}\]])/g;

/**
 * The most number texts one parse keeps. Keeping costs about ten times what JSON.parse spends on a
 * number, so a hostile body of millions of `1.0` would hold the event loop for seconds; past this
 * many (no real resource or bundle comes near) the rest are read as plain numbers.
 */
export const MAX_KEPT_TEXTS_PER_PARSE = 100_000;

/** True when the number's shortest JavaScript form is not its text, so writing it would change it. */
function losesItsForm(text: string): boolean {
  return String(Number(text)) !== text;
}

/**
 * The text to keep for a number as written, if any, in the form PostgreSQL's jsonb gives it back,
 * so the answer of the write that stores it and later reads agree. jsonb writes an exponent out
 * in full (`1.50e1` is `15.0`, `1e-7` is `0.0000001`): such a text is kept written out when that
 * is short (an exponent up to 30), and not at all past it (`1e-16000` would be 16,001 characters
 * from 9; JavaScript's own form of any double is at most about 330 written out). Negative zero is
 * kept without its sign, which jsonb has no way to keep.
 */
function textToKeep(written: string): string | undefined {
  let text: string | undefined = written;
  if (written.includes('e') || written.includes('E')) text = writtenOut(written);
  if (text === undefined) return undefined;
  if (text.charCodeAt(0) === 0x2d && Number(text) === 0) text = text.slice(1);
  return losesItsForm(text) ? text : undefined;
}

const MAX_WRITTEN_OUT_EXPONENT = 30;

/** `1.50e1` as `15.0`, `1e-7` as `0.0000001`: the digits kept, the point moved; undefined past the bound. */
function writtenOut(written: string): string | undefined {
  const m = /^(-?)(\d+)(?:\.(\d+))?[eE]([+-]?\d+)$/.exec(written);
  if (!m) return undefined;
  const exponent = Number(m[4]);
  if (Math.abs(exponent) > MAX_WRITTEN_OUT_EXPONENT) return undefined;
  const whole = m[2]!;
  const digits = whole + (m[3] ?? '');
  const point = whole.length + exponent;
  let text: string;
  if (point <= 0) text = `0.${'0'.repeat(-point)}${digits}`;
  else if (point >= digits.length) text = digits + '0'.repeat(point - digits.length);
  else text = `${digits.slice(0, point)}.${digits.slice(point)}`;
  text = text.replace(/^0+(?=\d)/, ''); // `0.5e1` is `5`, not `05`
  return m[1] + text;
}

/** Parses JSON as JSON.parse does, keeping the text of numbers a double would rewrite. */
export function parseJsonKeepingDecimals(text: string): unknown {
  const value: unknown = JSON.parse(text);
  if (value !== null && typeof value === 'object' && hasNumberThatLosesItsForm(text)) keepNumberTexts(text, value as Holder);
  return value;
}

function hasNumberThatLosesItsForm(text: string): boolean {
  NUMBER_TOKEN.lastIndex = 0;
  for (let match = NUMBER_TOKEN.exec(text); match; match = NUMBER_TOKEN.exec(text)) {
    if (textToKeep(match[1]!) !== undefined) return true;
  }
  return false;
}

/**
 * Walks the text beside the value JSON.parse made of it, container by container, and keeps the
 * text of each number that would lose its form. The text is valid JSON (JSON.parse took it), so
 * the walk only needs to tell strings, numbers and structure apart. Containers are reached only
 * through own properties: a `__proto__` key never leads to Object.prototype.
 */
function keepNumberTexts(text: string, root: Holder): void {
  const detached = {} as Holder; // where a duplicate key's earlier value is walked: it is not in the result
  const path: Holder[] = [];
  let current: Holder | undefined;
  let key: string | number | undefined;
  let expectingKey = false;
  const childOf = (holder: Holder | undefined, at: string | number | undefined): Holder => {
    if (holder === undefined) return root;
    if (at === undefined || !Object.hasOwn(holder, at)) return detached;
    const child = (holder as Record<string | number, unknown>)[at];
    return child !== null && typeof child === 'object' ? (child as Holder) : detached;
  };
  const keys: Array<string | number | undefined> = [];
  let kept = 0;
  for (let i = 0; i < text.length;) {
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      const child = childOf(current, key);
      if (current !== undefined) path.push(current);
      keys.push(key);
      current = child;
      key = c === 0x5b ? 0 : undefined;
      expectingKey = c === 0x7b;
      i++;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      current = path.pop();
      key = keys.pop();
      expectingKey = false;
      i++;
    } else if (c === 0x2c /* , */) {
      if (Array.isArray(current)) key = (key as number) + 1;
      else expectingKey = true;
      i++;
    } else if (c === 0x3a /* : */) {
      expectingKey = false;
      i++;
    } else if (c === 0x22 /* " */) {
      let end = i + 1;
      let escaped = false;
      while (text.charCodeAt(end) !== 0x22) end += text.charCodeAt(end) === 0x5c /* \ */ ? ((escaped = true), 2) : 1;
      if (expectingKey) key = escaped ? (JSON.parse(text.slice(i, end + 1)) as string) : text.slice(i + 1, end);
      i = end + 1;
    } else if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      let end = i + 1;
      while (end < text.length && isNumberChar(text.charCodeAt(end))) end++;
      const written = text.slice(i, end);
      if (current !== undefined && current !== detached && key !== undefined) {
        const keep = textToKeep(written);
        if (keep !== undefined && kept++ < MAX_KEPT_TEXTS_PER_PARSE) storeText(current, key, keep, path);
        // A duplicate key's earlier text goes: the last one is the value (also past the cap).
        else forgetDecimalText(current, key);
      }
      i = end;
    } else i++;
  }
}

/** Digits, `.`, `e`, `E`, `+`, `-`: what a JSON number token is made of. */
function isNumberChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d;
}

/**
 * Keeps the written text of the number at holder[key], and marks the holder and the containers
 * above it (outermost first, as a walk has them). For readers of other formats (FHIR XML).
 */
export function keepDecimalText(holder: Holder, key: string | number, written: string, above: readonly Holder[] = []): void {
  const text = textToKeep(written);
  if (text === undefined) return forgetDecimalText(holder, key);
  storeText(holder, key, text, above);
}

/** Keeps a text already in the form textToKeep gives. */
function storeText(holder: Holder, key: string | number, text: string, above: readonly Holder[]): void {
  const withTexts = holder as WithTexts;
  let texts = withTexts[DECIMAL_TEXTS];
  // A copy made by a spread shares its source's texts: it gets its own before they change (once).
  if (texts?.owner !== holder) withTexts[DECIMAL_TEXTS] = texts = { owner: holder, byKey: textsLike(holder, texts?.byKey) };
  texts.byKey[key] = text;
  mark(holder);
  for (const container of above) mark(container);
}

function textsLike(holder: Holder, source: KeptTexts['byKey'] | undefined): KeptTexts['byKey'] {
  if (Array.isArray(holder)) return (source ? (source as unknown as string[]).slice() : []) as unknown as KeptTexts['byKey'];
  return Object.assign(Object.create(null) as KeptTexts['byKey'], source);
}

/** Marks a container as holding kept texts below it (a patch put a value that holds some there). */
export function markHoldingDecimalText(container: object): void {
  mark(container as Holder);
}

function mark(container: Holder): void {
  const marked = container as Record<symbol, unknown>;
  if (!marked[HOLDS_DECIMAL_TEXT]) marked[HOLDS_DECIMAL_TEXT] = true;
}

/** Forgets a kept text: the number at holder[key] is now written as JavaScript writes it. */
export function forgetDecimalText(holder: object, key: string | number): void {
  const texts = (holder as WithTexts)[DECIMAL_TEXTS];
  if (!texts || texts.byKey[key] === undefined) return;
  if (texts.owner !== holder) (holder as WithTexts)[DECIMAL_TEXTS] = { owner: holder, byKey: textsLike(holder as Holder, texts.byKey) };
  delete (holder as WithTexts)[DECIMAL_TEXTS]!.byKey[key];
}

/** An array's kept texts follow a splice of its items (JSON Patch and FHIRPath Patch insert, delete, move). */
export function spliceDecimalTexts(array: unknown[], start: number, deleteCount: number, insertCount: number): void {
  const texts = (array as WithTexts)[DECIMAL_TEXTS];
  if (!texts) return;
  const byIndex = (texts.owner === array ? texts.byKey : textsLike(array, texts.byKey)) as unknown as Array<string | undefined>;
  byIndex.splice(start, deleteCount, ...new Array<undefined>(insertCount));
  (array as WithTexts)[DECIMAL_TEXTS] = { owner: array, byKey: byIndex as unknown as KeptTexts['byKey'] };
}

/** The kept text of the number at holder[key], if it is still that number. */
export function decimalText(holder: object, key: string | number, value: unknown): string | undefined {
  if (typeof value !== 'number') return undefined;
  const written = (holder as WithTexts)[DECIMAL_TEXTS]?.byKey[key];
  return written !== undefined && Number(written) === value ? written : undefined;
}

/** Whether a value holds kept number texts: it is marked, or a resource it carries is (Bundle entries, Parameters). */
export function holdsDecimalText(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  if ((value as Record<symbol, unknown>)[HOLDS_DECIMAL_TEXT]) return true;
  const record = value as Record<string, unknown>;
  for (const list of [record.entry, record.parameter]) {
    if (!Array.isArray(list)) continue;
    for (const item of list) {
      if (item && typeof item === 'object' && ((item as Record<symbol, unknown>)[HOLDS_DECIMAL_TEXT] || holdsDecimalText((item as Record<string, unknown>).resource))) return true;
    }
  }
  return false;
}

/**
 * A copy rebuilt key by key (or item by item) given its source's kept texts and mark, as a spread
 * would: for code that copies a resource without spreading it.
 */
export function withDecimalTextsOf<T extends object>(copy: T, source: object): T {
  const from = source as WithTexts & Record<symbol, unknown>;
  if (from[DECIMAL_TEXTS]) (copy as WithTexts)[DECIMAL_TEXTS] = from[DECIMAL_TEXTS];
  if (from[HOLDS_DECIMAL_TEXT]) mark(copy as Holder);
  return copy;
}

/**
 * JSON.stringify that writes kept number texts back. A number with a kept text is first written as
 * a string carrying a marker made for this call (no stored string can hold it), which is then
 * replaced by the bare text: the texts are only digits, signs, dots and exponents.
 */
export function stringifyJsonKeepingDecimals(value: unknown, space?: number): string {
  if (!holdsDecimalText(value)) return JSON.stringify(value, undefined, space);
  return stringifyWithTexts(value, space);
}

/**
 * stringifyJsonKeepingDecimals for an answer that may be large, as its UTF-8 bytes: a Bundle's
 * entries are written one by one, each made bytes on its own, `share` giving the event loop back
 * between them, and put in place of the entry list, so a search page of up to
 * FHIR_SEARCH_MAX_PAGE_BYTES cannot hold the process while it is written. The text is the one
 * stringifyJsonKeepingDecimals writes.
 */
export async function stringifyJsonInTurns(value: unknown, share: () => Promise<void>, space?: number): Promise<Buffer> {
  const entries = (value as { entry?: unknown } | null)?.entry;
  if (!Array.isArray(entries) || entries.length < 2) return Buffer.from(stringifyJsonKeepingDecimals(value, space));
  const write = holdsDecimalText(value) ? (item: unknown) => stringifyWithTexts(item, space) : (item: unknown) => JSON.stringify(item, undefined, space);
  // The entry list's place, held by a string no stored value can hold.
  const place = JSON.stringify(`\uE000${randomBytes(9).toString('base64url')}\uE001`);
  const head = write(withDecimalTextsOf({ ...(value as object), entry: JSON.parse(place) as string }, value as object));
  const at = head.indexOf(place);
  // `entry` is a member of the top object: its items are two levels in, its closing bracket one.
  const pad = space ? ' '.repeat(space) : '';
  const parts: Buffer[] = [Buffer.from(`${head.slice(0, at)}[${space ? '\n' : ''}`)];
  for (const [index, entry] of entries.entries()) {
    const text = write(entry);
    parts.push(Buffer.from(`${index ? (space ? ',\n' : ',') : ''}${space ? pad + pad + text.replaceAll('\n', `\n${pad}${pad}`) : text}`));
    await share();
  }
  parts.push(Buffer.from(`${space ? `\n${pad}` : ''}]${head.slice(at + place.length)}`));
  return Buffer.concat(parts);
}

function stringifyWithTexts(value: unknown, space?: number): string {
  const marker = `\uE000${randomBytes(9).toString('base64url')}\uE001`;
  let replaced = false;
  const text = JSON.stringify(value, function (this: object, key: string, item: unknown) {
    if (typeof item !== 'number') return item;
    const written = decimalText(this, Array.isArray(this) ? Number(key) : key, item);
    if (written === undefined) return item;
    replaced = true;
    return marker + written;
  }, space);
  return replaced ? text.split(`"${marker}`).map((part, n) => (n === 0 ? part : part.replace('"', ''))).join('') : text;
}

/** A deep copy of a JSON value that keeps its kept texts (structuredClone drops symbol properties). */
export function cloneJsonKeepingDecimals<T>(value: T): T {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return withDecimalTextsOf(value.map((item) => cloneJsonKeepingDecimals(item)), value) as T;
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    // defineProperty: a `__proto__` key stays an own property, as JSON.parse made it.
    Object.defineProperty(copy, key, { value: cloneJsonKeepingDecimals((value as Record<string, unknown>)[key]), writable: true, enumerable: true, configurable: true });
  }
  return withDecimalTextsOf(copy, value) as T;
}
