/**
 * The language an operation's displays are wanted in: its `displayLanguage` parameter (a BCP-47
 * tag, else 400), else the caller's preferred `Accept-Language` (FHIR language.html: a server
 * SHOULD honour it for displays), so a consumer asking in French gets the French designation
 * without saying it twice. `*` and languages weighted q=0 are no preference.
 */
import type { FhirRequest } from '../../../fhir/interaction.js';
import { badParameter, type OperationInput } from '../parameters.js';
import { weightedItems, type WeightedItem } from '../../../common/weighted-header.js';

const BCP47 = /^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$/;

export function displayLanguageOf(input: OperationInput, request: FhirRequest): string | undefined {
  const given = input.string('displayLanguage');
  if (given !== undefined) {
    if (!BCP47.test(given)) throw badParameter(`displayLanguage "${given.slice(0, 60)}" is not a language tag (BCP-47, e.g. en or fr-CA)`);
    return given;
  }
  return preferredLanguage(request.headers['accept-language']);
}

/** The first language of the highest weight in an Accept-Language header (RFC 9110 12.5.4). */
export function preferredLanguage(header: string | undefined): string | undefined {
  if (!header || header.length > 1000) return undefined;
  let best: WeightedItem | undefined;
  for (const item of weightedItems(header)) {
    if (BCP47.test(item.name) && item.q > 0 && (!best || item.q > best.q)) best = item;
  }
  return best?.name;
}
