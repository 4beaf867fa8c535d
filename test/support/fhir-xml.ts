/**
 * An IHE tester's XML client: requests that ask for (and send) FHIR XML, and the answer read back
 * with the project's parser (so a test can assert on the resource) next to the raw text (so it
 * can assert on the XML itself: element names such as <valueIdentifier>).
 */
import { xmlToResource } from '../../src/fhir/format/xml.js';

export const FHIR_XML = 'application/fhir+xml';

export interface XmlReply {
  status: number;
  contentType: string;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/** `method url` asking for XML (Accept) and, with a body, sending it as FHIR XML. */
export async function requestXml(url: string, method: string, body?: string, headers: Record<string, string> = {}): Promise<XmlReply> {
  const response = await fetch(url, {
    method,
    headers: { accept: FHIR_XML, ...(body !== undefined ? { 'content-type': FHIR_XML } : {}), ...headers },
    body,
  });
  const text = await response.text();
  const contentType = response.headers.get('content-type') ?? '';
  let parsed: unknown;
  if (contentType.includes('xml') && text) parsed = xmlToResource(text);
  return { status: response.status, contentType, text, body: parsed };
}

/** Whether an answer is FHIR XML (content type and root namespace). */
export function isFhirXml(reply: XmlReply): boolean {
  return reply.contentType.startsWith(FHIR_XML) && /^<\?xml[^>]*>\s*<[A-Za-z]+ xmlns="http:\/\/hl7\.org\/fhir"/.test(reply.text);
}
