/**
 * The router's own answers (a refused client, no channel, an upstream down) are OpenHIM's plain
 * text; a FHIR client that asks for FHIR (Accept or `_format` naming application/fhir+json or
 * +xml, as R4 http.html asks of errors: "SHOULD return an OperationOutcome") gets the same status
 * and message as an OperationOutcome in the format it asked for. Upstream answers are never touched.
 */
import type { IncomingMessage } from 'node:http';
import type { RouterResponse } from './exchange.js';
import { weightedItems } from '../../../common/weighted-header.js';

const FHIR_JSON = /^application\/(?:fhir\+json|json\+fhir)$/i;
const FHIR_XML = /^application\/(?:fhir\+xml|xml\+fhir)$/i;
const FORMAT = /(?:^|&)_format=([^&]*)/;
/** `_format` values R4 http.html lists for each format. */
const FORMAT_JSON = new Set(['json', 'application/json', 'application/fhir+json', 'application/json+fhir']);
const FORMAT_XML = new Set(['xml', 'text/xml', 'application/xml', 'application/fhir+xml', 'application/xml+fhir']);

/** The FHIR format the request asks for, if it asks for one. */
export function fhirFormatAsked(req: IncomingMessage): 'json' | 'xml' | undefined {
  const url = req.url ?? '';
  const q = url.indexOf('?');
  return fhirFormatOf(q >= 0 ? url.slice(q + 1) : '', req.headers.accept);
}

/** The same from a query string and an Accept header. */
export function fhirFormatOf(querystring: string, acceptHeader: string | string[] | undefined): 'json' | 'xml' | undefined {
  if (querystring) {
    const format = FORMAT.exec(querystring);
    if (format) {
      const value = safeDecode(format[1]!).replace(/ /g, '+').split(';')[0]!.trim().toLowerCase();
      if (FORMAT_XML.has(value)) return 'xml';
      if (FORMAT_JSON.has(value)) return 'json';
    }
  }
  // Accept, by its weights: a FHIR type wins when no other named type is weighed above it (*/* aside).
  let json = 0;
  let xml = 0;
  let other = 0;
  for (const item of weightedItems(acceptHeader)) {
    const type = item.name.split(';')[0]!.trim();
    if (FHIR_JSON.test(type)) json = Math.max(json, item.q);
    else if (FHIR_XML.test(type)) xml = Math.max(xml, item.q);
    else if (type !== '*/*') other = Math.max(other, item.q);
  }
  if (Math.max(json, xml) === 0 || Math.max(json, xml) < other) return undefined;
  return json >= xml ? 'json' : 'xml';
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** The issue code for a status (R4 issue-type). */
function issueCode(status: number): string {
  if (status === 401) return 'login';
  if (status === 403) return 'forbidden';
  if (status === 404) return 'not-found';
  if (status === 413) return 'too-long';
  if (status === 429) return 'throttled';
  if (status === 504) return 'timeout';
  if (status >= 500) return 'transient';
  return 'invalid';
}

const escapeXml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');

/** The router's own answer as an OperationOutcome, keeping its status and other headers. */
export function asOperationOutcome(response: RouterResponse, format: 'json' | 'xml'): RouterResponse {
  const message = response.body.toString('utf8');
  const code = issueCode(response.status);
  const severity = response.status >= 500 ? 'fatal' : 'error';
  const body =
    format === 'json'
      ? JSON.stringify({ resourceType: 'OperationOutcome', issue: [{ severity, code, diagnostics: message }] })
      : `<OperationOutcome xmlns="http://hl7.org/fhir"><issue><severity value="${severity}"/><code value="${code}"/><diagnostics value="${escapeXml(message)}"/></issue></OperationOutcome>`;
  return {
    ...response,
    headers: { ...response.headers, 'content-type': format === 'json' ? 'application/fhir+json; charset=utf-8' : 'application/fhir+xml; charset=utf-8' },
    body: Buffer.from(body),
  };
}
