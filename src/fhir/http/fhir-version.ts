/**
 * The fhirVersion parameter of the FHIR media types (R4 http.html#version-parameter):
 * `application/fhir+json; fhirVersion=4.0`. This server speaks R4 only, so an Accept type asking
 * for another version is not acceptable (406 when nothing else is), and a body declaring another
 * version is an unsupported media type (415). Without the parameter R4 is meant.
 */
import { FhirError } from '../outcome.js';

/** R4's major.minor, as $versions gives it, and the full versions a client may write. */
export const FHIR_VERSION = '4.0';
const R4_SPELLINGS = new Set(['4.0', '4.0.0', '4.0.1']);

/** The fhirVersion a media type's parameters name (lower-cased "name=value" parts), if any. */
function declaredVersion(params: string[]): string | undefined {
  const param = params.find((p) => p.trim().toLowerCase().startsWith('fhirversion='));
  return param?.split('=')[1]?.trim().replace(/^"|"$/g, '');
}

/** Whether an Accept entry's parameters allow an R4 answer. */
export function acceptsR4(params: string[]): boolean {
  const version = declaredVersion(params);
  return version === undefined || R4_SPELLINGS.has(version);
}

/** Refuses a request body declared in another FHIR version. */
export function assertR4Body(contentType: string | undefined): void {
  if (!contentType) return;
  const version = declaredVersion(contentType.split(';').slice(1));
  if (version !== undefined && !R4_SPELLINGS.has(version)) {
    throw new FhirError(415, 'FHIR_UNSUPPORTED_MEDIA_TYPE',
      `the body is declared as FHIR ${version.slice(0, 20)} (fhirVersion); this server speaks FHIR R4 (fhirVersion=${FHIR_VERSION}) only`);
  }
}
