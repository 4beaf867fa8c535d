/**
 * The FHIR interactions HL7v2 messages become, run through the registry's engine exactly as an
 * HTTP request would be (same write interceptors: identifier domains, matching, golden records).
 * A FHIR failure becomes an Hl7MessageError: 4xx → AE with the OperationOutcome's text (ERR-3 by
 * status, hl7ErrorFor), 5xx → AR.
 */
import type { Bundle, OperationOutcome, Resource } from '@medplum/fhirtypes';
import type { FhirEngine } from '../../../fhir/engine.js';
import type { FhirRequest, FhirResponse } from '../../../fhir/interaction.js';
import { HL7_ERROR, Hl7MessageError } from './acknowledgement.js';

export class RegistryCalls {
  constructor(private readonly engine: FhirEngine) {}

  /** Runs one interaction; answers the response whatever its status. */
  async raw(method: FhirRequest['method'], path: string, query: Array<[string, string]> = [], body?: unknown): Promise<FhirResponse> {
    return this.engine.handle({ method, path, query, headers: body === undefined ? {} : { 'content-type': 'application/fhir+json' }, body });
  }

  /** Runs one interaction; a failure is thrown as the HL7 error it means. */
  async call<T extends Resource>(method: FhirRequest['method'], path: string, query: Array<[string, string]> = [], body?: unknown, location?: string): Promise<T> {
    const response = await this.raw(method, path, query, body);
    if (response.status >= 400) throw hl7ErrorFor(response, location);
    return response.resource as T;
  }

  async search<T extends Resource>(type: string, query: Array<[string, string]>): Promise<T[]> {
    const bundle = await this.call<Bundle>('GET', type, query);
    return (bundle.entry ?? []).filter((e) => e.search?.mode !== 'include' && e.resource?.resourceType === type).map((e) => e.resource as T);
  }
}

export function outcomeText(resource: Resource | undefined): string {
  const outcome = resource as OperationOutcome | undefined;
  return outcome?.issue?.map((i) => i.diagnostics ?? i.details?.text ?? i.code).join('; ') || 'the client registry refused the message';
}

/**
 * ERR-3 (HL7 table 0357) for a refusal: 404 an unknown key (204); 409 a clash with what the
 * registry holds, an identifier naming another person or a record already merged (205 Duplicate
 * key identifier); 403 a rule of the registry (a protected domain) refused it (207, with AE: it
 * will be refused again); anything else is the content (102).
 */
export function hl7ErrorFor(response: FhirResponse, location?: string): Hl7MessageError {
  const text = outcomeText(response.resource);
  if (response.status >= 500) return new Hl7MessageError('AR', HL7_ERROR.internalError, `the client registry could not process the message now: ${text}`);
  const condition = response.status === 404 ? HL7_ERROR.unknownKey
    : response.status === 409 ? HL7_ERROR.duplicateKey
      : response.status === 403 ? HL7_ERROR.internalError
        : HL7_ERROR.dataTypeError;
  return new Hl7MessageError('AE', condition, text, location);
}
