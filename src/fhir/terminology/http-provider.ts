/**
 * A terminology service in another process, asked over HTTP (undici) with the FHIR terminology
 * operations any server of them speaks (this project's, Ontoserver, Snowstorm, HAPI):
 * - binding checks: `ValueSet/$validate-code` with url, system and code (POSTed: a code of any
 *   length fits, where a query string would be refused for its length and leave the code unjudged);
 * - `:in`/`:not-in`: `ValueSet/$expand?url=` read in pages (`count`/`offset`), stopping once the
 *   engine's bound is passed; a `total` above it is refused from the first page;
 * - `:below`: the is-a closure as the implicit value set `system?fhir_vs=isa/code`;
 * - `:above`: an inline value set with the filter `concept generalizes code` (POST `$expand`).
 * Every call has a deadline and a size cap (src/common/limits.ts, FHIR_TERMINOLOGY_*), answers are
 * kept in a bounded cache with a TTL. A value set or code the service does not know (404) is
 * `undefined`, for the core R4 terminology behind it to answer; a service that does not answer
 * (unreachable, timeout, 5xx, too large, not FHIR) is a 503 FhirError: writes that need it are
 * refused, not accepted unchecked, and searches fail the same way.
 */
import { Agent } from 'undici';
import type { Limits } from '../../common/limits.js';
import { FhirError, tooCostly } from '../outcome.js';
import { AnswerCache } from './answer-cache.js';
import type { CodeSet, Concept, TerminologyProvider, TerminologyQueryOptions } from './provider.js';

/** Members read per $expand page. */
const EXPAND_PAGE = 1_000;
/** Questions with longer keys (a client's kilobyte-long code) are asked each time, not kept. */
const MAX_CACHED_KEY = 2_048;

export interface HttpTerminologyOptions {
  /** The terminology service's FHIR base, e.g. http://terminology:3451/terminology/fhir. */
  baseUrl: string;
  limits: Pick<Limits, 'fhirTerminologyTimeoutMs' | 'fhirTerminologyMaxResponseBytes' | 'fhirTerminologyCacheSize' | 'fhirTerminologyCacheTtlMs'>;
}

interface Answer {
  status: number;
  body: Record<string, unknown> | undefined;
}

type Json = Record<string, unknown>;

/** Why the service could not answer, in the 503's message. */
function unavailable(reason: string): FhirError {
  return new FhirError(503, 'FHIR_UNAVAILABLE', `the terminology service is unavailable (${reason}); nothing was stored or searched: retry later`);
}

export class HttpTerminologyProvider implements TerminologyProvider {
  private readonly agent: Agent;
  private readonly origin: string;
  private readonly basePath: string;
  private readonly cache: AnswerCache<unknown>;

  constructor(private readonly options: HttpTerminologyOptions) {
    const url = new URL(options.baseUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`terminology URL ${options.baseUrl} is not http(s)`);
    this.origin = url.origin;
    this.basePath = url.pathname.replace(/\/+$/, '');
    const timeout = options.limits.fhirTerminologyTimeoutMs;
    this.agent = new Agent({ keepAliveTimeout: 10_000, connections: 32, connect: { timeout } });
    this.cache = new AnswerCache(options.limits.fhirTerminologyCacheSize, options.limits.fhirTerminologyCacheTtlMs);
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  async validateCode(valueSetUrl: string, coding: Concept): Promise<boolean | undefined> {
    return this.cached(`validate ${valueSetUrl} ${coding.system} ${coding.code}`, 1, async () => {
      const answer = await this.call('POST', 'ValueSet/$validate-code', undefined, {
        resourceType: 'Parameters',
        parameter: [{ name: 'url', valueUri: valueSetUrl }, { name: 'system', valueUri: coding.system }, { name: 'code', valueCode: coding.code }],
      });
      // 404: a value set (or code system) it does not know; other 4xx: one it cannot evaluate. Both are for the core terminology.
      if (answer.status >= 400) return undefined;
      const result = parameter(answer.body, 'result');
      if (typeof result?.valueBoolean !== 'boolean') throw unavailable('its $validate-code answer has no boolean "result"');
      return result.valueBoolean;
    });
  }

  expand(valueSetUrl: string, options: TerminologyQueryOptions): Promise<CodeSet | undefined> {
    return this.cachedSet(`expand ${valueSetUrl} ${options.limit}`, () => this.expandPages(
      (count, offset) => this.call('GET', 'ValueSet/$expand', new URLSearchParams({ url: valueSetUrl, count: String(count), offset: String(offset) })),
      `value set ${valueSetUrl.slice(0, 200)}`, options.limit));
  }

  descendants(system: string, code: string, options: TerminologyQueryOptions): Promise<CodeSet | undefined> {
    return this.expand(`${system}?fhir_vs=isa/${code}`, options).then(emptyIsUnknown);
  }

  ancestors(system: string, code: string, options: TerminologyQueryOptions): Promise<CodeSet | undefined> {
    const valueSet = { resourceType: 'ValueSet', status: 'active', compose: { include: [{ system, filter: [{ property: 'concept', op: 'generalizes', value: code }] }] } };
    return this.cachedSet(`ancestors ${system} ${code} ${options.limit}`, () => this.expandPages(
      (count, offset) => this.call('POST', 'ValueSet/$expand', undefined, {
        resourceType: 'Parameters',
        parameter: [{ name: 'valueSet', resource: valueSet }, { name: 'count', valueInteger: count }, { name: 'offset', valueInteger: offset }],
      }), `the codes above ${system.slice(0, 200)}|${code.slice(0, 100)}`, options.limit)).then(emptyIsUnknown);
  }

  /** An expansion read page by page, at most limit + 1 codes (the engine refuses more). */
  private async expandPages(page: (count: number, offset: number) => Promise<Answer>, what: string, limit: number): Promise<CodeSet | undefined> {
    const codes: Concept[] = [];
    for (let offset = 0; codes.length <= limit;) {
      const count = Math.min(EXPAND_PAGE, limit + 1 - codes.length);
      const answer = await page(count, offset);
      if (answer.status === 404) return undefined;
      if (answer.status >= 400) {
        // The search's value is at fault (a value set the service cannot expand): a 400, as in process.
        throw new FhirError(400, 'FHIR_UNKNOWN_TERMINOLOGY', `${what}: the terminology service answered ${answer.status}: ${outcomeText(answer.body)}`);
      }
      const expansion = answer.body?.expansion as { total?: unknown; contains?: unknown } | undefined;
      if (!expansion || typeof expansion !== 'object') throw unavailable('its $expand answer has no expansion');
      if (typeof expansion.total === 'number' && expansion.total > limit) {
        throw tooCostly(`${what} has ${expansion.total} members, more than this search may use (${limit}; setting FHIR_SEARCH_MAX_TERMINOLOGY_CODES): use a smaller value set or a narrower code`);
      }
      const before = codes.length;
      flatten(expansion.contains, codes, limit + 1);
      const read = codes.length - before;
      offset += count;
      if (read < count || (typeof expansion.total === 'number' && offset >= expansion.total)) break;
    }
    return codes.slice(0, limit + 1);
  }

  private async cached<T>(key: string, weight: number, ask: () => Promise<T>): Promise<T> {
    const hit = this.cache.get(key);
    if (hit) return hit.value as T;
    const value = await ask();
    if (key.length <= MAX_CACHED_KEY) this.cache.set(key, value, weight);
    return value;
  }

  private async cachedSet(key: string, ask: () => Promise<CodeSet | undefined>): Promise<CodeSet | undefined> {
    const hit = this.cache.get(key);
    if (hit) return hit.value as CodeSet | undefined;
    const value = await ask();
    if (key.length <= MAX_CACHED_KEY) this.cache.set(key, value, 1 + (value?.length ?? 0));
    return value;
  }

  /** One call with its deadline and size cap; a 5xx, a failure to answer or a non-JSON answer is a 503. */
  private async call(method: 'GET' | 'POST', operation: string, query?: URLSearchParams, body?: unknown): Promise<Answer> {
    const { fhirTerminologyTimeoutMs: timeout, fhirTerminologyMaxResponseBytes: maxBytes } = this.options.limits;
    const signal = AbortSignal.timeout(timeout);
    let response;
    try {
      response = await this.agent.request({
        origin: this.origin,
        path: `${this.basePath}/${operation}${query ? `?${query}` : ''}`,
        method,
        headers: { accept: 'application/fhir+json', ...(body ? { 'content-type': 'application/fhir+json' } : {}) },
        body: body ? JSON.stringify(body) : null,
        headersTimeout: timeout,
        bodyTimeout: timeout,
        signal,
      });
    } catch (error) {
      throw unavailable(failureReason(error, signal, timeout));
    }
    const declared = Number(response.headers['content-length']);
    if (declared > maxBytes) {
      response.body.destroy();
      throw unavailable(`its answer is larger than ${maxBytes} bytes (FHIR_TERMINOLOGY_MAX_RESPONSE_BYTES)`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of response.body) {
        size += (chunk as Buffer).length;
        if (size > maxBytes) {
          response.body.destroy();
          throw unavailable(`its answer is larger than ${maxBytes} bytes (FHIR_TERMINOLOGY_MAX_RESPONSE_BYTES)`);
        }
        chunks.push(chunk as Buffer);
      }
    } catch (error) {
      if (error instanceof FhirError) throw error;
      throw unavailable(failureReason(error, signal, timeout));
    }
    if (response.statusCode >= 500) throw unavailable(`it answered ${response.statusCode}`);
    let parsed: unknown;
    try {
      parsed = size ? JSON.parse(Buffer.concat(chunks, size).toString('utf8')) : undefined;
    } catch {
      throw unavailable(`its answer (${response.statusCode}) is not JSON`);
    }
    if (response.statusCode < 400 && (!parsed || typeof parsed !== 'object')) throw unavailable(`its answer (${response.statusCode}) is not a FHIR resource`);
    return { status: response.statusCode, body: parsed && typeof parsed === 'object' ? parsed as Json : undefined };
  }
}

function failureReason(error: unknown, signal: AbortSignal, timeoutMs: number): string {
  const code = (error as { code?: string })?.code;
  if (signal.aborted || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return `no answer within ${timeoutMs} ms (FHIR_TERMINOLOGY_TIMEOUT_MS)`;
  }
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH') return 'it cannot be reached';
  return 'the connection failed';
}

function parameter(body: Json | undefined, name: string): Json | undefined {
  const list = body?.parameter;
  return Array.isArray(list) ? (list as Json[]).find((p) => p?.name === name) : undefined;
}

function outcomeText(body: Json | undefined): string {
  const issue = Array.isArray(body?.issue) ? (body!.issue as Json[])[0] : undefined;
  const text = (issue?.details as { text?: unknown } | undefined)?.text ?? issue?.diagnostics;
  return typeof text === 'string' ? text.slice(0, 300) : 'no details';
}

/** The members of an expansion (nested `contains` too), up to `max`. */
function flatten(contains: unknown, into: Concept[], max: number, depth = 0): void {
  if (!Array.isArray(contains) || depth > 20) return;
  for (const entry of contains as Json[]) {
    if (into.length >= max) return;
    if (typeof entry?.system === 'string' && typeof entry.code === 'string') into.push({ system: entry.system, code: entry.code });
    if (entry?.contains) flatten(entry.contains, into, max, depth + 1);
  }
}

/** An is-a closure always holds the code itself: none means the code is unknown there. */
function emptyIsUnknown(set: CodeSet | undefined): CodeSet | undefined {
  return set?.length ? set : undefined;
}
