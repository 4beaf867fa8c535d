/**
 * The one reading of a request path that the router matches channels against AND sends
 * upstream, so no upstream can read a path another way than the channel check did.
 *
 * - Percent-encoded unreserved characters (letters, digits, `-._~`) are decoded: `%2e` is a dot,
 *   `%41` is `A`. Other escapes stay, with upper-case hex.
 * - Dot segments are resolved as RFC 3986 says (`/a/./b/../c` is `/a/c`); a `..` that would
 *   climb above the root is refused.
 * - Refused (400): escapes that are not two hex digits; an encoded slash (`%2F`) or a backslash,
 *   raw or encoded (`%5C`), since upstreams disagree whether they separate segments; encoded
 *   control characters (`%00`-`%1F`, `%7F`); a dot segment with parameters (`..;x`, which Java
 *   servers resolve); a fragment (`#`, in the path or the query: refusedQuery); a request target
 *   that is not a path (`*`, absolute form).
 */

export type NormalisedPath = { ok: true; path: string } | { ok: false; reason: string };

const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
const ESCAPE = /%([0-9A-Fa-f]{2})/y;

function refuse(reason: string): NormalisedPath {
  return { ok: false, reason };
}

/** Decodes the escapes of unreserved characters in one segment, or says why an escape is refused. */
function decodeSegment(segment: string): { value: string } | { reason: string } {
  if (!segment.includes('%')) return { value: segment };
  let out = '';
  for (let i = 0; i < segment.length; i++) {
    const ch = segment[i]!;
    if (ch !== '%') {
      out += ch;
      continue;
    }
    ESCAPE.lastIndex = i;
    const m = ESCAPE.exec(segment);
    if (!m) return { reason: `"${segment}" has a % that is not followed by two hex digits` };
    const code = parseInt(m[1]!, 16);
    const decoded = String.fromCharCode(code);
    if (code === 0x2f || code === 0x5c) return { reason: 'an encoded slash or backslash (%2F, %5C) is not accepted in a path' };
    if (code < 0x20 || code === 0x7f) return { reason: 'an encoded control character is not accepted in a path' };
    out += UNRESERVED.test(decoded) ? decoded : `%${m[1]!.toUpperCase()}`;
    i += 2;
  }
  return { value: out };
}

function isDotSegment(segment: string): boolean {
  return segment === '.' || segment === '..';
}

/**
 * Why a request target's query cannot be forwarded, if it cannot. A `#` is not allowed anywhere
 * in a request target (RFC 9112 3.2: `origin-form = absolute-path [ "?" query ]`; a client never
 * sends a fragment); upstreams would disagree whether what follows it is part of the query.
 */
export function refusedQuery(query: string): string | undefined {
  return query.includes('#') ? 'a request target may not carry a fragment (#)' : undefined;
}

/** The path part of a request target (without the query string), normalised or refused. */
export function normaliseRequestPath(raw: string): NormalisedPath {
  if (!raw.startsWith('/')) return refuse('the request target must be a path starting with /');
  if (raw.includes('#')) return refuse('a request path may not carry a fragment (#)');
  if (raw.includes('\\')) return refuse('a backslash is not accepted in a path');
  const segments = raw.slice(1).split('/');
  const out: string[] = [];
  for (let i = 0; i < segments.length; i++) {
    const decoded = decodeSegment(segments[i]!);
    if ('reason' in decoded) return refuse(decoded.reason);
    const segment = decoded.value;
    const last = i === segments.length - 1;
    if (isDotSegment(segment.split(';')[0]!) && segment.includes(';')) return refuse('a dot segment with parameters (..;) is not accepted in a path');
    if (segment === '.') {
      // `/a/.` is `/a/`: a trailing dot segment leaves the slash.
      if (last) out.push('');
      continue;
    }
    if (segment === '..') {
      if (out.length === 0) return refuse('the path climbs above the root with ..');
      out.pop();
      if (last) out.push('');
      continue;
    }
    out.push(segment);
  }
  return { ok: true, path: `/${out.join('/')}` };
}
