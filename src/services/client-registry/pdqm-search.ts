/**
 * PDQm ITI-78 on the registry's Patient search, beyond the engine's R4 search:
 * - identifier systems are resolved through the registered domains (NamingSystem): the URL and
 *   the `urn:oid:` form (or a bare OID) name the same domain, as for writes, `$ihe-pix` and `$match`;
 * - a domain the registry does not know, asked for with `identifier=<domain>|` (3.78.4.1.2.3), is
 *   PDQm Case 4's preferred answer: 404 with "targetSystem not found";
 * - `Bundle.total` is given (Case 1, a SHALL) unless the client asks `_total=none`;
 * - with `identifier=<domain>|` the returned Patients keep only identifiers of the asked domains
 *   (Case 2: "eliminates identifiers ... which do not exist in the list"), each domain in the form
 *   it was asked in (`urn:oid:` when asked by OID; domain-forms.ts).
 */
import type { Bundle, OperationOutcome, Patient } from '@medplum/fhirtypes';
import type { FhirRequest, FhirResponse } from '../../fhir/interaction.js';
import type { SearchExtension } from '../../fhir/operations/registry.js';
import { FhirError } from '../../fhir/outcome.js';
import type { FhirRepository } from '../../fhir/repository.js';
import { splitValues, type Filter, type SearchRequest } from '../../fhir/search/parse.js';
import { askedDomainForms, inAskedForm } from './domain-forms.js';
import type { DomainsReader, IdentifierDomains } from './identifier-domains.js';

/** PDQm 3.78.4.1.3 Case 4: the OperationOutcome the profile gives (a warning, code not-found). */
export class UnknownDomainError extends FhirError {
  constructor(readonly domain: string) {
    super(404, 'FHIR_NOT_FOUND', `targetSystem not found: identifier domain "${domain.slice(0, 200)}" is not registered in this client registry`);
  }

  override toOutcome(): OperationOutcome {
    return {
      resourceType: 'OperationOutcome',
      issue: [{ severity: 'warning', code: 'not-found', details: { text: this.message }, diagnostics: 'targetSystem not found' }],
    };
  }
}

/** `system|value` → its system; undefined without a system (`value`, `|value`). */
function systemOf(token: string): string | undefined {
  const bar = token.indexOf('|');
  return bar > 0 ? token.slice(0, bar) : undefined;
}

const isDomainOnly = (token: string): boolean => token.endsWith('|') && token.indexOf('|') === token.length - 1 && token.length > 1;

function resolveFilter(filter: Filter, domains: IdentifierDomains): Filter {
  if (filter.kind !== 'param' || filter.param.code !== 'identifier' || (filter.modifier && filter.modifier !== 'not')) return filter;
  const values = filter.values.map((token) => {
    const system = systemOf(token);
    if (!system) return token;
    const url = domains.canonical(system);
    if (!url) {
      if (isDomainOnly(token)) throw new UnknownDomainError(system);
      return token; // an identifier in an unknown domain matches nothing, as in any FHIR search
    }
    return url + token.slice(system.length);
  });
  return { ...filter, values };
}

/** The search extension: identifier systems as domain URLs, and a total on every Patient search. */
export function pdqmSearchExtension(readDomains: DomainsReader): SearchExtension {
  return async (request: SearchRequest, { repo }) => {
    if (request.type !== 'Patient') return request;
    const asksIdentifier = request.filters.some((f) => f.kind === 'param' && f.param.code === 'identifier');
    const domains = asksIdentifier ? await readDomains(repo) : undefined;
    return {
      ...request,
      filters: domains ? request.filters.map((f) => resolveFilter(f, domains)) : request.filters,
      // PDQm Case 1: "populates the total property of the bundle with the total number of matching results".
      total: request.total ?? 'accurate',
    };
  };
}

/** A Patient search request (GET or POST, `Patient` or `Patient/_search`). */
export function isPatientSearch(request: FhirRequest): boolean {
  const path = request.path.replace(/\/+$/, '');
  return (request.method === 'GET' && (path === 'Patient' || path === 'Patient/_search')) || (request.method === 'POST' && path === 'Patient/_search');
}

/** The domains asked with `identifier=<domain>|` (3.78.4.1.2.3), as the client wrote them. */
function requestedDomains(request: FhirRequest): string[] {
  const pairs = [...request.query, ...(request.method === 'POST' && Array.isArray(request.body) ? (request.body as Array<[string, string]>) : [])];
  return pairs.filter(([name]) => name === 'identifier').flatMap(([, value]) => splitValues(value)).filter(isDomainOnly).map((token) => token.slice(0, -1));
}

/**
 * PDQm Case 2: with domains asked by `identifier=<domain>|`, each matching Patient keeps only the
 * identifiers of those domains (what is stored is untouched; included resources too).
 */
export async function keepRequestedDomains(repo: FhirRepository, readDomains: DomainsReader, request: FhirRequest, response: FhirResponse): Promise<FhirResponse> {
  const bundle = response.resource as Bundle | undefined;
  if (response.status !== 200 || bundle?.resourceType !== 'Bundle') return response;
  const asked = requestedDomains(request);
  if (!asked.length) return response;
  const domains = await readDomains(repo);
  const keep = new Set(asked.map((system) => domains.canonical(system) ?? system));
  const forms = askedDomainForms(asked, domains);
  const entry = bundle.entry?.map((e) => {
    const patient = e.resource as Patient | undefined;
    if (e.search?.mode !== 'match' || patient?.resourceType !== 'Patient' || !patient.identifier) return e;
    const identifier = patient.identifier.filter((i) => i.system && keep.has(i.system)).map((i) => inAskedForm(i, forms));
    const { identifier: _dropped, ...rest } = patient;
    return { ...e, resource: identifier.length ? { ...rest, identifier } : rest };
  });
  return { ...response, resource: { ...bundle, ...(entry ? { entry } : {}) } };
}
