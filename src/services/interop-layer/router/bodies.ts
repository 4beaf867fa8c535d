import { capOrchestrations } from '../transaction-parts.js';
import type { Orchestration } from '../models.js';
import type { IncomingHttpHeaders } from 'node:http';

/** Headers that describe one connection, never copied between client and upstream. */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'host',
  // Answered by the router itself (100 Continue); undici refuses to send it upstream.
  'expect',
]);

/**
 * Set only by the router (from the connection it accepted), never passed on from a client:
 * a client's own values would let it choose the links upstreams build, or the address they log.
 */
export const FORWARDING_HEADERS = ['forwarded', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-port', 'x-forwarded-prefix', 'x-real-ip'] as const;

export function forwardableHeaders(headers: IncomingHttpHeaders, drop: ReadonlySet<string> | readonly string[] = NOTHING): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const dropped = drop instanceof Set ? drop : new Set(drop as readonly string[]);
  // Headers the sender named in Connection are hop-by-hop too (RFC 9110 section 7.6.1).
  const connection = headers.connection as string | string[] | undefined;
  const named = connection === undefined ? [] : String(connection).toLowerCase().split(',').map((n) => n.trim()).filter(Boolean);
  for (const name in headers) {
    if (!Object.hasOwn(headers, name)) continue;
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || dropped.has(name) || named.includes(name)) continue;
    if (name === '__proto__') Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
    else out[name] = value;
  }
  return out;
}

const NOTHING: ReadonlySet<string> = new Set();

/** A body as stored in the log: text, cut at the cap and marked when cut. */
export function storedBody(body: Buffer | string | undefined, store: boolean, cap: number): { body?: string; bodyTruncated?: boolean } {
  if (!store || body === undefined) return {};
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  if (buf.length === 0) return { body: '' };
  if (buf.length <= cap) return { body: buf.toString('utf8') };
  return { body: buf.subarray(0, cap).toString('utf8'), bodyTruncated: true };
}

/**
 * The bytes of a routed body as the log stores them: cut at the cap, or none when the channel
 * stores no body. The log keeps them as bytes (TransactionLog.finish): decoding them to text
 * here would only make garbage (two 100 KB strings per request at 100 KB bodies).
 */
export function storedBodyBytes(body: Buffer | undefined, store: boolean, cap: number): Buffer | undefined {
  if (!store || body === undefined) return undefined;
  return body.length <= cap ? body : body.subarray(0, cap);
}

/** Whether storedBodyBytes cuts this body. */
export function bodyIsCut(body: Buffer | undefined, store: boolean, cap: number): boolean {
  return store && body !== undefined && body.length > cap;
}

/** Status pattern like `2**` or `200,201` (OpenHIM's statusCodesCheck). */
export function statusMatches(pattern: string, status: number): boolean {
  const code = String(status);
  return pattern.split(',').some((p) => p.trim().length === 3 && [...p.trim()].every((ch, i) => ch === '*' || ch === code[i]));
}

/** What a credential is replaced with in the log. */
export const MASK = '***';

/** Name parts that mark a header as carrying a credential: exact parts, and parts containing these. */
const CREDENTIAL_PARTS = new Set(['auth', 'authorization', 'key', 'apikey', 'signature', 'credential', 'credentials', 'jwt', 'sid', 'pass', 'pwd', 'otp', 'pin', 'dpop', 'cert']);
const CREDENTIAL_FRAGMENTS = ['token', 'secret', 'passw', 'apikey', 'api-key', 'api_key', 'cookie', 'session', 'authoriz', 'authoris', 'certificate', 'passphrase'];

/** isCredentialName's answers by header name: the same few names arrive on every request. */
const credentialNames = new Map<string, boolean>();
const CREDENTIAL_MEMO_MAX = 1000;

/**
 * Whether a header (or query parameter) may carry a credential, case-insensitively:
 * Authorization (and Authorisation), Proxy-Authorization, Cookie, Set-Cookie, X-Api-Key, Api-Key,
 * OpenHIM's auth-* token headers, DPoP, client certificates forwarded by a proxy, anything with
 * token, secret, password or session in its name, and parts like pass, pwd, otp, pin. Generous on
 * purpose: a masked harmless header costs nothing, a stored key is a leak.
 */
export function isCredentialName(name: string): boolean {
  let known = credentialNames.get(name);
  if (known === undefined) {
    const lower = name.toLowerCase();
    known = CREDENTIAL_FRAGMENTS.some((fragment) => lower.includes(fragment)) || lower.split(/[-_.]/).some((part) => CREDENTIAL_PARTS.has(part));
    // Header names are the client's: the memo is bounded, and starts again when full.
    if (credentialNames.size >= CREDENTIAL_MEMO_MAX) credentialNames.clear();
    credentialNames.set(name, known);
  }
  return known;
}

/**
 * A query string as stored in the log: the values of credential-named parameters masked
 * (`access_token`, RFC 6750's query form, `api_key`, `password`...), the rest kept byte for byte.
 */
export function loggableQuery(querystring: string): string {
  if (!querystring) return querystring;
  return querystring
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0) return pair;
      let name: string;
      try {
        name = decodeURIComponent(pair.slice(0, eq).replace(/\+/g, ' '));
      } catch {
        name = pair.slice(0, eq);
      }
      return isCredentialName(name) ? `${pair.slice(0, eq)}=${MASK}` : pair;
    })
    .join('&');
}


/** A stored query string without the credential parameters masked in it: a rerun sends no `***`. */
export function withoutMaskedParameters(querystring: string | undefined): string {
  if (!querystring) return '';
  return querystring.split('&').filter((pair) => !pair.endsWith(`=${MASK}`)).join('&');
}

export function isMasked(value: unknown): boolean {
  return value === MASK;
}

/**
 * An HTTP header line written as a value in a JSON or XML body (`"Authorization: Bearer ..."`,
 * `value="Authorization: Bearer ..."`), as FHIR's Subscription.channel.header holds the
 * subscriber's credentials. Linear: the name is at most 64 characters of one class.
 */
const JSON_HEADER_LINE = /"([A-Za-z0-9-]{1,64}):[ \t]*((?:[^"\\\n]|\\.)*)"/g;
const XML_HEADER_LINE = /value="([A-Za-z0-9-]{1,64}):[ \t]*([^"<\n]*)"/g;
const SUBSCRIPTION = Buffer.from('Subscription');

/**
 * A request body as stored in the log when it may carry a FHIR Subscription (its path or its
 * text names one): the values of header lines naming a credential (isCredentialName) masked,
 * `Name: ***`, as the client registry shows them in its answers (and keeps the stored value when
 * one is sent back so). Masked before the body is cut, so a cut never leaves half a secret. Other
 * bodies are returned as they are: the scan costs only requests about Subscriptions.
 */
export function withHeaderLinesMasked(body: Buffer | undefined, path: string): Buffer | undefined {
  if (!body?.length || (!path.includes('Subscription') && body.indexOf(SUBSCRIPTION) < 0)) return body;
  const text = body.toString('utf8');
  const hides = (name: string, value: string) => value !== '' && value !== MASK && isCredentialName(name);
  const masked = text
    .replace(JSON_HEADER_LINE, (line, name: string, value: string) => (hides(name, value) ? `"${name}: ${MASK}"` : line))
    .replace(XML_HEADER_LINE, (line, name: string, value: string) => (hides(name, value) ? `value="${name}: ${MASK}"` : line));
  return masked === text ? body : Buffer.from(masked, 'utf8');
}

/** Headers as stored in the log: credentials masked (a rerun replays no credential). */
export function loggableHeaders<V>(headers: Readonly<Record<string, V>> | undefined): Record<string, V | typeof MASK> {
  const out: Record<string, V | typeof MASK> = {};
  if (!headers || typeof headers !== 'object') return out;
  for (const name in headers) {
    if (!Object.hasOwn(headers, name)) continue;
    const value = headers[name];
    const shown = value !== undefined && isCredentialName(name) ? MASK : value;
    // A header named __proto__ must stay a header, not become the object's prototype.
    if (name === '__proto__') Object.defineProperty(out, name, { value: shown, enumerable: true, writable: true, configurable: true });
    else out[name] = shown as V | typeof MASK;
  }
  return out;
}

/** A mediator's orchestrations as stored: their request and response headers masked too, at most `max` (a marker last when cut). */
export function loggableOrchestrations(orchestrations: readonly Orchestration[], max: number): Orchestration[] {
  if (!Array.isArray(orchestrations)) return [];
  // An entry that is no object (null, 1, a list) records nothing: it is left out, as consoles
  // and the API read each one's request and response.
  const records = orchestrations.filter((o) => o !== null && typeof o === 'object' && !Array.isArray(o));
  return capOrchestrations(records, max).map((o) => {
    const copy: Orchestration = { ...o };
    if (o.request && typeof o.request === 'object') {
      const request = { ...o.request };
      if (o.request.headers) request.headers = loggableHeaders(o.request.headers);
      if (typeof o.request.querystring === 'string') request.querystring = loggableQuery(o.request.querystring);
      copy.request = request;
    }
    if (o.response && typeof o.response === 'object' && o.response.headers) copy.response = { ...o.response, headers: loggableHeaders(o.response.headers) };
    return copy;
  });
}

/** Headers a mediator asked for, without those that describe the connection, as strings. */
export function mediatorHeaders(headers: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || value === undefined || value === null) continue;
    out[lower] = String(value);
  }
  return out;
}
