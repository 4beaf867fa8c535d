/**
 * Mounts a FHIR engine on a Fastify app under a prefix (default /fhir), as an encapsulated
 * plug-in with its own body parsing (FHIR JSON, JSON Patch, form-encoded _search), content
 * negotiation and error handler, so every failure is an OperationOutcome and none is a 500.
 * Bodies are bounded twice: each by the app's bodyLimit (413 before it is read), and all bodies
 * held at once by the service's in-flight budget (503 with Retry-After).
 */
import { Transform } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { errorResponse, type FhirEngine } from '../engine.js';
import type { FhirRequest, FhirResponse } from '../interaction.js';
import { inFhirOrder } from './resource-order.js';
import { parseJsonKeepingDecimals, stringifyJsonInTurns } from '../../common/json-decimals.js';
import { assertR4Body } from './fhir-version.js';
import { binaryContentAnswer, binaryFromContent, isRawBinaryWrite, wantsBinaryContent } from './binary-content.js';
import { JSON_TYPES, XML_TYPES, negotiate, type WireFormat } from './negotiate.js';
import { FhirError, tooCostly } from '../outcome.js';
import { resourceToXmlInTurns, xmlToResourceInTurns } from '../format/xml.js';
import { EventLoopTurns } from '../event-loop-turns.js';
import { RESERVED_KEYS, findReservedKey } from '../validation.js';
import { BodyBudget } from '../../common/body-budget.js';
import { jsonNestingExceeds } from '../../common/json-depth.js';
import { isEmptyValue } from '../search/parse.js';

export interface FhirRoutesOptions {
  prefix?: string;
  /** Deepest JSON nesting accepted in a body; default the engine's FHIR_MAX_JSON_DEPTH. */
  maxDepth?: number;
  /** Request body bytes held at once by this service; default the engine's FHIR_MAX_INFLIGHT_BODY_BYTES. */
  maxInflightBodyBytes?: number;
  /** Most JSON values one resource of a body may have; default the engine's FHIR_MAX_RESOURCE_ELEMENTS. */
  maxResourceElements?: number;
}

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const FHIR_XML = 'application/fhir+xml; charset=utf-8';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

export async function registerFhirRoutes(app: FastifyInstance, engine: FhirEngine, options: FhirRoutesOptions = {}): Promise<void> {
  const maxDepth = options.maxDepth ?? engine.limits.fhirMaxJsonDepth;
  const maxElements = options.maxResourceElements ?? engine.limits.fhirMaxResourceElements;
  const budget = new BodyBudget(options.maxInflightBodyBytes ?? engine.limits.fhirInflightBodyBytes);
  const bodyLimit = app.initialConfig.bodyLimit ?? 1024 * 1024;
  await app.register(async (instance) => {
    instance.removeAllContentTypeParsers();
    // Bytes first, then strict UTF-8: a body of another type is the engine's 415 (it names the
    // types it takes), a FHIR body that is not UTF-8 a 400; never a Content-Length mismatch.
    instance.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) => {
      // A Binary's own content (a PDF, an image): kept as bytes (binary-content.ts).
      if (isRawBinaryWrite(request.method, fhirPath(request), request.headers['content-type'])) {
        done(null, body);
        return;
      }
      try {
        done(null, STRICT_UTF8.decode(body as Buffer));
      } catch {
        const type = String(request.headers['content-type'] ?? '');
        const textual = /json|xml/i.test(type);
        done(textual
          ? new FhirError(400, 'FHIR_BAD_REQUEST', 'the request body is not valid UTF-8')
          : new FhirError(415, 'FHIR_UNSUPPORTED_MEDIA_TYPE', `${type || 'this content type'} is not taken here: send application/fhir+json or application/fhir+xml`), undefined);
      }
    });
    instance.addHook('preParsing', async (request, reply, payload) => {
      refuseContentCoding(request);
      return reserveBody(budget, bodyLimit, request, reply, payload);
    });
    instance.setErrorHandler(async (error, request, reply) => {
      const fhirError = fromFastifyError(error);
      if (fhirError.status >= 500 && fhirError.status !== 503) request.log.error({ err: error }, 'FHIR request failed');
      if (fhirError.status === 503) {
        request.log.warn({ heldBytes: budget.heldBytes, maxBytes: budget.maxBytes }, 'FHIR request refused: in-flight body budget full');
        reply.header('retry-after', '1');
      }
      await send(reply, { status: fhirError.status, resource: fhirError.toOutcome() }, request.method === 'HEAD', formatOrJson(request), wantsPretty(request));
    });
    const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
      const { response, format, binaryContent } = await handleHttp(engine, request, maxDepth, maxElements);
      if (response.status >= 500 && 'cause' in response) request.log.error({ err: (response as { cause: unknown }).cause }, 'FHIR request failed');
      const content = binaryContent ? binaryContentAnswer(response) : undefined;
      if (content) {
        reply.code(content.status).headers(content.headers);
        await reply.send(request.method === 'HEAD' ? undefined : content.body);
        return;
      }
      await send(reply, response, request.method === 'HEAD', format, wantsPretty(request));
    };
    instance.route({ method: [...METHODS], url: '/', handler });
    instance.route({ method: [...METHODS], url: '/*', handler });
    // Every FHIR path takes the methods above; another (OPTIONS, TRACE, PROPFIND...) is a 405
    // OperationOutcome in the client's format, as an unsupported one of them is, not the web
    // framework's own 404 JSON.
    instance.setNotFoundHandler(async (request, reply) => {
      reply.header('allow', METHODS.join(', '));
      await sendFhirError(request, reply, new FhirError(405, 'FHIR_NOT_SUPPORTED', `${request.method.slice(0, 20)} is not supported on ${request.url.split('?')[0]!.slice(0, 200)}`));
    });
  }, { prefix: options.prefix ?? '/fhir' });
}

/**
 * Takes a request body's bytes from the service's budget before the body is read: its declared
 * Content-Length, or each chunk as it arrives when it has none. They return to the budget when the
 * response is sent or the connection closes, whichever comes first.
 */
function reserveBody(budget: BodyBudget, bodyLimit: number, request: FastifyRequest, reply: FastifyReply, payload: NodeJS.ReadableStream): NodeJS.ReadableStream {
  const declared = Number(request.headers['content-length'] ?? 0);
  const chunked = request.headers['transfer-encoding'] !== undefined;
  if (!(declared > 0) && !chunked) return payload;
  if (declared > bodyLimit) throw bodyTooLarge(bodyLimit);
  let held = 0;
  reply.raw.once('close', () => budget.release(held));
  if (declared > 0) {
    if (!budget.tryReserve(declared)) throw serviceBusy(budget);
    held = declared;
    return payload;
  }
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (!budget.tryReserve(chunk.length)) return callback(serviceBusy(budget));
      held += chunk.length;
      callback(null, chunk);
    },
  });
  payload.on('error', (error) => counter.destroy(error as Error));
  return payload.pipe(counter);
}

/**
 * A compressed body (Content-Encoding: gzip...) is 415, as RFC 9110 §8.4.1 says for a content
 * coding the server does not take, before it is read: its bytes would otherwise fail as "not UTF-8".
 */
function refuseContentCoding(request: FastifyRequest): void {
  const coding = String(request.headers['content-encoding'] ?? '').trim().toLowerCase();
  if (coding === '' || coding === 'identity') return;
  const hasBody = Number(request.headers['content-length'] ?? 0) > 0 || request.headers['transfer-encoding'] !== undefined;
  if (!hasBody) return;
  throw new FhirError(415, 'FHIR_UNSUPPORTED_MEDIA_TYPE',
    `Content-Encoding "${coding.slice(0, 40)}" is not taken here: send the request body uncompressed (no Content-Encoding)`);
}

function bodyTooLarge(bodyLimit: number): FhirError {
  return new FhirError(413, 'FHIR_BODY_TOO_LARGE', `the request body is larger than this server accepts (${bodyLimit} bytes)`);
}

function serviceBusy(budget: BodyBudget): FhirError {
  return new FhirError(503, 'FHIR_BUSY',
    `this FHIR service is holding ${budget.maxBytes} bytes of request bodies (FHIR_MAX_INFLIGHT_BODY_BYTES); retry shortly`);
}

function fromFastifyError(error: unknown): FhirError {
  if (error instanceof FhirError) return error;
  const e = error as { code?: string; statusCode?: number; message?: string };
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || e.statusCode === 413) {
    return new FhirError(413, 'FHIR_BODY_TOO_LARGE', 'the request body is larger than this server accepts');
  }
  if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || e.statusCode === 415) {
    return new FhirError(415, 'FHIR_UNSUPPORTED_MEDIA_TYPE', 'send application/fhir+json or application/fhir+xml');
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new FhirError(400, 'FHIR_BAD_REQUEST', e.message ?? 'bad request');
  }
  return errorResponse(error).error;
}

/**
 * An error answered outside the FHIR routes' handler (a hook of the service's own, such as the
 * client registry's sender check) as the OperationOutcome the handler would send: in the format
 * the client asked for, XML when XML was asked.
 */
export async function sendFhirError(request: FastifyRequest, reply: FastifyReply, error: FhirError): Promise<void> {
  await send(reply, { status: error.status, resource: error.toOutcome() }, request.method === 'HEAD', formatOrJson(request), wantsPretty(request));
}

/**
 * A URL Fastify refuses before routing (a percent-escape that is not UTF-8, such as %ZZ or %ff):
 * a 400 OperationOutcome like every other FHIR error, not Fastify's own JSON (createHttpApp's badUrl).
 */
export function answerBadFhirUrl(url: string, reply: FastifyReply): void {
  void sendFhirError(reply.request, reply, new FhirError(400, 'FHIR_BAD_REQUEST',
    `the URL ${JSON.stringify(url.split('?')[0]!.slice(0, 200))} holds a percent-escape that is not UTF-8 (such as %ZZ or %ff): escape the path as UTF-8`));
}

/** `_pretty=true` (R4 http.html#general): the answer indented for people to read, in either format. */
function wantsPretty(request: FastifyRequest): boolean {
  return [...queryOf(request), ...formatParametersInForm(request)].some(([key, value]) => key === '_pretty' && value === 'true');
}

async function send(reply: FastifyReply, response: FhirResponse, head: boolean, format: WireFormat, pretty: boolean): Promise<void> {
  reply.code(response.status);
  for (const [name, value] of Object.entries(response.headers ?? {})) reply.header(name, value);
  if (response.resource === undefined || response.status === 204 || response.status === 304) {
    await reply.send();
    return;
  }
  // A search page may be large (FHIR_SEARCH_MAX_PAGE_BYTES): written entry by entry, sharing the event loop.
  const turns = new EventLoopTurns();
  if (format === 'xml') {
    reply.header('content-type', FHIR_XML);
    await reply.send(head ? undefined : await resourceToXmlInTurns(response.resource as unknown as Record<string, unknown>, turns, { pretty }));
    return;
  }
  reply.header('content-type', FHIR_JSON);
  await reply.send(head ? undefined : await stringifyJsonInTurns(inFhirOrder(response.resource), () => turns.share(), pretty ? 2 : undefined));
}

function queryOf(request: FastifyRequest): Array<[string, string]> {
  const url = request.raw.url ?? '/';
  const queryAt = url.indexOf('?');
  return [...new URLSearchParams(queryAt >= 0 ? url.slice(queryAt + 1) : '')] as Array<[string, string]>;
}

/**
 * The format an error is answered in: the client's when it can be told, else JSON. A `_format`
 * naming no format this server speaks leaves the Accept type to tell it (IHE clients send both).
 */
function formatOrJson(request: FastifyRequest): WireFormat {
  const query = queryOf(request);
  for (const asked of [query, query.filter(([key]) => key !== '_format')]) {
    try {
      return negotiate(request.headers.accept, asked, request.headers['content-type']);
    } catch {
      /* try without _format, then JSON */
    }
  }
  return 'json';
}

/** The engine's answer, the format to send it in, and whether a Binary read is answered with its content (binary-content.ts). */
async function handleHttp(engine: FhirEngine, request: FastifyRequest, maxDepth: number, maxElements: number): Promise<{ response: FhirResponse; format: WireFormat; binaryContent: boolean }> {
  let format: WireFormat = 'json';
  let binaryContent = false;
  try {
    // A POST _search's form parameters are its parameters (http.html#search): `_format` and `_pretty` there too.
    const query = [...queryOf(request), ...formatParametersInForm(request)];
    // A Binary read answered with its content has no FHIR format to agree on (its errors are JSON).
    binaryContent = wantsBinaryContent(request.method, fhirPath(request), request.headers.accept, query);
    if (!binaryContent) format = negotiateFor(engine, request, query);
    // An encoded slash would be decoded into a path separator (`Patient/a%2FObservation` is a
    // compartment search); the router refuses it too, so both read a path the same way.
    if (/%2f|%5c/i.test(request.url.split('?')[0]!)) throw new FhirError(400, 'FHIR_BAD_REQUEST', 'an encoded slash or backslash (%2F, %5C) is not accepted in a FHIR path');
    // URLSearchParams reads %-escapes that are not UTF-8 as U+FFFD: a search for a character nobody sent.
    if (hasNonUtf8Escapes(request.url)) throw new FhirError(400, 'FHIR_BAD_REQUEST', 'the URL has %-escaped bytes that are not UTF-8: encode parameters as UTF-8 (RFC 3986)');
    const wildcard = (request.params as Record<string, string | undefined>)['*'] ?? '';
    const headers: Record<string, string | undefined> = {};
    for (const [name, value] of Object.entries(request.headers)) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    const fhirRequest: FhirRequest = {
      method: request.method as FhirRequest['method'],
      path: wildcard,
      query: query.filter(([key]) => !FORMAT_PARAMETERS.has(key)),
      headers,
      body: await parseBody(request, maxDepth, maxElements),
    };
    const response = await engine.handle(fhirRequest, { baseUrl: forwardedBase(engine, headers) });
    return { response: withFormatInLinks(response, query), format, binaryContent };
  } catch (error) {
    return { response: errorResponse(error), format: format === 'json' ? formatOrJson(request) : format, binaryContent: false };
  }
}

/**
 * The base URL a client used when the request came through a proxy (the interop layer sends
 * X-Forwarded-Host and X-Forwarded-Proto), so links point back through the proxy.
 */
function forwardedBase(engine: FhirEngine, headers: Record<string, string | undefined>): string | undefined {
  const host = headers['x-forwarded-host']?.split(',')[0]?.trim();
  if (!host || !/^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(host)) return undefined;
  const proto = headers['x-forwarded-proto']?.split(',')[0]?.trim() === 'https' ? 'https' : 'http';
  return `${proto}://${host}${new URL(engine.baseUrl).pathname.replace(/\/+$/, '')}`;
}

const READ_PATH = /^[A-Za-z]+\/[A-Za-z0-9\-.]{1,64}(\/_history\/[^/?]+)?\/?$/;

/** negotiate(), with a read's unsupported `_format` answered with the engine's status for it. */
function negotiateFor(engine: FhirEngine, request: FastifyRequest, query: Array<[string, string]>): WireFormat {
  try {
    return negotiate(request.headers.accept, query, request.headers['content-type']);
  } catch (error) {
    const path = ((request.params as Record<string, string | undefined>)['*'] ?? '');
    const isRead = (request.method === 'GET' || request.method === 'HEAD') && READ_PATH.test(path);
    if (error instanceof FhirError && error.status === 406 && isRead && engine.unsupportedReadFormatStatus !== 406 && query.some(([key]) => key === '_format')) {
      throw new FhirError(engine.unsupportedReadFormatStatus, error.code, error.message);
    }
    throw error;
  }
}

/** The query parameters the HTTP layer consumes (the engine never sees them): answer format and layout. */
const FORMAT_PARAMETERS = new Set(['_format', '_pretty']);
const PAGING_RELATIONS = new Set(['self', 'first', 'previous', 'prev', 'next', 'last']);

/**
 * The answer with `_format` and `_pretty` added to its paging links, so following `next` keeps the
 * format the client asked for. The engine builds the links without them (they never reach it).
 */
function withFormatInLinks(response: FhirResponse, query: Array<[string, string]>): FhirResponse {
  const bundle = response.resource;
  const kept = query.filter(([key, value]) => FORMAT_PARAMETERS.has(key) && !isEmptyValue(value));
  if (!kept.length || bundle?.resourceType !== 'Bundle' || !bundle.link?.length) return response;
  const link = bundle.link.map((l) => {
    if (!l.url || !PAGING_RELATIONS.has(l.relation ?? '')) return l;
    const url = l.url;
    const missing = kept.filter(([key]) => !new URL(url, 'http://base.invalid').searchParams.has(key));
    if (!missing.length) return l;
    return { ...l, url: `${url}${url.includes('?') ? '&' : '?'}${new URLSearchParams(missing).toString()}` };
  });
  // A new Bundle, not the engine's: it may be held in a cache.
  return { ...response, resource: { ...bundle, link } };
}

/** `_format` and `_pretty` of a form-encoded body (a POST _search's parameters). */
function formatParametersInForm(request: FastifyRequest): Array<[string, string]> {
  if (request.method !== 'POST' || typeof request.body !== 'string' || !request.body.includes('_')) return [];
  const contentType = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (contentType !== 'application/x-www-form-urlencoded') return [];
  return [...new URLSearchParams(request.body)].filter(([key]) => FORMAT_PARAMETERS.has(key));
}

/** The FHIR path of a request, after the service's prefix (`Patient/1`). */
function fhirPath(request: FastifyRequest): string {
  return (request.params as Record<string, string | undefined> | undefined)?.['*'] ?? '';
}

async function parseBody(request: FastifyRequest, maxDepth: number, maxElements: number): Promise<unknown> {
  const raw = request.body;
  if (Buffer.isBuffer(raw)) return binaryFromContent(fhirPath(request), String(request.headers['content-type']), raw);
  if (typeof raw !== 'string' || raw.length === 0) return undefined;
  assertR4Body(request.headers['content-type']);
  const contentType = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (contentType === 'application/x-www-form-urlencoded') {
    // A form is a search's parameters (POST [type]/_search, http.html#search) or an operation's: no resource.
    const last = fhirPath(request).split('/').pop() ?? '';
    if (last !== '_search' && !last.startsWith('$')) {
      throw new FhirError(415, 'FHIR_UNSUPPORTED_MEDIA_TYPE', `a form (application/x-www-form-urlencoded) is the body of a POST _search only; send a resource as application/fhir+json or application/fhir+xml`);
    }
    if (hasNonUtf8Escapes(raw)) throw new FhirError(400, 'FHIR_BAD_REQUEST', 'the form has %-escaped bytes that are not UTF-8: encode parameters as UTF-8');
    return [...new URLSearchParams(raw)].filter(([key]) => !FORMAT_PARAMETERS.has(key));
  }
  if (XML_TYPES.includes(contentType)) {
    // Read in slices, sharing the event loop (a body of up to the body limit), and cut at the first resource past maxElements.
    const parsed = await xmlToResourceInTurns(raw, new EventLoopTurns(), { maxDepth, maxElements });
    checkJsonShape(parsed, maxDepth, maxElements);
    return parsed;
  }
  if (!JSON_TYPES.includes(contentType) && contentType !== 'application/json-patch+json') {
    throw new FhirError(415, 'FHIR_UNSUPPORTED_MEDIA_TYPE',
      `content type "${contentType.slice(0, 60)}" is not supported; send application/fhir+json or application/fhir+xml (or application/json-patch+json for PATCH)`);
  }
  // A JSON Patch is only ever the body of a PATCH (R4 http.html#patch), and such a body is one.
  const jsonPatch = contentType === 'application/json-patch+json';
  if (jsonPatch && request.method !== 'PATCH') {
    throw new FhirError(415, 'FHIR_UNSUPPORTED_MEDIA_TYPE', `application/json-patch+json is the body of a PATCH only; send a ${request.method} body as application/fhir+json or application/fhir+xml`);
  }
  if (jsonNestingExceeds(raw, maxDepth) !== undefined) throw new FhirError(400, 'FHIR_INVALID_JSON', `the body is nested deeper than ${maxDepth} levels`);
  let parsed: unknown;
  try {
    parsed = parseJsonKeepingDecimals(raw);
  } catch (error) {
    throw new FhirError(400, 'FHIR_INVALID_JSON', `the body is not valid JSON: ${(error as Error).message.slice(0, 200)}`);
  }
  if (jsonPatch && !Array.isArray(parsed)) {
    throw new FhirError(400, 'FHIR_INVALID_JSON', 'a body sent as application/json-patch+json is a JSON Patch: an array of operations (RFC 6902); a FHIRPath Patch (Parameters) is sent as application/fhir+json');
  }
  checkJsonShape(parsed, maxDepth, maxElements);
  return parsed;
}

function reservedKey(body: unknown): FhirError {
  const type = (body as { resourceType?: unknown })?.resourceType;
  const path = findReservedKey(body, typeof type === 'string' ? type.slice(0, 64) : 'body') ?? 'body';
  return new FhirError(400, 'FHIR_INVALID_JSON', `${path.slice(0, 200)}: "${path.slice(path.lastIndexOf('.') + 1)}" is not a FHIR element name`);
}

/** The JSON values of one resource of a body, counted against FHIR_MAX_RESOURCE_ELEMENTS. */
interface ElementCount {
  count: number;
  /** Where the resource is, for the message: `the body`, or `Bundle.entry[3].resource`. */
  where: string;
  resourceType: unknown;
}

/** A node's place in a Bundle: its entry list, one entry (whose `resource` is counted on its own), or neither. */
const enum BundleRole { None, EntryList, Entry }

/**
 * Rejects nesting deeper than maxDepth, a resource of more than maxElements JSON values, NUL
 * characters (PostgreSQL jsonb cannot store them) and members named like Object.prototype's
 * (`__proto__`, `constructor`...: never FHIR elements).
 * The element count bounds the synchronous work one resource costs the process (validation and
 * indexing grow with it) before any of it starts. A batch or transaction body's entry resources
 * are counted one by one (each is validated and indexed on its own); any other Bundle with its
 * entries, and contained resources with their container.
 */
export function checkJsonShape(value: unknown, maxDepth: number, maxElements = Number.POSITIVE_INFINITY): void {
  const stack: Array<[node: unknown, depth: number, resource: ElementCount, role: BundleRole, index: number]> =
    [[value, 1, { count: 0, where: 'the body', resourceType: (value as { resourceType?: unknown } | null)?.resourceType }, BundleRole.None, 0]];
  while (stack.length) {
    const [node, depth, resource, role, index] = stack.pop()!;
    if (++resource.count > maxElements) throw tooManyElements(resource, maxElements);
    if (typeof node === 'string') {
      if (node.includes('\u0000')) throw new FhirError(400, 'FHIR_INVALID_JSON', 'the body contains a NUL character, which FHIR does not allow');
      if (!(node as string & { isWellFormed(): boolean }).isWellFormed()) {
        throw new FhirError(400, 'FHIR_INVALID_JSON', 'the body contains an unpaired UTF-16 surrogate (\\ud800-\\udfff)');
      }
      continue;
    }
    if (!node || typeof node !== 'object') continue;
    if (depth > maxDepth) throw new FhirError(400, 'FHIR_INVALID_JSON', `the body is nested deeper than ${maxDepth} levels`);
    // Children count where they are pushed, so a list of millions is refused before it is walked.
    if (Array.isArray(node)) {
      if (resource.count + node.length > maxElements) throw tooManyElements(resource, maxElements);
      const childRole = role === BundleRole.EntryList ? BundleRole.Entry : BundleRole.None;
      for (let i = 0; i < node.length; i++) stack.push([node[i], depth + 1, resource, childRole, i]);
      continue;
    }
    const keys = Object.keys(node);
    // An entry's resource counts on its own (below).
    if (resource.count + keys.length - (role === BundleRole.Entry && keys.includes('resource') ? 1 : 0) > maxElements) throw tooManyElements(resource, maxElements);
    // Only a batch or transaction posted as the body runs its entries one by one (each validated,
    // indexed and yielding the event loop on its own): any other Bundle (stored as a collection
    // or document, a message, one inside Parameters) is one resource, its entries counted with it.
    const bundleType = (node as { type?: unknown }).type;
    const isBundle = depth === 1 && (node as { resourceType?: unknown }).resourceType === 'Bundle' && (bundleType === 'batch' || bundleType === 'transaction');
    for (const [key, child] of Object.entries(node)) {
      if (key.includes('\u0000') || !(key as string & { isWellFormed(): boolean }).isWellFormed()) throw new FhirError(400, 'FHIR_INVALID_JSON', 'the body contains a NUL character, which FHIR does not allow');
      if (RESERVED_KEYS.has(key)) throw reservedKey(value);
      if (isBundle && key === 'entry') stack.push([child, depth + 1, resource, BundleRole.EntryList, 0]);
      else if (role === BundleRole.Entry && key === 'resource') {
        const entry = { count: 0, where: `Bundle.entry[${index}].resource`, resourceType: (child as { resourceType?: unknown } | null)?.resourceType };
        stack.push([child, depth + 1, entry, BundleRole.None, 0]);
      } else stack.push([child, depth + 1, resource, BundleRole.None, 0]);
    }
  }
}

/** 413 too-costly: a resource past FHIR_MAX_RESOURCE_ELEMENTS, refused before it is validated or indexed. */
function tooManyElements(resource: ElementCount, maxElements: number): FhirError {
  // A terminology's large code system has a bulk path that is not bound by this.
  const hint = resource.resourceType === 'CodeSystem' ? ' (a large CodeSystem loads with the terminology service\'s $import)' : '';
  return tooCostly(`${resource.where} has more than ${maxElements} elements (JSON values: objects, arrays, strings, numbers), ` +
    `the most one resource may have here (FHIR_MAX_RESOURCE_ELEMENTS): split it into several resources${hint}`, 413);
}

/** Whether a URL-encoded text has a run of %-escaped bytes that is not UTF-8. */
function hasNonUtf8Escapes(text: string): boolean {
  if (!text.includes('%')) return false;
  for (const run of text.match(/(?:%[0-9A-Fa-f]{2})+/g) ?? []) {
    try {
      decodeURIComponent(run);
    } catch {
      return true;
    }
  }
  return false;
}
