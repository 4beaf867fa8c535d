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
import { loggablePath } from '../../../common/loggable-path.js';

const FINISHED_AT = Symbol('finishedAt');
type Timed = ServerResponse & { [FINISHED_AT]?: bigint };

/** Notes when the answer was handed to the socket: the duration ends there, not after the log's own work. */
export function timeResponse(res: ServerResponse): void {
  res.once('finish', () => {
    (res as Timed)[FINISHED_AT] = process.hrtime.bigint();
  });
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
