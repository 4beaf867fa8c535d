/**
 * The console's side of setting a password by e-mailed link (the admin API's
 * /password-reset-request and /token/:token, OpenHIM's console route `#!/set-password/<token>`):
 * routes that need no session, since whoever uses them has no password to log in with.
 * - `POST /console/password-reset` `{email}`: asks the admin API to mail a reset link;
 *   throttled here by the browser's address (the admin API sees every console request from one).
 * - `GET /console/set-password/:token`: who the link is for (email, names, new user or reset).
 * - `PUT /console/set-password/:token` `{password, firstname?, surname?}`: sets the password.
 * State-changing calls must come from a console page (Origin / Sec-Fetch-Site), as the login.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendAnswer, type AdminApi } from './admin-api-proxy.js';
import { ConsoleLoginThrottle, type ConsoleLoginLimits } from './login-throttle.js';
import { crossOriginReason } from './request-guard.js';
import { CONSOLE_BROWSER_PREFIX, senderIdentityHeaders } from '../../common/sender-identity.js';

/** The admin API's tokens: 32 hex characters; anything else is no link of ours. */
const TOKEN = /^[0-9a-f]{32}$/;

export function registerSetPassword(app: FastifyInstance, api: AdminApi, limits: ConsoleLoginLimits, senderIdentitySecret?: string): void {
  const throttle = new ConsoleLoginThrottle(limits);
  const refuse = (reply: FastifyReply, status: number, error: string, message: string) => reply.status(status).header('cache-control', 'no-store').send({ error, message });

  app.post('/console/password-reset', async (request: FastifyRequest, reply) => {
    const crossOrigin = crossOriginReason(request);
    if (crossOrigin) return refuse(reply, 403, 'CONSOLE_CSRF', crossOrigin);
    const email = (request.body as { email?: unknown } | undefined)?.email;
    if (typeof email !== 'string' || email.length < 3 || email.length > 254) return refuse(reply, 400, 'CONSOLE_BAD_REQUEST', 'give your e-mail address');
    // Every request counts (a reset mails someone): a browser address and an address asked for are bounded.
    const wait = throttle.retryAfterMs(email, request.ip);
    if (wait > 0) {
      const seconds = Math.ceil(wait / 1000);
      return reply.status(429).header('retry-after', String(seconds)).send({ error: 'CONSOLE_TOO_MANY_REQUESTS', message: `too many requests: try again in ${seconds} s` });
    }
    throttle.failed(email, request.ip);
    const target = `/password-reset-request/${encodeURIComponent(email.trim())}`;
    // The browser's address, vouched for: the admin API throttles each browser, not the console.
    const vouched = senderIdentitySecret ? senderIdentityHeaders(senderIdentitySecret, `${CONSOLE_BROWSER_PREFIX}${request.ip}`, 'GET', target) : undefined;
    return sendAnswer(reply, { ...(await api.call('GET', target, { ...(vouched ? { headers: vouched } : {}) })), setCookies: [] });
  });

  app.get<{ Params: { token: string } }>('/console/set-password/:token', async (request, reply) => {
    if (!TOKEN.test(request.params.token)) return refuse(reply, 404, 'CONSOLE_NOT_FOUND', 'this link is not valid: ask for a new one');
    return sendAnswer(reply, { ...(await api.call('GET', `/token/${request.params.token}`)), setCookies: [] });
  });

  app.put<{ Params: { token: string } }>('/console/set-password/:token', async (request, reply) => {
    const crossOrigin = crossOriginReason(request);
    if (crossOrigin) return refuse(reply, 403, 'CONSOLE_CSRF', crossOrigin);
    if (!TOKEN.test(request.params.token)) return refuse(reply, 404, 'CONSOLE_NOT_FOUND', 'this link is not valid: ask for a new one');
    const body = request.body as { password?: unknown; firstname?: unknown; surname?: unknown } | undefined;
    if (typeof body?.password !== 'string') return refuse(reply, 400, 'CONSOLE_BAD_REQUEST', 'give the new password');
    // Only what a password page sets crosses (no groups, no email).
    const given = { password: body.password, ...(typeof body.firstname === 'string' ? { firstname: body.firstname } : {}), ...(typeof body.surname === 'string' ? { surname: body.surname } : {}) };
    const answer = await api.call('PUT', `/token/${request.params.token}`, { body: Buffer.from(JSON.stringify(given)), contentType: 'application/json' });
    return sendAnswer(reply, { ...answer, setCookies: [] });
  });
}
