/**
 * Admin API authentication, in OpenHIM's order: session cookie (POST /authenticate/local),
 * the legacy token headers (after GET /authenticate/:username), then Basic. Failures are 401
 * and an audit record; too many failures are 429 (login-throttle.ts says which counters apply).
 */
import type { CookieSerializeOptions } from '@fastify/cookie';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { IolDeps } from '../deps.js';
import { IolError } from '../errors.js';
import type { User } from '../models.js';
import type { RouterAuthType } from '../config.js';
import { safeEqual, sha256hex, sha512hex, tokenSalt, verifyAgainstDummy, verifyPassword } from '../passwords.js';
import type { UserRow } from '../store/users.js';
import { DatabaseThrottleStore, LoginGuard } from './login-throttle.js';
import { SessionStore } from '../store/sessions.js';
import type { ScopedRoutes } from './scopes.js';

import { IOL_SESSION_COOKIE as SESSION_COOKIE } from '../../../common/session-cookies.js';
export { SESSION_COOKIE };
const TOKEN_WINDOW_MS = 10_000;
/** A session's expiry is slid forward (one write) only once this much (or a tenth of its lifetime) has passed. */
const SESSION_SLIDE_MS = 60_000;
const TOKEN_PATTERN = /^[0-9a-f]{128}$/i;

const requestUsers = new WeakMap<FastifyRequest, User>();

/** The authenticated user of a request (set by the auth hook). */
export function userOf(request: FastifyRequest): User {
  const user = requestUsers.get(request);
  if (!user) throw new IolError(401, 'IOL_UNAUTHENTICATED', 'not authenticated');
  return user;
}

export const isAdmin = (user: User): boolean => user.groups.includes('admin');

/** A 429: the API's error handler adds Retry-After. */
export class RetryLaterError extends IolError {
  constructor(readonly retryAfterSeconds: number, code: string, message: string, hint: string) {
    super(429, code, message, hint);
  }
}

export class LoginThrottledError extends RetryLaterError {
  constructor(retryAfterSeconds: number) {
    super(retryAfterSeconds, 'IOL_TOO_MANY_LOGIN_FAILURES', `too many failed logins: try again in ${retryAfterSeconds} s`,
      'wait, then use the right password; a success clears the count');
  }
}

/** Changes whenever a user's password (any of its hashes) changes. */
function credentialStamp(row: UserRow): string {
  return sha256hex(`${row.scryptHash ?? ''}\0${row.legacySalt ?? ''}\0${row.legacyHash ?? ''}`);
}

/**
 * Sessions, used token headers and login counters are in the database (store/sessions.ts,
 * DatabaseThrottleStore), shared by every replica of the API.
 */
export class AdminAuthenticator {
  private readonly sessions: SessionStore;
  private readonly throttle: LoginGuard;
  /** Stands in for an unknown user's hash, so its token check costs what a known user's does. */
  private readonly dummyTokenHash = randomBytes(64).toString('hex');

  constructor(private readonly deps: IolDeps) {
    this.sessions = new SessionStore(deps.db);
    this.throttle = new LoginGuard(deps.config.login, new DatabaseThrottleStore(deps.db, deps.config.login.windowMs));
  }

  private async checkPassword(row: UserRow, password: string): Promise<boolean> {
    // The stored hash is part of the key: an old password's verification never answers after a change.
    const subject = `user:${row.doc.email.toLowerCase()}\0${row.scryptHash ?? row.legacyHash ?? ''}`;
    if (this.deps.verified.has(subject, password)) return true;
    let ok = false;
    if (row.scryptHash) ok = await verifyPassword(password, row.scryptHash);
    else if (row.legacySalt && row.legacyHash) ok = safeEqual(sha512hex(row.legacySalt + password), row.legacyHash);
    if (ok) this.deps.verified.remember(subject, password);
    return ok;
  }

  /**
   * A user's password check under login throttling: the user, or 401 (wrong user or password:
   * an unknown user costs the same scrypt as a known one) or 429 (throttled).
   */
  private async verifyLogin(email: string, password: string, address: string): Promise<UserRow> {
    await this.refuseIfThrottled(email, address);
    const row = await this.deps.users.byEmail(email);
    const ok = row ? await this.checkPassword(row, password) : await verifyAgainstDummy(password);
    if (!row || !ok) {
      await this.throttle.failed(email, address);
      throw unauthenticated('wrong user or password');
    }
    await this.throttle.succeeded(email, address);
    return row;
  }

  private async refuseIfThrottled(email: string, address: string): Promise<void> {
    const wait = await this.throttle.retryAfterMs(email, address);
    if (wait > 0) throw new LoginThrottledError(Math.ceil(wait / 1000));
  }

  /** POST /authenticate/local: a new session, or 401 / 429. */
  async login(email: string, password: string, address: string): Promise<{ user: User; sessionId: string }> {
    const row = await this.verifyLogin(email, password, address);
    const sessionId = randomBytes(32).toString('base64url');
    await this.sessions.open(sessionId, row.doc.email, credentialStamp(row), this.deps.config.sessionTtlMs);
    return { user: row.doc, sessionId };
  }

  async logout(sessionId: string | undefined): Promise<void> {
    if (sessionId) await this.sessions.close(sessionId);
  }

  /**
   * OpenHIM's GET /authenticate/:username: the user's salt and the server time. OpenHIM answers
   * 404 for an unknown name; here every name gets a salt, derived from the name (tokenSalt) for
   * known and unknown names alike, so the answer does not show who exists.
   */
  async saltFor(email: string): Promise<{ salt: string; ts: string }> {
    const row = await this.deps.users.byEmail(email);
    const salt = row?.legacySalt && this.deps.config.legacyTokenAuth ? row.legacySalt : tokenSalt(this.deps.tokenSaltKey, email);
    return { salt, ts: new Date().toISOString() };
  }

  /** The user a request authenticates as, or undefined when it carries no credentials. Throws on bad ones. */
  async authenticate(request: FastifyRequest): Promise<User | undefined> {
    const sessionId = sessionCookieOf(request);
    if (sessionId) {
      const session = await this.sessions.find(sessionId);
      if (session) {
        const row = await this.deps.users.byEmail(session.email);
        // The user still exists and has the password the session was opened with.
        if (row && safeEqual(credentialStamp(row), session.stamp)) {
          const ttl = this.deps.config.sessionTtlMs;
          if (session.remainingMs < ttl - Math.min(SESSION_SLIDE_MS, ttl / 10)) await this.sessions.extend(sessionId, ttl);
          return row.doc;
        }
        await this.sessions.close(sessionId);
      }
    }
    const h = request.headers;
    if (h['auth-username'] || h['auth-token']) return this.tokenUser(request);
    const authorization = h.authorization;
    if (authorization?.toLowerCase().startsWith('basic ')) {
      const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) throw unauthenticated('malformed Basic credentials');
      return (await this.verifyLogin(decoded.slice(0, colon), decoded.slice(colon + 1), request.ip)).doc;
    }
    if (sessionId) throw unauthenticated('the session has ended (it expired, or the password changed): log in again');
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
    // One spelling per token: hex in lower case (a token in capitals is the same token).
    if (!TOKEN_PATTERN.test(token)) throw unauthenticated('auth-token must be 128 hex digits (sha512)');
    const normalisedToken = token.toLowerCase();
    const time = Date.parse(ts);
    if (Number.isNaN(time) || Math.abs(Date.now() - time) > TOKEN_WINDOW_MS) {
      throw unauthenticated('auth-ts is not within 10 seconds of the server time (check the clock)');
    }
    await this.refuseIfThrottled(username, request.ip);
    const row = await this.deps.users.byEmail(username);
    // The same work for an unknown user as for a known one.
    // As OpenHIM (src/protocols/token.js): token = sha512(passwordHash + auth-salt + auth-ts), with
    // any auth-salt the client chooses; nothing ties it to an earlier GET /authenticate.
    const expected = sha512hex((row?.legacyHash ?? this.dummyTokenHash) + salt + ts);
    const tokenMatches = safeEqual(expected, normalisedToken);
    if (!row?.legacyHash || !tokenMatches) {
      await this.throttle.failed(username, request.ip);
      throw unauthenticated('wrong user or token');
    }
    await this.throttle.succeeded(username, request.ip);
    // Remembered (by every replica) until its auth-ts can no longer be accepted.
    const fresh = await this.sessions.useToken(`${row.doc._id}:${normalisedToken}`, time + TOKEN_WINDOW_MS + 1000);
    if (!fresh) throw unauthenticated('this token was already used (replayed request)');
    return row.doc;
  }

  /** Registers the hook that authenticates every route but the open ones (api/scopes.ts). */
  install(app: FastifyInstance, isOpen: (request: FastifyRequest) => boolean): void {
    app.addHook('onRequest', async (request, reply) => {
      // Open routes use no user: credentials sent to them are not checked (a token is not used
      // up, a wrong password not counted), as OpenHIM's public routes.
      if (isOpen(request)) return;
      const path = request.url.split('?')[0] ?? '';
      // OpenHIM's GET /me answers a caller without a live session 404 "Not authenticated" (usersAPITests.js: none, or an expired
      // cookie), its consoles read it so. Basic and the token headers (which OpenHIM's /me does not read) fail as anywhere: 401.
      const sessionOnly = request.headers.authorization === undefined && request.headers['auth-username'] === undefined && request.headers['auth-token'] === undefined;
      const refuse = (error: unknown): FastifyReply => {
        if (request.method !== 'GET' || path !== '/me' || !sessionOnly || error instanceof LoginThrottledError) throw error;
        return reply.code(404).type('text/plain; charset=utf-8').send('Not authenticated');
      };
      let user: User | undefined;
      try {
        user = await this.authenticate(request);
      } catch (error) {
        this.deps.metrics.authFailures.inc({ surface: 'api' });
        this.deps.audits.record({
          kind: 'auth-failure',
          action: 'E',
          success: false,
          description: (error as Error).message,
          who: authSubject(request),
          address: request.ip,
          entity: `${request.method} ${path}`,
          ...(error instanceof LoginThrottledError ? { detail: { throttled: 'true' } } : {}),
        });
        return refuse(error);
      }
      if (user) {
        requestUsers.set(request, user);
        return;
      }
      this.deps.metrics.authFailures.inc({ surface: 'api' });
      this.deps.audits.record({ kind: 'auth-failure', action: 'E', success: false, description: 'no credentials', address: request.ip, entity: `${request.method} ${path}` });
      return refuse(unauthenticated('authenticate with a session, the token headers or Basic'));
    });
  }
}

const loginSchema = z.object({ username: z.string().min(1).max(256), password: z.string().min(1).max(1024) });

/** Login and the salt (open), the caller's own session (any user), the router's auth types (admins). */
export function authRoutes(auth: AdminAuthenticator, deps: IolDeps): ScopedRoutes {
  return {
    open(app) {
      // Open to anyone: a login is a few hundred bytes, so a large body is refused before it is read.
      app.post('/authenticate/local', { bodyLimit: 16 * 1024 }, async (request, reply) => {
        const parsed = loginSchema.safeParse(request.body);
        if (!parsed.success) throw new IolError(400, 'IOL_BAD_REQUEST', 'send {"username", "password"}');
        let result: Awaited<ReturnType<AdminAuthenticator['login']>>;
        try {
          result = await auth.login(parsed.data.username, parsed.data.password, request.ip);
        } catch (error) {
          deps.metrics.authFailures.inc({ surface: 'api' });
          deps.audits.record({
            kind: 'auth-failure',
            action: 'E',
            success: false,
            description: (error as Error).message,
            who: parsed.data.username,
            address: request.ip,
            entity: 'POST /authenticate/local',
            ...(error instanceof LoginThrottledError ? { detail: { throttled: 'true' } } : {}),
          });
          throw error;
        }
        deps.audits.record({ kind: 'login', action: 'E', success: true, who: result.user.email, address: request.ip, entity: 'POST /authenticate/local' });
        reply.setCookie(SESSION_COOKIE, result.sessionId, sessionCookieOptions(request, deps));
        return { result: 'User authenticated successfully', user: result.user };
      });

      app.get<{ Params: { username: string } }>('/authenticate/:username', async (request) => auth.saltFor(request.params.username));
    },

    user(app) {
      app.get('/me', { config: { userCheck: 'self' } }, async (request) => ({ user: userOf(request) }));

      app.get('/logout', { config: { userCheck: 'self' } }, async (request, reply) => {
        await auth.logout(sessionCookieOf(request));
        reply.clearCookie(SESSION_COOKIE, sessionCookieOptions(request, deps));
        return { result: 'logged out' };
      });
    },

    admin(app) {
      // As OpenHIM (src/api/authentication.js): admins only; the router's enabled client
      // authentication types, in OpenHIM's order and names.
      app.get('/authentication/types', async () =>
        ROUTER_AUTH_TYPE_NAMES.filter(([type]) => deps.config.routerAuthTypes.has(type)).map(([, name]) => name),
      );
    },
  };
}

const ROUTER_AUTH_TYPE_NAMES: ReadonlyArray<[RouterAuthType, string]> = [
  ['mutual-tls', 'mutual-tls-auth'],
  ['basic', 'basic-auth'],
  ['token', 'custom-token-auth'],
  ['jwt', 'jwt-auth'],
];

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

/** The session id the request's cookie names (parsed by @fastify/cookie, registered in app.ts). */
function sessionCookieOf(request: FastifyRequest): string | undefined {
  const header = request.headers.cookie;
  return header ? request.server.parseCookie(header)[SESSION_COOKIE] : undefined;
}

/**
 * The session cookie: HttpOnly, same-site only, Secure over HTTPS. A console on another site,
 * listed in OPENHIM_API_CORS_ORIGINS, needs the cookie sent cross-site: SameSite=None, which
 * browsers accept only with Secure, so only over HTTPS.
 */
function sessionCookieOptions(request: FastifyRequest, deps: IolDeps): CookieSerializeOptions {
  const https = request.protocol === 'https';
  const crossSite = https && deps.config.apiCors.credentialed.size > 0;
  return { path: '/', httpOnly: true, secure: https, sameSite: crossSite ? 'none' : 'strict' };
}
