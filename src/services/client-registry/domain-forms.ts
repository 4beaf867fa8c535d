/**
 * A domain asked for by another of its names (its `urn:oid:` form rather than its URL) is answered
 * in that form: a PIXm consumer asking `targetSystem=urn:oid:1.2.3` correlates the identifiers it
 * gets by that system, and PDQm Case 2 keeps identifiers "which exist in the list" the client
 * sent. Stored identifiers keep the domain's URL; only the answer is written in the asked form.
 */
import type { Identifier } from '@medplum/fhirtypes';
import type { IdentifierDomains } from './identifier-domains.js';

const BARE_OID = /^[0-2](\.(0|[1-9]\d*))+$/;

/** Domain URL → the form the client named it in (the first, when it named one domain twice). */
export function askedDomainForms(asked: readonly string[], domains: IdentifierDomains): Map<string, string> {
  const forms = new Map<string, string>();
  for (const system of asked) {
    const url = domains.canonical(system);
    if (url && !forms.has(url)) forms.set(url, BARE_OID.test(system) ? `urn:oid:${system}` : system);
  }
  return forms;
}

/** The identifier with its system in the asked form (itself when its domain was asked by its URL or not at all). */
export function inAskedForm(identifier: Identifier, forms: ReadonlyMap<string, string>): Identifier {
  const asked = identifier.system ? forms.get(identifier.system) : undefined;
  return asked && asked !== identifier.system ? { ...identifier, system: asked } : identifier;
}
