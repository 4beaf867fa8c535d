/**
 * PMIR ITI-93 Mobile Patient Identity Feed: `POST [base]` with a Bundle of type `message` whose
 * MessageHeader (event `urn:ihe:iti:pmir:2019:patient-feed`) focuses a Bundle of type `history`
 * of Patient (and RelatedPerson, for a newborn's mother) entries: POST creates, PUT updates, DELETE
 * deletes, and a PUT of a Patient with `active=false` and a `replaced-by` link merges it into the
 * linked record. The whole feed is one database transaction: applied entirely or not at all, but
 * for an unmerge attempt (a PUT dropping `replaced-by`), which ITI-93 answers 405 in its entry.
 * The answer is a message Bundle whose MessageHeader.response says `ok`, `fatal-error` (the
 * feed is wrong: do not resend it unchanged) or `transient-error` (try again), with an
 * OperationOutcome naming the problem.
 */
import { randomUUID } from 'node:crypto';
import type { Bundle, BundleEntry, MessageHeader, OperationOutcome, Patient, Resource } from '@medplum/fhirtypes';
import { processBundle } from '../../fhir/bundle.js';
import type { FhirRequest, FhirResponse } from '../../fhir/interaction.js';
import type { OperationRegistry } from '../../fhir/operations/registry.js';
import { FhirError, badRequest } from '../../fhir/outcome.js';
import type { FhirRepository } from '../../fhir/repository.js';
import { errorResponse } from '../../fhir/engine.js';
import { referencedId } from './golden-record.js';
import { readPatient } from './linker.js';
import { replacedBy } from './registry-ownership.js';
import type { PatientMerger } from './merge.js';
import { messageDigest, messageKey, type PmirMessageLog } from './pmir-messages.js';
import { callerName, currentSender } from './request-context.js';

export const PMIR_FEED_EVENT = 'urn:ihe:iti:pmir:2019:patient-feed';
export const PMIR_FEED_RESPONSE_EVENT = 'urn:ihe:iti:pmir:2019:patient-feed-response';
const FEED_TYPES = new Set(['Patient', 'RelatedPerson']);
/** The PMIR 1.5 response profile and message definition, which the answer's MessageHeader declares. */
const RESPONSE_HEADER_PROFILE = 'https://profiles.ihe.net/ITI/PMIR/StructureDefinition/IHE.PMIR.MessageHeader.Response';
const RESPONSE_DEFINITION = 'https://profiles.ihe.net/ITI/PMIR/MessageDefinition/IHE.PMIR.MessageDefinition.Response';

const PROCESS_MESSAGE = '$process-message';

/**
 * The request as a message to apply, or undefined when it is none: a message Bundle POSTed to the
 * base (PMIR) or to FHIR messaging's own endpoint, [base]/$process-message (R4 messaging.html),
 * which, as any operation whose one resource input is `content`, takes it as the body or as the
 * `content` parameter of a Parameters. Any other POST to $process-message is a 400.
 */
export function messageRequest(request: FhirRequest): FhirRequest | undefined {
  const path = request.path.replace(/^\/+|\/+$/g, '');
  if (request.method !== 'POST' || (path !== '' && path !== PROCESS_MESSAGE)) return undefined;
  let body = request.body as { resourceType?: unknown; type?: unknown; parameter?: unknown } | undefined;
  let asksAsync = path === PROCESS_MESSAGE && request.query.some(([name, value]) => name === 'async' && value === 'true');
  if (path === PROCESS_MESSAGE && body?.resourceType === 'Parameters' && Array.isArray(body.parameter)) {
    const parameters = body.parameter as Array<{ name?: unknown; resource?: unknown; valueBoolean?: unknown } | null>;
    const contents = parameters.filter((p) => p?.name === 'content');
    asksAsync ||= parameters.some((p) => p?.name === 'async' && p.valueBoolean === true);
    body = contents.length === 1 ? contents[0]!.resource as typeof body : undefined;
  }
  // Asynchronous messaging would send the response message to a URL of the sender's choosing
  // later; this registry answers every message in the response (PMIR's synchronous exchange).
  if (asksAsync) throw new FhirError(400, 'FHIR_NOT_SUPPORTED', `${PROCESS_MESSAGE} is synchronous here: the response message is the answer; send it without async=true`);
  if (body?.resourceType === 'Bundle' && body.type === 'message') return { ...request, body };
  if (path === PROCESS_MESSAGE) throw new FhirError(400, 'FHIR_BAD_REQUEST', `${PROCESS_MESSAGE} takes a Bundle of type message, as the body or as the one "content" parameter of a Parameters`);
  return undefined;
}

interface FeedEntry {
  index: number;
  method: 'POST' | 'PUT' | 'DELETE';
  type: string;
  id?: string;
  fullUrl?: string;
  resource?: Resource;
}

interface Feed {
  header: MessageHeader;
  entries: FeedEntry[];
}

const invalid = (text: string) => new FhirError(400, 'FHIR_INVALID_RESOURCE', `PMIR feed: ${text}`);

/** The MessageHeader of a message bundle, when there is one (to answer even a wrong feed as a message). */
function headerOf(message: Bundle): MessageHeader | undefined {
  const first = Array.isArray(message.entry) ? message.entry[0]?.resource : undefined;
  return first?.resourceType === 'MessageHeader' ? (first as MessageHeader) : undefined;
}

function readFeed(message: Bundle, maxEntries: number): Feed {
  const header = headerOf(message);
  if (!header) throw invalid('the first entry of a message Bundle must be its MessageHeader');
  if (header.eventUri !== PMIR_FEED_EVENT) throw invalid(`MessageHeader.eventUri must be ${PMIR_FEED_EVENT}, not "${String(header.eventUri ?? header.eventCoding?.code ?? '').slice(0, 200)}"`);
  const focus = header.focus?.[0]?.reference;
  const history = (message.entry ?? []).find((e) => focus && e.fullUrl === focus)?.resource as Bundle | undefined;
  if (!history || history.resourceType !== 'Bundle' || history.type !== 'history') throw invalid('MessageHeader.focus must reference (by fullUrl) an entry holding a Bundle of type history');
  const entries = history.entry ?? [];
  if (!Array.isArray(entries) || !entries.length) throw invalid('the history Bundle has no entries');
  if (entries.length > maxEntries) throw new FhirError(413, 'FHIR_TOO_COSTLY', `PMIR feed: ${entries.length} entries; at most ${maxEntries} in one feed (FHIR_BUNDLE_MAX_ENTRIES)`);
  return { header, entries: entries.map((entry, index) => readEntry(entry, index)) };
}

function readEntry(entry: BundleEntry, index: number): FeedEntry {
  const method = entry?.request?.method;
  if (method !== 'POST' && method !== 'PUT' && method !== 'DELETE') throw invalid(`history entry ${index}: request.method must be POST, PUT or DELETE`);
  const [type, id] = String(entry.request?.url ?? '').replace(/^.*?\b(Patient|RelatedPerson)\//, '$1/').split(/[/?]/);
  const resourceType = entry.resource?.resourceType ?? type;
  if (!resourceType || !FEED_TYPES.has(resourceType)) throw invalid(`history entry ${index}: a PMIR feed carries Patient and RelatedPerson resources only`);
  if (method !== 'POST' && !(id && /^[A-Za-z0-9\-.]{1,64}$/.test(id))) throw invalid(`history entry ${index}: ${method} needs request.url ${resourceType}/<id>`);
  if (method !== 'DELETE' && entry.resource?.resourceType !== resourceType) throw invalid(`history entry ${index}: ${method} needs the ${resourceType} resource`);
  return { index, method, type: resourceType, ...(method !== 'POST' ? { id } : {}), ...(entry.fullUrl ? { fullUrl: entry.fullUrl } : {}), ...(entry.resource ? { resource: entry.resource } : {}) };
}

/** A PUT of a Patient that marks it merged (PMIR's merge): inactive, replaced-by another record. */
function mergeTarget(entry: FeedEntry): string | undefined {
  if (entry.method !== 'PUT' || entry.type !== 'Patient') return undefined;
  const link = (entry.resource as Patient).link?.find((l) => l.type === 'replaced-by');
  return link?.other?.reference;
}

/**
 * PUTs of a Patient the registry holds merged (`replaced-by`) that leave the link out: an unmerge,
 * which ITI-93 (2:3.93.4.1.3) does not support. Each is answered 405 in its own entry, not applied,
 * and the rest of the feed goes on; `Patient/$cr-unmerge` is the registry's way to undo a merge.
 */
async function unmergeAttempts(repo: FhirRepository, entries: readonly FeedEntry[]): Promise<Set<FeedEntry>> {
  const attempts = new Set<FeedEntry>();
  for (const entry of entries) {
    if (entry.method !== 'PUT' || entry.type !== 'Patient' || mergeTarget(entry)) continue;
    const current = await readPatient(repo, entry.id!);
    if (replacedBy(current)) attempts.add(entry);
  }
  return attempts;
}

function unmergeRefused(entry: FeedEntry): BundleEntry {
  const text = `history entry ${entry.index}: Patient/${entry.id} is merged (replaced-by); an unmerge is not supported by the PMIR feed (ITI-93): the entry was not applied. A data steward undoes a merge with Patient/$cr-unmerge`;
  return { response: { status: '405 Method Not Allowed', outcome: { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-supported', diagnostics: text }] } } };
}

function responseMessage(request: MessageHeader | undefined, baseUrl: string, code: 'ok' | 'fatal-error' | 'transient-error', focus: Resource): Bundle {
  const focusUrl = `urn:uuid:${randomUUID()}`;
  const header: MessageHeader = {
    resourceType: 'MessageHeader',
    id: randomUUID(),
    meta: { profile: [RESPONSE_HEADER_PROFILE] },
    eventUri: PMIR_FEED_RESPONSE_EVENT,
    definition: RESPONSE_DEFINITION,
    source: { endpoint: baseUrl },
    response: { identifier: request?.id ?? 'unknown', code, ...(focus.resourceType === 'OperationOutcome' ? { details: { reference: focusUrl } } : {}) },
    ...(focus.resourceType === 'Bundle' ? { focus: [{ reference: focusUrl }] } : {}),
  };
  return {
    resourceType: 'Bundle', id: randomUUID(), type: 'message', timestamp: new Date().toISOString(),
    entry: [{ fullUrl: `urn:uuid:${header.id}`, resource: header }, { fullUrl: focusUrl, resource: focus }],
  };
}

export class PmirFeed {
  constructor(
    private readonly merger: PatientMerger,
    private readonly operations: OperationRegistry,
    private readonly software: { name: string; version: string },
    private readonly messages: PmirMessageLog,
  ) {}

  /** Answers a message Bundle; never throws (a wrong feed is a fatal-error message with its 4xx). */
  async handle(repo: FhirRepository, request: FhirRequest): Promise<FhirResponse> {
    const message = request.body as Bundle;
    try {
      const feed = readFeed(message, repo.limits.fhirBundleMaxEntries);
      const results = await repo.transaction((tx) => this.applyOnce(tx, request, feed, message));
      return { status: 200, resource: responseMessage(feed.header, repo.baseUrl, 'ok', results) };
    } catch (error) {
      const failure = errorResponse(error);
      const code = failure.status >= 500 ? 'transient-error' : 'fatal-error';
      return { status: failure.status, resource: responseMessage(headerOf(message), repo.baseUrl, code, failure.resource as OperationOutcome), ...(failure.headers ? { headers: failure.headers } : {}) };
    }
  }

  /**
   * A message is applied once (pmir-messages.ts): a resend of the same message (same sender, same
   * MessageHeader.id from the same source endpoint, same body) is answered with the first copy's
   * results and changes nothing; the id on another body is a 409 fatal-error.
   */
  private async applyOnce(repo: FhirRepository, request: FhirRequest, feed: Feed, message: Bundle): Promise<Bundle> {
    const id = typeof feed.header.id === 'string' && feed.header.id ? messageKey(currentSender(), feed.header.source?.endpoint, feed.header.id) : undefined;
    if (!id) return this.apply(repo, request, feed);
    const claim = await this.messages.claim(repo.sql, id, messageDigest(message));
    if (claim.kind === 'resent') return claim.results;
    if (claim.kind === 'other-body') {
      throw new FhirError(409, 'FHIR_CONFLICT', `PMIR feed: MessageHeader.id ${feed.header.id!.slice(0, 100)} was already used for another message from ${(feed.header.source?.endpoint ?? '(no endpoint)').slice(0, 200)} by ${callerName()}; a message id names one message`);
    }
    const results = await this.apply(repo, request, feed);
    await this.messages.recordResults(repo.sql, id, results);
    return results;
  }

  private async apply(repo: FhirRepository, request: FhirRequest, feed: Feed): Promise<Bundle> {
    const unmerges = await unmergeAttempts(repo, feed.entries);
    const merges = feed.entries.filter((e) => mergeTarget(e));
    const writes = feed.entries.filter((e) => !mergeTarget(e) && !unmerges.has(e));
    // Creates, updates and deletes as one transaction bundle: it resolves the references between
    // entries (a newborn's RelatedPerson pointing at the newborn) by fullUrl.
    const transaction: Bundle = {
      resourceType: 'Bundle', type: 'transaction',
      entry: writes.map((e) => ({
        ...(e.fullUrl ? { fullUrl: e.fullUrl } : {}),
        ...(e.resource && e.method !== 'DELETE' ? { resource: e.resource } : {}),
        request: { method: e.method, url: e.method === 'POST' ? e.type : `${e.type}/${e.id}` },
      })),
    };
    const written = writes.length
      ? await processBundle({ repo, operations: this.operations, request: { ...request, headers: { prefer: request.headers.prefer } }, software: this.software }, transaction)
      : { resourceType: 'Bundle', type: 'transaction-response' } as Bundle;
    const idsByFullUrl = new Map<string, string>();
    writes.forEach((e, n) => {
      const location = written.entry?.[n]?.response?.location;
      const id = location ? /^(?:.*\/)?Patient\/([^/]+)/.exec(location)?.[1] : undefined;
      if (e.fullUrl && id) idsByFullUrl.set(e.fullUrl, id);
    });
    const results: BundleEntry[] = [];
    writes.forEach((e, n) => { results[e.index] = written.entry?.[n] ?? {}; });
    for (const entry of unmerges) results[entry.index] = unmergeRefused(entry);
    for (const entry of merges) {
      const reference = mergeTarget(entry)!;
      const target = idsByFullUrl.get(reference) ?? referencedId({ type: 'replaced-by', other: { reference: reference.replace(/^.*\/(Patient\/[^/]+)$/, '$1') } });
      if (!target) throw badRequest(`history entry ${entry.index}: the replaced-by link must reference Patient/<id> or an entry of this feed`, 'FHIR_INVALID_RESOURCE');
      await this.merger.merge(repo, entry.id!, target, 'PMIR ITI-93');
      // As any update's entry (R4 Bundle.entry.response): the version written, its ETag and time.
      const merged = await repo.read('Patient', entry.id!);
      const version = merged.meta?.versionId;
      results[entry.index] = {
        response: {
          status: '200 OK',
          location: `${repo.baseUrl}/Patient/${entry.id}${version ? `/_history/${version}` : ''}`,
          ...(version ? { etag: `W/"${version}"` } : {}),
          ...(merged.meta?.lastUpdated ? { lastModified: merged.meta.lastUpdated } : {}),
        },
      };
    }
    return { resourceType: 'Bundle', type: 'transaction-response', entry: results };
  }
}
