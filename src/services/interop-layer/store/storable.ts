/**
 * What PostgreSQL's jsonb and text cannot hold: the NUL character (U+0000) and lone UTF-16
 * surrogates (JSON.stringify writes them as `\u0000` and `\ud800` escapes, which jsonb refuses).
 * Routed bodies keep their exact bytes in a bytea column; every other string of a stored
 * document (headers, path, query string, mediator properties and orchestrations, error
 * messages) is made storable here, each such character replaced by U+FFFD.
 */

/** Escapes JSON.stringify writes for unstorable characters (may also match an escaped backslash: harmless). */
const UNSTORABLE_ESCAPE = /\\u(?:0000|d[89a-f][0-9a-f]{2})/i;
const UNSTORABLE_CHARS = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Whether a JSON text (from JSON.stringify) may hold characters jsonb refuses. */
export function mayHoldUnstorable(json: string): boolean {
  return UNSTORABLE_ESCAPE.test(json);
}

export function storableString(value: string): string {
  return value.replace(UNSTORABLE_CHARS, '\ufffd');
}

/** A deep copy with every string (and key) storable; other values as they are. */
export function storable<T>(value: T): T {
  return walk(value, 0) as T;
}

function walk(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return storableString(value);
  if (value === null || typeof value !== 'object' || depth > 200) return value;
  const toJSON = (value as { toJSON?: unknown }).toJSON;
  if (typeof toJSON === 'function') return walk(toJSON.call(value), depth + 1);
  if (Array.isArray(value)) return value.map((item) => walk(item, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    // Defined as own data properties: a key "__proto__" stays a plain key.
    Object.defineProperty(out, storableString(key), { value: walk(item, depth + 1), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** JSON for a jsonb parameter: the fast JSON.stringify, made storable only when it needs to be. */
export function storableJson(value: unknown): string {
  const json = JSON.stringify(value);
  return mayHoldUnstorable(json) ? JSON.stringify(storable(value)) : json;
}
