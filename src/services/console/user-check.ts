/**
 * Who the session's user is now, by the admin API (GET /me with the session's admin-API cookie),
 * not as they were at login: a user removed from a group or deleted loses what the console
 * grants on its own (the registry browsers) within USER_RECHECK_MS. The admin API's answer is
 * kept that long so a page of reads costs one check.
 */
import type { AdminApi } from './admin-api-proxy.js';
import { applySetCookies } from './admin-api-proxy.js';
import type { ConsoleSession } from './sessions.js';

export const USER_RECHECK_MS = 5_000;

export type UserCheck = { kind: 'current'; user: unknown } | { kind: 'session-lost' } | { kind: 'unavailable' };

export async function currentUser(api: AdminApi, session: ConsoleSession, now = Date.now()): Promise<UserCheck> {
  if (now - session.userCheckedAt < USER_RECHECK_MS) return { kind: 'current', user: session.user };
  let answer;
  try {
    answer = await api.call('GET', '/me', { cookies: session.upstreamCookies });
  } catch {
    return { kind: 'unavailable' };
  }
  applySetCookies(session.upstreamCookies, answer.setCookies);
  // OpenHIM's GET /me answers a session it does not know 404 "Not authenticated".
  if (answer.status === 401 || answer.status === 404) return { kind: 'session-lost' };
  if (answer.status !== 200) return { kind: 'unavailable' };
  try {
    const user = (JSON.parse(answer.body.toString('utf8')) as { user?: unknown }).user;
    if (!user) return { kind: 'unavailable' };
    session.user = user;
    session.userCheckedAt = now;
    return { kind: 'current', user };
  } catch {
    return { kind: 'unavailable' };
  }
}

export function isAdminUser(user: unknown): boolean {
  const groups = (user as { groups?: unknown } | undefined)?.groups;
  return Array.isArray(groups) && groups.includes('admin');
}
