/**
 * Setting a password by e-mailed link, as OpenHIM v8.5's api/users.js: a user an admin creates
 * without a password gets a link to set one (`newUser`, locked until then), and any user can ask
 * for a reset link (`GET /password-reset-request/:email`, `existingUser`). The link carries a token
 * (`<console>/#!/set-password/<token>`, OpenHIM's console route) that `GET /token/:token` reads
 * and `PUT /token/:token` uses once to set the password. Open routes, so:
 * - an unknown address is answered as a known one (no mail is sent), and mail goes out after the
 *   answer, so neither the answer nor its timing tells which addresses are users;
 * - requests are throttled per address asked for and per caller (mail bombing);
 * - only the token's hash is stored, it expires (OPENHIM_NEW_USER_EXPIRY_MS, 7 days;
 *   OPENHIM_PASSWORD_RESET_EXPIRY_MS, 1 hour) and is used once; setting the password ends the
 *   user's sessions (their credential stamp changes) and cached verifications.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { IolDeps } from '../deps.js';
import { IolError, badRequest, forbidden } from '../errors.js';
import { fromIdentityProvider, type User } from '../models.js';
import { UserStore } from '../store/users.js';
import { UserTokenStore, type TokenType } from '../store/user-tokens.js';
import { parseBody } from '../validation.js';
import { bodyDigest, CONSOLE_BROWSER_PREFIX, verifySenderIdentity } from '../../../common/sender-identity.js';
import { userSecrets } from './users.js';
import type { ScopedRoutes } from './scopes.js';
import { addressBucket } from './login-throttle.js';

/** Reset requests one address, and one caller, may make per hour. */
const REQUESTS_PER_EMAIL = 3;
const REQUESTS_PER_CALLER = 30;
const WINDOW_MS = 60 * 60_000;

/** Keys a limit remembers at most: past it the least recently counted goes (constant time). */
const MAX_KEYS = 10_000;

class HourlyLimit {
  private readonly seen = new Map<string, number[]>();

  constructor(private readonly max: number) {}

  /** The seconds to wait before the next request for `key` may be counted, else 0. */
  wait(key: string): number {
    const now = Date.now();
    const recent = (this.seen.get(key) ?? []).filter((at) => now - at < WINDOW_MS);
    return recent.length >= this.max ? Math.ceil((recent[0]! + WINDOW_MS - now) / 1000) : 0;
  }

  /** Counts one request for `key`. */
  count(key: string): void {
    const now = Date.now();
    const recent = (this.seen.get(key) ?? []).filter((at) => now - at < WINDOW_MS);
    recent.push(now);
    this.seen.delete(key); // re-inserted last: the Map's order is the order of last use
    this.seen.set(key, recent);
    if (this.seen.size > MAX_KEYS) this.seen.delete(this.seen.keys().next().value!);
  }
}

/**
 * Who is asking: the console passes the browser's address, vouched for with
 * OPENHIM_SENDER_IDENTITY_SECRET (the console's own requests all come from one address, which
 * would otherwise share one budget among all its users); anyone else, their own address.
 */
function callerOf(deps: IolDeps, request: FastifyRequest): string {
  const check = verifySenderIdentity(deps.config.senderIdentitySecret, request.headers, request.method, request.url, bodyDigest());
  // Counted as logins are: an IPv6 caller by its /64.
  if (check.ok === true && check.clientID.startsWith(CONSOLE_BROWSER_PREFIX)) return addressBucket(check.clientID.slice(CONSOLE_BROWSER_PREFIX.length));
  return addressBucket(request.ip);
}

const setPasswordSchema = z.object({
  password: z.string().min(8).max(1024).optional(),
  passwordAlgorithm: z.string().max(20).optional(),
  passwordHash: z.string().max(1024).optional(),
  passwordSalt: z.string().max(1024).optional(),
  firstname: z.string().max(200).optional(),
  surname: z.string().max(200).optional(),
  msisdn: z.string().max(50).nullable().optional(),
});


const notFoundToken = (token: string) => new IolError(404, 'IOL_NOT_FOUND', `User with token ${token.slice(0, 64)} could not be found.`);

const message = (kind: TokenType, firstname: string, link: string, instance: string) => {
  const [title, opening] =
    kind === 'newUser'
      ? ['New OpenHIM Profile', `A profile has been created for you on the OpenHIM instance running on ${instance}`]
      : ['Reset OpenHIM Password', `A request has been made to reset your password on the OpenHIM instance running on ${instance}`];
  const escape = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return {
    subject: kind === 'newUser' ? 'OpenHIM Console Profile' : 'OpenHIM Console Password Reset',
    text: `Hi ${firstname},\n\n${opening}\n\nFollow the link below to set your password and log into the OpenHIM Console (it can be used once):\n${link}\n`,
    html: `<h1>${title}</h1><p>Hi ${escape(firstname)},<br/><br/>${escape(opening)}</p><p>Follow the link below to set your password and log into the OpenHIM Console (it can be used once):</p><p><a href="${escape(link)}">${escape(link)}</a></p>`,
  };
}

/** Issues a token and mails its link, after the caller's answer; a failure is logged, never thrown. */
function mailLink(deps: IolDeps, user: User, kind: TokenType): Promise<void> {
  const validMs = kind === 'newUser' ? deps.config.mail.newUserExpiryMs : deps.config.mail.passwordResetExpiryMs;
  const store = new UserTokenStore(deps.db);
  // Resets reach a mailbox at most REQUESTS_PER_EMAIL times an hour, counted in the database.
  const allowed = kind === 'existingUser' ? store.countResetMail(user._id, REQUESTS_PER_EMAIL) : Promise.resolve(true);
  return allowed
    .then((ok) => {
      if (!ok) throw new Error(`${REQUESTS_PER_EMAIL} reset links were mailed to this user in the last hour already`);
      return store.issue(user._id, kind, validMs);
    })
    .then(({ token }) => {
      const link = `${deps.config.mail.consoleUrl}/#!/set-password/${token}`;
      return deps.mailer.send({ to: user.email, ...message(kind, user.firstname || user.email, link, deps.config.mail.instanceName) });
    })
    .then(() => deps.logger.info({ user: user.email, kind }, 'set-password link sent'))
    .catch((error: unknown) => deps.logger.warn({ user: user.email, kind, err: { message: (error as Error).message } }, 'set-password link not sent'));
}

/**
 * A user created without a password (POST /users): locked, with a link to set one mailed to them
 * when a mail server is configured (as OpenHIM's addUser).
 */
export function welcomeNewUser(deps: IolDeps, user: User): void {
  if (deps.mailer.configured) void mailLink(deps, user, 'newUser');
}

export function setPasswordRoutes(deps: IolDeps): ScopedRoutes {
  return { open: (scope) => register(scope, deps) };
}

function register(app: FastifyInstance, deps: IolDeps): void {
  const tokens = new UserTokenStore(deps.db);
  const perEmail = new HourlyLimit(REQUESTS_PER_EMAIL);
  const perCaller = new HourlyLimit(REQUESTS_PER_CALLER);

  /** The token's user, unless it is unknown (404) or has expired (410, with OpenHIM's words for reading and for using it). */
  const liveToken = async (token: string, use: 'read' | 'set') => {
    const found = await tokens.find(token);
    if (!found) throw notFoundToken(token);
    const row = await deps.users.byId(found.userId);
    if (!row) throw notFoundToken(token);
    if (Date.parse(found.expiry) <= Date.now()) {
      const message = use === 'read' ? `Token ${token} has expired` : `User with token ${token} has expired to set their password.`;
      throw new IolError(410, 'IOL_GONE', message, 'ask for a new link: GET /password-reset-request/<your email>');
    }
    return { ...found, user: row.doc };
  };

  app.get<{ Params: { email: string } }>('/password-reset-request/:email', async (request: FastifyRequest<{ Params: { email: string } }>, reply) => {
    const email = request.params.email.trim().toLowerCase();
    if (email.length < 3 || email.length > 254) throw badRequest('give the e-mail address of a user');
    if (email === deps.config.rootEmail.toLowerCase()) throw forbidden(`Cannot request password reset for '${deps.config.rootEmail}'`);
    if (!deps.mailer.configured) {
      throw new IolError(503, 'IOL_MAIL_UNAVAILABLE', 'password reset by e-mail needs a mail server, and none is configured (OPENHIM_SMTP_URL)', 'ask an admin to set your password (PUT /users/:email)');
    }
    // A refused request counts against nobody: a stranger cannot use up a user's budget.
    const caller = callerOf(deps, request);
    const wait = Math.max(perCaller.wait(caller), perEmail.wait(email));
    if (wait === 0) {
      perCaller.count(caller);
      perEmail.count(email);
    }
    if (wait > 0) {
      reply.header('retry-after', String(wait));
      throw new IolError(429, 'IOL_TOO_MANY_REQUESTS', `too many password reset requests; try again in ${Math.ceil(wait / 60)} minutes`);
    }
    const row = await deps.users.byEmail(email);
    if (row && fromIdentityProvider(row.doc)) throw forbidden('User supplied by an identity provider (OpenID Connect). Cannot request password reset.');
    if (row) void mailLink(deps, row.doc, 'existingUser');
    deps.audits.record({ kind: 'admin-change', action: 'E', success: true, who: email, address: request.ip, entity: 'password-reset-request' });
    reply.code(201);
    return { result: 'Successfully set user token/expiry for password reset.' };
  });

  app.get<{ Params: { token: string } }>('/token/:token', async (request) => {
    const { token } = request.params;
    const { user, tokenType, expiry } = await liveToken(token, 'read');
    return {
      email: user.email,
      firstname: user.firstname,
      surname: user.surname,
      ...(user.msisdn ? { msisdn: user.msisdn } : {}),
      token,
      tokenType,
      locked: user.locked === true,
      expiry,
    };
  });

  app.put<{ Params: { token: string } }>('/token/:token', async (request) => {
    const { token } = request.params;
    const { user, tokenType } = await liveToken(token, 'set');
    if (fromIdentityProvider(user)) throw forbidden('User supplied by an identity provider. Cannot set a password here.');
    const body = parseBody(setPasswordSchema, request.body, 'password');
    const secrets = await userSecrets(deps, body, user.email);
    if (!secrets) throw badRequest('give the new password (password, at least 8 characters)');
    // A new user completes their profile too (OpenHIM's updateUserByToken); either way the user is unlocked.
    const names: Partial<User> =
      tokenType === 'newUser'
        ? { ...(body.firstname !== undefined ? { firstname: body.firstname } : {}), ...(body.surname !== undefined ? { surname: body.surname } : {}), ...(body.msisdn ? { msisdn: body.msisdn } : {}) }
        : {};
    const used = await deps.db.transaction(async (tx) => {
      if (!(await new UserTokenStore(tx).consume(token))) return false;
      // The user as it is now, locked for this transaction: an admin's change meanwhile (groups) stays.
      const current = await tx.query<{ doc: User }>('SELECT doc FROM iol.users WHERE id = $1 FOR UPDATE', [user._id]);
      const fresh = current.rows[0]?.doc;
      if (!fresh) return false;
      const { locked: _wasLocked, ...now } = fresh;
      await new UserStore(tx).update({ ...now, ...names }, secrets);
      return true;
    });
    if (!used) throw notFoundToken(token);
    deps.verified.clear();
    deps.audits.record({ kind: 'admin-change', action: 'U', success: true, who: user.email, address: request.ip, entity: `User/${user._id}`, description: 'password set by e-mailed link' });
    return { result: 'Successfully set new user password.' };
  });
}
