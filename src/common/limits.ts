import { InstantError } from './errors.js';

/**
 * Every limit that protects the exchange from a hostile or careless caller, declared once:
 * its setting, default, unit and what it bounds. Services read them with readLimits(settings);
 * docs/security.md lists them (a test checks that it names every setting here).
 *
 * Add a limit here, not as a literal in a service: the next person looks for it in one place.
 */

export type LimitUnit = 'bytes' | 'ms' | 'count';

export interface LimitDefinition {
  /** The setting (environment variable) that overrides the default. */
  setting: string;
  default: number;
  unit: LimitUnit;
  /** Smallest value accepted (a setting below it is an error, not a silent clamp). */
  min: number;
  /** What the limit bounds and what a caller gets past it. */
  bounds: string;
}

function limit(setting: string, defaultValue: number, unit: LimitUnit, bounds: string, min = unit === 'count' ? 1 : 0): LimitDefinition {
  return { setting, default: defaultValue, unit, min, bounds };
}

const KB = 1024;
const MB = 1024 * KB;

export const LIMITS = {
  // ── HTTP, on every port (admin API, router, FHIR services) ───────────────────────────────
  httpHeadersTimeoutMs: limit('INSTANT_HTTP_HEADERS_TIMEOUT_MS', 10_000, 'ms',
    'time a client has to send the request line and headers; then 408 and the connection closes', 100),
  httpRequestTimeoutMs: limit('INSTANT_HTTP_REQUEST_TIMEOUT_MS', 60_000, 'ms',
    'time a client has to send the whole request (headers and body); then 408', 100),
  httpKeepAliveTimeoutMs: limit('INSTANT_HTTP_KEEP_ALIVE_TIMEOUT_MS', 5_000, 'ms',
    'an idle keep-alive connection is closed after this'),
  httpMaxConnections: limit('INSTANT_HTTP_MAX_CONNECTIONS', 1_000, 'count',
    'open connections per port; past it the oldest idle or still-arriving connection is closed to make room, and a new one is refused only when every connection has a request in progress'),
  httpMaxHeaderBytes: limit('INSTANT_HTTP_MAX_HEADER_BYTES', 16 * KB, 'bytes',
    'request line and headers, counted as written without optional whitespace (each header as `name: value` CRLF); past it 431, before the body is read', 4 * KB),
  httpMaxHeaderCount: limit('INSTANT_HTTP_MAX_HEADER_COUNT', 500, 'count', 'header lines in one request; more is 431 (none is dropped silently)', 20),

  // ── Database (both drivers) ─────────────────────────────────────────────────────────────
  dbStatementTimeoutMs: limit('INSTANT_DB_STATEMENT_TIMEOUT_MS', 10_000, 'ms',
    'one statement of a request (not migrations); PostgreSQL cancels it, the embedded PGlite thread is restarted; the request gets an OperationOutcome "too-costly"', 100),
  dbTransactionTimeoutMs: limit('INSTANT_DB_TRANSACTION_TIMEOUT_MS', 30_000, 'ms',
    'one database transaction of a request, start to commit (a transaction bundle, a conditional write; not migrations): past it the transaction is rolled back as a whole (a statement still running is cancelled, the embedded PGlite thread restarted) and the request gets an OperationOutcome "too-costly"', 100),

  // ── FHIR services (shared health record and every registry on the FHIR engine) ───────────
  fhirMaxJsonDepth: limit('FHIR_MAX_JSON_DEPTH', 100, 'count', 'nesting of a JSON body; deeper is 400'),
  fhirInflightBodyBytes: limit('FHIR_MAX_INFLIGHT_BODY_BYTES', 32 * MB, 'bytes',
    'request bodies being parsed and processed at once per FHIR service; past it 503 with Retry-After', 1 * MB),
  fhirPatchMaxOperations: limit('FHIR_PATCH_MAX_OPERATIONS', 1_000, 'count', 'operations in one JSON Patch or FHIRPath Patch; more is 400'),
  fhirPatchMaxResultBytes: limit('FHIR_PATCH_MAX_RESULT_BYTES', 4 * MB, 'bytes',
    'size of a resource as a JSON Patch leaves it (checked while the patch is applied; a resource already larger may be patched but not grown); past it 422', 1 * KB),
  fhirBundleMaxEntries: limit('FHIR_BUNDLE_MAX_ENTRIES', 1_000, 'count', 'entries in a batch or transaction bundle; more is 413'),
  fhirBundleMaxResultResources: limit('FHIR_BUNDLE_MAX_RESULT_RESOURCES', 10_000, 'count',
    'resources all the search entries of one batch may return together; past it the remaining searches fail with "too-costly"'),
  fhirBundleMaxResultBytes: limit('FHIR_BUNDLE_MAX_RESULT_BYTES', 32 * MB, 'bytes',
    'JSON the reads of one bundle may return together (below the router\'s OPENHIM_ROUTER_MAX_BODY_BYTES, so a batch answer always passes it); past it the remaining reads of a batch fail with "too-costly" and a transaction fails as a whole', 1 * KB),
  fhirSearchMaxPageBytes: limit('FHIR_SEARCH_MAX_PAGE_BYTES', 32 * MB, 'bytes',
    'resources (as stored JSON) one page of a search, history or $everything returns; the page is cut short before the resource that would pass it and its next link continues from there (a single larger resource is still returned alone); _include/_revinclude resources past it are left out with a warning', 1 * KB),
  fhirSearchMaxCount: limit('FHIR_SEARCH_MAX_COUNT', 1_000, 'count', '_count of one page; larger values are lowered to it'),
  fhirSearchMaxChainDepth: limit('FHIR_SEARCH_MAX_CHAIN_DEPTH', 2, 'count',
    'chain and _has links in one search parameter (subject:Patient.organization.name is 2, each nested _has one more); deeper is 400'),
  fhirSearchMaxParameters: limit('FHIR_SEARCH_MAX_PARAMETERS', 64, 'count',
    'search parameters in one search (filters, _include, _sort...), and reference parameters _include/_revinclude follow (Type:* counts each); more is 400'),
  fhirSearchMaxValues: limit('FHIR_SEARCH_MAX_VALUES', 100, 'count', 'comma-separated (OR) values of one search parameter, and items of _sort, _elements and _type; more is 400'),
  fhirSearchMaxQueryBytes: limit('FHIR_SEARCH_MAX_QUERY_BYTES', 16 * KB, 'bytes', 'a search\'s parameters (URL query or POST _search form) together; longer is 400', 1 * KB),
  fhirSearchMaxTerminologyCodes: limit('FHIR_SEARCH_MAX_TERMINOLOGY_CODES', 10_000, 'count',
    'codes the :in, :not-in, :above and :below values of one search expand to together (value set members, subsumed or subsuming codes); more is 400 too-costly'),
  fhirTerminologyTimeoutMs: limit('FHIR_TERMINOLOGY_TIMEOUT_MS', 5_000, 'ms',
    'one call of a FHIR service to a terminology service over HTTP (FHIR_DATASTORE_TERMINOLOGY_URL: connecting, headers and body), and each question a write asks any terminology (in process too); past it the write or search that needed the answer gets 503 "the terminology service is unavailable"', 100),
  fhirTerminologyMaxResponseBytes: limit('FHIR_TERMINOLOGY_MAX_RESPONSE_BYTES', 8 * MB, 'bytes',
    'one answer of a terminology service over HTTP; past it the answer is dropped unread and the request that needed it gets 503', 1 * KB),
  fhirTerminologyCacheSize: limit('FHIR_TERMINOLOGY_CACHE_SIZE', 100_000, 'count',
    'answers of a terminology service over HTTP a FHIR service keeps, each weighing 1 plus the codes it holds (an expansion of 5,000 codes weighs 5,001); past it the least recently used go'),
  fhirTerminologyCacheTtlMs: limit('FHIR_TERMINOLOGY_CACHE_TTL_MS', 60_000, 'ms',
    'how long an answer of a terminology service over HTTP is kept (a value set changed there is seen after at most this); 0 keeps none', 0),
  fhirBindingMaxCodingsPerElement: limit('FHIR_BINDING_MAX_CODINGS_PER_ELEMENT', 32, 'count',
    'codings of one Coding or CodeableConcept bound required or extensible that a write asks the terminology about; more is 400 too-costly naming the element (nothing is asked)'),
  fhirBindingMaxQuestions: limit('FHIR_BINDING_MAX_QUESTIONS', 1_000, 'count',
    'distinct (value set, coding) questions one request asks the terminology to check bindings: a resource, or a whole batch or transaction; more is 400 too-costly (nothing more is asked)'),
  fhirBindingDeadlineMs: limit('FHIR_BINDING_DEADLINE_MS', 10_000, 'ms',
    'time one request (a resource, or a whole batch or transaction) may spend waiting for the terminology\'s answers about its bound codings, all questions together; past it 503 "the terminology service is unavailable", nothing stored', 100),
  fhirMaxResourceElements: limit('FHIR_MAX_RESOURCE_ELEMENTS', 50_000, 'count',
    'JSON values (objects, arrays, strings, numbers) of one resource in a request body, JSON or XML (each Bundle entry\'s resource on its own, contained resources with their container); more is 413 too-costly before it is validated or indexed, and a JSON Patch may not grow a resource past it', 1_000),
  fhirPathPatchMaxCost: limit('FHIR_FHIRPATH_PATCH_MAX_COST', 1_000_000, 'count',
    'work of one FHIRPath Patch, counted before it runs as the patched resource\'s JSON values times the steps of all its paths (each step may walk the whole resource); more is 400 too-costly', 1_000),

  // ── Client registry ─────────────────────────────────────────────────────────────────────
  crMaxCandidates: limit('CLIENT_REGISTRY_MAX_CANDIDATES', 32, 'count',
    'records sharing a blocking key that one registration or $match compares, those sharing the most and the rarest keys first (the rest are not compared), so a common name cannot make a registration scan the registry'),
  mllpMaxMessageBytes: limit('CLIENT_REGISTRY_MLLP_MAX_MESSAGE_BYTES', 1 * MB, 'bytes',
    'one HL7v2 message inside its MLLP frame; past it the connection is closed (nothing of the message is processed)', 1 * KB),
  mllpMaxConnections: limit('CLIENT_REGISTRY_MLLP_MAX_CONNECTIONS', 100, 'count',
    'open MLLP connections; past it the oldest connection not processing a message is closed to make room, and a new one is refused only when every connection is busy'),
  mllpIdleTimeoutMs: limit('CLIENT_REGISTRY_MLLP_IDLE_TIMEOUT_MS', 5 * 60_000, 'ms',
    'time an MLLP connection has to complete its next message (after connecting or after the last answer); then it is closed, so idle and trickling connections do not hold a slot', 100),
  mllpMaxQueryResults: limit('CLIENT_REGISTRY_MLLP_MAX_QUERY_RESULTS', 100, 'count',
    'patients one QBP^Q22 (PDQ) answer returns; RCP-2 may ask for fewer, never more'),
  crMatchMaxChars: limit('CLIENT_REGISTRY_MATCH_MAX_CHARS', 64, 'count',
    'characters of each value (a name, an address line) the string comparators compare: only the first ones count, so similarity costs bounded time whatever is stored', 8),
  crMatchMaxValues: limit('CLIENT_REGISTRY_MATCH_MAX_VALUES', 8, 'count',
    'values of one field (names, address lines, phones) of each patient the comparators compare, each against each: the first ones count'),
  crMaxNamePartChars: limit('CLIENT_REGISTRY_MAX_NAME_PART_CHARS', 200, 'count',
    'characters of one name part (family, a given name, prefix, suffix, text) of a Patient a client writes; longer is 422 (HL7v2: AE), and a $match Patient with one is 400', 16),
  crMaxRepeats: limit('CLIENT_REGISTRY_MAX_REPEATS', 50, 'count',
    'repetitions of each element the registry indexes and matches on (identifier, name, given names of a name, telecom, address) in a Patient a client writes; more is 422 (HL7v2: AE naming the field) before any matching or search, and a $match Patient with more is 400', 4),

  // ── Terminology service ─────────────────────────────────────────────────────────────────
  terminologyMaxExpansion: limit('TERMINOLOGY_MAX_EXPANSION', 10_000, 'count',
    'members one ValueSet/$expand answer returns: a larger count is lowered to it, and an expansion without count that has more members is 400 too-costly (page with count and offset)'),
  terminologyMaxComposeWork: limit('TERMINOLOGY_MAX_COMPOSE_WORK', 10_000, 'count',
    'work of compiling one value set with those it imports: each include, filter and imported value set counts 1 (an imported one again each time it is reused), listed concepts 1 per 100; past it 400 too-costly', 100),
  terminologyMaxHierarchyDepth: limit('TERMINOLOGY_MAX_HIERARCHY_DEPTH', 64, 'count',
    'levels of a code system\'s is-a hierarchy (a parent chain); deeper is 422 at write or import', 2),
  terminologyMaxClosureRows: limit('TERMINOLOGY_MAX_CLOSURE_ROWS', 20_000_000, 'count',
    'transitive-closure rows of one code system (each concept with each of its ancestors); more is 422 at write or import', 1_000),
  terminologyMaxWriteConcepts: limit('TERMINOLOGY_MAX_WRITE_CONCEPTS', 10_000, 'count',
    'concepts of a CodeSystem created or updated by a plain FHIR write; more is 413 pointing to $import, which loads in bulk', 5_000),
  terminologyMaxPackageBytes: limit('TERMINOLOGY_MAX_PACKAGE_BYTES', 64 * MB, 'bytes',
    'a FHIR NPM package (.tgz) unpacked, for $import and TERMINOLOGY_IMPORT_FILES; past it 400 (a gzip bomb stops there)', 1 * MB),
  terminologyConceptCacheEntries: limit('TERMINOLOGY_CONCEPT_CACHE_ENTRIES', 100_000, 'count',
    'concepts the terminology service keeps in memory for $lookup and $validate-code (least recently used dropped first; 0 turns the cache off)', 0),
  terminologyConceptCacheBytes: limit('TERMINOLOGY_CONCEPT_CACHE_BYTES', 64 * MB, 'bytes',
    'memory those cached concepts may hold together (estimated; least recently used dropped first; 0 turns the cache off)', 0),
  terminologyMaxComposeCost: limit('TERMINOLOGY_MAX_COMPOSE_COST', 10_000_000, 'count',
    'estimated cost of running one value set (with those it imports) in the database, before it runs: each include or exclude costs the concepts of its code system times (1 + its filters\' weights: 1 each, an `in` list 1 more per 1,000 characters, a regex 4 plus 5 per atom its counted repetitions copy); past it 400 too-costly naming what to narrow', 10_000),
  terminologyMaxIncludeFilters: limit('TERMINOLOGY_MAX_INCLUDE_FILTERS', 32, 'count',
    'filters of one compose include or exclude; more is 400 too-costly', 1),
  terminologyMaxFilterValues: limit('TERMINOLOGY_MAX_FILTER_VALUES', 1_000, 'count',
    'comma-separated values of one `in` or `not-in` compose filter; more is 400 too-costly (list the concepts in include.concept instead)', 1),
  terminologyMaxCodeBytes: limit('TERMINOLOGY_MAX_CODE_BYTES', 1_024, 'bytes',
    'one concept code or property code (UTF-8) of a code system written or imported; longer is 422 naming the concept (codes are indexed; longer ones would not fit an index entry)', 64),

  // ── Patient-registration mediator ────────────────────────────────────────────────────────
  registrationBodyBytes: limit('PATIENT_REGISTRATION_BODY_LIMIT_BYTES', 4 * MB, 'bytes',
    'a registration or visit body sent to the patient-registration mediator; past it 413', 1 * KB),

  // ── Care services (facility and health worker registries, mCSD) ────────────────────────
  careNearMaxKm: limit('CARE_SERVICES_NEAR_MAX_KM', 1_000, 'count',
    'distance (km) of one Location `near` search; farther is 400, so one search cannot rank every location of the registry by distance'),
  careHierarchyMaxDepth: limit('CARE_SERVICES_HIERARCHY_MAX_DEPTH', 32, 'count',
    'levels of a Location or Organization `partOf` chain: a write that would make it deeper is 422 (the levels above the written resource plus those of its subtree, so joining two chains counts both), and `:below`/`:above` walks stop there'),
  careConsumerMaxPageBytes: limit('CARE_SERVICES_CONSUMER_MAX_PAGE_BYTES', 32 * MB, 'bytes',
    'one `_history` page the mCSD update consumer reads from its source; past it the run stops with an error (nothing of that page is applied)', 1 * KB),
  careConsumerMaxPageEntries: limit('CARE_SERVICES_CONSUMER_MAX_PAGE_ENTRIES', 5_000, 'count',
    'entries of one `_history` page the mCSD update consumer reads; more is an error for the run, so a source cannot hand it an unbounded page'),

  // ── Interoperability layer ──────────────────────────────────────────────────────────────
  routerMaxBodyBytes: limit('OPENHIM_ROUTER_MAX_BODY_BYTES', 50 * MB, 'bytes', 'a request or upstream response body through the router; past it 413 (502 for a response)'),
  routerMaxInflightBytes: limit('OPENHIM_ROUTER_MAX_INFLIGHT_BYTES', 128 * MB, 'bytes',
    'request and response bodies the router holds at once, counted only once a request is authenticated (or, anonymous on a public channel, as its bytes arrive); past it 503 with Retry-After', 16 * KB),
  routerSlowRequestMs: limit('OPENHIM_ROUTER_SLOW_REQUEST_MS', 1_000, 'ms',
    'a routed request that takes longer counts its whole time against its client\'s slow-time budget', 100),
  routerClientSlowBudgetMs: limit('OPENHIM_ROUTER_CLIENT_SLOW_BUDGET_MS', 20_000, 'ms',
    'time one client\'s slow requests may take per minute; past it that client gets 429 with Retry-After until the minute is over, so one client\'s costly requests cannot hold the exchange', 1_000),
  routerRequestTimeoutMs: limit('OPENHIM_ROUTER_REQUEST_TIMEOUT_MS', 60_000, 'ms', 'time a router client has to send its whole request; then 408', 100),
  maxStoredBodyBytes: limit('OPENHIM_MAX_STORED_BODY_BYTES', 1 * MB, 'bytes', 'each body stored in the transaction log; longer ones are cut and marked truncated', 0),
  apiBodyBytes: limit('OPENHIM_API_BODY_LIMIT_BYTES', 16 * MB, 'bytes', 'a request body on the admin API; past it 413', 1 * KB),
  apiMaxFilterLimit: limit('OPENHIM_API_MAX_FILTER_LIMIT', 1_000, 'count', 'filterLimit of one page of transactions, audits or tasks; larger values are lowered to it, and filterLimit=0 (OpenHIM\'s "no limit") gives it'),
  loginMaxFailures: limit('OPENHIM_LOGIN_MAX_FAILURES', 10, 'count',
    'failed logins for one user from one address within OPENHIM_LOGIN_WINDOW_MS; then 429 for that user from that address until the window passes'),
  loginMaxFailuresPerAddress: limit('OPENHIM_LOGIN_MAX_FAILURES_PER_ADDRESS', 100, 'count',
    'failed logins for any users from one address (an IPv6 /64 counts as one) within the window (password spraying); then 429 for every login from it'),
  loginMaxFailuresPerUser: limit('OPENHIM_LOGIN_MAX_FAILURES_PER_USER', 100, 'count',
    'failed logins for one user from all addresses within the window (distributed guessing); then 429 for that user, except from addresses it logged in from in the last 30 days'),
  loginWindowMs: limit('OPENHIM_LOGIN_WINDOW_MS', 15 * 60_000, 'ms', 'window in which failed logins are counted', 1_000),
  apiMaxEventTransactions: limit('OPENHIM_API_MAX_EVENT_TRANSACTIONS', 1_000, 'count',
    'transactions one GET /events/:receivedTime turns into visualizer events (the newest first); the feed covers at most the last hour, as OpenHIM keeps events an hour'),
  apiMaxEvents: limit('OPENHIM_API_MAX_EVENTS', 20_000, 'count',
    'visualizer events one GET /events/:receivedTime returns, the earliest first (a transaction with 100 routes makes 400); ask again from the last one\'s normalizedTimestamp for the rest'),
  maxApps: limit('OPENHIM_MAX_APPS', 200, 'count', 'console apps registered (/apps; the list is public and sent whole, icons included); past it POST is 400'),
  maxVisualizers: limit('OPENHIM_MAX_VISUALIZERS', 1_000, 'count', 'visualizers stored (/visualizers); past it POST is 400'),
  apiMaxPageBytes: limit('OPENHIM_API_MAX_PAGE_BYTES', 32 * MB, 'bytes',
    'request and response bodies, and routes and orchestrations (as JSON), one page of GET /transactions (full, fulltruncate) carries; the transactions past it come without their bodies (their routes\' and orchestrations\' too), marked bodiesOmitted (GET /transactions/:id has them); the first one always has its bodies', 1 * KB),
  // ── the web console (src/services/console) ──────────────────────────────────────────────
  consoleSessionIdleMs: limit('CONSOLE_SESSION_TTL_MS', 2 * 60 * 60_000, 'ms',
    'idle lifetime of a console session; then the console asks the user to log in again', 60_000),
  consoleMaxSessions: limit('CONSOLE_MAX_SESSIONS', 10_000, 'count',
    'console sessions held at once; past it expired ones go first, then the oldest'),
  consoleProxyBodyBytes: limit('CONSOLE_PROXY_BODY_BYTES', 16 * MB, 'bytes',
    'a request body the console passes to the admin API; past it 413', 1 * KB),
  consoleMaxSessionsPerUser: limit('CONSOLE_MAX_SESSIONS_PER_USER', 20, 'count',
    'console sessions of one user at once; past it that user\'s own oldest session goes (and is logged out on the admin API)'),
  consoleLoginMaxFailures: limit('CONSOLE_LOGIN_MAX_FAILURES', 5, 'count',
    'failed console logins for one user from one browser address within CONSOLE_LOGIN_WINDOW_MS; then 429 from the console, before the admin API is asked'),
  consoleLoginMaxFailuresPerAddress: limit('CONSOLE_LOGIN_MAX_FAILURES_PER_ADDRESS', 20, 'count',
    'failed console logins for any users from one browser address within the window; then 429 for every console login from it'),
  consoleLoginWindowMs: limit('CONSOLE_LOGIN_WINDOW_MS', 15 * 60_000, 'ms', 'window in which the console counts failed logins', 1_000),
  routerTcpMaxMessageBytes: limit('OPENHIM_ROUTER_TCP_MAX_MESSAGE_BYTES', 1 * MB, 'bytes',
    'one message on a tcp channel (MLLP frame content), and its upstream\'s answer; past it the connection is closed (nothing of the message is routed)', 1 * KB),
  routerTcpMaxConnections: limit('OPENHIM_ROUTER_TCP_MAX_CONNECTIONS', 100, 'count',
    'open connections on each tcp channel\'s port; past it the oldest connection not processing a message is closed to make room', 1),
  routerTcpIdleTimeoutMs: limit('OPENHIM_ROUTER_TCP_IDLE_TIMEOUT_MS', 5 * 60_000, 'ms',
    'time a tcp channel connection has to complete its next message (after connecting or after the last answer); then it is closed', 100),
  auditMaxMessageBytes: limit('OPENHIM_AUDIT_MAX_MESSAGE_BYTES', 256 * KB, 'bytes',
    'one ATNA audit message received over syslog (UDP datagram, or TCP/TLS message), at most 1 MiB; past it the datagram is dropped, the connection closed', 1 * KB),
  auditMaxConnections: limit('OPENHIM_AUDIT_MAX_CONNECTIONS', 100, 'count',
    'open connections on each ATNA audit port (TCP, TLS); past it the oldest connection not storing a message is closed to make room', 1),
  auditMaxMessagesPerSecond: limit('OPENHIM_AUDIT_MAX_MESSAGES_PER_SECOND', 500, 'count',
    'ATNA audit messages stored a second over syslog from one sender address (bursts of twice it); past it its messages are dropped and counted, so a flood (or a sender gone, its backlog still queued) costs what dropping costs and never spends another sender\'s budget', 1),
  auditIdleTimeoutMs: limit('OPENHIM_AUDIT_IDLE_TIMEOUT_MS', 5 * 60_000, 'ms',
    'time an ATNA audit connection may stay silent (after connecting or after its last message); then it is closed', 100),
  keystorePemBytes: limit('OPENHIM_KEYSTORE_MAX_PEM_BYTES', 64 * KB, 'bytes',
    'one PEM posted to the keystore API (a server certificate, a key, or a chain of trusted certificates); past it 400, and a body over twice it 413 before it is read', 1 * KB),
  keystoreMaxTrusted: limit('OPENHIM_KEYSTORE_MAX_TRUSTED_CERTS', 500, 'count',
    'certificates in the keystore\'s trusted list (`/keystore/ca`, what mutual TLS trusts); past it adding one is refused with 400'),
  keystoreKeyDecryptTimeoutMs: limit('OPENHIM_KEYSTORE_KEY_DECRYPT_TIMEOUT_MS', 2_000, 'ms',
    'decrypting an encrypted keystore key (its PBKDF2 iteration count is the key\'s own), on a worker thread, once per key and passphrase; past it the key is refused with 400', 100),
  clientBcryptMaxCost: limit('OPENHIM_CLIENT_BCRYPT_MAX_COST', 10, 'count',
    'cost factor a client\'s bcrypt password hash may carry (each step doubles the router\'s verification time); a higher one is refused with 400 when stored, and a stored one above it never verifies', 4),
  routerMatchContentMaxBytes: limit('OPENHIM_ROUTER_MATCH_CONTENT_MAX_BYTES', 1 * MB, 'bytes',
    'a request body the router parses to test a channel\'s matchContentXpath or matchContentJson rule (parsed once per request, only for channels the caller may use; the XML parse stops after 250 ms, each XPath after 50 ms); a longer body matches no such channel', 0),
  restoreMaxArchiveBytes: limit('INSTANT_RESTORE_MAX_ARCHIVE_BYTES', 2 * 1024 * MB, 'bytes',
    'an embedded database archive `instant restore` unpacks, decompressed (it is unpacked in memory); past it the restore stops, nothing changed', 1 * MB),
  transactionMaxParts: limit('OPENHIM_TRANSACTION_MAX_PARTS', 100, 'count',
    'routes and orchestrations (the transaction\'s and its routes\') one transaction stores; POST or PUT /transactions past it is 400, and a mediator answer\'s orchestrations past it are cut, the last kept one a marker naming how many were left out'),
  clientBcryptMaxConcurrent: limit('OPENHIM_CLIENT_BCRYPT_MAX_CONCURRENT', 2, 'count',
    'bcrypt client password verifications running at once in a router process (bcryptjs runs on the event loop and a wrong password is never cached); past it the login fails at once with 401 (a password verified before is answered from the cache)', 1),
} as const satisfies Record<string, LimitDefinition>;

export type LimitName = keyof typeof LIMITS;
export type Limits = { readonly [K in LimitName]: number };

/** Anything that can read an integer setting (the platform's Settings, or process.env). */
export interface IntegerSettings {
  int(name: string, fallback?: number): number;
}

/** Every limit, from settings where given, else the default; a value below its minimum is an error. */
export function readLimits(settings: IntegerSettings): Limits {
  const out: Record<string, number> = {};
  for (const [name, definition] of Object.entries(LIMITS) as Array<[LimitName, LimitDefinition]>) {
    const value = settings.int(definition.setting, definition.default);
    if (value < definition.min) {
      throw new InstantError('INSTANT_SETTING_INVALID', `setting ${definition.setting}=${value} is below its minimum ${definition.min} (${definition.unit})`,
        `raise it, or unset it for the default ${definition.default}`);
    }
    out[name] = value;
  }
  return out as Limits;
}

/** The defaults alone (tests, and code that runs before settings are resolved). */
export const DEFAULT_LIMITS: Limits = Object.fromEntries(
  Object.entries(LIMITS).map(([name, definition]) => [name, definition.default]),
) as Limits;

/** Limits from the process environment (for code that starts before a deployment's settings). */
export function limitsFromEnvironment(env: NodeJS.ProcessEnv = process.env): Limits {
  return readLimits({
    int(name, fallback) {
      const raw = env[name];
      if (raw === undefined || raw === '') return fallback ?? 0;
      const value = Number(raw);
      if (!Number.isInteger(value)) throw new InstantError('INSTANT_SETTING_INVALID', `setting ${name}="${raw}" is not a whole number`);
      return value;
    },
  });
}
