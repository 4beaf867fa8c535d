/**
 * The router's listeners (HTTP, and HTTPS with optional client certificates), guarded like
 * every port (src/common/connection-guard.ts). They run the header steps, read the request
 * body up to the cap, run the request steps, write the answer, then finish the log.
 */
import type http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type https from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { Exchange, RouterDeps, RouterRequest, RouterResponse } from './exchange.js';
import { routerPipeline, runAfterSteps, runHeaderSteps, runRequestSteps, type Pipeline } from './pipeline.js';
import { createGuardedServer, type HttpLimits } from '../../../common/connection-guard.js';
import { BodyBudget } from '../../../common/body-budget.js';
import { accessLogEnabled } from '../../../common/http-app.js';
import { requestIdOf } from '../../../common/request-id.js';
import { logRoutedRequest, timeResponse } from './access-log.js';
import type { TlsIdentity } from '../keystore/store.js';
import { secureContextOptions } from '../keystore/live-tls.js';
import { asOperationOutcome, fhirFormatAsked } from './fhir-errors.js';

class BodyTooLarge extends Error {}
class OverBudget extends Error {}

/** One instance: creating an Error (and its stack) per request is measurable on the hot path. */
const CLIENT_GONE = new Error('the client closed the request before its end');


interface BodyReading {
  limit: number;
  budget: BodyBudget;
  /** What this request holds of the budget; released when the request ends. */
  reserved: { bytes: number };
  /**
   * Reserve the declared Content-Length up front (an authenticated caller: refused with 503 at
   * once rather than after sending). An anonymous caller on a public channel is counted as its
   * bytes arrive, so a declared length alone takes nothing from anyone.
   */
  reserveDeclared: boolean;
  /** Called once the body is welcome (to answer 100 Continue), before it is awaited. */
  onAccepted?: (() => void) | undefined;
}

function readBody(req: IncomingMessage, reading: BodyReading): Promise<Buffer> {
  const { limit, budget, reserved } = reading;
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > limit) {
      reject(new BodyTooLarge());
      return;
    }
    if (reading.reserveDeclared) {
      if (!budget.tryReserve(declared)) {
        reject(new OverBudget());
        return;
      }
      reserved.bytes = declared;
    }
    reading.onAccepted?.();
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new BodyTooLarge());
        req.pause();
        return;
      }
      if (size > reserved.bytes) {
        if (!budget.tryReserve(size - reserved.bytes)) {
          reject(new OverBudget());
          req.pause();
          return;
        }
        reserved.bytes = size;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', reject);
    // A client that goes away (or is timed out) before the end: nothing to route.
    req.on('close', () => reject(CLIENT_GONE));
  });
}

/**
 * Each answer's X-Request-Id, added by send: a header set on the response before writeHead makes
 * Node merge the two a header at a time (validating each again), on every routed request.
 */
const requestIds = new WeakMap<ServerResponse, string>();

function send(res: ServerResponse, given: RouterResponse, closeAfter = false): void {
  if (res.headersSent || res.destroyed) return;
  const fhir = given.own ? fhirFormatAsked(res.req) : undefined;
  const response = fhir ? asOperationOutcome(given, fhir) : given;
  const headers: Record<string, string | string[]> = { ...response.headers };
  // An answer to HEAD or a 304 carries the representation's length, or none; others their body's.
  // RFC 9110 8.6: a 204 (or 1xx) carries no Content-Length.
  if (response.status === 204 || response.status < 200) delete headers['content-length'];
  else if (response.representationLength === undefined) headers['content-length'] = String(response.body.length);
  else if (response.representationLength !== null) headers['content-length'] = response.representationLength;
  const requestId = requestIds.get(res);
  if (requestId) headers['x-request-id'] = requestId;
  if (closeAfter) headers.connection = 'close';
  try {
    res.writeHead(response.status, headers);
  } catch {
    // An upstream or mediator gave a status or header Node refuses: say so rather than crash.
    const message = Buffer.from('the upstream answer could not be relayed (invalid status or header)');
    res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8', 'content-length': String(message.length), ...(requestId ? { 'x-request-id': requestId } : {}) });
    res.end(message);
    return;
  }
  res.end(response.body);
}

function plain(status: number, message: string): RouterResponse {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: Buffer.from(message), own: true };
}

const EMPTY_BODY = Buffer.alloc(0);

/** The request as the steps see it, body not yet read. */
function routerRequestOf(req: IncomingMessage, tlsListener: boolean): RouterRequest {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  let peerFingerprint: string | undefined;
  let peerTrusted = false;
  if (tlsListener) {
    const socket = req.socket as TLSSocket;
    const cert = socket.getPeerCertificate?.();
    if (cert && cert.fingerprint) {
      peerFingerprint = cert.fingerprint;
      // Its chain verified against the keystore's trusted list and the public roots.
      peerTrusted = socket.authorized === true;
    }
  }
  const local = req.socket.address() as AddressInfo;
  return {
    method: (req.method ?? 'GET').toUpperCase(),
    path: q >= 0 ? url.slice(0, q) : url,
    querystring: q >= 0 ? url.slice(q + 1) : '',
    headers: req.headers,
    body: EMPTY_BODY,
    clientIP: req.socket.remoteAddress ?? '',
    host: String(req.headers.host ?? '').split(':')[0] ?? '',
    port: local.port,
    listenerAddress: local.address,
    secure: tlsListener,
    peerFingerprint,
    peerTrusted,
  };
}

/**
 * The listeners' request handler: header steps (path, authentication) on the request line and
 * headers alone; then the body, read up to the cap and counted against the budget; then the
 * request steps, the answer, and the after steps. `expectsContinue`: the client waits for
 * 100 Continue before it sends the body, which it gets only once the header steps let it in.
 */
export function createRequestHandler(deps: RouterDeps, tlsListener: boolean, budget: BodyBudget, pipeline: Pipeline = routerPipeline) {
  return async (req: IncomingMessage, res: ServerResponse, expectsContinue = false): Promise<void> => {
    const reserved = { bytes: 0 };
    const seen: { exchange?: Exchange } = {};
    // One id per request, the caller's when well-formed: echoed, and sent on upstream so the
    // services behind the router log the same id.
    const requestId = requestIdOf(req);
    req.headers['x-request-id'] = requestId;
    requestIds.set(res, requestId);
    const logged = accessLogEnabled();
    if (logged) timeResponse(res);
    try {
      await handle(req, res, reserved, expectsContinue, seen);
    } catch (error) {
      deps.logger.error({ err: error, reqId: requestId }, 'router request failed');
      if (!res.headersSent) send(res, plain(500, 'the interop layer failed on this request; see its log'), true);
      else res.destroy();
    } finally {
      budget.release(reserved.bytes);
      if (logged) logRoutedRequest(deps.logger, requestId, req, res, seen.exchange);
    }
  };

  async function handle(req: IncomingMessage, res: ServerResponse, reserved: { bytes: number }, expectsContinue: boolean, seen: { exchange?: Exchange }): Promise<void> {
    const startedAt = process.hrtime.bigint();
    const request = routerRequestOf(req, tlsListener);
    const exchange: Exchange = { request, startedAt };
    seen.exchange = exchange;
    // A client gone before its answer: its upstream call is abandoned, not left to hold a pooled connection.
    res.once('close', () => {
      if (!res.writableFinished) exchange.cancelPrimary?.();
    });
    const headerSteps = runHeaderSteps(pipeline, exchange, deps);
    if (headerSteps) await headerSteps;
    if (exchange.halted) {
      // Refused on its headers: the body is neither read nor counted, and a connection still
      // carrying one is closed after the answer rather than drained.
      send(res, exchange.response ?? plain(500, 'no response'), !req.complete);
      return;
    }
    try {
      request.body = await readBody(req, {
        limit: deps.config.routerMaxBodyBytes,
        budget,
        reserved,
        reserveDeclared: Boolean(exchange.client),
        onAccepted: expectsContinue ? () => res.writeContinue() : undefined,
      });
    } catch (error) {
      if (error instanceof BodyTooLarge) send(res, plain(413, `the request body is larger than ${deps.config.routerMaxBodyBytes} bytes`), true);
      else if (error instanceof OverBudget) {
        send(res, { ...plain(503, 'the interop layer is holding too many request bodies; retry shortly'), headers: { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '1' } }, true);
      } else res.destroy();
      return;
    }
    try {
      const requestSteps = runRequestSteps(pipeline, exchange, deps);
      if (requestSteps) await requestSteps;
    } catch (error) {
      deps.logger.error({ err: error, path: request.path }, 'router step failed');
      if (exchange.transaction) exchange.transaction.error = { message: (error as Error).message };
      exchange.response = plain(500, 'the interop layer failed to route this request; see its log');
    }
    const response = exchange.response ?? plain(500, 'no response');
    // The upstream answer was held too: count it against the budget (after the fact).
    if (budget.tryReserve(response.body.length)) reserved.bytes += response.body.length;
    send(res, exchange.clientResponse ?? response);
    try {
      const afterSteps = runAfterSteps(pipeline, exchange, deps);
      if (afterSteps) await afterSteps;
    } catch (error) {
      deps.logger.error({ err: error, path: request.path }, 'router could not finish the transaction log');
    }
  }
}

export interface RouterListener {
  url: string;
  close(): Promise<void>;
  /** HTTPS: serve this certificate, key and trusted list to new connections from now on. */
  setTls?(identity: TlsIdentity): void;
}

/**
 * Room kept below the shared header caps for what the router adds upstream (X-Forwarded-*,
 * X-OpenHIM-TransactionID/ClientID, a route's Authorization, X-Request-Id): a request the router accepts then
 * fits the caps of the services behind it, so an oversized head is the router's 431, not an
 * upstream's answer logged as a completed transaction.
 */
export const ROUTER_HEADER_ALLOWANCE = { bytes: 1024, count: 9 };

/**
 * The port's HTTP limits: the shared ones (src/common/limits.ts), with the router's own
 * request timeout (OPENHIM_ROUTER_REQUEST_TIMEOUT_MS) for the whole request, and the header caps
 * lowered by ROUTER_HEADER_ALLOWANCE.
 */
function routerHttpLimits(deps: RouterDeps): HttpLimits {
  const { limits } = deps.config;
  return {
    ...limits,
    httpRequestTimeoutMs: limits.routerRequestTimeoutMs,
    httpMaxHeaderBytes: limits.httpMaxHeaderBytes - ROUTER_HEADER_ALLOWANCE.bytes,
    httpMaxHeaderCount: limits.httpMaxHeaderCount - ROUTER_HEADER_ALLOWANCE.count,
  };
}

async function listen(server: http.Server | https.Server, host: string, port: number, scheme: string): Promise<RouterListener> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return {
    url: `${scheme}://${shown.includes(':') ? `[${shown}]` : shown}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 2000).unref();
      }),
  };
}

function createRouterServer(deps: RouterDeps, name: string, budget: BodyBudget, tls?: TlsIdentity): http.Server {
  const handler = createRequestHandler(deps, Boolean(tls), budget);
  return createGuardedServer((req, res) => void handler(req, res), {
    limits: routerHttpLimits(deps),
    name,
    logger: deps.logger,
    onCheckContinue: (req, res) => void handler(req, res, true),
    // Client certificates are asked for but not required: the fingerprint identifies the
    // client, and requests without one fall back to header authentication.
    // The trusted list decides `authorized` (authenticate-client.ts), not whether the handshake succeeds.
    tls: tls ? { ...secureContextOptions(tls, true), requestCert: true, rejectUnauthorized: false } : undefined,
  });
}

export function listenHttp(deps: RouterDeps, host: string, port: number, budget: BodyBudget): Promise<RouterListener> {
  return listen(createRouterServer(deps, 'interop-layer router http', budget), host, port, 'http');
}

export async function listenHttps(deps: RouterDeps, host: string, port: number, tls: TlsIdentity, budget: BodyBudget): Promise<RouterListener> {
  const server = createRouterServer(deps, 'interop-layer router https', budget, tls) as unknown as https.Server;
  const listener = await listen(server, host, port, 'https');
  return { ...listener, setTls: (identity) => server.setSecureContext(secureContextOptions(identity, true)) };
}
