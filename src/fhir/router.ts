/**
 * The route table of the FHIR RESTful API. Each interaction is a short handler that takes a
 * FhirRequest and returns a FhirResponse value; errors are thrown FhirErrors that the caller (HTTP
 * adapter or bundle processor) turns into an OperationOutcome in one place.
 */
import type { Bundle, BundleEntry, List, Parameters, Resource } from '@medplum/fhirtypes';
import { assertJsonShape } from './json-shape.js';
import { processBundle } from './bundle.js';
import { buildCapabilityStatement, buildTerminologyCapabilities, type CodeSystemCatalogue } from './capability.js';
import { preferences, versionHeaders, type FhirRequest, type FhirResponse } from './interaction.js';
import { queryToParameters, type OperationLevel, type OperationRegistry } from './operations/registry.js';
import { FhirError, badRequest, informational } from './outcome.js';
import { notModified } from './preconditions.js';
import { decodeHistoryCursor, historyLinks } from './history-paging.js';
import type { FhirRepository } from './repository.js';
import type { HistoryQuery } from './storage/reader.js';
import { parseReference } from './storage/indexer.js';
import { compartmentSearchType, restrictToCompartment, type CompartmentScope } from './search/compartment-search.js';
import { DEFAULT_COUNT } from './search/parse.js';
import { parseResultShape, shapeBundleEntries, shapeResource, type ResultShape } from './search/shape.js';
import { isSinceValue, parseDateRange, withTimezonePlus } from './search/values.js';
import { isEmptyValue } from './search/parse.js';

export interface RouteContext {
  repo: FhirRepository;
  operations: OperationRegistry;
  request: FhirRequest;
  params: Record<string, string>;
  software: { name: string; version: string };
  /** The code systems a terminology service holds, for `metadata?mode=terminology`. */
  codeSystems?: CodeSystemCatalogue;
}

type Handler = (ctx: RouteContext) => Promise<FhirResponse>;

/**
 * How an interaction takes _summary and _elements (R4 http.html general parameters): `resource`
 * shapes the one resource answered, `entries` each entry of a history Bundle (and counts for
 * _summary=count). Searches shape their own pages (search/execute.ts).
 */
type Shaping = 'resource' | 'entries';

interface Route {
  method: FhirRequest['method'];
  pattern: string[];
  handler: Handler;
  shaping?: Shaping;
}

const ROUTES: Route[] = [];
function route(method: FhirRequest['method'], path: string, handler: Handler, shaping?: Shaping): void {
  ROUTES.push({ method, pattern: path ? path.split('/') : [], handler, ...(shaping ? { shaping } : {}) });
}

route('GET', 'metadata', async (ctx) => {
  // R4 http.html#capabilities: mode full (the default) and normative give the CapabilityStatement,
  // terminology a TerminologyCapabilities.
  const modes = ctx.request.query.filter(([name]) => name === 'mode').map(([, value]) => value);
  const mode = modes[0] ?? 'full';
  if (modes.length > 1 || !['full', 'normative', 'terminology'].includes(mode)) throw badRequest(`metadata mode must be full, normative or terminology, not "${modes.join(',').slice(0, 40)}"`);
  if (mode === 'terminology') return { status: 200, resource: buildTerminologyCapabilities(ctx.repo.baseUrl, ctx.operations, ctx.software, await ctx.codeSystems?.()) };
  return { status: 200, resource: buildCapabilityStatement(ctx.repo.baseUrl, ctx.operations, ctx.software, ctx.repo.definitions) };
}, 'resource');
route('POST', '', async (ctx) => ({ status: 200, resource: await processBundle(ctx, ctx.request.body) }));
route('GET', '', (ctx) => search(ctx, undefined));
route('GET', '_search', (ctx) => search(ctx, undefined));
route('POST', '_search', (ctx) => search(ctx, undefined));
route('GET', '_history', (ctx) => history(ctx), 'entries');
route('GET', ':$op', (ctx) => operation(ctx, 'system'));
route('POST', ':$op', (ctx) => operation(ctx, 'system'));
route('GET', ':type', (ctx) => search(ctx, ctx.params.type));
route('POST', ':type', create);
route('PUT', ':type', conditionalUpdate);
route('PATCH', ':type', conditionalPatch);
route('DELETE', ':type', conditionalDelete);
route('GET', ':type/_search', (ctx) => search(ctx, ctx.params.type));
route('POST', ':type/_search', (ctx) => search(ctx, ctx.params.type));
route('GET', ':type/_history', (ctx) => history(ctx), 'entries');
route('GET', ':type/:$op', (ctx) => operation(ctx, 'type'));
route('POST', ':type/:$op', (ctx) => operation(ctx, 'type'));
route('GET', ':type/:id', read, 'resource');
route('PUT', ':type/:id', update);
route('PATCH', ':type/:id', patch);
route('DELETE', ':type/:id', remove);
route('GET', ':type/:id/_history', (ctx) => history(ctx), 'entries');
route('GET', ':type/:id/_history/:vid', vread, 'resource');
route('GET', ':type/:id/_history/:vid/:$op', (ctx) => operation(ctx, 'instance'));
route('POST', ':type/:id/_history/:vid/:$op', (ctx) => operation(ctx, 'instance'));
route('GET', ':type/:id/:$op', (ctx) => operation(ctx, 'instance'));
route('GET', ':type/:id/:member', (ctx) => compartmentSearch(ctx));
route('GET', ':type/:id/:member/_search', (ctx) => compartmentSearch(ctx));
route('POST', ':type/:id/:member/_search', (ctx) => compartmentSearch(ctx));
route('POST', ':type/:id/:$op', (ctx) => operation(ctx, 'instance'));

function matchRoute(method: FhirRequest['method'], segments: string[]): { route: Route; params: Record<string, string> } | undefined {
  const wanted = method === 'HEAD' ? 'GET' : method;
  const allowed: string[] = [];
  for (const candidate of ROUTES) {
    if (candidate.pattern.length !== segments.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < segments.length && ok; i++) {
      const part = candidate.pattern[i]!;
      const segment = segments[i]!;
      if (part === ':$op') {
        ok = segment.startsWith('$') && segment.length > 1;
        params.op = segment.slice(1);
      } else if (part.startsWith(':')) {
        ok = !segment.startsWith('$') && !segment.startsWith('_') && segment.length > 0;
        params[part.slice(1)] = segment;
      } else ok = part === segment;
    }
    if (!ok) continue;
    if (candidate.method === wanted) return { route: candidate, params };
    if (!allowed.includes(candidate.method)) allowed.push(candidate.method, ...(candidate.method === 'GET' ? ['HEAD'] : []));
  }
  if (allowed.length) throw methodNotAllowed(`${method} is not supported on /${segments.join('/')}`, allowed);
  return undefined;
}

/** A 405 names the methods the path takes (RFC 9110 15.5.6: its Allow header is a MUST). */
function methodNotAllowed(message: string, allowed: readonly string[]): FhirError {
  const order = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];
  const allow = [...allowed].sort((a, b) => order.indexOf(a) - order.indexOf(b)).join(', ');
  return new FhirError(405, 'FHIR_NOT_SUPPORTED', message, [], { allow });
}

/** Runs one interaction and applies the Prefer: return preference. */
export async function dispatch(ctx: Omit<RouteContext, 'params'>): Promise<FhirResponse> {
  // PostgreSQL text cannot hold NUL: refuse it at the edge rather than fail in a query.
  if (ctx.request.path.includes('\u0000') || ctx.request.query.some(([k, v]) => k.includes('\u0000') || v.includes('\u0000'))) {
    throw new FhirError(400, 'FHIR_BAD_REQUEST', 'the URL contains a NUL character');
  }
  const segments = ctx.request.path.split('/').filter((s) => s.length > 0);
  const matched = matchRoute(ctx.request.method, segments);
  if (!matched) throw new FhirError(404, 'FHIR_NOT_FOUND', `no FHIR interaction at /${segments.join('/').slice(0, 200)}`);
  const shaping = matched.route.shaping;
  // Parsed first: a bad _summary is a 400 whatever the interaction would have answered.
  const shape = shaping ? parseResultShape(ctx.request.query, { maxElements: ctx.repo.limits.fhirSearchMaxValues, countable: shaping === 'entries' }) : {};
  const response = await matched.route.handler({ ...ctx, params: matched.params });
  return applyReturnPreference(ctx.request, shaping ? applyResultShape(response, shaping, shape) : response);
}

function applyResultShape(response: FhirResponse, shaping: Shaping, shape: ResultShape): FhirResponse {
  if (!response.resource || response.status !== 200) return response;
  const resource = shaping === 'entries' ? shapeBundleEntries(response.resource as Bundle, shape) : shapeResource(response.resource, shape);
  return resource === response.resource ? response : { ...response, resource };
}

/** Whether Prefer: return applies: a create, update or patch (not a search, operation or bundle). */
export function answersWithRepresentation(request: FhirRequest): boolean {
  return ['POST', 'PUT', 'PATCH'].includes(request.method) && request.path.replace(/\/+$/, '') !== '' &&
    !request.path.includes('$') && !request.path.endsWith('_search');
}

/** Prefer: return=minimal (no body), OperationOutcome (one saying what was done) or representation. */
export function applyReturnPreference(request: FhirRequest, response: FhirResponse): FhirResponse {
  if (!answersWithRepresentation(request) || !response.resource) return response;
  if (response.resource.resourceType === 'Bundle' || response.resource.resourceType === 'OperationOutcome') return response;
  const wanted = preferences(request.headers).return;
  const lastUpdated = response.resource.meta?.lastUpdated;
  if (wanted === 'minimal') return { ...response, resource: undefined, lastUpdated };
  if (wanted === 'OperationOutcome') {
    // A create answered 200 is one whose If-None-Exist matched: nothing was written.
    const what = response.status === 201 ? 'created' : request.method === 'POST' ? 'exists (If-None-Exist matched it); nothing was created' : 'updated';
    return { ...response, resource: informational(`${response.resource.resourceType}/${response.resource.id} ${what}`), lastUpdated };
  }
  return response;
}

function isStrict(request: FhirRequest): boolean {
  return preferences(request.headers).handling === 'strict';
}

/**
 * The search's query: URL query, plus the form fields of a POST _search. A POST _search body is a
 * form (FHIR R4 http.html#search); any other body is 415, never ignored (the search would match
 * everything) nor read as parameters.
 */
function searchQuery(request: FhirRequest): Array<[string, string]> {
  const query = [...request.query];
  if (request.method !== 'POST' || request.body === undefined) return query;
  const contentType = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (contentType !== 'application/x-www-form-urlencoded' || !Array.isArray(request.body)) {
    throw new FhirError(415, 'FHIR_UNSUPPORTED_MEDIA_TYPE',
      `a POST _search takes its parameters as a form (application/x-www-form-urlencoded), not ${contentType ? `a ${contentType.slice(0, 60)} body` : 'this body'}: ` +
      'send them as a form, or in the URL with GET');
  }
  for (const pair of request.body as Array<[string, string]>) query.push(pair);
  return query;
}

/** `GET Patient/123/Observation`: a search within a compartment (search/compartment-search.ts). */
async function compartmentSearch(ctx: RouteContext): Promise<FhirResponse> {
  const scope = { ownerType: ctx.params.type!, ownerId: ctx.params.id!, memberType: ctx.params.member! };
  return search(ctx, compartmentSearchType(scope), scope);
}

async function search(ctx: RouteContext, type: string | undefined, compartment?: CompartmentScope): Promise<FhirResponse> {
  let request = ctx.repo.parseSearch(type, searchQuery(ctx.request), isStrict(ctx.request));
  if (compartment) restrictToCompartment(request, compartment);
  for (const extend of ctx.operations.searchExtensions) request = await extend(request, { repo: ctx.repo, request: ctx.request });
  const selfPath = compartment ? `${compartment.ownerType}/${compartment.ownerId}/${compartment.memberType}` : type ?? '';
  const bundle = await ctx.repo.searchBundle(request, selfPath);
  const notes: string[] = [];
  if (request.ignored.length) notes.push(`ignored unknown search parameters: ${request.ignored.join(', ')}`);
  if (request.ignoredSort.length) notes.push(`ignored unknown sort parameters in _sort: ${request.ignoredSort.join(', ')}`);
  if (notes.length) {
    bundle.entry = [...(bundle.entry ?? []), {
      resource: {
        resourceType: 'OperationOutcome',
        issue: notes.map((diagnostics) => ({ severity: 'warning' as const, code: 'not-supported' as const, diagnostics })),
      },
      search: { mode: 'outcome' },
    }];
  }
  return { status: 200, resource: bundle };
}

async function read(ctx: RouteContext): Promise<FhirResponse> {
  const resource = await ctx.repo.read(ctx.params.type!, ctx.params.id!);
  const headers = versionHeaders(resource, ctx.repo.baseUrl, false);
  // Conditional read: the client's copy is current.
  const ifNoneMatch = ctx.request.headers['if-none-match'];
  const ifModifiedSince = ctx.request.headers['if-modified-since'];
  const sameVersion = ifNoneMatch !== undefined && notModified(ifNoneMatch, Number(resource.meta!.versionId));
  const since = ifModifiedSince ? Date.parse(ifModifiedSince) : Number.NaN;
  const notModifiedSince = !Number.isNaN(since) && Math.floor(Date.parse(resource.meta!.lastUpdated!) / 1000) * 1000 <= since;
  if (sameVersion || (ifNoneMatch === undefined && notModifiedSince)) return { status: 304, headers, lastUpdated: resource.meta?.lastUpdated };
  return { status: 200, resource, headers };
}

async function vread(ctx: RouteContext): Promise<FhirResponse> {
  const resource = await ctx.repo.vread(ctx.params.type!, ctx.params.id!, ctx.params.vid!);
  const headers = versionHeaders(resource, ctx.repo.baseUrl, false);
  // A version never changes: the client's copy of it (its tag, or *) is current.
  const ifNoneMatch = ctx.request.headers['if-none-match'];
  if (ifNoneMatch !== undefined && notModified(ifNoneMatch, Number(resource.meta!.versionId))) return { status: 304, headers, lastUpdated: resource.meta?.lastUpdated };
  return { status: 200, resource, headers };
}

function written(ctx: RouteContext, result: { resource: Resource; created: boolean }): FhirResponse {
  return { status: result.created ? 201 : 200, resource: result.resource, headers: versionHeaders(result.resource, ctx.repo.baseUrl, true) };
}

async function create(ctx: RouteContext): Promise<FhirResponse> {
  const result = await ctx.repo.create(ctx.request.body, ctx.params.type, {
    ifNoneExist: ctx.request.headers['if-none-exist'],
    strict: true,
  });
  return written(ctx, result);
}

async function update(ctx: RouteContext): Promise<FhirResponse> {
  const result = await ctx.repo.update(ctx.params.type!, ctx.params.id!, ctx.request.body, { ...writePreconditions(ctx.request), keepLabels: true });
  return written(ctx, result);
}

/** If-Match and If-None-Match of a write (preconditions.ts). */
function writePreconditions(request: FhirRequest): { ifMatch?: string; ifNoneMatch?: string } {
  return { ifMatch: request.headers['if-match'], ifNoneMatch: request.headers['if-none-match'] };
}

async function conditionalUpdate(ctx: RouteContext): Promise<FhirResponse> {
  return written(ctx, await ctx.repo.conditionalUpdate(ctx.params.type!, ctx.request.query, ctx.request.body, { strict: true, ...writePreconditions(ctx.request), keepLabels: true }));
}

async function conditionalPatch(ctx: RouteContext): Promise<FhirResponse> {
  const result = await ctx.repo.conditionalPatch(ctx.params.type!, ctx.request.query, ctx.request.body, { strict: true, ...writePreconditions(ctx.request) });
  return written(ctx, result);
}

async function patch(ctx: RouteContext): Promise<FhirResponse> {
  const result = await ctx.repo.patch(ctx.params.type!, ctx.params.id!, ctx.request.body, writePreconditions(ctx.request));
  return written(ctx, result);
}

async function remove(ctx: RouteContext): Promise<FhirResponse> {
  await ctx.repo.delete(ctx.params.type!, ctx.params.id!, writePreconditions(ctx.request));
  return { status: 204 };
}

async function conditionalDelete(ctx: RouteContext): Promise<FhirResponse> {
  await ctx.repo.conditionalDelete(ctx.params.type!, ctx.request.query, { strict: true, ...writePreconditions(ctx.request) });
  return { status: 204 };
}

/**
 * The parameters of a history (R4 http.html#history: `_count`, `_since`, `_at`, `_list`), the
 * general ones (`_format`, `_pretty`, `_summary`, `_elements`) and the server's paging ones. Any
 * other is ignored and left out of the links (a 400 under Prefer: handling=strict), as in a search.
 */
const HISTORY_PARAMETERS = new Set(['_count', '_since', '_at', '_list', '_format', '_pretty', '_summary', '_elements', '_cursor', '_offset']);

async function history(ctx: RouteContext): Promise<FhirResponse> {
  const unknown = ctx.request.query.map(([name]) => name).filter((name) => !HISTORY_PARAMETERS.has(name));
  if (unknown.length && isStrict(ctx.request)) {
    throw new FhirError(400, 'FHIR_UNKNOWN_PARAMETER', `history does not take ${[...new Set(unknown)].slice(0, 5).map((n) => `"${n.slice(0, 40)}"`).join(', ')}: ` +
      'it takes _count, _since, _at and _list; send Prefer: handling=lenient to ignore other parameters');
  }
  const used = ctx.request.query.filter(([name]) => HISTORY_PARAMETERS.has(name));
  // A parameter with no value asks for nothing, as in a search; one given twice asks two things.
  const given = used.filter(([, value]) => !isEmptyValue(value));
  const query = new Map(given);
  if (query.size !== given.length) {
    const seen = new Set<string>();
    const twice = given.find(([name]) => seen.has(name) || !seen.add(name))![0];
    throw badRequest(`history takes ${twice.slice(0, 40)} once`, 'FHIR_BAD_SEARCH');
  }
  let count = DEFAULT_COUNT;
  const countText = query.get('_count');
  if (countText !== undefined) {
    if (!/^\d{1,9}$/.test(countText)) throw badRequest('_count must be a non-negative integer', 'FHIR_BAD_SEARCH');
    count = Math.min(Number(countText), ctx.repo.limits.fhirSearchMaxCount);
  }
  // _summary=count: the total only (search.html#summary), so no entries and no next page.
  if (query.get('_summary') === 'count') count = 0;
  const offsetText = query.get('_offset') ?? '0';
  if (!/^\d{1,9}$/.test(offsetText)) throw badRequest('_offset must be a non-negative integer', 'FHIR_BAD_SEARCH');
  const offset = Number(offsetText);
  const cursorText = query.get('_cursor');
  const cursor = cursorText === undefined ? undefined : decodeHistoryCursor(cursorText);
  const sinceText = query.get('_since');
  if (sinceText !== undefined && !isSinceValue(sinceText)) {
    throw badRequest('_since must be an instant with a timezone, e.g. 2024-01-01T00:00:00Z (or a date: 2024-01-01)', 'FHIR_BAD_SEARCH');
  }
  const since = sinceText === undefined ? undefined : parseDateRange(sinceText).low.toISOString();
  // _at names a period (a day, a month; an instant is one millisecond): every version current in it.
  // A dateTime with a time has a timezone (R4 datatypes.html#dateTime), or it is no time at all.
  const at = historyAt(query.get('_at'));
  const listId = query.get('_list');
  if (listId !== undefined && !/^[A-Za-z0-9\-.]{1,64}$/.test(listId)) throw badRequest('_list takes the id of a List', 'FHIR_BAD_SEARCH');
  if (ctx.params.type && ctx.params.id) await ctx.repo.read(ctx.params.type, ctx.params.id).catch((error: unknown) => {
    if (!(error instanceof FhirError && error.status === 410)) throw error;
  });
  const members = listId === undefined ? undefined : await listMembers(ctx.repo, listId);
  const page = await ctx.repo.history({ type: ctx.params.type, id: ctx.params.id, since, at, count, offset, cursor, members });
  const { versions, total } = page;
  const base = ctx.repo.baseUrl;
  const entries: BundleEntry[] = versions.map((v) => ({
    fullUrl: `${base}/${v.type}/${v.id}`,
    ...(v.resource ? { resource: v.resource } : {}),
    request: {
      method: v.method === 'create' ? 'POST' : v.deleted ? 'DELETE' : v.method === 'patch' ? 'PATCH' : 'PUT',
      url: v.method === 'create' ? v.type : `${v.type}/${v.id}`,
    },
    response: {
      // Version 1 is always a create, also when written before 'update-create' was recorded.
      status: v.deleted ? '204' : v.method === 'create' || v.method === 'update-create' || v.version === 1 ? '201' : '200',
      etag: `W/"${v.version}"`,
      lastModified: v.lastUpdated,
    },
  }));
  const path = [ctx.params.type, ctx.params.id, '_history'].filter(Boolean).join('/');
  // Links continue from the first or last version shown (keyset), also when the page was cut at FHIR_SEARCH_MAX_PAGE_BYTES.
  const links = historyLinks(`${base}/${path}`, used, { cursor, offset }, page);
  const bundle: Bundle = { resourceType: 'Bundle', type: 'history', total, link: links, ...(entries.length ? { entry: entries } : {}) };
  return { status: 200, resource: bundle };
}

async function operation(ctx: RouteContext, level: OperationLevel): Promise<FhirResponse> {
  const { type, id, op } = ctx.params;
  if (type) ctx.repo.parseSearch(type, [], false); // checks the type exists
  const found = ctx.operations.find(op!, level, type);
  const { vid } = ctx.params;
  if (vid !== undefined && !found.onVersions) throw badRequest(`$${op} is not an operation on one version: call it on ${type}/${id}`);
  // HEAD runs the GET route (read channels allow it), so it must not change data either.
  if ((ctx.request.method === 'GET' || ctx.request.method === 'HEAD') && found.affectsState) {
    throw methodNotAllowed(`$${op} changes data: call it with POST`, ['POST']);
  }
  let parameters: Parameters;
  const body = ctx.request.body as Resource | undefined;
  const contentType = (ctx.request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (ctx.request.method === 'POST' && Array.isArray(body) && contentType === 'application/x-www-form-urlencoded') {
    // A form's fields are parameters as the query's are (the HTTP layer takes a form on an operation): never ignored.
    parameters = queryToParameters([...ctx.request.query, ...(body as Array<[string, string]>)]);
  } else if (ctx.request.method === 'POST' && body && !Array.isArray(body)) {
    if (body.resourceType === 'Parameters') {
      const given: unknown = (body as Parameters).parameter;
      if (given !== undefined && !Array.isArray(given)) throw badRequest(`$${op}: Parameters.parameter must be an array`);
      parameters = body as Parameters;
    } else parameters = { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: body }] };
    parameters = { ...parameters, parameter: [...(parameters.parameter ?? []), ...queryToParameters(ctx.request.query).parameter!] };
  } else parameters = queryToParameters(ctx.request.query);
  // The operations read their parameters directly: a null or a list where FHIR JSON has none is a 400 here, not a 500 there.
  // Resources given as parameters are each the operation's to check ($validate answers their faults as issues).
  assertJsonShape(parameters, { intoResources: false });
  const result = await found.run({ repo: ctx.repo, request: ctx.request, level, resourceType: type, id, ...(vid !== undefined ? { versionId: vid } : {}), parameters, baseUrl: ctx.repo.baseUrl });
  if ('status' in result && typeof (result as FhirResponse).status === 'number' && !('resourceType' in result)) return result as FhirResponse;
  return { status: 200, resource: result as Resource };
}

/**
 * History's `_list` (R4 http.html#history: "only include resource versions that are referenced
 * in the specified list"): the resources the List's entries name on this server, a version when
 * the item names one (`Patient/1/_history/2`), else every version. No such List: none.
 */
async function listMembers(repo: FhirRepository, listId: string): Promise<NonNullable<HistoryQuery['members']>> {
  const list = await repo.read('List', listId).catch((error: unknown) => {
    if (error instanceof FhirError && (error.status === 404 || error.status === 410)) return undefined;
    throw error;
  }) as List | undefined;
  const members: NonNullable<HistoryQuery['members']> = [];
  for (const entry of list?.entry ?? []) {
    const reference = entry.item?.reference;
    const target = typeof reference === 'string' ? parseReference(reference, repo.localBaseUrls()) : undefined;
    if (!target) continue;
    const version = /\/_history\/(\d{1,9})$/.exec(reference!)?.[1];
    members.push({ type: target.targetType, id: target.targetId, ...(version ? { version: Number(version) } : {}) });
  }
  return members;
}

const EARLIEST = '0001-01-01T00:00:00.000Z';
const LATEST = '9999-12-31T23:59:59.999Z';

/**
 * History's `_at` (R4 http.html#history: "as for date searches", so with a prefix): the period
 * whose current versions are wanted. `eq`/`ap` (or none) the value's own period (a day, a month;
 * an instant is a millisecond), `gt`/`sa` after it, `ge` from its start on, `lt`/`eb` before it,
 * `le` up to its end. `ne` (the versions never current in it) is refused.
 */
function historyAt(text: string | undefined): { low: string; high: string } | undefined {
  if (text === undefined) return undefined;
  const prefixed = /^(eq|ne|gt|lt|ge|le|sa|eb|ap)(?=\d)/.exec(text);
  const prefix = prefixed?.[1] ?? 'eq';
  const value = prefixed ? text.slice(2) : text;
  // A dateTime with a time has a timezone (R4 datatypes.html#dateTime), or it is no time at all.
  if (value.includes('T') && !/(Z|[+-]\d{2}:\d{2})$/.test(withTimezonePlus(value))) {
    throw badRequest('_at with a time must give its timezone, e.g. 2024-01-01T10:00:00Z (or a date: 2024-01-01)', 'FHIR_BAD_SEARCH');
  }
  if (prefix === 'ne') throw badRequest('_at takes the prefixes eq, gt, ge, lt, le, sa, eb and ap; ne (versions never current in a period) is not supported', 'FHIR_BAD_SEARCH');
  const range = parseDateRange(value);
  // Kept within what the database reads as a timestamp (a zone can push a year-9999 bound past it).
  const clamp = (iso: string) => {
    const ms = Date.parse(iso);
    return ms > Date.parse(LATEST) ? LATEST : ms < Date.parse(EARLIEST) ? EARLIEST : iso;
  };
  const low = clamp(range.low.toISOString());
  const high = clamp(range.high.toISOString());
  const after = (iso: string, ms: number) => clamp(new Date(Date.parse(iso) + ms).toISOString());
  switch (prefix) {
    case 'gt':
    case 'sa':
      return { low: after(high, 1), high: LATEST };
    case 'ge':
      return { low, high: LATEST };
    case 'lt':
    case 'eb':
      return { low: EARLIEST, high: after(low, -1) };
    case 'le':
      return { low: EARLIEST, high };
    default:
      return { low, high };
  }
}
