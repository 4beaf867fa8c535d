/**
 * The FHIR interactions HL7v2 messages become, run through the registry's engine exactly as an
 * HTTP request would be (same write interceptors: identifier domains, matching, golden records).
 * A FHIR failure becomes an Hl7MessageError: 4xx → AE with the OperationOutcome's text, 5xx → AR.
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

export function hl7ErrorFor(response: FhirResponse, location?: string): Hl7MessageError {
  const text = outcomeText(response.resource);
  if (response.status >= 500) return new Hl7MessageError('AR', HL7_ERROR.internalError, `the client registry could not process the message now: ${text}`);
  return new Hl7MessageError('AE', HL7_ERROR.dataTypeError, text, location);
}
