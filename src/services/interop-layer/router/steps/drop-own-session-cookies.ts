/**
 * The exchange's own session cookies (the admin API's, the console's) never go upstream: a
 * browser sends a host's cookies to every port of it, so an admin who opens a router URL on the
 * same host would otherwise hand a live session to whatever upstream or mediator serves it.
 * Other cookies pass as they came.
 */
import { OWN_SESSION_COOKIES } from '../../../../common/session-cookies.js';
import type { Exchange } from '../exchange.js';

export function dropOwnSessionCookies(exchange: Exchange): void {
  const headers = exchange.request.headers;
  const cookie = headers.cookie;
  if (cookie === undefined) return;
  const parts = cookie.split(';');
  const kept = parts.filter((part) => !OWN_SESSION_COOKIES.has(cookieName(part)));
  if (kept.length === parts.length) return;
  if (kept.length === 0) delete headers.cookie;
  else headers.cookie = kept.map((part) => part.trim()).join('; ');
}

function cookieName(pair: string): string {
  const eq = pair.indexOf('=');
  return (eq < 0 ? pair : pair.slice(0, eq)).trim();
}
