/**
 * Batch and transaction bundles. Entries run in the order the specification gives (DELETE, POST,
 * PUT/PATCH, GET/HEAD); a transaction runs in one database transaction, resolves urn:uuid
 * fullUrls and conditional references first, and fails as a whole.
 */
import { randomUUID } from 'node:crypto';
import type { Binary, Bundle, BundleEntry, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { preferences, versionHeaders, type FhirRequest, type FhirResponse } from './interaction.js';
import { LIMITS } from '../common/limits.js';
import { STATEMENT_TIMEOUT_CODE } from '../db/database.js';
import { asFhirError, badRequest, FhirError, tooCostly } from './outcome.js';
import { assertJsonShape } from './json-shape.js';
import { ifNoneExistQuery } from './conditional-criteria.js';
import { assertFullUrlsAgree, assertNoOverlap, assertUniqueFullUrls, batchDependency, changedIdentities, fullUrlKey, unresolvedPlaceholder } from './bundle-rules.js';
import { replacePlaceholderLinks, urnPlaceholders } from './placeholder-links.js';
import { EventLoopTurns } from './event-loop-turns.js';
import { preparedIndexOf, type FhirRepository } from './repository.js';
import type { CurrentRow } from './storage/writer.js';
import { answersWithRepresentation, applyReturnPreference, dispatch, type RouteContext } from './router.js';
import { assertResourceBody, ID_PATTERN } from './validation.js';
import { parseJsonKeepingDecimals, stringifyJsonKeepingDecimals, withDecimalTextsOf } from '../common/json-decimals.js';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
const ORDER: Record<string, number> = { DELETE: 0, POST: 1, PUT: 2, PATCH: 2, GET: 3, HEAD: 3 };
const REASONS: Record<number, string> = {
  200: 'OK', 201: 'Created', 204: 'No Content', 304: 'Not Modified', 400: 'Bad Request', 404: 'Not Found', 405: 'Method Not Allowed',
  409: 'Conflict', 410: 'Gone', 412: 'Precondition Failed', 413: 'Content Too Large', 422: 'Unprocessable Entity', 500: 'Internal Server Error',
  503: 'Service Unavailable',
};

interface PlannedEntry {
  index: number;
  /**
   * A POST whose server id the transaction chose up front, or a PUT of a resource that does not
   * exist (`createdByPut`): both are written with the transaction's other creates, in one statement.
   */
  assignedId?: string;
  /** The resource a PUT of `Type/id` names, when it is written with the transaction's others. */
  putTarget?: { type: string; id: string };
  createdByPut?: boolean;
  /** A PUT of a stored resource, its row locked: written with the transaction's other updates, in one statement. */
  updates?: CurrentRow;
  method: FhirRequest['method'];
  request: FhirRequest;
  fullUrl?: string;
  resource?: Resource;
}

export async function processBundle(ctx: Omit<RouteContext, 'params'>, body: unknown): Promise<Bundle> {
  const bundle = assertResourceBody(body, 'Bundle') as Bundle;
  if (bundle.type !== 'batch' && bundle.type !== 'transaction') {
    throw badRequest(`POST to the base accepts batch or transaction bundles, not "${String(bundle.type)}"`, 'FHIR_INVALID_RESOURCE');
  }
  const entries = bundle.entry ?? [];
  if (!Array.isArray(entries)) throw badRequest('Bundle.entry must be an array', 'FHIR_INVALID_RESOURCE');
  const maxEntries = ctx.repo.limits.fhirBundleMaxEntries;
  if (entries.length > maxEntries) {
    throw tooCostly(`the bundle has ${entries.length} entries; this server takes at most ${maxEntries} ` +
      `(setting ${LIMITS.fhirBundleMaxEntries.setting}): split it`, 413);
  }
  // The envelope's own elements (fullUrl, request, meta...); each entry's resource is checked where its entry runs.
  assertJsonShape(bundle, { intoResources: false });
  assertUniqueFullUrls(entries);
  assertFullUrlsAgree(entries);
  const budget = new ReadBudget(ctx.repo.limits.fhirBundleMaxResultResources, ctx.repo.limits.fhirBundleMaxResultBytes);
  if (bundle.type === 'transaction') {
    const planned = entries.map((entry, index) => planEntry(ctx, entry, index));
    await prefetchBindings(ctx.repo, planned);
    return ctx.repo.transaction((repo) => runTransaction({ ...ctx, repo }, planned, budget));
  }
  return runBatch(ctx, entries, budget);
}

/**
 * The terminology's answers about the bound codings of a transaction's resources (POST and PUT
 * bodies, PATCHes applied to the current versions), asked before its database transaction opens
 * (repository.prefetchBindings); the entry at fault is named.
 */
async function prefetchBindings(repo: FhirRepository, planned: PlannedEntry[]): Promise<void> {
  for (const item of planned) {
    const body = item.request.body;
    const target = /^([A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(item.request.path);
    if (item.method === 'PATCH' && target) {
      try {
        await repo.prefetchPatchedBindings(target[1]!, target[2]!, body);
      } catch (error) {
        throw failedEntry(item, error);
      }
      continue;
    }
    if ((item.method !== 'POST' && item.method !== 'PUT') || !body || typeof body !== 'object' || Array.isArray(body)) continue;
    if (typeof (body as { resourceType?: unknown }).resourceType !== 'string') continue;
    try {
      await repo.prefetchBindings(body as Resource);
    } catch (error) {
      throw failedEntry(item, error);
    }
  }
}

/**
 * The resources a bundle's reads (searches, reads, operations) may return together: each entry is
 * bounded by _count, but thousands of them are not. Past the budget the remaining reads fail with
 * "too-costly" (a batch) or the whole transaction does, so a response never grows without bound.
 */
class ReadBudget {
  private returned = 0;
  private bytes = 0;
  /** Set when an entry ran past the database statement budget: the rest would too, one budget each. */
  private timedOut = false;
  constructor(
    private readonly max: number,
    private readonly maxBytes: number,
  ) {}

  static reads(request: FhirRequest): boolean {
    return request.method === 'GET' || request.method === 'HEAD' || request.path.endsWith('_search') || request.path.includes('$');
  }

  /** Throws when the budget is spent, before the read runs. */
  reserve(request: FhirRequest): void {
    if (!ReadBudget.reads(request)) return;
    if (this.timedOut) throw tooCostly('an earlier entry of this bundle ran past the database statement budget; its remaining reads are not run: split the bundle');
    if (this.bytes >= this.maxBytes) {
      throw tooCostly(`the bundle's reads already returned ${this.bytes} bytes, the most one bundle may ` +
        `(setting ${LIMITS.fhirBundleMaxResultBytes.setting}): split the bundle or lower _count`);
    }
    if (this.returned < this.max) return;
    throw tooCostly(`the bundle's reads already returned ${this.returned} resources, the most one bundle may ` +
      `(setting ${LIMITS.fhirBundleMaxResultResources.setting}): split the bundle or lower _count`);
  }

  spend(request: FhirRequest, response: FhirResponse): void {
    if (!ReadBudget.reads(request) || !response.resource) return;
    const entries = response.resource.resourceType === 'Bundle' ? (response.resource as Bundle).entry?.length ?? 0 : 1;
    this.returned += entries;
    // Counted in resources and in bytes: a few huge resources weigh as much as many small ones.
    let size: number;
    try {
      size = stringifyJsonKeepingDecimals(response.resource).length;
    } catch {
      size = Number.POSITIVE_INFINITY; // past the largest string V8 builds
    }
    this.bytes += size;
    if (this.bytes > this.maxBytes) {
      throw tooCostly(`the bundle's reads returned more than ${this.maxBytes} bytes, the most one bundle may ` +
        `(setting ${LIMITS.fhirBundleMaxResultBytes.setting}): split the bundle or lower _count`);
    }
  }

  /** Runs one read or write entry within the budget. */
  async run(request: FhirRequest, dispatched: () => Promise<FhirResponse>): Promise<FhirResponse> {
    this.reserve(request);
    try {
      const response = await dispatched();
      this.spend(request, response);
      return response;
    } catch (error) {
      if ((error as { code?: unknown })?.code === STATEMENT_TIMEOUT_CODE) this.timedOut = true;
      throw error;
    }
  }
}

function planEntry(ctx: Omit<RouteContext, 'params'>, entry: BundleEntry, index: number): PlannedEntry {
  const method = entry?.request?.method as FhirRequest['method'] | undefined;
  const url = entry?.request?.url;
  if (!method || !METHODS.includes(method) || typeof url !== 'string' || !url) {
    throw badRequest(`entry ${index} needs request.method (GET, HEAD, POST, PUT, PATCH, DELETE) and request.url`, 'FHIR_INVALID_RESOURCE');
  }
  // The entry's own address: under the base the client used, or one this server is configured as.
  const base = [ctx.repo.baseUrl, ...ctx.repo.localBaseUrls()].find((b) => url.startsWith(b));
  let relative = base ? url.slice(base.length) : url;
  relative = relative.replace(/^\/+/, '');
  if (/^[a-z]+:/.test(relative)) throw badRequest(`entry ${index}: request.url ${url} is not on this server`, 'FHIR_INVALID_RESOURCE');
  const [path, queryText] = splitOnce(relative, '?');
  // A bundle inside a bundle would multiply the entry and result limits: one level only.
  if (method === 'POST' && path.replace(/\/+$/, '') === '') {
    throw badRequest(`entry ${index}: a batch or transaction cannot contain another one; send it on its own`, 'FHIR_INVALID_RESOURCE');
  }
  // `POST Patient?identifier=x` reads as a conditional create, which it is not (R4 puts the
  // condition in ifNoneExist): creating anyway would make the duplicate the client meant to avoid.
  const query = [...new URLSearchParams(queryText ?? '')] as Array<[string, string]>;
  if (method === 'POST' && !path.includes('$') && query.some(([name]) => name !== '_format' && name !== '_pretty')) {
    throw badRequest(`entry ${index}: a create's request.url is its type alone (${path.slice(0, 64)}); a condition goes in request.ifNoneExist`, 'FHIR_INVALID_RESOURCE');
  }
  const headers: Record<string, string | undefined> = { prefer: ctx.request.headers.prefer };
  if (entry.request?.ifMatch) headers['if-match'] = entry.request.ifMatch;
  if (entry.request?.ifNoneExist) headers['if-none-exist'] = entry.request.ifNoneExist;
  if (entry.request?.ifNoneMatch) headers['if-none-match'] = entry.request.ifNoneMatch;
  if (entry.request?.ifModifiedSince) headers['if-modified-since'] = entry.request.ifModifiedSince;
  let body: unknown = entry.resource;
  if (method === 'PATCH') body = patchBody(entry.resource, index);
  return {
    index,
    method,
    fullUrl: entry.fullUrl,
    resource: entry.resource,
    request: { method, path, query, headers, body },
  };
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

/** A PATCH entry carries its JSON Patch in a Binary resource, or is a FHIRPath Patch (a Parameters resource). */
function patchBody(resource: Resource | undefined, index: number): unknown {
  if (resource?.resourceType === 'Parameters') return resource;
  const binary = resource as Binary | undefined;
  if (binary?.resourceType !== 'Binary' || !binary.data) {
    throw badRequest(`entry ${index}: a PATCH entry needs a Binary resource holding a JSON Patch, or a Parameters resource (FHIRPath Patch)`, 'FHIR_INVALID_RESOURCE');
  }
  try {
    return parseJsonKeepingDecimals(Buffer.from(binary.data, 'base64').toString('utf8'));
  } catch {
    throw badRequest(`entry ${index}: the Binary of a PATCH entry is not a JSON Patch`, 'FHIR_INVALID_RESOURCE');
  }
}

/**
 * The response entry of one interaction (http.html#transaction-response): status, location, etag
 * and lastModified whatever the body; the resource as Prefer: return asks, the OperationOutcome of
 * return=OperationOutcome in response.outcome (Bundle.entry.response.outcome), where an entry's
 * outcome goes.
 */
function responseEntry(baseUrl: string, request: FhirRequest, response: FhirResponse): BundleEntry {
  const status = `${response.status} ${REASONS[response.status] ?? ''}`.trim();
  const lastModified = response.resource?.meta?.lastUpdated ?? response.lastUpdated ?? httpDateAsInstant(response.headers?.['last-modified']);
  const entry: BundleEntry = {
    response: {
      status,
      ...(response.headers?.location ? { location: response.headers.location } : {}),
      ...(response.headers?.etag ? { etag: response.headers.etag } : {}),
      ...(lastModified ? { lastModified } : {}),
    },
  };
  if (response.resource?.resourceType === 'OperationOutcome' && answersWithRepresentation(request) && preferences(request.headers).return === 'OperationOutcome') {
    entry.response!.outcome = response.resource as OperationOutcome;
  } else if (response.resource && request.method !== 'HEAD') {
    entry.resource = response.resource; // HEAD: the headers alone
    // R4 Bundle.entry.fullUrl "SHALL have a value" but for a POST and operation results: a stored
    // version (the answers with an ETag: reads and writes) is named; a search's Bundle is not.
    if (response.headers?.etag && response.resource.id) return { fullUrl: `${baseUrl}/${response.resource.resourceType}/${response.resource.id}`, ...entry };
  }
  return entry;
}

/**
 * A Last-Modified header (when an answer left no resource and no lastUpdated to read the instant
 * from) as an instant, to the second it has: no made-up `.000`.
 */
function httpDateAsInstant(header: string | undefined): string | undefined {
  const time = header ? Date.parse(header) : Number.NaN;
  return Number.isNaN(time) ? undefined : new Date(time).toISOString().replace('.000Z', 'Z');
}

async function runBatch(ctx: Omit<RouteContext, 'params'>, entries: BundleEntry[], budget: ReadBudget): Promise<Bundle> {
  const results: BundleEntry[] = new Array(entries.length);
  const planned: Array<PlannedEntry | { index: number; error: FhirError }> = entries.map((entry, index) => {
    try {
      return planEntry(ctx, entry, index);
    } catch (error) {
      return { index, error: asFhirError(error) };
    }
  });
  const ordered = [...planned].sort((a, b) => orderOf(a) - orderOf(b) || a.index - b.index);
  const created = new Set(planned.flatMap((item) => ('error' in item || item.method !== 'POST' || !item.fullUrl ? [] : [item.fullUrl])));
  for (const item of ordered) {
    if ('error' in item) {
      results[item.index] = errorEntry(item.error);
      continue;
    }
    const dependency = batchDependency(item, created);
    if (dependency) {
      results[item.index] = errorEntry(dependency);
      continue;
    }
    try {
      results[item.index] = responseEntry(ctx.repo.baseUrl, item.request, await budget.run(item.request, () => dispatch({ ...ctx, request: item.request })));
    } catch (error) {
      results[item.index] = errorEntry(asFhirError(error));
    }
  }
  return { resourceType: 'Bundle', type: 'batch-response', ...(results.length ? { entry: results } : {}) };
}

function orderOf(item: PlannedEntry | { index: number; error: FhirError }): number {
  return 'error' in item ? -1 : ORDER[item.method]!;
}

function errorEntry(error: FhirError): BundleEntry {
  return { response: { status: `${error.status} ${REASONS[error.status] ?? ''}`.trim(), outcome: error.toOutcome() } };
}

async function runTransaction(ctx: Omit<RouteContext, 'params'>, planned: PlannedEntry[], budget: ReadBudget): Promise<Bundle> {
  const results: BundleEntry[] = new Array(planned.length);
  const ordered = [...planned].sort((a, b) => ORDER[a.method]! - ORDER[b.method]! || a.index - b.index);
  const run = async (item: PlannedEntry): Promise<void> => {
    try {
      results[item.index] = responseEntry(ctx.repo.baseUrl, item.request, await budget.run(item.request, () => dispatch({ ...ctx, request: item.request })));
    } catch (error) {
      throw failedEntry(item, error);
    }
  };
  await checkDistinctChanges(ctx.repo, ordered);
  for (const item of ordered.filter((e) => e.method === 'DELETE')) await run(item);
  // Decide the id of every created resource first, so entries can reference each other.
  const references = new Map<string, string>();
  const skip = new Map<number, Resource>();
  for (const item of ordered) {
    try {
      await assignIdentity(ctx.repo, item, references, skip);
    } catch (error) {
      throw failedEntry(item, error);
    }
  }
  await markPutWrites(ctx.repo, ordered);
  const pending: PlannedEntry[] = [];
  const placeholders = urnPlaceholders(references);
  for (const item of ordered) {
    if (item.method === 'DELETE') continue;
    // A PATCH's body (FHIRPath Patch Parameters, or a JSON Patch) carries references too.
    if (item.request.body && (item.method === 'POST' || item.method === 'PUT' || item.method === 'PATCH')) {
      try {
        const base = fullUrlBase(item.fullUrl);
        item.request.body = await resolveReferences(ctx.repo, item.request.body, references, base);
        if (item.method === 'PATCH') await resolveJsonPatchReferenceValues(ctx.repo, item.request.body, references, base);
        replacePlaceholderLinks(item.request.body as Record<string, unknown>, placeholders);
      } catch (error) {
        throw failedEntry(item, error);
      }
    }
    const existing = skip.get(item.index);
    if (existing) {
      // If-None-Exist matched: 200 with the match, as a conditional create outside a bundle answers.
      const matched = { status: 200, resource: existing, headers: versionHeaders(existing, ctx.repo.baseUrl, true) };
      results[item.index] = responseEntry(ctx.repo.baseUrl, item.request, applyReturnPreference(item.request, matched));
      continue;
    }
    if (item.assignedId || item.updates) {
      pending.push(item);
      continue;
    }
    await flushCreates(ctx, pending, results);
    await run(item);
  }
  await flushCreates(ctx, pending, results);
  return { resourceType: 'Bundle', type: 'transaction-response', ...(results.length ? { entry: results } : {}) };
}

/** Fails the transaction when two entries change the same resource (bundle-rules.ts). */
async function checkDistinctChanges(repo: FhirRepository, ordered: PlannedEntry[]): Promise<void> {
  const changes: Array<{ entry: PlannedEntry; identity: string }> = [];
  for (const item of ordered) {
    try {
      for (const identity of await changedIdentities(repo, item, item.resource)) changes.push({ entry: item, identity });
    } catch (error) {
      throw failedEntry(item, error);
    }
  }
  assertNoOverlap(changes);
}

/**
 * PUTs of `Type/id` join the one-statement writes: those that create their resource (no row for
 * it, not even a deleted one) the POSTs' insert, those that update a stored one an update of all
 * (their rows locked now). A directory or a migration loaded with fixed ids is mostly those, and
 * written one statement each they cost ~4 times as much. A PUT with a precondition (If-Match,
 * If-None-Match), of a deleted resource, or to an engine whose interceptors read earlier writes
 * (the client registry) keeps the one-by-one path.
 */
async function markPutWrites(repo: FhirRepository, ordered: PlannedEntry[]): Promise<void> {
  const candidates: Array<PlannedEntry & { putTarget: { type: string; id: string } }> = [];
  for (const item of ordered) {
    if (item.method !== 'PUT' || item.request.query.length || item.request.headers['if-match'] !== undefined || item.request.headers['if-none-match'] !== undefined) continue;
    const [type, id, ...rest] = item.request.path.split('/');
    const body = item.request.body as { resourceType?: unknown; id?: unknown } | undefined;
    if (rest.length || !id || !ID_PATTERN.test(id) || body?.resourceType !== type || body.id !== id) continue;
    candidates.push(Object.assign(item, { putTarget: { type: type!, id } }));
  }
  if (!candidates.length) return;
  const current = await repo.lockCurrentRows(candidates.map(({ putTarget }) => [putTarget.type, putTarget.id]));
  for (const item of candidates) {
    const row = current.get(`${item.putTarget.type}/${item.putTarget.id}`);
    if (!row) {
      item.assignedId = item.putTarget.id;
      item.createdByPut = true;
    } else if (!row.deleted && !repo.writesOneByOne) {
      item.updates = row;
    }
  }
}

/**
 * The transaction's creates (POSTs, ids assigned up front, and PUTs that create), validated one by
 * one and written in one statement; then its PUTs that update, likewise.
 */
async function flushCreates(ctx: Omit<RouteContext, 'params'>, pending: PlannedEntry[], results: BundleEntry[]): Promise<void> {
  if (!pending.length) return;
  const all = pending.splice(0);
  const items = all.filter((item) => !item.updates);
  const prepared: Resource[] = [];
  const turns = new EventLoopTurns();
  for (const item of items) {
    await turns.share();
    try {
      prepared.push(ctx.repo.prepareCreate(item.createdByPut ? item.putTarget!.type : item.request.path, item.assignedId!, item.request.body));
    } catch (error) {
      throw failedEntry(item, error);
    }
  }
  if (items.length) {
    try {
      await ctx.repo.insertPrepared(prepared, items.map((item) => (item.createdByPut ? 'update-create' : 'create')));
    } catch (error) {
      throw failedEntry(items[preparedIndexOf(error) ?? 0]!, error);
    }
  }
  answerWritten(ctx, items, prepared, 201, results);
  const updates = all.filter((item) => item.updates);
  if (!updates.length) return;
  let stored: Resource[];
  try {
    stored = await ctx.repo.updatePrepared(updates.map((item) => ({ ...item.putTarget!, body: item.request.body, current: item.updates! })));
  } catch (error) {
    throw failedEntry(updates[preparedIndexOf(error) ?? 0]!, error);
  }
  answerWritten(ctx, updates, stored, 200, results);
}

/** Each written entry's answer, as a write outside a bundle answers (version headers, Prefer: return). */
function answerWritten(ctx: Omit<RouteContext, 'params'>, items: PlannedEntry[], resources: Resource[], status: 200 | 201, results: BundleEntry[]): void {
  items.forEach((item, n) => {
    const resource = resources[n]!;
    const written = { status, resource, headers: versionHeaders(resource, ctx.repo.baseUrl, true) };
    results[item.index] = responseEntry(ctx.repo.baseUrl, item.request, applyReturnPreference(item.request, written));
  });
}

function failedEntry(item: PlannedEntry, error: unknown): FhirError {
  const cause = asFhirError(error);
  return new FhirError(cause.status, cause.code,
    `transaction failed at entry ${item.index} (${item.method} ${item.request.path}): ${cause.message}; nothing was saved`, cause.issues);
}

/** POSTs get a server id now (or the id of the resource their If-None-Exist matches). */
async function assignIdentity(repo: FhirRepository, item: PlannedEntry, references: Map<string, string>, skip: Map<number, Resource>): Promise<void> {
  const resource = item.resource;
  if (item.method === 'POST' && resource && item.request.path && !item.request.path.includes('/') && !item.request.path.startsWith('$')) {
    const type = item.request.path;
    let id: string | undefined;
    const condition = item.request.headers['if-none-exist'];
    if (condition) {
      const matches = await repo.matchConditional(type, ifNoneExistQuery(type, condition), true, 'If-None-Exist');
      if (matches[0]) {
        id = matches[0].id!;
        skip.set(item.index, matches[0]);
      }
    }
    id ??= randomUUID();
    if (item.fullUrl) references.set(item.fullUrl, `${type}/${id}`);
    item.assignedId = id;
  } else if (item.method === 'PUT' && item.fullUrl && resource) {
    const segments = item.request.path.split('/');
    if (segments.length === 2 && ID_PATTERN.test(segments[1]!)) references.set(item.fullUrl, item.request.path);
    else if (segments.length === 1 && item.request.query.length) {
      const matches = await repo.matchConditional(segments[0]!, item.request.query, true, 'conditional update');
      const id = matches[0]?.id ?? (resource.id || randomUUID());
      references.set(item.fullUrl, `${segments[0]}/${id}`);
      if (!matches[0]) item.request.body = { ...(item.request.body as object), id };
    }
  }
}

const HTTP_FULL_URL = /^(https?:\/\/.+)\/[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}(?:\/_history\/[A-Za-z0-9\-.]{1,64})?$/;
const RELATIVE_REFERENCE = /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/;

/** The base of an http(s) fullUrl (`http://a.org/fhir` of `http://a.org/fhir/Patient/1`); undefined for a urn or none. */
function fullUrlBase(fullUrl: string | undefined): string | undefined {
  return fullUrl ? HTTP_FULL_URL.exec(fullUrl)?.[1] : undefined;
}

/**
 * Replaces urn:uuid references by the assigned ids and conditional references by their single
 * match. `base`: the base of the entry's http fullUrl, against which its relative references name
 * other entries (bundle.html#references: `Patient/p1` in an entry with fullUrl
 * `http://a.org/fhir/Observation/o1` is the entry `http://a.org/fhir/Patient/p1`).
 */
async function resolveReferences(repo: FhirRepository, value: unknown, references: Map<string, string>, base?: string, own: ReadonlySet<string> = new Set()): Promise<unknown> {
  if (Array.isArray(value)) {
    const out = [];
    for (const item of value) out.push(await resolveReferences(repo, item, references, base, own));
    return withDecimalTextsOf(out, value);
  }
  if (!value || typeof value !== 'object') return value;
  // A Bundle the transaction stores (a document, a collection) resolves references among its own
  // entries first (bundle.html#references): those naming one of its fullUrls are left as written.
  const scope = bundleScope(value, references, own);
  const out: Record<string, unknown> = withDecimalTextsOf({}, value);
  for (const [key, child] of Object.entries(value)) {
    if (key === 'reference' && typeof child === 'string') {
      out[key] = scope.own.has(fullUrlKey(child)) ? child : await resolveReference(repo, child, scope.references, base);
    } else out[key] = await resolveReferences(repo, child, scope.references, base, scope.own);
  }
  return out;
}

/** Inside a Bundle: its entries' fullUrls (as fullUrlKey compares them) and the transaction's references less those. */
function bundleScope(value: object, references: Map<string, string>, own: ReadonlySet<string>): { references: Map<string, string>; own: ReadonlySet<string> } {
  const { resourceType, entry } = value as { resourceType?: unknown; entry?: unknown };
  if (resourceType !== 'Bundle' || !Array.isArray(entry)) return { references, own };
  const fullUrls = entry.flatMap((e: { fullUrl?: unknown } | null) => (typeof e?.fullUrl === 'string' ? [fullUrlKey(e.fullUrl)] : []));
  if (!fullUrls.length) return { references, own };
  const inside = new Set([...own, ...fullUrls]);
  return { references: new Map([...references].filter(([fullUrl]) => !inside.has(fullUrlKey(fullUrl)))), own: inside };
}

/** JSON Patch operations that set a reference string itself (`path: /subject/reference`): their value is a reference. */
async function resolveJsonPatchReferenceValues(repo: FhirRepository, body: unknown, references: Map<string, string>, base: string | undefined): Promise<void> {
  if (!Array.isArray(body)) return;
  for (const operation of body as Array<{ path?: unknown; value?: unknown }>) {
    if (operation && typeof operation.value === 'string' && typeof operation.path === 'string' && operation.path.endsWith('/reference')) {
      operation.value = await resolveReference(repo, operation.value, references, base);
    }
  }
}

/**
 * A urn: placeholder written in another case than its entry's fullUrl, compared as the fullUrl
 * uniqueness rule compares them (fullUrlKey). Looked for only when the exact spelling is not there.
 */
function placeholderInOtherCase(reference: string, references: ReadonlyMap<string, string>): string | undefined {
  if (!/^urn:/i.test(reference)) return undefined;
  const wanted = fullUrlKey(reference);
  for (const [fullUrl, target] of references) if (fullUrlKey(fullUrl) === wanted) return target;
  return undefined;
}

async function resolveReference(repo: FhirRepository, reference: string, references: Map<string, string>, base: string | undefined): Promise<string> {
  const mapped = references.get(reference) ?? (base && RELATIVE_REFERENCE.test(reference) ? references.get(`${base}/${reference}`) : undefined)
    ?? placeholderInOtherCase(reference, references);
  if (mapped) return mapped;
  if (/^urn:uuid:/i.test(reference)) throw unresolvedPlaceholder(reference);
  // `Patient?` with no criteria is a conditional reference too (refused: it selects nothing), not a literal.
  const conditional = /^([A-Z][A-Za-z]+)\?(.*)$/.exec(reference);
  if (!conditional) return reference;
  const [, type, query] = conditional as unknown as [string, string, string];
  const matches = await repo.matchConditional(type, [...new URLSearchParams(query)] as Array<[string, string]>, true, `conditional reference ${reference}`);
  if (matches.length !== 1) {
    throw new FhirError(412, 'FHIR_PRECONDITION_FAILED', `conditional reference ${reference} matches ${matches.length ? 'more than one' : 'no'} resource`);
  }
  return `${type}/${matches[0]!.id}`;
}
