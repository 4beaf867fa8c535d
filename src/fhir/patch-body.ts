/**
 * The PATCH formats this engine takes, told apart by the body: a JSON Patch is an array of
 * operations (RFC 6902, application/json-patch+json), a FHIRPath Patch a Parameters resource
 * (R4 fhirpatch.html, application/fhir+json or application/fhir+xml). Both are bounded by the
 * same limits and their results validated the same way by the repository.
 */
import type { Resource } from '@medplum/fhirtypes';
import { DEFAULT_LIMITS } from '../common/limits.js';
import { applyFhirPathPatch, isFhirPathPatch, type FhirPathPatchLimits } from './fhirpath-patch.js';
import { applyJsonPatch } from './json-patch.js';
import { badRequest } from './outcome.js';

/** The media types of the PATCH formats, as the CapabilityStatement's patchFormat lists them. */
export const PATCH_FORMATS = ['application/json-patch+json', 'application/fhir+json', 'application/fhir+xml'];

export function applyPatchBody<T extends Resource>(document: T, body: unknown, limits: FhirPathPatchLimits = DEFAULT_LIMITS): T {
  if (Array.isArray(body)) return applyJsonPatch(document, body, limits);
  if (isFhirPathPatch(body)) return applyFhirPathPatch(document, body, limits);
  throw badRequest('a PATCH body is a JSON Patch (an array of operations, application/json-patch+json) ' +
    'or a FHIRPath Patch (a Parameters resource, application/fhir+json or application/fhir+xml)');
}
