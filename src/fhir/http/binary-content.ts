/**
 * Binary's own content over REST (R4 binary.html, "Serving Binary Resources using the RESTful
 * API"): a create or update of `Binary` with a content type that is not FHIR's takes the body as
 * the content (a PDF posted as application/pdf becomes a Binary with that contentType and the
 * bytes as its data); a read of a Binary that does not ask for a FHIR format (no `_format`, no
 * FHIR, JSON or XML type in Accept) answers the content itself, in its content type. Content
 * served this way may be anything a client stored, so it never runs in a browser as this origin:
 * `nosniff` and a sandboxing Content-Security-Policy go with it.
 */
import type { Binary } from '@medplum/fhirtypes';
import type { FhirResponse } from '../interaction.js';
import { JSON_TYPES, XML_TYPES } from './negotiate.js';

const BINARY_PATH = /^Binary(?:\/([A-Za-z0-9\-.]{1,64}))?\/?$/;
const BINARY_READ = /^Binary\/[A-Za-z0-9\-.]{1,64}(?:\/_history\/[A-Za-z0-9\-.]{1,64})?\/?$/;
/** Bodies the engine parses itself: FHIR in JSON or XML, JSON Patch, a search form. */
const ENGINE_TYPES = new Set([...JSON_TYPES, ...XML_TYPES, 'application/json-patch+json', 'application/x-www-form-urlencoded']);
/** A media type as RFC 9110 writes one (type/subtype, then parameters): what a stored contentType may be served as. */
const MEDIA_TYPE = /^[A-Za-z0-9!#$&^_.+-]{1,127}\/[A-Za-z0-9!#$&^_.+-]{1,127}(?:\s*;\s*[A-Za-z0-9!#$&^_.+-]+=(?:[A-Za-z0-9!#$&^_.+-]+|"[^"\\\r\n]*"))*$/;

const mediaTypeOf = (contentType: string | undefined): string => (contentType ?? '').split(';')[0]!.trim().toLowerCase();

/** Whether a write's body is a Binary's raw content (not FHIR the engine parses). */
export function isRawBinaryWrite(method: string, path: string, contentType: string | undefined): boolean {
  if (method !== 'POST' && method !== 'PUT') return false;
  const type = mediaTypeOf(contentType);
  return type !== '' && !ENGINE_TYPES.has(type) && BINARY_PATH.test(path);
}

/** The Binary a raw body stands for (its id from the path on an update). */
export function binaryFromContent(path: string, contentType: string, bytes: Buffer): Binary {
  const id = BINARY_PATH.exec(path)?.[1];
  const type = contentType.trim();
  return {
    resourceType: 'Binary',
    ...(id ? { id } : {}),
    contentType: MEDIA_TYPE.test(type) ? type : mediaTypeOf(type) || 'application/octet-stream',
    ...(bytes.length ? { data: bytes.toString('base64') } : {}),
  };
}

/** Whether a read of a Binary is answered with its content: no `_format`, and no FHIR (JSON, XML) type accepted. */
export function wantsBinaryContent(method: string, path: string, accept: string | undefined, query: ReadonlyArray<[string, string]>): boolean {
  if ((method !== 'GET' && method !== 'HEAD') || !BINARY_READ.test(path)) return false;
  if (query.some(([key, value]) => key === '_format' && value !== '')) return false;
  return !/fhir|json|xml/i.test(accept ?? '');
}

/** The content answer of a Binary read (the engine's headers: ETag, Last-Modified), or undefined to answer the resource. */
export function binaryContentAnswer(response: FhirResponse): { status: number; headers: Record<string, string>; body: Buffer } | undefined {
  const binary = response.resource as Binary | undefined;
  if (response.status !== 200 || binary?.resourceType !== 'Binary') return undefined;
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(response.headers ?? {})) headers[name] = String(value);
  const type = binary.contentType && MEDIA_TYPE.test(binary.contentType) ? binary.contentType : 'application/octet-stream';
  return {
    status: 200,
    headers: { ...headers, 'content-type': type, 'x-content-type-options': 'nosniff', 'content-security-policy': "default-src 'none'; sandbox" },
    body: binary.data ? Buffer.from(binary.data, 'base64') : Buffer.alloc(0),
  };
}
