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
  expiresAt: number;
}

export class ConsoleSessions {
  private readonly sessions = new Map<string, ConsoleSession>();

  constructor(private readonly idleMs: number, private readonly maxSessions: number, private readonly now: () => number = Date.now) {}

  /** A new session and the id to put in the cookie. */
  create(upstreamCookies: Map<string, string>, user: unknown): { id: string; session: ConsoleSession } {
    this.makeRoom();
    const id = randomBytes(32).toString('base64url');
    const session: ConsoleSession = { csrfToken: randomBytes(32).toString('base64url'), upstreamCookies, user, expiresAt: this.now() + this.idleMs };
    this.sessions.set(id, session);
    return { id, session };
  }

  /** The live session of an id (its idle time starts again), or undefined. */
  touch(id: string | undefined): ConsoleSession | undefined {
    if (!id) return undefined;
    const session = this.sessions.get(id);
    if (!session) return undefined;
    if (session.expiresAt <= this.now()) {
      this.sessions.delete(id);
      return undefined;
    }
    session.expiresAt = this.now() + this.idleMs;
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

  /** Past the cap, expired sessions go first, then the oldest (Map keeps insertion order). */
  private makeRoom(): void {
    if (this.sessions.size < this.maxSessions) return;
    const now = this.now();
    for (const [id, session] of this.sessions) if (session.expiresAt <= now) this.sessions.delete(id);
    for (const id of this.sessions.keys()) {
      if (this.sessions.size < this.maxSessions) break;
      this.sessions.delete(id);
    }
  }
}
