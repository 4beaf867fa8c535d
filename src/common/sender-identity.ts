/**
 * How the router tells a service which client it authenticated, so that the service can trust it
 * from the router alone: the router sends the clientID with a timestamp, a random nonce and an
 * HMAC-SHA256 over (clientID, method, request target (path and query, as sent), SHA-256 of the
 * body, timestamp, nonce, the client's roles)
 * keyed with a secret only the router and the service hold (setting
 * OPENHIM_SENDER_IDENTITY_SECRET, generated at init). The service recomputes the body's digest
 * from the bytes it received. A client cannot forge it without the secret, and a captured one is
 * good for SENDER_IDENTITY_MAX_SKEW_MS for that same request only (same target, same body); a
 * service that records the signatures it accepted (the client registry, for writes) refuses even
 * that replay. The nonce makes two identical requests in one millisecond two signatures.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SENDER_IDENTITY_SETTING = 'OPENHIM_SENDER_IDENTITY_SECRET';
export const SENDER_CLIENT_HEADER = 'x-openhim-clientid';
export const SENDER_TIMESTAMP_HEADER = 'x-instant-sender-timestamp';
export const SENDER_SIGNATURE_HEADER = 'x-instant-sender-signature';
export const SENDER_NONCE_HEADER = 'x-instant-sender-nonce';
/** The client's roles as the router knows them (comma-separated, sorted), signed with the rest. */
export const SENDER_ROLES_HEADER = 'x-instant-sender-roles';
/** Headers only the router may set: a client's copies are dropped before routing. */
export const SENDER_HEADERS = [SENDER_CLIENT_HEADER, SENDER_TIMESTAMP_HEADER, SENDER_SIGNATURE_HEADER, SENDER_NONCE_HEADER, SENDER_ROLES_HEADER] as const;
const ROLE = /^[A-Za-z0-9_.:@-]{1,100}$/;
const NONCE = /^[A-Za-z0-9_-]{16,64}$/;
/** An HMAC-SHA256 in base64url without padding: 32 bytes, 43 characters. */
const SIGNATURE = /^[A-Za-z0-9_-]{43}$/;
/**
 * The console's assertion of a browser's address (`console-browser:<ip>`) on the open routes it
 * passes on (a password reset request), so the admin API throttles each browser, not the console.
 */
export const CONSOLE_BROWSER_PREFIX = 'console-browser:';
/** How old (or how far ahead, clocks differ) an assertion may be. */
export const SENDER_IDENTITY_MAX_SKEW_MS = 5 * 60_000;

/** SHA-256 of a request body (no body: of no bytes), as signed. */
export function bodyDigest(body?: Uint8Array): string {
  return createHash('sha256').update(body ?? new Uint8Array()).digest('base64url');
}

function signature(secret: string, clientID: string, method: string, target: string, digest: string, timestamp: string, nonce: string, roles: string): Buffer {
  return createHmac('sha256', secret).update([clientID, method.toUpperCase(), target, digest, timestamp, nonce, roles].join('\n')).digest();
}

/** Roles as signed and sent: the well-formed ones, sorted, comma-separated (a role name has no comma). */
function roleList(roles: readonly string[]): string {
  return [...new Set(roles.filter((r) => ROLE.test(r)))].sort().join(',');
}

/**
 * The headers vouching for clientID on this request: `target` is the request target as sent (path
 * and query), `body` the bytes sent (undefined: none).
 */
export function senderIdentityHeaders(secret: string, clientID: string, method: string, target: string, body?: Uint8Array, now = Date.now(), roles: readonly string[] = []): Record<string, string> {
  const timestamp = String(now);
  const nonce = randomBytes(16).toString('base64url');
  const signedRoles = roleList(roles);
  return {
    [SENDER_CLIENT_HEADER]: clientID,
    [SENDER_TIMESTAMP_HEADER]: timestamp,
    [SENDER_NONCE_HEADER]: nonce,
    ...(signedRoles ? { [SENDER_ROLES_HEADER]: signedRoles } : {}),
    [SENDER_SIGNATURE_HEADER]: signature(secret, clientID, method, target, bodyDigest(body), timestamp, nonce, signedRoles).toString('base64url'),
  };
}

/** A valid assertion carries its signature and when it expires: what a replay check records. */
export type SenderCheck = { ok: true; clientID: string; roles: string[]; signature: string; expiresAtMs: number } | { ok: false; reason: string } | { ok: 'absent' };

/**
 * Checks a request's assertion: absent (no signature), valid, or why it is refused. `target` is the
 * request target as received (path and query), `digest` bodyDigest() of the body bytes received.
 */
export function verifySenderIdentity(secret: string | undefined, headers: Record<string, string | string[] | undefined>, method: string, target: string, digest: string, now = Date.now()): SenderCheck {
  const one = (name: string) => { const v = headers[name]; return Array.isArray(v) ? undefined : v; };
  const clientID = one(SENDER_CLIENT_HEADER);
  const timestamp = one(SENDER_TIMESTAMP_HEADER);
  const given = one(SENDER_SIGNATURE_HEADER);
  const nonce = one(SENDER_NONCE_HEADER);
  const roles = one(SENDER_ROLES_HEADER) ?? '';
  if (given === undefined && timestamp === undefined) return { ok: 'absent' };
  if (!secret) return { ok: false, reason: `a sender identity was sent but this service has no ${SENDER_IDENTITY_SETTING}` };
  if (!clientID || !timestamp || !given || !nonce || !/^\d{1,15}$/.test(timestamp) || !NONCE.test(nonce)) return { ok: false, reason: 'incomplete sender identity headers' };
  if (Math.abs(now - Number(timestamp)) > SENDER_IDENTITY_MAX_SKEW_MS) return { ok: false, reason: 'the sender identity has expired' };
  // Roles are signed too: a role header added, removed or changed breaks the signature.
  const expected = signature(secret, clientID, method, target, digest, timestamp, nonce, roles);
  // Only the one canonical spelling: Node's base64url decoder skips padding and stray characters
  // and ignores the last character's unused bits, so other spellings of one signature would pass
  // as new ones past a replay table keyed on the header.
  const actual = SIGNATURE.test(given) ? Buffer.from(given, 'base64url') : undefined;
  if (!actual || actual.length !== expected.length || actual.toString('base64url') !== given || !timingSafeEqual(actual, expected)) {
    return { ok: false, reason: 'the sender identity signature does not match this request (client, method, target, body or timestamp)' };
  }
  return { ok: true, clientID, roles: roles ? roles.split(',') : [], signature: expected.toString('base64url'), expiresAtMs: Number(timestamp) + SENDER_IDENTITY_MAX_SKEW_MS };
}
