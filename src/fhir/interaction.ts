/** A FHIR interaction as plain values: what the HTTP layer and bundle entries both produce. */
import type { Resource } from '@medplum/fhirtypes';

export interface FhirRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path below the FHIR base, without leading slash: `Patient/123/_history/2`. */
  path: string;
  query: Array<[string, string]>;
  /** Lower-case header names. */
  headers: Record<string, string | undefined>;
  /** Parsed JSON body (or form fields for POST _search as query pairs). */
  body?: unknown;
}

export interface FhirResponse {
  status: number;
  resource?: Resource;
  headers?: Record<string, string>;
  /**
   * The version's meta.lastUpdated when the answer leaves its resource out (return=minimal or
   * OperationOutcome, a 304): a batch or transaction entry's response.lastModified, to the
   * millisecond (Last-Modified, an HTTP date, has whole seconds). Never sent on the wire.
   */
  lastUpdated?: string;
}

/** Prefer header directives, e.g. `return=minimal; handling=strict`. */
export function preferences(headers: Record<string, string | undefined>): { return?: string; handling?: string } {
  const out: Record<string, string> = {};
  for (const part of (headers.prefer ?? '').split(/[;,]/)) {
    const [key, value] = part.split('=').map((s) => s?.trim().replace(/^"|"$/g, ''));
    if (key && value) out[key.toLowerCase()] = value;
  }
  return out;
}

/** Response headers for a stored resource version. */
export function versionHeaders(resource: Resource, baseUrl: string, withLocation: boolean): Record<string, string> {
  const headers: Record<string, string> = {};
  const version = resource.meta?.versionId;
  if (version) headers.etag = `W/"${version}"`;
  if (resource.meta?.lastUpdated) headers['last-modified'] = new Date(resource.meta.lastUpdated).toUTCString();
  if (withLocation && version) headers.location = `${baseUrl}/${resource.resourceType}/${resource.id}/_history/${version}`;
  return headers;
}
