/**
 * The mediator's calls to the registry and the shared health record: each one is timed and
 * recorded as an orchestration (the interop layer stores them with the client's transaction).
 */
import type { MediatorResponseBuilder } from '@instant-openhie/mediator-sdk';

export interface FhirReply {
  status: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

export interface FhirCall {
  method: 'GET' | 'POST' | 'PUT';
  /** Path below the FHIR base, e.g. `Patient` or `Patient/$ihe-pix?sourceIdentifier=...`. */
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
}

/** A FHIR call recorded as the orchestration `name`; a network failure is recorded, then thrown. */
export async function callFhir(builder: MediatorResponseBuilder, name: string, base: string, call: FhirCall): Promise<FhirReply> {
  const url = new URL(call.path ? `${base.replace(/\/$/, '')}/${call.path}` : base);
  const body = call.body === undefined ? undefined : JSON.stringify(call.body);
  const headers = { accept: 'application/fhir+json', ...(body ? { 'content-type': 'application/fhir+json' } : {}), ...call.headers };
  const request = {
    host: url.hostname, port: url.port, path: url.pathname, method: call.method, headers,
    ...(url.search ? { querystring: url.search.slice(1) } : {}), ...(body ? { body } : {}),
  };
  const reply = await builder.orchestrate(name, request, async () => {
    const response = await fetch(url, { method: call.method, headers, ...(body ? { body } : {}) });
    return { status: response.status, headers: { 'content-type': response.headers.get('content-type') ?? '' }, body: await response.text() };
  });
  let json: unknown;
  try {
    json = reply.body ? JSON.parse(reply.body) : undefined;
  } catch {
    json = undefined;
  }
  return { status: reply.status, json };
}

/** An OperationOutcome with one issue, the way every FHIR error of the mediator is answered. */
export function operationOutcome(code: string, diagnostics: string): Record<string, unknown> {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics }] };
}

/** What an upstream answered when it was not a success: its own OperationOutcome, else one of ours. */
export function upstreamFailure(what: string, reply: FhirReply): { status: number; body: unknown } {
  if (reply.status >= 500) return { status: 502, body: operationOutcome('exception', `${what} answered ${reply.status}`) };
  return { status: reply.status, body: reply.json?.resourceType === 'OperationOutcome' ? reply.json : operationOutcome('processing', `${what} answered ${reply.status}`) };
}
