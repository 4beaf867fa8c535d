/**
 * Which representation a FHIR answer takes (http.html#mime-type): `_format` overrides Accept;
 * Accept's highest-q type this server speaks; without either, the format of the body sent. Shared
 * by the engine's HTTP layer and the services that speak FHIR on their own (the mediators).
 */
import { FhirError } from '../outcome.js';
import { isEmptyValue } from '../search/parse.js';
import { acceptsR4, FHIR_VERSION } from './fhir-version.js';

/** The representation of an answer. */
export type WireFormat = 'json' | 'xml';

export const JSON_TYPES = ['application/fhir+json', 'application/json', 'application/json+fhir'];
export const XML_TYPES = ['application/fhir+xml', 'application/xml', 'text/xml', 'application/xml+fhir'];

/** Media types (and `_format` shorthands) this server answers in, by format. */
const FORMAT_OF = new Map<string, WireFormat>([
  ...JSON_TYPES.map((t) => [t, 'json'] as [string, WireFormat]),
  ...XML_TYPES.map((t) => [t, 'xml'] as [string, WireFormat]),
  ['json', 'json'], ['xml', 'xml'], ['*/*', 'json'], ['application/*', 'json'], ['text/*', 'xml'],
]);

/** The format a Content-Type names, or undefined for one that is neither FHIR JSON nor XML. */
export function bodyFormatOf(contentType: string | undefined): WireFormat | undefined {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  return JSON_TYPES.includes(type) ? 'json' : XML_TYPES.includes(type) ? 'xml' : undefined;
}

/**
 * The format to answer in: `_format` if given, else the Accept type with the highest q that this
 * server speaks (JSON for `*\/*`), else 406. Without either, the format of the body sent, else JSON.
 */
export function negotiate(accept: string | undefined, query: Array<[string, string]>, contentType: string | undefined): WireFormat {
  const format = query.find(([key, value]) => key === '_format' && !isEmptyValue(value))?.[1]; // `_format=` asks for nothing
  if (format !== undefined) {
    const chosen = acceptsR4(format.split(';').slice(1)) ? FORMAT_OF.get(formatParameterType(format)) : undefined;
    if (!chosen) throw new FhirError(406, 'FHIR_NOT_ACCEPTABLE', `_format=${format.slice(0, 40)} is not supported; this server speaks json (application/fhir+json) and xml (application/fhir+xml)`);
    return chosen;
  }
  if (!accept || !accept.trim()) return FORMAT_OF.get((contentType ?? '').split(';')[0]!.trim().toLowerCase()) === 'xml' ? 'xml' : 'json';
  const bodyFormat = FORMAT_OF.get((contentType ?? '').split(';')[0]!.trim().toLowerCase()) === 'xml' ? 'xml' : 'json';
  let best: { format: WireFormat; q: number } | undefined;
  for (const part of accept.split(',').slice(0, 32)) {
    const [type, ...params] = part.split(';').map((p) => p.trim().toLowerCase());
    // A wildcard leaves the choice to the server: the format the client wrote in.
    const chosen = type === '*/*' || type === 'application/*' ? bodyFormat : FORMAT_OF.get(type ?? '');
    if (!chosen || !acceptsR4(params)) continue;
    const qParam = params.find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!(q > 0)) continue;
    if (!best || q > best.q) best = { format: chosen, q };
  }
  if (!best) throw new FhirError(406, 'FHIR_NOT_ACCEPTABLE', `cannot answer in ${accept.slice(0, 80)}; this server speaks application/fhir+json and application/fhir+xml, FHIR R4 (fhirVersion=${FHIR_VERSION})`);
  return best.format;
}

/**
 * The media type a `_format` value names. A "+" written unescaped in a URL is decoded as a space
 * (`?_format=application/fhir+xml` reads "application/fhir xml"); FHIR servers take it as the "+"
 * the client meant, as HAPI does.
 */
function formatParameterType(value: string): string {
  return value.split(';')[0]!.trim().toLowerCase().replace(/\s+/g, '+');
}
