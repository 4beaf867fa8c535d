/**
 * Console sessions, held in the console server's memory. The browser holds only an opaque id in
 * an HttpOnly cookie; the admin API's own session cookie(s) stay here, so no page script (and no
 * XSS) can read or replay them, and the admin API can be a real OpenHIM core whose cookie names
 * we do not know in advance.
 */
import { randomBytes } from 'node:crypto';

export interface ConsoleSession {
  /** Sent back with every state-changing call (X-CSRF-Token). */
  readonly csrfToken: string;
  /** Cookies the admin API set (name → value), replayed on every proxied call. */
  readonly upstreamCookies: Map<string, string>;
  /** The user as the admin API described it at login (no secrets: the API never returns them). */
  user: unknown;
  /** Who owns the session (the login name), for the per-user cap. */
  readonly owner: string;
  /** When the admin API last confirmed the user (registry-proxy.ts re-checks after a few seconds). */
  userCheckedAt: number;
  expiresAt: number;
}

export class ConsoleSessions {
  private readonly sessions = new Map<string, ConsoleSession>();

  constructor(
    private readonly idleMs: number,
    private readonly maxSessions: number,
    private readonly now: () => number = Date.now,
    private readonly maxPerUser: number = Number.POSITIVE_INFINITY,
  ) {}

  /**
   * A new session and the id to put in the cookie, and the sessions dropped to make room (the
   * caller logs them out on the admin API). Past the per-user cap that user's own oldest session
   * goes, so one user's logins cannot push out everyone else's.
   */
  create(upstreamCookies: Map<string, string>, user: unknown, owner: string): { id: string; session: ConsoleSession; dropped: ConsoleSession[] } {
    const dropped = [...this.makeRoomFor(owner.toLowerCase()), ...this.makeRoom()];
    const id = randomBytes(32).toString('base64url');
    const now = this.now();
    const session: ConsoleSession = { csrfToken: randomBytes(32).toString('base64url'), upstreamCookies, user, owner: owner.toLowerCase(), userCheckedAt: now, expiresAt: now + this.idleMs };
    this.sessions.set(id, session);
    return { id, session, dropped };
  }

  /**
   * The live session of an id, or undefined. Its idle time starts again unless `extend` is false
   * (background polling must not keep an unattended console logged in).
   */
  touch(id: string | undefined, extend = true): ConsoleSession | undefined {
    if (!id) return undefined;
    const session = this.sessions.get(id);
    if (!session) return undefined;
    if (session.expiresAt <= this.now()) {
      this.sessions.delete(id);
      return undefined;
    }
    if (extend) session.expiresAt = this.now() + this.idleMs;
    return session;
  }

  end(id: string | undefined): ConsoleSession | undefined {
    if (!id) return undefined;
    const session = this.sessions.get(id);
    this.sessions.delete(id);
    return session;
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Past the per-user cap, that user's oldest sessions go (Map keeps insertion order). */
  private makeRoomFor(owner: string): ConsoleSession[] {
    const own = [...this.sessions].filter(([, session]) => session.owner === owner);
    const dropped: ConsoleSession[] = [];
    for (const [id, session] of own.slice(0, Math.max(0, own.length - this.maxPerUser + 1))) {
      this.sessions.delete(id);
      dropped.push(session);
    }
    return dropped;
  }

  /** Past the cap, expired sessions go first, then the oldest. */
  private makeRoom(): ConsoleSession[] {
    if (this.sessions.size < this.maxSessions) return [];
    const now = this.now();
    const dropped: ConsoleSession[] = [];
    const drop = (id: string, session: ConsoleSession) => {
      this.sessions.delete(id);
      dropped.push(session);
    };
    for (const [id, session] of this.sessions) if (session.expiresAt <= now) drop(id, session);
    for (const [id, session] of this.sessions) {
      if (this.sessions.size < this.maxSessions) break;
      drop(id, session);
    }
    return dropped;
  }
}
