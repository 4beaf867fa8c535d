/**
 * Admin API authentication, in OpenHIM's order: session cookie (POST /authenticate/local),
 * the legacy token headers (after GET /authenticate/:username), then Basic. Failures are 401
 * and an audit record.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { IolDeps } from '../deps.js';
import { IolError } from '../errors.js';
import type { User } from '../models.js';
import { safeEqual, sha512hex, verifyPassword } from '../passwords.js';
import type { UserRow } from '../store/users.js';

export const SESSION_COOKIE = 'iol.session';
const TOKEN_WINDOW_MS = 10_000;

const requestUsers = new WeakMap<FastifyRequest, User>();

/** The authenticated user of a request (set by the auth hook). */
export function userOf(request: FastifyRequest): User {
  const user = requestUsers.get(request);
  if (!user) throw new IolError(401, 'IOL_UNAUTHENTICATED', 'not authenticated');
  return user;
}

export const isAdmin = (user: User): boolean => user.groups.includes('admin');

export function requireAdmin(request: FastifyRequest): User {
  const user = userOf(request);
  if (!isAdmin(user)) throw new IolError(403, 'IOL_FORBIDDEN', `user ${user.email} is not in the admin group`, 'ask an admin');
  return user;
}

interface Session {
  email: string;
  expires: number;
}

export class AdminAuthenticator {
  private readonly sessions = new Map<string, Session>();
  private readonly usedTokens = new Map<string, number>();
  /** Salts for unknown users are derived, so GET /authenticate/:user does not reveal who exists. */
  private readonly fakeSaltKey = randomBytes(32);

  constructor(private readonly deps: IolDeps) {}

  private async checkPassword(row: UserRow, password: string): Promise<boolean> {
    const email = row.doc.email.toLowerCase();
    if (this.deps.verified.has(`user:${email}`, password)) return true;
    let ok = false;
    if (row.scryptHash) ok = await verifyPassword(password, row.scryptHash);
    else if (row.legacySalt && row.legacyHash) ok = safeEqual(sha512hex(row.legacySalt + password), row.legacyHash);
    if (ok) this.deps.verified.remember(`user:${email}`, password);
    return ok;
  }

  async login(email: string, password: string): Promise<{ user: User; sessionId: string } | undefined> {
    const row = await this.deps.users.byEmail(email);
    if (!row || !(await this.checkPassword(row, password))) return undefined;
    const sessionId = randomBytes(32).toString('base64url');
    this.pruneSessions();
    this.sessions.set(sessionId, { email: row.doc.email, expires: Date.now() + this.deps.config.sessionTtlMs });
    return { user: row.doc, sessionId };
  }

  logout(sessionId: string | undefined): void {
    if (sessionId) this.sessions.delete(sessionId);
  }

  /** OpenHIM's GET /authenticate/:username: the user's salt and the server time. */
  async saltFor(email: string): Promise<{ salt: string; ts: string }> {
    const row = await this.deps.users.byEmail(email);
    const salt =
      row?.legacySalt && this.deps.config.legacyTokenAuth
        ? row.legacySalt
        : createHmac('sha256', this.fakeSaltKey).update(email.toLowerCase()).digest('hex').slice(0, 32);
    return { salt, ts: new Date().toISOString() };
  }

  /** The user a request authenticates as, or undefined when it carries no credentials. Throws on bad ones. */
  async authenticate(request: FastifyRequest): Promise<User | undefined> {
    const sessionId = readCookie(request.headers.cookie, SESSION_COOKIE);
    if (sessionId) {
      const session = this.sessions.get(sessionId);
      if (session && session.expires > Date.now()) {
        const row = await this.deps.users.byEmail(session.email);
        if (row) {
          session.expires = Date.now() + this.deps.config.sessionTtlMs;
          return row.doc;
        }
      }
      if (session) this.sessions.delete(sessionId);
    }
    const h = request.headers;
    if (h['auth-username'] || h['auth-token']) return this.tokenUser(request);
    const authorization = h.authorization;
    if (authorization?.toLowerCase().startsWith('basic ')) {
      const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw unauthenticated('malformed Basic credentials');
      const row = await this.deps.users.byEmail(decoded.slice(0, colon));
      if (!row || !(await this.checkPassword(row, decoded.slice(colon + 1)))) throw unauthenticated('wrong user or password');
      return row.doc;
    }
    if (sessionId) throw unauthenticated('the session has expired: log in again');
    return undefined;
  }

  private async tokenUser(request: FastifyRequest): Promise<User> {
    if (!this.deps.config.legacyTokenAuth) throw unauthenticated('token authentication is switched off');
    const h = request.headers;
    const username = header(h['auth-username']);
    const ts = header(h['auth-ts']);
    const salt = header(h['auth-salt']);
    const token = header(h['auth-token']);
    if (!username || !ts || !salt || !token) throw unauthenticated('auth-username, auth-ts, auth-salt and auth-token are all required');
    const time = Date.parse(ts);
    if (Number.isNaN(time) || Math.abs(Date.now() - time) > TOKEN_WINDOW_MS) {
      throw unauthenticated('auth-ts is not within 10 seconds of the server time (check the clock)');
    }
    const row = await this.deps.users.byEmail(username);
    if (!row?.legacyHash || !row.legacySalt || !safeEqual(salt, row.legacySalt)) throw unauthenticated('wrong user or token');
    const expected = sha512hex(row.legacyHash + salt + ts);
    if (!safeEqual(expected, token.toLowerCase())) throw unauthenticated('wrong user or token');
    this.pruneTokens();
    if (this.usedTokens.has(token)) throw unauthenticated('this token was already used (replayed request)');
    this.usedTokens.set(token, time + 2 * TOKEN_WINDOW_MS);
    return row.doc;
  }

  private pruneSessions(): void {
    if (this.sessions.size < 100) return;
    const now = Date.now();
    for (const [id, session] of this.sessions) if (session.expires < now) this.sessions.delete(id);
  }

  private pruneTokens(): void {
    if (this.usedTokens.size < 1000) return;
    const now = Date.now();
    for (const [token, expires] of this.usedTokens) if (expires < now) this.usedTokens.delete(token);
  }

  /** Registers the hook that authenticates every route but the open ones. */
  install(app: FastifyInstance, openRoutes: (url: string, method: string) => boolean): void {
    app.addHook('onRequest', async (request) => {
      const path = request.url.split('?')[0] ?? '';
      let user: User | undefined;
      try {
        user = await this.authenticate(request);
      } catch (error) {
        if (openRoutes(path, request.method)) return;
        this.deps.metrics.authFailures.inc({ surface: 'api' });
        this.deps.audits.record({
          kind: 'auth-failure',
          action: 'E',
          success: false,
          description: (error as Error).message,
          who: authSubject(request),
          address: request.ip,
          entity: `${request.method} ${path}`,
        });
        throw error;
      }
      if (user) {
        requestUsers.set(request, user);
        return;
      }
      if (openRoutes(path, request.method)) return;
      this.deps.metrics.authFailures.inc({ surface: 'api' });
      this.deps.audits.record({ kind: 'auth-failure', action: 'E', success: false, description: 'no credentials', address: request.ip, entity: `${request.method} ${path}` });
      throw unauthenticated('authenticate with a session, the token headers or Basic');
    });
  }
}

const loginSchema = z.object({ username: z.string().min(1), password: z.string().min(1) });

export function registerAuthRoutes(app: FastifyInstance, auth: AdminAuthenticator, deps: IolDeps): void {
  app.post('/authenticate/local', async (request, reply) => {
    const parsed = loginSchema.safeParse(request.body);
    if (!parsed.success) throw new IolError(400, 'IOL_BAD_REQUEST', 'send {"username", "password"}');
    const result = await auth.login(parsed.data.username, parsed.data.password);
    if (!result) {
      deps.metrics.authFailures.inc({ surface: 'api' });
      deps.audits.record({ kind: 'auth-failure', action: 'E', success: false, description: 'wrong user or password', who: parsed.data.username, address: request.ip, entity: 'POST /authenticate/local' });
      throw unauthenticated('wrong user or password');
    }
    deps.audits.record({ kind: 'login', action: 'E', success: true, who: result.user.email, address: request.ip, entity: 'POST /authenticate/local' });
    const secure = request.protocol === 'https' ? '; Secure' : '';
    reply.header('set-cookie', `${SESSION_COOKIE}=${result.sessionId}; Path=/; HttpOnly; SameSite=Strict${secure}`);
    return { result: 'User authenticated successfully', user: result.user };
  });

  app.get<{ Params: { username: string } }>('/authenticate/:username', async (request) => auth.saltFor(request.params.username));

  app.get('/authentication/types', async () => ({ types: ['local', 'token', 'basic'] }));

  app.get('/me', async (request) => ({ user: userOf(request) }));

  app.get('/logout', async (request, reply) => {
    auth.logout(readCookie(request.headers.cookie, SESSION_COOKIE));
    reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);
    return { result: 'logged out' };
  });
}

function unauthenticated(message: string): IolError {
  return new IolError(401, 'IOL_UNAUTHENTICATED', message, 'check the user name and password');
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function authSubject(request: FastifyRequest): string | undefined {
  const username = header(request.headers['auth-username']);
  if (username) return username;
  const authorization = request.headers.authorization;
  if (authorization?.toLowerCase().startsWith('basic ')) {
    const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
    return decoded.split(':')[0];
  }
  return undefined;
}

export function readCookie(cookieHeader: string | undefined, name: string): string | undefined {
  if (!cookieHeader) return undefined;
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
