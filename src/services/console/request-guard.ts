/**
 * CSRF protection for the console's state-changing calls. The session cookie is SameSite=Strict,
 * but "same site" includes every port of the host (another service on localhost, say), so each
 * call that changes state must also carry the session's CSRF token, which only a page of the
 * console can read (GET /console/session answers it same-origin only: no CORS). Browsers' own
 * provenance headers are checked too: a cross-origin Origin or Sec-Fetch-Site is refused even
 * before the token is looked at, which also covers the login form (no session, so no token yet).
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
export const CSRF_HEADER = 'x-csrf-token';

export function isStateChanging(method: string): boolean {
  return !SAFE_METHODS.has(method.toUpperCase());
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The request's own origin, as the browser saw it (the Host it sent). */
export function ownOrigin(request: FastifyRequest): string {
  return `${request.protocol}://${request.headers.host ?? ''}`;
}

/**
 * Why a request did not come from a console page of this origin, or undefined when it may have.
 * Browsers send Origin on every cross-origin request and on same-origin POST/PUT/DELETE, and
 * Sec-Fetch-Site on all requests; a request with neither is not from a browser page (curl, a
 * test), which the CSRF token still covers.
 */
export function crossOriginReason(request: FastifyRequest): string | undefined {
  const origin = first(request.headers.origin);
  if (origin !== undefined && origin !== ownOrigin(request)) return `the request came from another origin (${origin.slice(0, 100)})`;
  const site = first(request.headers['sec-fetch-site']);
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return `the request came from another site (Sec-Fetch-Site: ${site.slice(0, 20)})`;
  return undefined;
}

/** The CSRF token sent matches the session's (in constant time). */
export function csrfTokenMatches(request: FastifyRequest, expected: string): boolean {
  const sent = first(request.headers[CSRF_HEADER]);
  if (!sent) return false;
  const a = Buffer.from(sent);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
