/**
 * The router's access log line in containers (`instant serve`, as the Fastify services'
 * `"msg":"request"` lines): one JSON line per routed request with its id, method, path, status,
 * duration, channel and client. Never the query string (it can carry tokens), a header value
 * (Authorization, cookies) or a body: what the line holds is chosen here field by field. The path
 * is the request target as the client sent it, made safe by loggablePath.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../../common/logger.js';
import type { Exchange } from './exchange.js';

const FINISHED_AT = Symbol('finishedAt');
type Timed = ServerResponse & { [FINISHED_AT]?: bigint };

/** Notes when the answer was handed to the socket: the duration ends there, not after the log's own work. */
export function timeResponse(res: ServerResponse): void {
  res.once('finish', () => {
    (res as Timed)[FINISHED_AT] = process.hrtime.bigint();
  });
}

/**
 * Enough to tell requests apart; the target itself is bounded by the HTTP server's header size,
 * this only keeps one line readable (a display cap, not a protection: no setting).
 */
const MAX_LOGGED_PATH_CHARS = 256;
/** An absolute-form target (`http://user:pw@host/path`): scheme and authority go, the path stays. */
const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\/[^/?#;]*/i;
/** Userinfo after `//` anywhere in the path (`//user:pw@host/...`, `/a//user:pw@h/...`). */
const USERINFO = /\/\/[^/]*@/g;

/**
 * The request target as logged: no scheme, authority or userinfo (an absolute-form or `//` target
 * can carry `user:password@`), cut at the first `?`, `#`, `;` (path parameters such as
 * `;jsessionid=`) or encoded `?` (`%3F`, a query in disguise), and capped.
 */
export function loggablePath(target: string): string {
  let path = target.replace(ABSOLUTE_FORM, '');
  const cut = path.search(/[?#;]|%3f/i);
  if (cut >= 0) path = path.slice(0, cut);
  path = path.replace(USERINFO, '//');
  if (!path.startsWith('/')) path = `/${path}`;
  return path.length > MAX_LOGGED_PATH_CHARS ? `${path.slice(0, MAX_LOGGED_PATH_CHARS)}…` : path;
}

export function logRoutedRequest(logger: Logger, requestId: string, req: IncomingMessage, res: ServerResponse, exchange: Exchange | undefined): void {
  const end = (res as Timed)[FINISHED_AT] ?? process.hrtime.bigint();
  const ms = exchange ? Number(end - exchange.startedAt) / 1e6 : undefined;
  logger.info(
    {
      reqId: requestId,
      method: req.method,
      path: loggablePath(exchange?.request.path ?? req.url ?? '/'),
      // A request cut off before an answer (the client went away) has none to report.
      status: res.headersSent ? res.statusCode : undefined,
      ...(ms !== undefined ? { ms: Math.round(ms * 10) / 10 } : {}),
      ...(exchange?.channel ? { channel: exchange.channel.channel.name } : {}),
      ...(exchange?.client ? { clientID: exchange.client.clientID } : {}),
      ...(exchange?.transaction ? { transactionId: exchange.transaction._id } : {}),
    },
    'request',
  );
}
