/**
 * The FHIR engine: one schema of FHIR storage, the RESTful interactions over it, and the
 * operation plug-ins services add. A service creates one engine per schema, migrates it, and
 * mounts it on its HTTP app with registerFhirRoutes (src/fhir/http/fastify.ts).
 */
import { OperationOutcomeError, validateResource } from '@medplum/core';
import type { OperationOutcome, OperationOutcomeIssue, Parameters, Resource, SearchParameter } from '@medplum/fhirtypes';
import { limitsFromEnvironment, type Limits } from '../common/limits.js';
import type { Database } from '../db/database.js';
import type { Logger } from '../common/logger.js';
import { loadDefinitions } from './definitions.js';
import type { FhirRequest, FhirResponse } from './interaction.js';
import { metaAddOperation, metaDeleteOperation, metaOperation } from './operations/meta.js';
import { versionsOperation } from './operations/versions.js';
import { OperationRegistry, type FhirOperation, type SearchExtension } from './operations/registry.js';
import { asFhirError, boundedIssues, FhirError, RETRY_AFTER_SECONDS } from './outcome.js';
import type { CodeSystemCatalogue, SoftwareDescription } from './capability.js';
import { findProfile } from './profiles.js';
import { FhirRepository } from './repository.js';
import { dispatch } from './router.js';
import type { WriteInterceptor } from './write-interceptors.js';
import { fhirMigrations } from './storage/migrations.js';
import { StatisticsKeeper } from './storage/statistics.js';
import { reindexType } from './storage/writer.js';
import { SearchParameterRegistry, type SpecialSearch } from './search-parameters.js';
import { CORE_TERMINOLOGY } from './terminology/core-provider.js';
import type { TerminologyProvider } from './terminology/provider.js';

export interface FhirEngineOptions {
  db: Database;
  /** Schema holding this engine's tables, e.g. `shr`. */
  schema: string;
  /** Base URL clients use; set it again with setBaseUrl once the server knows its port. */
  baseUrl?: string;
  /**
   * Other bases that are this server (a proxy's, the router's, a public name): absolute
   * references under them are local, as under baseUrl. Configuration only (setLocalBaseUrls).
   */
  localBaseUrls?: readonly string[];
  software?: SoftwareDescription;
  /** Search and bundle limits (src/common/limits.ts); defaults to the process environment's. */
  limits?: Limits;
  /** Where background maintenance reports failures (a failed ANALYZE); silent when omitted. */
  logger?: Pick<Logger, 'warn'>;
  /**
   * Answers the token modifiers :in, :not-in, :above and :below (terminology/provider.ts), and,
   * when it validates codes, judges the bound codings of writes (bindings.ts). Defaults to the
   * core R4 value sets and code systems; a terminology service plugs in its own (in process or HTTP).
   */
  terminology?: TerminologyProvider;
  /** The status of a read in a `_format` this server cannot answer in (unsupportedReadFormatStatus); 406 by default. */
  unsupportedReadFormatStatus?: 400 | 406;
}

export class FhirEngine {
  readonly db: Database;
  readonly schema: string;
  readonly operations = new OperationRegistry();
  private readonly interceptors: WriteInterceptor[] = [];
  /** This engine's search parameters: the official R4 ones and its own custom ones. */
  readonly searchParameters = new SearchParameterRegistry();
  readonly terminology: TerminologyProvider;
  readonly limits: Limits;
  private base: string;
  private aliases: string[];
  private readonly software: SoftwareDescription;
  private readonly statistics: StatisticsKeeper;
  private codeSystemCatalogue: CodeSystemCatalogue | undefined;
  /**
   * The status of a read (`GET Type/id[/_history/vid]`) whose `_format` this server cannot answer
   * in: 406 as FHIR's http page says; a profile may ask otherwise (PDQm ITI-78 3.78.4.4.2, mCSD
   * ITI-90 2:3.90.4.4.2: 400).
   */
  readonly unsupportedReadFormatStatus: 400 | 406;

  constructor(options: FhirEngineOptions) {
    this.db = options.db;
    this.schema = options.schema;
    this.base = (options.baseUrl ?? 'http://localhost/fhir').replace(/\/+$/, '');
    this.aliases = normaliseBases(options.localBaseUrls ?? []);
    this.software = options.software ?? { name: 'Instant OpenHIE FHIR engine', version: '0.1.0' };
    const logger = options.logger;
    this.statistics = new StatisticsKeeper(this.db, this.schema, (error) => logger?.warn({ err: error, schema: this.schema }, 'FHIR statistics refresh (ANALYZE) failed; searches keep the previous plans'));
    this.limits = options.limits ?? limitsFromEnvironment();
    this.terminology = options.terminology ?? CORE_TERMINOLOGY;
    this.unsupportedReadFormatStatus = options.unsupportedReadFormatStatus ?? 406;
    this.registerOperation(validateOperation);
    this.registerOperation(versionsOperation);
    for (const operation of [metaOperation, metaAddOperation, metaDeleteOperation]) this.registerOperation(operation);
  }

  get baseUrl(): string {
    return this.base;
  }

  setBaseUrl(url: string): void {
    this.base = url.replace(/\/+$/, '');
  }

  /**
   * The bases that are this server, by configuration alone: baseUrl and the aliases given with
   * setLocalBaseUrls. An absolute reference is local (indexed, searched and in compartments as
   * `Type/id`) only under one of these; the Host or X-Forwarded-Host of a request never decides it.
   */
  get localBaseUrls(): string[] {
    return [this.base, ...this.aliases.filter((alias) => alias !== this.base)];
  }

  /** Replaces the configured aliases of baseUrl (settings read by the service at start; fhir-listener.ts). */
  setLocalBaseUrls(urls: readonly string[]): void {
    this.aliases = normaliseBases(urls);
  }

  /** Loads the R4 definitions and creates or upgrades the engine's tables. */
  async migrate(): Promise<void> {
    loadDefinitions();
    await this.db.migrate(this.schema, fhirMigrations(this.schema));
    if (this.db.kind === 'pglite') await this.statistics.analyze();
  }

  /** Lets background maintenance finish; call before closing the database. */
  async settle(): Promise<void> {
    await this.statistics.settle();
  }

  /**
   * A repository for direct (non-HTTP) use by the service that owns the engine. `linkBaseUrl` is
   * the base a client reached the engine by (through a proxy), used in fullUrl, Location and links.
   */
  repository(linkBaseUrl?: string): FhirRepository {
    return new FhirRepository({
      db: this.db, schema: this.schema, baseUrl: linkBaseUrl ?? this.base, localBaseUrls: this.localBaseUrls, limits: this.limits, interceptors: this.interceptors, searchExtensions: this.operations.searchExtensions,
      definitions: this.searchParameters, terminology: this.terminology,
    });
  }

  /**
   * Adds code that runs around every create, update, patch and delete of this engine, inside the
   * write's transaction (write-interceptors.ts): the seam registries build their rules on.
   */
  addWriteInterceptor(interceptor: WriteInterceptor): void {
    this.interceptors.push(interceptor);
  }

  registerOperation(operation: FhirOperation): void {
    this.operations.register(operation);
  }

  addSearchExtension(extension: SearchExtension): void {
    this.operations.addSearchExtension(extension);
  }

  /**
   * Adds a custom SearchParameter (FHIRPath expression, one of the supported types) for its base
   * types, to this engine only: other engines in the process do not know it. New writes are
   * indexed by it at once; resources stored before are indexed by reindex(type). Throws a 400
   * FhirError when the parameter is incomplete, unsupported or redefines an R4 one.
   */
  addSearchParameter(parameter: SearchParameter): void {
    this.searchParameters.add(parameter);
  }

  /**
   * Adds a special search to this engine: a parameter or modifier whose SQL the service supplies
   * (search-parameters.ts), such as Location `near` or `partof:below`.
   */
  addSpecialSearch(search: SpecialSearch): void {
    this.searchParameters.addSpecialSearch(search);
  }

  /**
   * What `metadata?mode=terminology` lists as this server's code systems: a terminology service
   * gives the ones it holds (TerminologyCapabilities.codeSystem).
   */
  describeCodeSystemsWith(catalogue: CodeSystemCatalogue): void {
    this.codeSystemCatalogue = catalogue;
  }

  /** Rebuilds the search index rows of every stored resource of a type, under this engine's parameters. */
  async reindex(type: string): Promise<number> {
    return this.db.transaction((tx) => reindexType(tx, this.schema, type, this.localBaseUrls, this.searchParameters), { maintenance: true });
  }

  /** Runs one interaction; never throws: failures come back as an OperationOutcome response. */
  async handle(request: FhirRequest, options: { baseUrl?: string } = {}): Promise<FhirResponse> {
    try {
      const response = await dispatch({ repo: this.repository(options.baseUrl), operations: this.operations, request, software: this.software, ...(this.codeSystemCatalogue ? { codeSystems: this.codeSystemCatalogue } : {}) });
      if (request.method !== 'GET' && request.method !== 'HEAD' && response.status < 300) {
        const entries = response.resource?.resourceType === 'Bundle' ? ((response.resource as { entry?: unknown[] }).entry?.length ?? 0) : 1;
        this.statistics.noteWrites(entries);
      }
      return response;
    } catch (error) {
      return errorResponse(error);
    }
  }
}

/** Bases as references spell them: no trailing slash, each once. */
function normaliseBases(urls: readonly string[]): string[] {
  return [...new Set(urls.map((url) => url.trim().replace(/\/+$/, '')).filter(Boolean))];
}

/** The one place an error becomes an HTTP response. */
export function errorResponse(error: unknown): FhirResponse & { resource: OperationOutcome; error: FhirError; cause: unknown } {
  const fhirError = asFhirError(error);
  const headers = fhirError.status === 503 ? { 'retry-after': String(RETRY_AFTER_SECONDS), ...fhirError.headers } : fhirError.headers;
  return { status: fhirError.status, resource: fhirError.toOutcome(), error: fhirError, cause: error, ...(headers ? { headers } : {}) };
}

/** `$validate`'s `profile` (a canonical: valueUri, valueCanonical, or a query's string). */
function profileParameter(parameters: Parameters): string | undefined {
  const given = parameters.parameter?.filter((p) => p.name === 'profile') ?? [];
  if (given.length > 1) throw new FhirError(400, 'FHIR_BAD_REQUEST', '$validate takes one "profile"');
  const value = given[0]?.valueUri ?? given[0]?.valueCanonical ?? given[0]?.valueString;
  if (given.length && (typeof value !== 'string' || value.length === 0 || value.length > 2048)) {
    throw new FhirError(400, 'FHIR_BAD_REQUEST', '$validate: "profile" is the canonical URL of a StructureDefinition (valueUri or valueCanonical)');
  }
  return value;
}

/** Resource-validate's `mode` (R4: create | update | delete | profile), or undefined when not given. */
function modeParameter(parameters: Parameters): 'create' | 'update' | 'delete' | 'profile' | undefined {
  const given = parameters.parameter?.filter((p) => p.name === 'mode') ?? [];
  if (given.length > 1) throw new FhirError(400, 'FHIR_BAD_REQUEST', '$validate takes one "mode"');
  if (!given.length) return undefined;
  const value = given[0]!.valueCode ?? given[0]!.valueString;
  if (value !== 'create' && value !== 'update' && value !== 'delete' && value !== 'profile') {
    throw new FhirError(400, 'FHIR_BAD_REQUEST', `$validate: "mode" is create, update, delete or profile, not ${JSON.stringify(String(value ?? '')).slice(0, 60)}`);
  }
  return value;
}

const isBaseProfile = (profile: string, type: string): boolean => profile.split('|')[0] === `http://hl7.org/fhir/StructureDefinition/${type}`;

/**
 * The resource's faults against a profile (profiles.ts), or an error issue when this server does
 * not hold the profile: R4 says it SHALL NOT answer as if it had validated against it.
 */
async function profileIssues(repo: FhirRepository, resource: Resource, profile: string): Promise<OperationOutcomeIssue[]> {
  const definition = await findProfile(repo, profile);
  if (!definition) {
    return [{ severity: 'error', code: 'not-supported', diagnostics: `profile ${profile.slice(0, 200)} is not known to this server (store its StructureDefinition): the resource was not validated against it` }];
  }
  if (definition.type !== resource.resourceType) {
    return [{ severity: 'error', code: 'invalid', diagnostics: `profile ${profile.slice(0, 200)} constrains ${definition.type}, not ${resource.resourceType}` }];
  }
  try {
    return validateResource(resource, { profile: definition });
  } catch (error) {
    if (error instanceof OperationOutcomeError) return error.outcome.issue ?? [];
    return [{ severity: 'error', code: 'processing', diagnostics: `the resource could not be checked against ${profile.slice(0, 200)}: ${(error as Error).message.slice(0, 200)}` }];
  }
}

const validateOperation: FhirOperation = {
  name: 'validate',
  levels: ['type', 'instance'],
  affectsState: false,
  definitionUrl: 'http://hl7.org/fhir/OperationDefinition/Resource-validate',
  async run({ repo, parameters, resourceType, id }) {
    const mode = modeParameter(parameters);
    if (mode === 'delete') {
      // Whether the resource at this id may be deleted: nothing here refuses a delete of a stored one.
      if (!id) throw new FhirError(400, 'FHIR_BAD_REQUEST', '$validate with mode "delete" is asked of the resource to delete: POST [type]/[id]/$validate');
      await repo.read(resourceType!, id); // 404 or 410 when there is none
      return { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', diagnostics: `${resourceType}/${id} can be deleted` }] };
    }
    let resource = parameters.parameter?.find((p) => p.name === 'resource')?.resource as Resource | undefined;
    if (!resource && id) resource = await repo.read(resourceType!, id);
    if (!resource) throw new FhirError(400, 'FHIR_BAD_REQUEST', '$validate needs a resource (the body, or a "resource" parameter)');
    // An update names the resource it replaces (http.html#update: the id in the body is the one in the URL).
    if (mode === 'update' && (!resource.id || (id !== undefined && resource.id !== id))) {
      const diagnostics = resource.id ? `the resource's id ${resource.id.slice(0, 64)} is not the id in the URL, ${id}` : 'an update needs the resource\'s id';
      return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid', expression: [`${resource.resourceType}.id`], diagnostics }] };
    }
    const profile = profileParameter(parameters);
    try {
      const warnings = await repo.validate(resource, resourceType);
      const againstProfile = profile && !isBaseProfile(profile, resource.resourceType) ? await profileIssues(repo, resource, profile) : [];
      if (againstProfile.some((i) => i.severity === 'error' || i.severity === 'fatal')) return { resourceType: 'OperationOutcome', issue: boundedIssues(againstProfile) };
      return {
        resourceType: 'OperationOutcome',
        issue: [{ severity: 'information', code: 'informational', diagnostics: `the resource is valid${profile ? ` against ${profile.slice(0, 200)}` : ''}` }, ...boundedIssues([...warnings, ...againstProfile])],
      };
    } catch (error) {
      if (error instanceof FhirError && error.status === 400) return error.toOutcome();
      throw error;
    }
  },
};
