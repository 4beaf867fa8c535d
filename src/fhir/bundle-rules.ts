/**
 * Rules a batch or transaction Bundle must keep before any of its entries runs (FHIR R4):
 * fullUrls are unique (invariant bdl-7), a transaction changes each resource at most once
 * (http.html#trules), and batch entries do not depend on each other (http.html#transaction).
 */
import type { BundleEntry, Resource } from '@medplum/fhirtypes';
import type { FhirRequest } from './interaction.js';
import { FhirError, badRequest } from './outcome.js';
import type { FhirRepository } from './repository.js';
import { ID_PATTERN } from './validation.js';

/** What the rules need of a planned entry. */
export interface RuledEntry {
  index: number;
  method: FhirRequest['method'];
  request: FhirRequest;
  fullUrl?: string;
}

const entryIssue = (index: number, text: string) =>
  ({ severity: 'error' as const, code: 'invalid' as const, details: { text }, expression: [`Bundle.entry[${index}]`] });

/**
 * bdl-7: "FullUrl must be unique in a bundle, or else entries with the same fullUrl must have
 * different meta.versionId". The versions exception is for entries that read (as a history
 * bundle's do); two entries that write under one fullUrl (POST, PUT, PATCH) would leave a
 * reference to it ambiguous, whatever their versionId. A urn: fullUrl is compared without regard
 * to case (URN schemes and UUIDs are case-insensitive).
 */
/** A fullUrl as compared: a urn: (uuid, oid) in lower case, as URN schemes and UUIDs are case-insensitive; others as written. */
export function fullUrlKey(url: string): string {
  return /^urn:/i.test(url) ? url.toLowerCase() : url;
}

export function assertUniqueFullUrls(entries: BundleEntry[]): void {
  const seen = new Map<string, number>();
  entries.forEach((entry, index) => {
    if (typeof entry?.fullUrl !== 'string') return;
    const writes = ['POST', 'PUT', 'PATCH'].includes(String(entry.request?.method ?? '').toUpperCase());
    const versionId = writes ? undefined : entry.resource?.meta?.versionId;
    const url = fullUrlKey(entry.fullUrl);
    const key = `${url}\u0000${typeof versionId === 'string' ? versionId : ''}`;
    const first = seen.get(key);
    if (first === undefined) {
      seen.set(key, index);
      return;
    }
    throw new FhirError(400, 'FHIR_INVALID_RESOURCE',
      `entries ${first} and ${index} have the same fullUrl ${entry.fullUrl.slice(0, 200)} (FHIR R4 Bundle invariant bdl-7: ` +
      'a fullUrl is unique in a bundle; only entries that read may share one with different meta.versionId): give each entry its own fullUrl; nothing was run',
      [entryIssue(first, 'duplicate fullUrl'), entryIssue(index, 'duplicate fullUrl')]);
  });
}

/** A RESTful URL (references.html#regex): the base, then Type/id, perhaps a version. */
const RESTFUL_URL = /^https?:\/\/.+\/([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(\/_history\/[A-Za-z0-9\-.]{1,64})?$/;

/**
 * Bundle.entry.fullUrl: "The fullUrl SHALL NOT disagree with the id in the resource - i.e. if the
 * fullUrl is not a urn:uuid, the URL shall be version-independent URL consistent with the
 * Resource.id". Checked on PUT entries, whose resource keeps its id: one whose fullUrl names another
 * resource was stored under its own id while references to the fullUrl were rewritten to it, so a
 * reference to the resource the fullUrl names (this server's, perhaps) pointed at another one.
 */
export function assertFullUrlsAgree(entries: BundleEntry[]): void {
  entries.forEach((entry, index) => {
    const method = String(entry?.request?.method ?? '').toUpperCase();
    const resource = entry?.resource;
    if (method !== 'PUT' || typeof entry.fullUrl !== 'string' || typeof resource?.id !== 'string') return;
    const restful = RESTFUL_URL.exec(entry.fullUrl);
    if (!restful) return;
    const [, type, id, version] = restful;
    if (type === resource.resourceType && id === resource.id && !version) return;
    const problem = version ? 'names a version (a fullUrl is version-independent)' : `names ${type}/${id}, not the ${resource.resourceType}/${resource.id} it writes`;
    throw new FhirError(400, 'FHIR_INVALID_RESOURCE',
      `entry ${index}: its fullUrl ${entry.fullUrl.slice(0, 200)} ${problem} (R4 Bundle.entry.fullUrl SHALL NOT disagree with the id in the resource); nothing was run`,
      [entryIssue(index, 'fullUrl disagrees with the resource id')]);
  });
}

export async function changedIdentities(repo: FhirRepository, entry: RuledEntry, body: Resource | undefined): Promise<string[]> {
  const { method, request } = entry;
  if (method === 'GET' || method === 'HEAD' || request.path.includes('$') || request.path.endsWith('_search')) return [];
  // Empty segments dropped as the router drops them when the entry runs ("Patient/a/", "Patient//a").
  const [type, id, ...rest] = request.path.split('/').filter(Boolean);
  if (!type || rest.length) return [];
  // A create makes a new id; one whose If-None-Exist matches changes nothing.
  if (method === 'POST') return [];
  if (id !== undefined) return ID_PATTERN.test(id) ? [`${type}/${id}`] : [];
  if (!request.query.length) return [];
  const what = method === 'DELETE' ? 'conditional delete' : method === 'PATCH' ? 'conditional patch' : 'conditional update';
  const matches = await repo.matchConditional(type, request.query, true, what);
  if (matches.length) return matches.map((m) => `${type}/${m.id}`);
  // A conditional update that matches nothing creates the resource with the id its body gives.
  return method === 'PUT' && typeof body?.id === 'string' ? [`${type}/${body.id}`] : [];
}

/** http.html#trules: "If any resource identities ... overlap in steps 1-3, then the transaction SHALL fail." */
export function assertNoOverlap(changes: Array<{ entry: RuledEntry; identity: string }>): void {
  const first = new Map<string, RuledEntry>();
  for (const { entry, identity } of changes) {
    const earlier = first.get(identity);
    if (!earlier) {
      first.set(identity, entry);
      continue;
    }
    const [a, b] = [earlier, entry].sort((x, y) => x.index - y.index) as [RuledEntry, RuledEntry];
    const describe = (e: RuledEntry): string => `${e.method} ${e.request.path}${e.request.query.length ? '?…' : ''}`;
    throw new FhirError(400, 'FHIR_INVALID_RESOURCE',
      `transaction entries ${a.index} and ${b.index} (${describe(a)}, ${describe(b)}) both change ${identity}: a transaction ` +
      'changes each resource at most once (FHIR R4 http.html#trules); merge them into one entry; nothing was saved',
      [entryIssue(a.index, `changes ${identity}`), entryIssue(b.index, `also changes ${identity}`)]);
  }
}

/** Every Reference.reference string in a resource. */
function referencesIn(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) {
    for (const item of value) referencesIn(item, found);
  } else if (value && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      if (key === 'reference' && typeof child === 'string') found.push(child);
      else referencesIn(child, found);
    }
  }
  return found;
}

/**
 * http.html#transaction: in a batch "there SHALL be no interdependencies between the different
 * entries ... Servers SHALL validate that this is the case": an entry referring to the fullUrl of
 * a resource another entry creates fails (only a transaction resolves such references).
 */
export function batchDependency(entry: RuledEntry, created: ReadonlySet<string>): FhirError | undefined {
  if (entry.method !== 'POST' && entry.method !== 'PUT' && entry.method !== 'PATCH') return undefined;
  const dependency = referencesIn(entry.request.body).find((reference) => reference !== entry.fullUrl && created.has(reference));
  if (!dependency) return undefined;
  return badRequest(`entry ${entry.index} refers to ${dependency.slice(0, 200)}, which another entry of this batch creates: ` +
    'batch entries are independent (FHIR R4 http.html#transaction); send a transaction to link new resources', 'FHIR_INVALID_RESOURCE');
}

/** A urn:uuid reference that names no entry of the transaction: a placeholder that cannot be resolved. */
export function unresolvedPlaceholder(reference: string): FhirError {
  return badRequest(`reference ${reference.slice(0, 200)} is a placeholder that names no entry the transaction creates or updates: ` +
    'give the resource it means that fullUrl, or refer to a stored resource as Type/id', 'FHIR_INVALID_RESOURCE');
}
