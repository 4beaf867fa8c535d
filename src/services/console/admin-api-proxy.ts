/**
 * The console's /api: each call is passed to the admin API (ours or a real OpenHIM core) as the
 * session's user, with the admin API's session cookie that only this server holds. The browser
 * calls its own origin, so the admin API needs no CORS for the console.
 *
 * Only what a JSON API needs crosses: method, path and query, body, Content-Type and Accept one
 * way; status, Content-Type and Retry-After back. The admin API's cookies never reach the
 * browser, and its logout and login paths are the console's own (/console/session).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ConsoleSession } from './sessions.js';

export interface AdminApiAnswer {
  status: number;
  contentType?: string;
  retryAfter?: string;
  body: Buffer;
  setCookies: string[];
}

/** Paths of the admin API the console does not pass: sessions are made and ended by /console/session. */
const CONSOLE_OWNED_PATH = /^\/(?:authenticate|logout)(?:\/|$)/i;

/**
 * Why an /api path may not be passed on, or undefined. Checked on the path as the admin API will
 * see it: percent-decoded (`%6cogout` is logout), with repeated slashes folded, and with no `.` or
 * `..` segment (which fetch would resolve, `/channels/../logout` being logout).
 */
export function refusedApiPath(pathAndQuery: string): { status: 400 | 404; message: string } | undefined {
  const rawPath = pathAndQuery.split('?')[0] ?? '';
  let path: string;
  let segments: string[];
  try {
    path = decodeURIComponent(rawPath);
    // Segments are cut before decoding: fetch and the admin API keep an encoded slash inside its
    // segment, so `x%2F..%2Fy%40example.org` (a valid address) is one segment, not a `..`.
    segments = rawPath.split(/[\/\\]/).map((segment) => decodeURIComponent(segment));
  } catch {
    return { status: 400, message: 'the path is not valid percent-encoding' };
  }
  if (segments.some((segment) => segment === '.' || segment === '..')) return { status: 400, message: 'an /api path may not have . or .. segments' };
  if (CONSOLE_OWNED_PATH.test(path.replace(/\/{2,}/g, '/'))) return { status: 404, message: 'log in and out with /console/session' };
  return undefined;
}

export class AdminApi {
  constructor(private readonly baseUrl: string) {}

  async call(method: string, pathAndQuery: string, options: { body?: Buffer; contentType?: string; accept?: string; cookies?: Map<string, string>; headers?: Record<string, string> } = {}): Promise<AdminApiAnswer> {
    const headers: Record<string, string> = { ...options.headers, accept: options.accept ?? 'application/json' };
    if (options.contentType) headers['content-type'] = options.contentType;
    if (options.cookies?.size) headers.cookie = [...options.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    const response = await fetch(this.baseUrl + pathAndQuery, {
      method,
      headers,
      redirect: 'manual',
      ...(options.body && options.body.length && method !== 'GET' && method !== 'HEAD' ? { body: options.body } : {}),
    });
    return {
      status: response.status,
      contentType: response.headers.get('content-type') ?? undefined,
      retryAfter: response.headers.get('retry-after') ?? undefined,
      body: Buffer.from(await response.arrayBuffer()),
      setCookies: response.headers.getSetCookie(),
    };
  }
}

/** Folds Set-Cookie headers into the cookie jar (a cookie set empty or already expired is dropped). */
export function applySetCookies(jar: Map<string, string>, setCookies: readonly string[]): void {
  for (const line of setCookies) {
    const [pair = '', ...attributes] = line.split(';');
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const expired = attributes.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a) || (/^\s*expires\s*=/i.test(a) && Date.parse(a.split('=')[1] ?? '') < Date.now()));
    if (!value || expired) jar.delete(name);
    else jar.set(name, value);
  }
}

export async function sendAnswer(reply: FastifyReply, answer: AdminApiAnswer): Promise<void> {
  reply.status(answer.status);
  if (answer.contentType) reply.header('content-type', answer.contentType);
  if (answer.retryAfter) reply.header('retry-after', answer.retryAfter);
  reply.header('cache-control', 'no-store');
  await reply.send(answer.body);
}

export interface ProxyHooks {
  /** The request's live session, or undefined (then 401). */
  sessionOf(request: FastifyRequest): ConsoleSession | undefined;
  /** Why a state-changing call is refused (CSRF), or undefined. */
  refuseStateChange(request: FastifyRequest, session: ConsoleSession): string | undefined;
  /** Why any call is refused as not from a console page (cross-site or same-site), or undefined. */
  refuseCrossSite(request: FastifyRequest): string | undefined;
  /** The admin API no longer knows the session: the console forgets it too. */
  onUpstreamSessionLost(request: FastifyRequest): void;
}

export function registerAdminApiProxy(app: FastifyInstance, api: AdminApi, hooks: ProxyHooks, bodyLimit: number): void {
  void app.register(async (scope) => {
    // Bodies pass through as bytes: the admin API parses and validates them itself.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit }, (_request, body, done) => done(null, body));
    scope.all('/api/*', async (request, reply) => {
      const pathAndQuery = request.url.slice('/api'.length);
      const refusedPath = refusedApiPath(pathAndQuery);
      if (refusedPath) {
        return reply.status(refusedPath.status).send({ error: refusedPath.status === 404 ? 'CONSOLE_NOT_PROXIED' : 'CONSOLE_BAD_PATH', message: refusedPath.message });
      }
      const session = hooks.sessionOf(request);
      if (!session) return reply.status(401).send({ error: 'CONSOLE_UNAUTHENTICATED', message: 'log in first' });
      // Reads too: a page of another site (or another port of this one) gets nothing.
      const crossSite = hooks.refuseCrossSite(request);
      if (crossSite) return reply.status(403).send({ error: 'CONSOLE_CSRF', message: crossSite });
      const refusal = hooks.refuseStateChange(request, session);
      if (refusal) return reply.status(403).send({ error: 'CONSOLE_CSRF', message: refusal });
      const body = Buffer.isBuffer(request.body) ? request.body : undefined;
      const answer = await api.call(request.method, pathAndQuery, {
        body,
        contentType: request.headers['content-type'],
        accept: request.headers.accept,
        cookies: session.upstreamCookies,
      });
      applySetCookies(session.upstreamCookies, answer.setCookies);
      if (answer.status === 401) hooks.onUpstreamSessionLost(request);
      await sendAnswer(reply, answer);
    });
  });
}
