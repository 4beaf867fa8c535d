/**
 * The mediator's calls to the registry and the shared health record: each one is timed and
 * recorded as an orchestration (the interop layer stores them with the client's transaction).
 */
import type { MediatorResponseBuilder } from '@instant-openhie/mediator-sdk';
import { SENDER_HEADERS, senderIdentityHeaders } from '../../common/sender-identity.js';

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

/**
 * Whom the mediator acts for: the clinic the router vouched for, signed with the key the router
 * and the registry share (common/sender-identity.ts), so the client registry applies that clinic's
 * rights (record owners, protected identifier domains) to the mediator's calls.
 */
export interface ActingFor {
  secret: string;
  clientID: string;
  roles: string[];
}

/**
 * A FHIR call recorded as the orchestration `name`; a network failure is recorded, then thrown.
 * With `actingFor` the call carries a sender assertion for that client (not recorded in the log).
 */
export async function callFhir(builder: MediatorResponseBuilder, name: string, base: string, call: FhirCall, actingFor?: ActingFor): Promise<FhirReply> {
  const url = new URL(call.path ? `${base.replace(/\/$/, '')}/${call.path}` : base);
  const body = call.body === undefined ? undefined : JSON.stringify(call.body);
  const headers: Record<string, string> = { accept: 'application/fhir+json', ...(body ? { 'content-type': 'application/fhir+json' } : {}), ...call.headers };
  for (const header of SENDER_HEADERS) delete headers[header];
  const recordedHeaders = { ...headers };
  if (actingFor) {
    const target = `${url.pathname}${url.search}`;
    Object.assign(headers, senderIdentityHeaders(actingFor.secret, actingFor.clientID, call.method, target, body === undefined ? undefined : Buffer.from(body), Date.now(), actingFor.roles));
  }
  const request = {
    host: url.hostname, port: url.port, path: url.pathname, method: call.method, headers: recordedHeaders,
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
