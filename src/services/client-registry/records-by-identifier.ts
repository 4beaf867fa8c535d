/**
 * The source records carrying every one of some identifiers, each looked up in its domain (an OID
 * or `urn:oid:` names the domain's URL). Golden records are never among them. Used where a client
 * names a record by its business identifiers instead of its id: `$merge`'s
 * `*-patient-identifier`, and the `replaced-by` link of a PIXm "resolve duplicate" feed.
 */
import type { Identifier, Patient } from '@medplum/fhirtypes';
import { escapeSearchValue } from '../../common/search-value-escape.js';
import type { FhirRepository } from '../../fhir/repository.js';
import { GOLDEN_TAG } from './golden-record.js';
import type { DomainsReader } from './identifier-domains.js';

/** The ids of at most two such records: enough to tell none, one and several apart. */
export async function recordsHolding(repo: FhirRepository, readDomains: DomainsReader, identifiers: readonly Identifier[]): Promise<string[]> {
  const domains = await readDomains(repo);
  // Escaped: a value's comma would be FHIR's "or", a second identifier of any domain (another patient's record).
  const query: Array<[string, string]> = identifiers.map((identifier) => ['identifier', `${escapeSearchValue(domains.canonical(identifier.system!) ?? identifier.system ?? '')}|${escapeSearchValue(identifier.value ?? '')}`]);
  const found = await repo.search('Patient', [...query, ['_tag:not', `${GOLDEN_TAG.system}|${GOLDEN_TAG.code}`], ['_count', '2']]);
  return (found.entry ?? []).map((e) => (e.resource as Patient).id!);
}
