import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type FastifyServerOptions } from 'fastify';
import type { RequestListener } from 'node:http';
import type { Logger } from './logger.js';
import { createGuardedServer, type HttpLimits } from './connection-guard.js';
import { DEFAULT_LIMITS } from './limits.js';
import { jsonNestingExceeds } from './json-depth.js';
import { requestIdOf } from './request-id.js';
import { loggablePath } from './loggable-path.js';

/**
 * In a container (`instant serve`) every request gets one JSON log line with its id, method,
 * path, status and time: there, stdout is the log the engine collects. The embedded target keeps
 * the hot path free of per-request lines.
 */
let accessLog = false;
export function enableAccessLog(): void {
  accessLog = true;
}
/** For listeners that are not Fastify apps (the router), and its worker processes. */
export function accessLogEnabled(): boolean {
  return accessLog;
}


export interface HttpAppOptions {
  logger: Logger;
  /** Largest request body accepted, in bytes. */
  bodyLimit?: number;
  https?: Record<string, unknown>;
  /** Timeouts, header size and connection cap of the port (readLimits(settings)); defaults otherwise. */
  limits?: HttpLimits;
  /** Names the port in log lines (e.g. `interop-layer api`). */
  name?: string;
  /** Deepest JSON nesting accepted in a body (default 64). */
  maxJsonDepth?: number;
  /**
   * An empty application/json body on POST, PUT or PATCH is `{}` (koa-bodyparser's strict JSON,
   * as OpenHIM's admin API reads one) instead of a 400.
   */
  emptyJsonBodyIsObject?: boolean;
  /**
   * Answers a request Fastify refuses before routing (a URL with a bad percent-escape), in the
   * app's own error shape; without it Fastify's `{error, code: FST_ERR_BAD_URL, statusCode}`.
   */
  badUrl?: (url: string, reply: FastifyReply, accept?: string | string[]) => void;
}

/**
 * A Fastify app with the platform's conventions: our pino logger (no per-request log lines on
 * the hot path), GET /health for the platform's readiness checks, and the connection guard
 * every port has (src/common/connection-guard.ts).
 */
export function createHttpApp(options: HttpAppOptions): FastifyInstance {
  const limits = options.limits ?? DEFAULT_LIMITS;
  const app = Fastify({
    loggerInstance: options.logger,
    disableRequestLogging: true,
    genReqId: requestIdOf,
    bodyLimit: options.bodyLimit ?? 16 * 1024 * 1024,
    serverFactory: (handler: RequestListener) =>
      createGuardedServer(handler, { limits, name: options.name ?? 'http', logger: options.logger, tls: options.https }),
    ...(options.badUrl ? { frameworkErrors: frameworkErrorsVia(options.badUrl) } : {}),
  } as FastifyServerOptions) as unknown as FastifyInstance;
  guardJsonDepth(app, options.maxJsonDepth ?? 64, options.emptyJsonBodyIsObject === true);
  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  if (accessLog) {
    app.addHook('onResponse', async (request, reply) => {
      request.log.info({ method: request.method, path: loggablePath(request.url), status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
    });
  }
  app.get('/health', async () => ({ status: 'ok' }));
  return app;
}

function frameworkErrorsVia(badUrl: NonNullable<HttpAppOptions['badUrl']>) {
  return (error: FastifyError, request: FastifyRequest, reply: FastifyReply): void => {
    if (error.code === 'FST_ERR_BAD_URL') return badUrl(request.raw.url ?? '', reply, request.headers.accept);
    void reply.code(error.statusCode ?? 500).send({ error: error.code, message: error.message });
  };
}

/**
 * The key that made a JSON text refused although it parses (`__proto__`, or `constructor`
 * holding `prototype`: keys that would reach an object's prototype), or undefined.
 */
export function reservedJsonKey(text: string): string | undefined {
  let found: string | undefined;
  try {
    JSON.parse(text, function findReserved(key, value: unknown) {
      if (key === '__proto__') found ??= '__proto__';
      else if (key === 'constructor' && value !== null && typeof value === 'object' && Object.hasOwn(value, 'prototype')) found ??= 'constructor.prototype';
      return value;
    });
  } catch {
    return undefined;
  }
  return found;
}

/**
 * JSON bodies are scanned for their nesting before Fastify's own parser (which keeps refusing
 * `__proto__` and `constructor.prototype`) runs, so deep nesting costs a linear scan, not a parse.
 * A plug-in with its own parsers (the FHIR routes) does the same check itself.
 */
function guardJsonDepth(app: FastifyInstance, maxDepth: number, emptyIsObject: boolean): void {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = body as string;
    // A DELETE (or GET) sent with a JSON content type and no body, as some HTTP clients do: there
    // is nothing to parse, and OpenHIM (koa-bodyparser) takes it too.
    if (text.trim() === '' && (request.method === 'DELETE' || request.method === 'GET')) {
      done(null, undefined);
      return;
    }
    if (emptyIsObject && text.trim() === '') {
      done(null, {});
      return;
    }
    if (jsonNestingExceeds(text, maxDepth) !== undefined) {
      done(Object.assign(new Error(`the JSON body is nested deeper than ${maxDepth} levels`), { statusCode: 400, code: 'INSTANT_JSON_TOO_DEEP' }), undefined);
      return;
    }
    parseJson(request, text, (error, parsed) => {
      // Fastify says only "Body is not valid JSON" for a reserved key: name it.
      const reserved = error ? reservedJsonKey(text) : undefined;
      if (reserved) {
        done(Object.assign(new Error(`the JSON body holds the reserved key "${reserved}", which is refused (it would reach an object's prototype): rename or remove it`), { statusCode: 400, code: 'INSTANT_JSON_RESERVED_KEY' }), undefined);
        return;
      }
      done(error ?? null, parsed);
    });
  });
}

/** Listens and returns the base URL actually bound (port 0 picks a free port). */
export async function listenOn(app: FastifyInstance, host: string, port: number, scheme = 'http'): Promise<string> {
  // TLS comes from our server factory, which Fastify does not see: its log line would say http.
  await app.listen({ host, port, listenTextResolver: (address) => `Server listening at ${address.replace(/^https?:/, `${scheme}:`)}` });
  const address = app.server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `${scheme}://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${boundPort}`;
}
