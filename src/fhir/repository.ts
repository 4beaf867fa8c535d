/**
 * The FHIR repository: every interaction on stored resources (read, vread, create, update,
 * patch, delete, their conditional forms, history, search) over one schema. The router never sees
 * SQL; this class never sees HTTP. Writes run in a transaction, or in the caller's when the
 * repository was opened inside one (transaction bundles).
 */
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { Bundle, Meta, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { DEFAULT_LIMITS, type Limits } from '../common/limits.js';
import type { Database, Queryable } from '../db/database.js';
import { applyPatchBody } from './patch-body.js';
import { ifNoneExistQuery, selectingCriteria } from './conditional-criteria.js';
import { checkIfMatch, checkIfNoneMatch } from './preconditions.js';
import { assertPatchedElements } from './resource-elements.js';
import { runAfterCreates, runAfterWrite, runBeforeCreates, runBeforeWrite, type WriteEvent, type WriteInterceptor } from './write-interceptors.js';
import { FhirError, notFound } from './outcome.js';
import { findMatches, readReferenced, runSearch, type SearchContext } from './search/execute.js';
import { parseSearch, type SearchRequest } from './search/parse.js';
import { readCompartment, type CompartmentMembers, type CompartmentQuery } from './storage/compartment.js';
import { readCurrent, readHistory, readVersion, type HistoryPage, type HistoryQuery } from './storage/reader.js';
import { CreateConflict, insertNewResources, lockCurrent, rewriteVersionContent, updateVersions, writeVersion, type CurrentRow, type WriteMethod } from './storage/writer.js';
import { BASE_SEARCH_PARAMETERS, type SearchParameterRegistry } from './search-parameters.js';
import { BindingVerdicts, codeValidationOf } from './terminology/binding-verdicts.js';
import type { TerminologyProvider } from './terminology/provider.js';
import type { SearchExtension } from './operations/registry.js';
import { assertId, assertResourceBody, assertResourceType, validateAgainstDefinitions } from './validation.js';
import { assertJsonShape, dropEmptyLists } from './json-shape.js';

export interface RepositoryOptions {
  db: Database;
  schema: string;
  /** The FHIR base URL the client used, e.g. http://127.0.0.1:3447/fhir (for fullUrl, Location and links only). */
  baseUrl: string;
  /**
   * The bases that are this server by configuration (FhirEngine.localBaseUrls): an absolute
   * reference under one of them is stored, indexed and searched as a local one. Never taken from
   * a request (its Host or X-Forwarded-Host), so a writer cannot make another server's reference
   * local or this server's foreign. Defaults to [baseUrl] (a repository opened without an engine).
   */
  localBaseUrls?: readonly string[];
  /** Every limit of the service (src/common/limits.ts: search, bundle, JSON Patch); the documented defaults when omitted. */
  limits?: Limits;
  /** Code run around every write, inside its transaction (write-interceptors.ts). */
  interceptors?: readonly WriteInterceptor[];
  /** The engine's search parameters (official R4 and its own); the official ones when omitted. */
  definitions?: SearchParameterRegistry;
  /**
   * Answers :in, :not-in, :above and :below on tokens, and (when it validates codes) the bound
   * codings of writes; the core R4 terminology when omitted.
   */
  terminology?: TerminologyProvider;
  /**
   * The service's rewrites of its searches (a registry's identifier domains: a URL and its
   * `urn:oid:` form name one domain), applied to the searches that select the resources of
   * conditional interactions as to the search interaction, so both find the same resources.
   */
  searchExtensions?: readonly SearchExtension[];
}

export interface WriteResult {
  resource: Resource;
  /** true when the write created the resource (201), false for an update or a match (200). */
  created: boolean;
}

export interface ConditionalOptions {
  /** Prefer: handling=strict makes unknown parameters in conditions an error. */
  strict?: boolean;
}

/** The HTTP preconditions of a write (preconditions.ts): If-Match, and If-None-Match on a PUT. */
export interface WritePreconditions {
  ifMatch?: string;
  ifNoneMatch?: string;
}

export interface UpdateOptions extends WritePreconditions {
  /**
   * The update interaction (PUT): the current version's tags and security labels are kept
   * besides those given (a client that does not echo meta would otherwise drop security labels
   * silently), as HAPI does; `$meta-delete` removes them. Internal writes replace meta whole.
   */
  keepLabels?: boolean;
}

type Query = Array<[string, string]>;

export class FhirRepository {
  readonly schema: string;
  readonly baseUrl: string;
  readonly limits: Limits;
  private readonly options: RepositoryOptions;
  private readonly db: Database;
  private readonly tx?: Queryable;
  /** The terminology's answers about bound codings, asked before a write's transaction (this request's). */
  private readonly bindingVerdicts?: BindingVerdicts;

  constructor(options: RepositoryOptions, tx?: Queryable, bindingVerdicts?: BindingVerdicts) {
    this.options = options;
    this.db = options.db;
    this.schema = options.schema;
    this.baseUrl = options.baseUrl;
    this.limits = options.limits ?? DEFAULT_LIMITS;
    this.tx = tx;
    const validateCode = bindingVerdicts ? undefined : codeValidationOf(options.terminology);
    this.bindingVerdicts = bindingVerdicts ?? (validateCode ? new BindingVerdicts(validateCode, this.limits) : undefined);
  }

  private get interceptors(): readonly WriteInterceptor[] {
    return this.options.interceptors ?? [];
  }

  /** The search parameters this repository indexes and searches by. */
  get definitions(): SearchParameterRegistry {
    return this.options.definitions ?? BASE_SEARCH_PARAMETERS;
  }

  private get q(): Queryable {
    return this.tx ?? this.db;
  }

  /**
   * The connection this repository runs on (the write's transaction inside a write interceptor),
   * for a service's own tables in its schema, so they commit or roll back with the FHIR write.
   */
  get sql(): Queryable {
    return this.q;
  }

  /** Runs fn with a repository bound to one database transaction (reused when already in one). */
  /** true when bound to a transaction already (a transaction bundle's entry): transaction() joins it. */
  get inTransaction(): boolean {
    return this.tx !== undefined;
  }

  async transaction<T>(fn: (repo: FhirRepository) => Promise<T>): Promise<T> {
    if (this.tx) return fn(this);
    return this.db.transaction((tx) => fn(new FhirRepository(this.options, tx, this.bindingVerdicts)));
  }

  async read(type: string, id: string): Promise<Resource> {
    assertResourceType(type);
    assertId(id);
    const current = await readCurrent(this.q, this.schema, type, id);
    if (!current) throw notFound(`${type}/${id} does not exist`);
    if (current.deleted) throw new FhirError(410, 'FHIR_GONE', `${type}/${id} was deleted`);
    return current.resource!;
  }

  async vread(type: string, id: string, versionId: string): Promise<Resource> {
    assertResourceType(type);
    assertId(id);
    if (!/^\d{1,9}$/.test(versionId)) throw notFound(`${type}/${id} has no version "${versionId.slice(0, 20)}"`);
    const version = await readVersion(this.q, this.schema, type, id, Number(versionId));
    if (!version) throw notFound(`${type}/${id} has no version ${versionId}`);
    if (version.deleted) throw new FhirError(410, 'FHIR_GONE', `${type}/${id} version ${versionId} is a deletion`);
    return version.resource!;
  }

  /** Validates a resource as the engine would store it (for $validate), without storing it; the warnings. */
  async validate(body: unknown, type?: string): Promise<OperationOutcomeIssue[]> {
    const resource = assertResourceBody(body, type);
    await this.prefetchBindings(resource);
    return validateAgainstDefinitions(resource, this.bindingVerdicts?.verdicts);
  }

  /**
   * Asks the engine's terminology about the resource's bound codings, before any transaction
   * opens (binding-verdicts.ts); a no-op without a code-validating terminology or when asked
   * already. Throws 503 when the terminology cannot answer. Returns whether anything was asked.
   */
  async prefetchBindings(resource: Resource): Promise<boolean> {
    if (!this.bindingVerdicts) return false;
    return this.bindingVerdicts.prefetch(resource);
  }

  /**
   * Creates a resource with a server id; `options.id` is a server id chosen earlier (a transaction
   * assigns ids before writing so entries can reference each other), never a client's.
   */
  async create(body: unknown, type?: string, options: ConditionalOptions & { ifNoneExist?: string; id?: string } = {}): Promise<WriteResult> {
    if (type) assertResourceType(type);
    const resource = assertResourceBody(body, type);
    await this.prefetchBindings(resource);
    return this.transaction(async (repo) => {
      if (options.ifNoneExist !== undefined) {
        const query = ifNoneExistQuery(resource.resourceType, options.ifNoneExist) as Query;
        const existing = await repo.matchConditional(resource.resourceType, query, options.strict, 'If-None-Exist');
        if (existing.length === 1) return { resource: existing[0]!, created: false };
      }
      const id = options.id ?? randomUUID();
      return repo.writeNew(resource.resourceType, id, { ...resource, id }, undefined, 'create');
    });
  }

  async update(type: string, id: string, body: unknown, options: UpdateOptions = {}): Promise<WriteResult> {
    assertResourceType(type);
    assertId(id);
    const resource = assertResourceBody(body, type);
    if (resource.id !== id) {
      throw new FhirError(400, 'FHIR_INVALID_ID', resource.id
        ? `the resource id "${resource.id}" does not match the URL id "${id}"`
        : 'the resource in an update must have an id equal to the URL id');
    }
    await this.prefetchBindings(resource);
    return this.transaction(async (repo) => {
      const current = await lockCurrent(repo.q, repo.schema, type, id);
      checkIfMatch(options.ifMatch, current, `${type}/${id}`);
      checkIfNoneMatch(options.ifNoneMatch, current, `${type}/${id}`);
      if (!current || current.deleted) return repo.writeNew(type, id, resource, current, 'update');
      return repo.writeNext(type, id, options.keepLabels ? withLabelsOf(resource, current.content) : resource, current, 'update');
    });
  }

  async conditionalUpdate(type: string, query: Query, body: unknown, options: ConditionalOptions & UpdateOptions = {}): Promise<WriteResult> {
    assertResourceType(type);
    const resource = assertResourceBody(body, type);
    await this.prefetchBindings(resource);
    return this.transaction(async (repo) => {
      const matches = await repo.matchConditional(type, query, options.strict, 'conditional update');
      if (matches.length === 0) {
        // Nothing matches: no current version an If-Match could name.
        checkIfMatch(options.ifMatch, undefined, `the ${type} the conditional update matches`);
        const id = resource.id ?? randomUUID();
        const current = await lockCurrent(repo.q, repo.schema, type, id);
        if (current && !current.deleted) {
          throw new FhirError(409, 'FHIR_CONFLICT', `${type}/${id} exists but does not match the conditions of the update`);
        }
        return repo.writeNew(type, id, { ...resource, id }, current, 'update');
      }
      const match = matches[0]!;
      if (resource.id && resource.id !== match.id) {
        throw new FhirError(400, 'FHIR_INVALID_ID', `the resource id "${resource.id}" differs from the matched ${type}/${match.id}`);
      }
      const current = await lockCurrent(repo.q, repo.schema, type, match.id!);
      checkIfMatch(options.ifMatch, current, `${type}/${match.id}`);
      checkIfNoneMatch(options.ifNoneMatch, current, `${type}/${match.id}`);
      const next = { ...resource, id: match.id } as Resource;
      return repo.writeNext(type, match.id!, options.keepLabels ? withLabelsOf(next, current!.content) : next, current!, 'update');
    });
  }

  async patch(type: string, id: string, operations: unknown, options: WritePreconditions = {}): Promise<WriteResult> {
    assertResourceType(type);
    assertId(id);
    await this.prefetchPatchedBindings(type, id, operations);
    return this.transaction(async (repo) => {
      const current = await lockCurrent(repo.q, repo.schema, type, id);
      if (!current) throw notFound(`${type}/${id} does not exist`);
      if (current.deleted) throw new FhirError(410, 'FHIR_GONE', `${type}/${id} was deleted`);
      checkIfMatch(options.ifMatch, current, `${type}/${id}`);
      checkIfNoneMatch(options.ifNoneMatch, current, `${type}/${id}`);
      const patched = applyPatchBody(current.content!, operations, repo.limits);
      assertPatchedElements(current.content, patched, repo.limits.fhirMaxResourceElements);
      const resource = assertResourceBody(patched, type);
      if (resource.id !== id) throw badPatch('the patch must not change the id');
      // A patch that changes nothing (`[]`, a lone `test`) is no new version: the current one, 200.
      if (sameContent(resource, current.content!)) return { resource: current.content!, created: false };
      return repo.writeNext(type, id, resource, current, 'patch');
    });
  }

  /**
   * `$meta-add` / `$meta-delete`: a version's meta (profiles, tags, security labels) changed by
   * `change`, the current version's unless `versionId` names an older one. As R4 says, "this
   * operation does not cause a new version of the resource to be created. The meta is updated
   * directly": the version keeps its versionId and lastUpdated. The write interceptors' `before`
   * hooks see it as an update of the current version, so a service's rules about labels hold (a
   * registry's own tags); only the labels they leave are kept. A change that changes nothing is none.
   */
  async changeMeta(type: string, id: string, change: (meta: Meta) => Meta, versionId?: string): Promise<Resource> {
    assertResourceType(type);
    assertId(id);
    if (versionId !== undefined && !/^\d{1,9}$/.test(versionId)) throw notFound(`${type}/${id} has no version "${versionId.slice(0, 20)}"`);
    const version = versionId === undefined ? undefined : Number(versionId);
    return this.transaction(async (repo) => {
      const current = await lockCurrent(repo.q, repo.schema, type, id);
      if (!current) throw notFound(`${type}/${id} does not exist`);
      // A deleted resource's history stays as it was: its labels are no one's rules to judge any more.
      if (current.deleted) throw new FhirError(410, 'FHIR_GONE', `${type}/${id} was deleted`);
      const isCurrent = version === undefined || version === current.version;
      const older = isCurrent ? undefined : await readVersion(repo.q, repo.schema, type, id, version!);
      if (!isCurrent && !older) throw notFound(`${type}/${id} has no version ${version}`);
      if (older?.deleted) throw new FhirError(410, 'FHIR_GONE', `${type}/${id} version ${version} is a deletion`);
      const stored = isCurrent ? current.content! : older!.resource!;
      let resource = withLabelsFrom(stored, change(stored.meta ?? {}));
      if (sameContent(resource, stored)) return stored;
      // As a patch: the labels may not grow a resource past FHIR_MAX_RESOURCE_ELEMENTS.
      assertPatchedElements(stored, resource, repo.limits.fhirMaxResourceElements, 'the meta change');
      assertResourceBody(resource, type);
      if (repo.interceptors.length) {
        // The rules see the current version with the new labels (only labels change: no rematch, no
        // recomputed keys from an old version's content), and the labels they leave are applied.
        const ruled = withLabelsFrom(current.content!, resource.meta);
        assertJsonShape(ruled);
        const event = { action: 'update', type, id, resource: ruled, previous: current.content!, repo } as const;
        resource = withLabelsFrom(stored, ((await runBeforeWrite(repo.interceptors, event)) ?? ruled).meta);
        if (sameContent(resource, stored)) return stored;
      }
      await repo.prefetchBindings(resource);
      validateAgainstDefinitions(resource, repo.bindingVerdicts?.verdicts);
      await rewriteVersionContent(repo.q, repo.schema, { rid: current.rid, type, id, version: version ?? current.version, resource, current: isCurrent }, repo.localBaseUrls(), repo.definitions);
      return resource;
    });
  }

  /**
   * PATCH Type?criteria (R4 http.html#patch): no match 404, one match patched (If-Match checked
   * on it), several 412.
   */
  async conditionalPatch(type: string, query: Query, operations: unknown, options: ConditionalOptions & WritePreconditions = {}): Promise<WriteResult> {
    assertResourceType(type);
    return this.transaction(async (repo) => {
      const matches = await repo.matchConditional(type, query, options.strict, 'conditional patch');
      if (!matches.length) throw notFound(`the conditions of the conditional patch match no ${type}`);
      return repo.patch(type, matches[0]!.id!, operations, { ifMatch: options.ifMatch, ifNoneMatch: options.ifNoneMatch });
    });
  }

  /**
   * The patch applied to the current version read ahead, outside the transaction, so its bound
   * codings are asked before rows are locked. Only a warm-up: the transaction patches the locked
   * version again, and reports any error itself.
   */
  async prefetchPatchedBindings(type: string, id: string, operations: unknown): Promise<void> {
    if (!this.bindingVerdicts || this.tx) return;
    let patched: Resource;
    try {
      const current = await readCurrent(this.q, this.schema, type, id);
      if (!current?.resource) return;
      patched = assertResourceBody(applyPatchBody(current.resource, operations, this.limits), type);
    } catch {
      return;
    }
    await this.prefetchBindings(patched);
  }

  /**
   * Deletes a resource; deleting what does not exist or is already deleted is a no-op, unless an
   * If-Match asks for a current version (412, as when it names a stale one).
   */
  async delete(type: string, id: string, options: WritePreconditions = {}): Promise<void> {
    assertResourceType(type);
    assertId(id);
    await this.transaction(async (repo) => {
      const current = await lockCurrent(repo.q, repo.schema, type, id);
      checkIfMatch(options.ifMatch, current, `${type}/${id}`);
      checkIfNoneMatch(options.ifNoneMatch, current, `${type}/${id}`);
      if (!current || current.deleted) return;
      const event = { action: 'delete' as const, type, id, previous: current.content ?? undefined, repo };
      await runBeforeWrite(repo.interceptors, event);
      await writeVersion(repo.q, repo.schema, {
        type, id, version: current.version + 1, lastUpdated: new Date().toISOString(), method: 'delete', resource: null, current,
      }, repo.localBaseUrls(), repo.definitions);
      await runAfterWrite(repo.interceptors, event);
    });
  }

  async conditionalDelete(type: string, query: Query, options: ConditionalOptions & WritePreconditions = {}): Promise<number> {
    assertResourceType(type);
    return this.transaction(async (repo) => {
      const matches = await repo.matchConditional(type, query, options.strict, 'conditional delete');
      if (!matches.length) checkIfMatch(options.ifMatch, undefined, `the ${type} the conditional delete matches`);
      if (!matches.length && options.ifNoneMatch !== undefined) checkIfNoneMatch(options.ifNoneMatch, undefined, `the ${type} the conditional delete matches`);
      for (const match of matches) await repo.delete(type, match.id!, { ifMatch: options.ifMatch, ifNoneMatch: options.ifNoneMatch });
      return matches.length;
    });
  }

  async history(query: HistoryQuery): Promise<HistoryPage> {
    if (query.type) assertResourceType(query.type);
    if (query.id) assertId(query.id);
    return readHistory(this.q, this.schema, { maxBytes: this.limits.fhirSearchMaxPageBytes, ...query });
  }

  parseSearch(type: string | undefined, query: Query, strict: boolean): SearchRequest {
    if (type) assertResourceType(type);
    return parseSearch(type, query, { strict, limits: this.limits, definitions: this.definitions });
  }

  async search(type: string | undefined, query: Query, options: { strict?: boolean } = {}): Promise<Bundle> {
    return this.searchBundle(this.parseSearch(type, query, options.strict ?? false), type ?? '');
  }

  /** A searchset Bundle for a parsed request; selfPath is the path its links use (e.g. `Patient`). */
  async searchBundle(request: SearchRequest, selfPath: string): Promise<Bundle> {
    return runSearch({ ...this.searchContext(), maxPageBytes: this.limits.fhirSearchMaxPageBytes }, request, selfPath);
  }

  /** Runs an already parsed search request (operation plug-ins build their own). */
  async searchResources(request: SearchRequest): Promise<Resource[]> {
    return (await findMatches(this.searchContext(), request)).resources;
  }

  private searchContext(): SearchContext {
    return {
      db: this.q, schema: this.schema, baseUrl: this.baseUrl, localBaseUrls: this.localBaseUrls(), maxIncluded: this.limits.fhirSearchMaxCount,
      terminology: this.options.terminology, maxTerminologyCodes: this.limits.fhirSearchMaxTerminologyCodes, terminologyTimeoutMs: this.limits.fhirTerminologyTimeoutMs,
    };
  }

  /** Absolute references under these bases point into this store: the configured ones, never the client's. */
  localBaseUrls(): string[] {
    return [...(this.options.localBaseUrls ?? [this.baseUrl])];
  }

  /** What the resources reference (any reference parameter), within `maxBytes` of stored JSON. */
  async referencedBy(from: Resource[], maxBytes: number): Promise<{ resources: Resource[]; complete: boolean }> {
    return readReferenced(this.searchContext(), from, maxBytes);
  }

  /** Resources in a compartment (e.g. all that reference one Patient), for $everything-style operations. */
  async compartment(query: CompartmentQuery): Promise<CompartmentMembers> {
    assertResourceType(query.ownerType);
    assertId(query.ownerId);
    return readCompartment(this.q, this.schema, { maxBytes: this.limits.fhirSearchMaxPageBytes, ...query });
  }

  /**
   * The resources matching the conditions of a conditional interaction. Serialised per condition
   * with a transaction-scoped advisory lock so two concurrent conditional creates cannot both create.
   */
  async matchConditional(type: string, given: Query, strict: boolean | undefined, what: string): Promise<Resource[]> {
    const query = selectingCriteria(given);
    if (!query.length) throw new FhirError(400, 'FHIR_BAD_SEARCH', `${what} needs search parameters that select resources`);
    let request = parseSearch(type, query, { strict: strict ?? true, limits: this.limits, definitions: this.definitions });
    for (const extend of this.options.searchExtensions ?? []) request = await extend(request, { repo: this });
    request.count = 2;
    request.offset = 0;
    const key = `${this.schema}|${type}|${query.map(([k, v]) => `${k}=${v}`).sort().join('&')}`;
    await this.q.query('SELECT pg_advisory_xact_lock(hashtext($1))', [key]);
    const found = await findMatches(this.searchContext(), request);
    if (found.resources.length > 1) {
      throw new FhirError(412, 'FHIR_MULTIPLE_MATCHES', `the conditions of the ${what} match more than one ${type}`);
    }
    return found.resources;
  }

  /** A new resource as it will be stored (server id given), validated; nothing is written yet. */
  prepareCreate(type: string, id: string, body: unknown): Resource {
    assertResourceType(type);
    const resource = assertResourceBody(body, type);
    const stored = stamp({ ...resource, id } as Resource, id, 1);
    validateAgainstDefinitions(stored, this.bindingVerdicts?.verdicts);
    return stored;
  }

  /**
   * The current rows of these resources, locked for the rest of the transaction (FOR UPDATE), by
   * `Type/id`; a resource with no row at all (never written) is absent. A deleted one has its row.
   */
  async lockCurrentRows(keys: Array<[type: string, id: string]>): Promise<Map<string, CurrentRow>> {
    const found = await this.q.query<CurrentRow & { type: string; id: string }>(
      `SELECT r.rid, r.type, r.id, r.version, r.deleted, r.content FROM ${this.schema}.resources r
       JOIN unnest($1::text[], $2::text[]) AS k(type, id) ON r.type = k.type AND r.id = k.id ORDER BY r.rid FOR UPDATE OF r`,
      [keys.map(([type]) => type), keys.map(([, id]) => id)],
    );
    return new Map(found.rows.map((row) => [`${row.type}/${row.id}`, { rid: Number(row.rid), version: Number(row.version), deleted: row.deleted, content: row.content }]));
  }

  /** Whether a write interceptor reads what earlier writes stored: then a transaction's writes go one by one. */
  get writesOneByOne(): boolean {
    return this.interceptors.some((interceptor) => interceptor.readsEarlierWrites);
  }

  /**
   * New versions of resources whose rows lockCurrentRows locked (the PUTs of a transaction that
   * update), each prepared as update() does (labels kept, interceptors, stamp, validation) and all
   * written in one statement. A refusal names the resource at fault (preparedIndexOf).
   */
  async updatePrepared(updates: Array<{ type: string; id: string; body: unknown; current: CurrentRow }>): Promise<Resource[]> {
    return this.transaction(async (repo) => {
      const stored: Resource[] = [];
      const events: WriteEvent[] = [];
      for (let n = 0; n < updates.length; n++) {
        const { type, id, body, current } = updates[n]!;
        const previous = current.content ?? undefined;
        const resource = await blameResource(n, async () => withLabelsOf(assertResourceBody(body, type), previous));
        const event = { action: 'update' as const, type, id, resource, previous, repo };
        const content = await blameResource(n, () => repo.beforeHooks(event, 'update'));
        stored.push(await blameResource(n, () => repo.stampValidated(content, id, current.version + 1)));
        events.push({ ...event, resource: content });
      }
      await updateVersions(repo.q, repo.schema, stored.map((resource, n) => ({ rid: updates[n]!.current.rid, version: updates[n]!.current.version + 1, resource })), repo.localBaseUrls(), repo.definitions);
      for (let n = 0; n < events.length; n++) await blameResource(n, () => runAfterWrite(repo.interceptors, { ...events[n]!, stored: stored[n] }));
      return stored;
    });
  }

  /**
   * Writes resources from prepareCreate in one statement (transaction bundles). With write
   * interceptors, each resource passes their `before` hooks first (and is validated again when
   * one changed it), and their `after` hooks once all are written. A refusal names the resource at
   * fault (preparedIndexOf). `methods`: how each was asked for, as its history records it (a PUT
   * that created its resource is 'update-create'); 'create' for all when not given.
   * `independent`: the caller vouches that no resource's interceptors need another of them stored
   * first (the terminology service's core content: one resource per canonical url), so they are
   * written together even when an interceptor reads earlier writes, and an interceptor's
   * `beforeCreates` and `afterCreates` take them all at once.
   */
  async insertPrepared(resources: Resource[], methods?: Array<'create' | 'update-create'>, options: { independent?: boolean } = {}): Promise<void> {
    // An interceptor that reads what earlier writes stored (the client registry matches each
    // record against those before it) sees each create of the transaction written before the next.
    if (resources.length > 1 && this.writesOneByOne && !options.independent) {
      for (let n = 0; n < resources.length; n++) {
        const one = [resources[n]!];
        try {
          await this.insertPrepared(one, methods ? [methods[n]!] : undefined);
        } catch (error) {
          if (typeof error === 'object' && error !== null) preparedIndex.set(error, n);
          throw error;
        }
        resources[n] = one[0]!;
      }
      return;
    }
    await this.transaction(async (repo) => {
      const events: Array<{ action: 'create'; type: string; id: string; resource: Resource; repo: FhirRepository }> = [];
      // Codings prepareCreate found unanswered (not asked before the transaction) are asked now.
      for (let n = 0; n < resources.length; n++) {
        if (await blameResource(n, () => repo.prefetchBindings(resources[n]!))) validateOrBlame(n, resources[n]!, repo.bindingVerdicts);
      }
      if (repo.interceptors.length) {
        const creates = resources.map((resource) => ({ action: 'create' as const, type: resource.resourceType, id: resource.id!, resource, repo }));
        // Independent creates: an interceptor's beforeCreates checks them all at once.
        const afterBefore = options.independent ? await runBeforeCreates(repo.interceptors, creates, blameResource) : undefined;
        for (let n = 0; n < resources.length; n++) {
          const original = resources[n]!;
          const event = creates[n]!;
          const changed = afterBefore ? afterBefore[n] : await blameResource(n, () => runBeforeWrite(repo.interceptors, event));
          if (changed && changed !== original) {
            resources[n] = stamp(assertResourceBody(changed, original.resourceType), original.id!, 1);
            await blameResource(n, () => repo.prefetchBindings(resources[n]!));
            validateAgainstDefinitions(resources[n]!, repo.bindingVerdicts?.verdicts);
          }
          events.push(event);
        }
      }
      try {
        await insertNewResources(repo.q, repo.schema, resources, repo.localBaseUrls(), repo.definitions, methods);
      } catch (error) {
        if (error instanceof CreateConflict) preparedIndex.set(error, error.index);
        throw error;
      }
      if (options.independent) await runAfterCreates(repo.interceptors, events.map((event, n) => ({ ...event, resource: resources[n], stored: resources[n] })));
      else for (let n = 0; n < events.length; n++) await blameResource(n, () => runAfterWrite(repo.interceptors, { ...events[n]!, resource: resources[n], stored: resources[n] }));
    });
  }

  private async writeNew(type: string, id: string, resource: Resource, current: CurrentRow | undefined, method: WriteMethod): Promise<WriteResult> {
    // _history shows the 201 this write answered, and still the PUT that made it.
    const stored = await this.writeVersionOf(type, id, resource, current, method === 'update' ? 'update-create' : method);
    return { resource: stored, created: true };
  }

  private async writeNext(type: string, id: string, resource: Resource, current: CurrentRow, method: WriteMethod, options: { noopIfUnchanged?: boolean } = {}): Promise<WriteResult> {
    const stored = await this.writeVersionOf(type, id, resource, current, method, options);
    return { resource: stored, created: false };
  }

  /**
   * One new version: interceptors before, stamp, validate, write, interceptors after.
   * `noopIfUnchanged`: when what the interceptors leave equals the current version, no version is
   * written and the current one is the result.
   */
  private async writeVersionOf(type: string, id: string, resource: Resource, current: CurrentRow | undefined, method: WriteMethod, options: { noopIfUnchanged?: boolean } = {}): Promise<Resource> {
    const previous = current && !current.deleted ? (current.content ?? undefined) : undefined;
    const action = method === 'delete' ? 'delete' : method === 'patch' ? 'patch' : previous ? 'update' : 'create';
    const event = { action, type, id, resource, previous, repo: this } as const;
    const content = await this.beforeHooks(event, method);
    if (options.noopIfUnchanged && previous && sameContent(content, previous)) return previous;
    const version = (current?.version ?? 0) + 1;
    const stored = await this.stampValidated(content, id, version);
    await writeVersion(this.q, this.schema, { type, id, version, lastUpdated: stored.meta!.lastUpdated!, method, resource: stored, current }, this.localBaseUrls(), this.definitions);
    if (this.interceptors.length) await runAfterWrite(this.interceptors, { ...event, resource: content, stored });
    return stored;
  }

  /** What the write interceptors' `before` hooks leave of a write: the resource itself when there are none. */
  private async beforeHooks(event: WriteEvent & { resource: Resource }, method: WriteMethod): Promise<Resource> {
    if (!this.interceptors.length) return event.resource;
    if (method !== 'delete') {
      // A client's `"identifier": []` means no identifier: the interceptors read it without (stamp drops them for every write).
      dropEmptyLists(event.resource);
      // The interceptors read the resource before validation does: its shape first, so they never meet a list or null where FHIR JSON has none.
      assertJsonShape(event.resource);
    }
    const changed = await runBeforeWrite(this.interceptors, event);
    if (!changed || changed === event.resource) return event.resource;
    const content = assertResourceBody(changed, event.type);
    if (content.id !== event.id) throw new FhirError(500, 'FHIR_INTERNAL', 'a write interceptor changed the resource id');
    return content;
  }

  /** A version as it is stored: stamped, then validated against the definitions and bindings. */
  private async stampValidated(content: Resource, id: string, version: number): Promise<Resource> {
    const stored = stamp(content, id, version);
    // Asked before the transaction unless an interceptor or a concurrent write changed the codings.
    await this.prefetchBindings(stored);
    validateAgainstDefinitions(stored, this.bindingVerdicts?.verdicts);
    return stored;
  }
}

function badPatch(message: string): FhirError {
  return new FhirError(400, 'FHIR_BAD_REQUEST', message);
}

/** The resource as stored: server-assigned id, versionId and lastUpdated; no empty lists (json-shape.ts). */
function stamp(resource: Resource, id: string, version: number): Resource {
  const meta = { ...(resource.meta ?? {}), versionId: String(version), lastUpdated: new Date().toISOString() };
  const stored = { ...resource, id, meta } as Resource;
  dropEmptyLists(stored);
  return stored;
}

/** The resource with the previous version's tags and security labels it does not give (by system and code). */
function withLabelsOf(resource: Resource, previous: Resource | null | undefined): Resource {
  const kept = previous?.meta;
  if (!kept?.tag?.length && !kept?.security?.length) return resource;
  const meta: Meta = { ...(resource.meta ?? {}) };
  for (const list of ['tag', 'security'] as const) {
    const given = meta[list] ?? [];
    const key = (c: { system?: string; code?: string }) => `${c.system ?? ''}|${c.code ?? ''}`;
    const have = new Set(given.map(key));
    const carried = (kept[list] ?? []).filter((c) => !have.has(key(c)));
    if (carried.length) meta[list] = [...given, ...carried];
  }
  return { ...resource, meta };
}

/** The resource with the profiles, tags and security labels of `meta` (what the meta operations change), the rest of its meta kept. */
function withLabelsFrom(resource: Resource, meta: Meta | undefined): Resource {
  const { profile: _p, tag: _t, security: _s, ...rest } = resource.meta ?? {};
  const labels: Meta = { ...rest };
  if (meta?.profile?.length) labels.profile = meta.profile;
  if (meta?.tag?.length) labels.tag = meta.tag;
  if (meta?.security?.length) labels.security = meta.security;
  return { ...resource, meta: labels } as Resource;
}

/** Whether two versions hold the same resource, apart from the stamp every write renews. */
function sameContent(a: Resource, b: Resource): boolean {
  const unstamped = (r: Resource): Resource => {
    const { versionId: _v, lastUpdated: _l, ...meta } = r.meta ?? {};
    return { ...r, meta } as Resource;
  };
  return isDeepStrictEqual(unstamped(a), unstamped(b));
}

/** Which of insertPrepared's resources an error is about, so a transaction names the right entry. */
const preparedIndex = new WeakMap<object, number>();

export function preparedIndexOf(error: unknown): number | undefined {
  return typeof error === 'object' && error !== null ? preparedIndex.get(error) : undefined;
}

function validateOrBlame(index: number, resource: Resource, verdicts: BindingVerdicts | undefined): void {
  try {
    validateAgainstDefinitions(resource, verdicts?.verdicts);
  } catch (error) {
    if (typeof error === 'object' && error !== null) preparedIndex.set(error, index);
    throw error;
  }
}

async function blameResource<T>(index: number, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (typeof error === 'object' && error !== null) preparedIndex.set(error, index);
    throw error;
  }
}
