/**
 * Sends the request to the channel's enabled routes: the primary and the routes that do not
 * wait run in parallel; routes with waitPrimaryResponse run after the primary, when its status
 * matches statusCodesCheck if they have one. Only the primary's answer goes back, as soon as it is
 * there; the others finish in the background (awaitSecondaryRoutes) before the log is written.
 * A route answering `application/json+openhim` is a mediator: its `response` is the answer,
 * the rest (orchestrations, properties, status, error) goes to the transaction.
 */
import { validateHeaderName, validateHeaderValue } from 'node:http';
import type { Exchange, RouterDeps } from '../exchange.js';
import { TRANSACTION_STATUSES, type Orchestration, type RecordedRequest, type Route, type RouteRecord, type Transaction, type TransactionStatus } from '../../models.js';
import { compilePathTransform } from '../../validation.js';
import { senderIdentityHeaders } from '../../../../common/sender-identity.js';
import { countParts } from '../../transaction-parts.js';
import { bodyEncoding, decodeBody } from '../../store/content-encoding.js';
import { FORWARDING_HEADERS, forwardableHeaders, loggableHeaders, loggableOrchestrations, loggableQuery, mediatorHeaders, statusMatches, storedBody, withHeaderLinesMasked } from '../bodies.js';
import { normaliseRequestPath } from '../request-path.js';
import type { RouterRequest } from '../exchange.js';
import { UpstreamFailure, type UpstreamResponse } from '../upstream.js';

interface MediatorResponse {
  'x-mediator-urn'?: string;
  status?: TransactionStatus;
  response?: { status?: number; headers?: Record<string, string>; body?: unknown; timestamp?: string };
  orchestrations?: Orchestration[];
  properties?: Record<string, unknown>;
  error?: { message: string; stack?: string };
}

interface RouteOutcome {
  route: Route;
  /** The request as logged in the transaction's routes (secondary routes only: the primary's is the transaction's own). */
  request?: RecordedRequest;
  /** The upstream path and query called, and when (for the primary's orchestration record). */
  path?: string;
  sentAt?: string;
  response?: UpstreamResponse;
  mediator?: MediatorResponse;
  failure?: UpstreamFailure;
}

/** Client headers never sent upstream: the forwarding ones, and Authorization unless the route forwards it. */
const DROP_FORWARDING: ReadonlySet<string> = new Set(FORWARDING_HEADERS);
const DROP_FORWARDING_AND_AUTH: ReadonlySet<string> = new Set([...FORWARDING_HEADERS, 'authorization']);

const secondaryWork = new WeakMap<Exchange, Promise<RouteOutcome[]>>();

/**
 * The upstream path, built from the normalised request path; a route's path or pathTransform
 * result is normalised again, so a transform cannot produce a path the upstream reads as
 * another (a `..` made of the client's text, say).
 */
function upstreamPath(route: Route, path: string, querystring: string): string {
  let target = path;
  if (route.path) target = route.path;
  else if (route.pathTransform) target = compilePathTransform(route.pathTransform)(path);
  const q = target.indexOf('?');
  const normalised = normaliseRequestPath(q >= 0 ? target.slice(0, q) : target);
  if (!normalised.ok) throw new UpstreamFailure('error', `the route ${route.name} made an upstream path that is refused: ${normalised.reason}`);
  target = normalised.path + (q >= 0 ? target.slice(q) : '');
  if (querystring && q < 0) target += `?${querystring}`;
  return target;
}

/** host[:port] as in a Host header: a name or IPv4 address, or [IPv6], and an optional port. */
const AUTHORITY = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$/;

/**
 * X-Forwarded-Host for upstreams (the FHIR servers build links from it): the configured public
 * host; else the Host the client addressed when it is a plain host[:port]; else the listener.
 */
export function forwardedHost(request: RouterRequest, publicHost: string | undefined): string {
  if (publicHost) return publicHost;
  const host = String(request.headers.host ?? '');
  if (AUTHORITY.test(host)) return host;
  const listener = request.listenerAddress ?? '127.0.0.1';
  return `${listener.includes(':') ? `[${listener}]` : listener}:${request.port}`;
}

/**
 * Why a mediator's `response` cannot be the caller's answer, or undefined: a status that is not a
 * final HTTP status (a 1xx leaves the caller waiting for the real answer; Node refuses "abc" or
 * 99999), or a header Node refuses to write. OpenHIM (koa) fails such an answer too.
 */
function unrelayable(response: MediatorResponse['response']): string | undefined {
  if (!response || typeof response !== 'object') return undefined;
  const status: unknown = response.status;
  if (status !== undefined && status !== null && !(Number.isInteger(status) && (status as number) >= 200 && (status as number) <= 599)) {
    return `the mediator's response.status ${JSON.stringify(status).slice(0, 40)} is not a final HTTP status (200 to 599)`;
  }
  for (const [name, value] of Object.entries(mediatorHeaders(response.headers))) {
    try {
      validateHeaderName(name);
      validateHeaderValue(name, value);
    } catch {
      return `the mediator's response header ${JSON.stringify(name.slice(0, 60))} cannot be sent in an HTTP answer`;
    }
  }
  return undefined;
}

/** A mediator's `response.body` as text: a string as it is, anything else as JSON (an object was logged "[object Object]" for a secondary route). */
function mediatorBodyText(body: unknown): string {
  return body === undefined || body === null ? '' : typeof body === 'string' ? body : JSON.stringify(body);
}

/**
 * A mediator's `error` as OpenHIM's model keeps it: `{ message, stack }`, both strings (mongoose
 * casts them); an error that is a string is its message. Consoles read `error.message`.
 */
function mediatorError(error: unknown): MediatorResponse['error'] {
  if (error === undefined || error === null) return undefined;
  if (typeof error !== 'object' || Array.isArray(error)) return { message: mediatorBodyText(error) };
  const { message, stack } = error as Record<string, unknown>;
  return { message: mediatorBodyText(message), ...(stack === undefined || stack === null ? {} : { stack: mediatorBodyText(stack) }) };
}

function parseMediator(response: UpstreamResponse): MediatorResponse | undefined {
  const type = String(response.headers['content-type'] ?? '').toLowerCase();
  if (!type.startsWith('application/json+openhim')) return undefined;
  // No body to read (the answer to a HEAD, a 204 or 304): relayed as it is, as any answer.
  if (response.body.length === 0) return undefined;
  try {
    const parsed = JSON.parse(response.body.toString('utf8')) as MediatorResponse;
    if (!parsed || typeof parsed !== 'object') return undefined;
    // As OpenHIM (setKoaResponse, mongoose): "201" is the status 201.
    const status: unknown = parsed.response?.status;
    if (typeof status === 'string' && /^\d{3}$/.test(status)) parsed.response!.status = Number(status);
    // An answer that cannot be relayed is the route's failure: the caller and the log both get a
    // 502 (the log used to keep the mediator's status and response while the caller got a 502).
    if (Object.hasOwn(parsed, 'error')) {
      const error = mediatorError(parsed.error);
      if (error) parsed.error = error;
      else delete parsed.error;
    }
    const refused = unrelayable(parsed.response);
    if (refused) {
      const { status: _status, response: _response, ...rest } = parsed;
      return { ...rest, response: { status: 502, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: 'the upstream answer could not be relayed (invalid status or header)' }, error: { message: refused } };
    }
    return parsed;
  } catch {
    return { error: { message: 'the mediator sent application/json+openhim that is not JSON' } };
  }
}

async function callRoute(exchange: Exchange, deps: RouterDeps, route: Route): Promise<RouteOutcome> {
  const { request, transaction, client } = exchange;
  const channel = exchange.channel!.channel;
  let path: string;
  try {
    path = upstreamPath(route, request.path, request.querystring);
  } catch (error) {
    const failure = error instanceof UpstreamFailure ? error : new UpstreamFailure('error', (error as Error).message);
    const recorded: RecordedRequest = { host: route.host, port: route.port, path: request.path, headers: {}, querystring: loggableQuery(request.querystring), method: request.method, timestamp: new Date().toISOString() };
    return { route, request: recorded, failure };
  }
  const headers = forwardableHeaders(request.headers, route.forwardAuthHeader ? DROP_FORWARDING : DROP_FORWARDING_AND_AUTH);
  headers['x-openhim-transactionid'] = transaction!._id;
  if (client) headers['x-openhim-clientid'] = client.clientID;
  // Signed, so an upstream can trust the clientID from the router alone (sender-identity.ts).
  const body = request.method === 'GET' || request.method === 'HEAD' ? undefined : request.body;
  if (client && deps.config.senderIdentitySecret) {
    Object.assign(headers, senderIdentityHeaders(deps.config.senderIdentitySecret, client.clientID, request.method, path, body, Date.now(), client.roles ?? []));
  }
  // Set by the router alone, from the connection it accepted. X-Forwarded-For is replaced, not
  // appended to: the router is the edge, and a client-sent chain is whatever the client wants.
  headers['x-forwarded-for'] = request.clientIP;
  headers['x-forwarded-host'] = forwardedHost(request, deps.config.routerPublicHost);
  headers['x-forwarded-proto'] = request.secure ? 'https' : 'http';
  if (route.username) {
    headers.authorization = `Basic ${Buffer.from(`${route.username}:${route.password ?? ''}`).toString('base64')}`;
  }
  // Only secondary routes are logged with their request (the primary's is the transaction's own):
  // masking and copying the headers for nothing cost every routed request.
  const recorded: RecordedRequest | undefined = route.primary
    ? undefined
    : {
        host: route.host,
        port: route.port,
        ...loggedTarget(path),
        headers: loggableHeaders(headers),
        method: request.method,
        timestamp: new Date().toISOString(),
        // A compressed request's body is kept once, decoded and masked as needed, as the transaction's own (record-transaction.ts).
        ...(bodyEncoding(request.headers['content-encoding'])
          ? {}
          : storedBody(channel.requestBody ? withHeaderLinesMasked(request.body, request.path) : undefined, channel.requestBody, deps.config.maxStoredBodyBytes)),
      };
  const sentAt = route.primary ? new Date().toISOString() : undefined;
  try {
    const response = await deps.upstream.send({
      secured: route.secured,
      host: route.host,
      port: route.port,
      path,
      method: request.method,
      headers,
      body,
      timeoutMs: channel.timeout ?? deps.config.defaultTimeoutMs,
      caId: route.cert,
      // The primary's answer is the client's: nobody waits for it once the client is gone.
      onCancel: route.primary ? (cancel) => (exchange.cancelPrimary = cancel) : undefined,
    });
    const mediator = parseMediator(response);
    return { route, request: recorded, response, path, sentAt, ...(mediator ? { mediator } : {}) };
  } catch (error) {
    const failure = error instanceof UpstreamFailure ? error : new UpstreamFailure('error', (error as Error).message);
    return { route, request: recorded, failure, path, sentAt };
  }
}

/** An upstream path and query as a route or orchestration logs them: the query's credentials masked. */
function loggedTarget(target: string): { path: string; querystring: string } {
  const mark = target.indexOf('?');
  return mark < 0 ? { path: target, querystring: '' } : { path: target.slice(0, mark), querystring: loggableQuery(target.slice(mark + 1)) };
}

/**
 * The primary route's call as OpenHIM records it (router.js recordOrchestration: one orchestration
 * for the primary, its answer or its error), after a mediator's own. Without headers or bodies:
 * they are the transaction's own request and response, which OpenHIM stores twice.
 */
function primaryOrchestration(outcome: RouteOutcome, method: string): Orchestration {
  const { path, querystring } = loggedTarget(outcome.path ?? '');
  const request = {
    host: outcome.route.host,
    port: outcome.route.port,
    path,
    ...(querystring ? { querystring } : {}),
    method,
    timestamp: outcome.sentAt ?? new Date().toISOString(),
  };
  if (outcome.failure) return { name: outcome.route.name, request, error: { message: outcome.failure.message } };
  return { name: outcome.route.name, request, response: { status: outcome.response!.status, timestamp: new Date().toISOString() } };
}

export async function routeToUpstreams(exchange: Exchange, deps: RouterDeps): Promise<void> {
  const channel = exchange.channel!.channel;
  const routes = channel.routes.filter((r) => r.status === 'enabled');
  const primary = routes.find((r) => r.primary);
  if (!primary) {
    exchange.transaction!.error = { message: `channel ${channel.name} has no enabled primary route` };
    exchange.response = {
      status: 502,
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      body: Buffer.from(`channel ${channel.name} has no enabled primary route`),
    };
    return;
  }
  const parallel = routes.filter((r) => !r.primary && !r.waitPrimaryResponse).map((r) => callRoute(exchange, deps, r));
  const outcome = await callRoute(exchange, deps, primary);
  const primaryStatus = outcome.mediator?.response?.status ?? outcome.response?.status;
  exchange.primaryOutcome = { status: primaryStatus, failed: Boolean(outcome.failure) };
  // As OpenHIM (router.js matchCodeOfPrimaryResponse): checked against the status the caller got
  // (a primary that never answered is its 5xx), and a route without statusCodesCheck always runs.
  const answeredStatus = primaryStatus ?? outcome.failure?.httpStatus ?? 500;
  const afterPrimary = routes
    .filter((r) => !r.primary && r.waitPrimaryResponse)
    .filter((r) => !r.statusCodesCheck || statusMatches(r.statusCodesCheck, answeredStatus))
    .map((r) => callRoute(exchange, deps, r));
  if (parallel.length > 0 || afterPrimary.length > 0) secondaryWork.set(exchange, Promise.all([...parallel, ...afterPrimary]));

  const tx = exchange.transaction!;
  const recordPrimary = (): void => {
    if (countParts(tx) < deps.config.limits.transactionMaxParts) tx.orchestrations.push(primaryOrchestration(outcome, exchange.request.method));
  };
  if (outcome.failure) {
    recordPrimary();
    tx.error = { message: outcome.failure.message };
    exchange.response = { status: outcome.failure.httpStatus, headers: { 'content-type': 'text/plain; charset=utf-8', 'x-openhim-transactionid': tx._id }, body: Buffer.from(withoutAddress(outcome.failure.message, primary!)), own: true };
    return;
  }
  const upstream = outcome.response!;
  if (outcome.mediator) {
    const m = outcome.mediator;
    const body = m.response?.body;
    exchange.response = {
      status: m.response?.status ?? (m.error ? 500 : upstream.status),
      headers: mediatorHeaders(m.response?.headers),
      body: Buffer.from(mediatorBodyText(body)),
    };
    if (m.orchestrations) tx.orchestrations = loggableOrchestrations(m.orchestrations, deps.config.limits.transactionMaxParts);
    if (m.properties) tx.properties = { ...(tx.properties ?? {}), ...m.properties };
    if (m.error) tx.error = m.error;
    // Only a transaction status (OpenHIM's schema enum): another word would be counted in no metric.
    if (m.status && (TRANSACTION_STATUSES as readonly string[]).includes(m.status)) exchange.mediatorStatus = m.status;
  } else {
    const bodiless = exchange.request.method === 'HEAD' || upstream.status === 304;
    exchange.response = { status: upstream.status, headers: forwardableHeaders(upstream.headers), body: upstream.body, representationLength: bodiless ? (upstream.headers['content-length'] ?? null) : undefined };
  }
  recordPrimary(); // after a mediator's own orchestrations, as OpenHIM's messageStore appends them
  // As OpenHIM (router.js, messageStore.js): the caller learns the transaction's id, to find it in the log.
  exchange.response.headers['x-openhim-transactionid'] = tx._id;
  // OpenHIM's storeResponse: any answer below 400 to an asynchronous channel's caller is a 202.
  if (channel.isAsynchronousProcess && exchange.response.status < 400) exchange.response.status = 202;
}

/**
 * After the answer went back: wait for the other routes and add them to the transaction. Nothing
 * to wait for (no secondary route) returns at once, not a promise.
 */
export function awaitSecondaryRoutes(exchange: Exchange, deps: RouterDeps): void | Promise<void> {
  const tx = exchange.transaction;
  const work = secondaryWork.get(exchange);
  if (!tx || !work) return;
  return recordSecondaryRoutes(tx, exchange, deps, work);
}

async function recordSecondaryRoutes(tx: Transaction, exchange: Exchange, deps: RouterDeps, work: Promise<RouteOutcome[]>): Promise<void> {
  const channel = exchange.channel!.channel;
  const cap = deps.config.maxStoredBodyBytes;
  for (const outcome of await work) {
    const record: RouteRecord = { name: outcome.route.name, request: outcome.request! };
    if (outcome.failure) {
      // As OpenHIM (router.js storingNonPrimaryRouteResp): a route that never answered still has a
      // response status, its error's (OpenHIM: 500), which consoles list beside the route.
      record.error = { message: outcome.failure.message };
      record.response = { status: outcome.failure.httpStatus, headers: {}, timestamp: new Date().toISOString() };
    } else if (outcome.response) {
      const m = outcome.mediator;
      record.response = {
        status: m?.response?.status ?? outcome.response.status,
        headers: loggableHeaders(m?.response?.headers ? mediatorHeaders(m.response.headers) : forwardableHeaders(outcome.response.headers)),
        timestamp: outcome.response.timestamp,
        ...(m?.response?.body !== undefined ? storedBody(mediatorBodyText(m.response.body), channel.responseBody, cap) : await storedRouteBody(outcome.response, channel.responseBody, cap)),
      };
      if (typeof m?.['x-mediator-urn'] === 'string') record.mediatorURN = m['x-mediator-urn'].slice(0, 500);
      if (m?.orchestrations) record.orchestrations = loggableOrchestrations(m.orchestrations, deps.config.limits.transactionMaxParts);
      if (m?.properties) record.properties = m.properties;
      if (m?.error) record.error = m.error;
    }
    tx.routes.push(record);
  }
}

/** A secondary route's answer as stored: decoded when the upstream compressed it, as the primary's is (store/content-encoding.ts). */
async function storedRouteBody(response: UpstreamResponse, store: boolean, cap: number): Promise<{ body?: string; bodyTruncated?: boolean }> {
  const encoding = store && response.body.length ? bodyEncoding(response.headers['content-encoding']) : undefined;
  const decoded = encoding ? await decodeBody(response.body.length > cap ? response.body.subarray(0, cap) : response.body, encoding, cap) : undefined;
  if (!decoded) return storedBody(response.body, store, cap);
  return { body: decoded.bytes.toString('utf8'), ...(decoded.cut || response.body.length > cap ? { bodyTruncated: true } : {}) };
}

export function primaryOutcomeOf(exchange: Exchange): { status?: number | undefined; failed: boolean } | undefined {
  return exchange.primaryOutcome;
}

/**
 * A failure as the client reads it: the route by its name, not the address it is at (the network
 * behind the router is not the client's to map). The log and the transaction keep the address.
 */
function withoutAddress(message: string, route: Pick<Route, 'name' | 'host' | 'port'>): string {
  const named = `route "${route.name}"`;
  const host = String(route.host ?? '');
  if (!host) return message;
  const escaped = host.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return message
    .replace(new RegExp(`https?://\\[?${escaped}\\]?(?::${route.port})?`, 'gi'), named)
    .replace(new RegExp(`\\[?${escaped}\\]?:${route.port}`, 'g'), named);
}
