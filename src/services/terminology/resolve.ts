/**
 * Finding the terminology resource an operation works on: by id (instance level), by canonical
 * url (+ version) among the stored resources, or given inline in a POST. Errors say which.
 */
import type { Resource } from '@medplum/fhirtypes';
import { escapeSearchValue } from '../../common/search-value-escape.js';
import type { FhirRepository } from '../../fhir/repository.js';
import { FhirError } from '../../fhir/outcome.js';
import type { Queryable } from '../../db/database.js';
import type { ConceptStore } from './concept-store.js';
import { badParameter, canonicalTarget } from './parameters.js';
import { latestVersion } from './versions.js';

export const unknownTerminology = (message: string): FhirError => new FhirError(404, 'FHIR_UNKNOWN_TERMINOLOGY', message);

/**
 * The resource of a type with this canonical url and version; without a version, the latest
 * version (versions.ts: by version order, the one updated last only breaking ties).
 */
export async function findByUrl<T extends Resource>(repo: FhirRepository, type: string, url: string, version?: string): Promise<T | undefined> {
  // Escaped: a url or version holding a comma is one value, not two OR-ed (search.html#escaping).
  const query: Array<[string, string]> = [['url', escapeSearchValue(url)]];
  if (version) query.push(['version', escapeSearchValue(version)]);
  query.push(['_sort', '-_lastUpdated'], ['_count', version ? '1' : String(MAX_VERSIONS)]);
  const found = await repo.searchResources(repo.parseSearch(type, query, false));
  return latestVersion(found, (r) => (r as { version?: string }).version) as T | undefined;
}

/** Versions of one url compared when a call names none (the most recently updated this many). */
const MAX_VERSIONS = 50;

/** The resource an operation names: the instance, a url(+version), or an inline resource. */
export async function resolveTarget<T extends Resource>(repo: FhirRepository, type: string,
  options: { id?: string; url?: string; version?: string; inline?: T; what: string; operation: string; versionParameter: string }): Promise<T | undefined> {
  // One way to name it (ITI-97: valueSet is 0..0 when url is given): two would leave which one was used unclear.
  const named = [options.id && 'the instance in the path', options.url && 'a url', options.inline && `an inline ${type}`].filter(Boolean);
  if (named.length > 1) throw badParameter(`give the ${options.what} one way, not ${named.join(' and ')}`);
  if (options.id) return (await repo.read(type, options.id)) as T;
  if (options.inline) return options.inline;
  if (!options.url) return undefined;
  ({ url: options.url, version: options.version } = canonicalTarget(options.url, options.version, options.operation, options.versionParameter));
  if (!options.url) return undefined;
  const found = await findByUrl<T>(repo, type, options.url, options.version);
  if (!found) throw unknownTerminology(`${options.what} ${options.url.slice(0, 200)}${options.version ? `|${options.version.slice(0, 40)}` : ''} is not known to this terminology service`);
  return found;
}

/**
 * Why a code system (version) is not found, for a 404 or a result=false message: an unknown url,
 * or a version not held, naming the versions that are.
 */
export async function unknownSystemMessage(q: Queryable, store: ConceptStore, url: string, version?: string): Promise<string> {
  const versions = version ? (await store.versionsOf(q, url)).filter((v) => v !== '') : [];
  const held = await store.findSystem(q, url);
  if (version && held) {
    return `version ${version.slice(0, 40)} of code system ${url.slice(0, 200)} is not known to this terminology service` +
      (versions.length ? ` (versions held: ${versions.slice(0, 10).join(', ')}${versions.length > 10 ? ', ...' : ''})` : ' (it holds one without a version)');
  }
  return `code system ${url.slice(0, 200)}${version ? `|${version.slice(0, 40)}` : ''} is not known to this terminology service`;
}
