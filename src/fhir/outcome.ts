/**
 * The engine's one error type and the one place errors become OperationOutcomes. Handlers throw
 * (or return) a FhirError; the HTTP layer and the bundle processor both turn it into a response
 * with toErrorResponse, so a client always gets an OperationOutcome with a stable code.
 */
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';

/** Stable codes: each names one kind of failure the engine reports. */
export type FhirErrorCode =
  | 'FHIR_INVALID_JSON'
  | 'FHIR_INVALID_RESOURCE'
  | 'FHIR_INVALID_ID'
  | 'FHIR_UNKNOWN_TYPE'
  | 'FHIR_NOT_FOUND'
  | 'FHIR_GONE'
  | 'FHIR_VERSION_CONFLICT'
  | 'FHIR_CONFLICT'
  | 'FHIR_PRECONDITION_FAILED'
  | 'FHIR_MULTIPLE_MATCHES'
  | 'FHIR_BAD_SEARCH'
  | 'FHIR_UNKNOWN_PARAMETER'
  | 'FHIR_NOT_ACCEPTABLE'
  | 'FHIR_UNSUPPORTED_MEDIA_TYPE'
  | 'FHIR_BODY_TOO_LARGE'
  | 'FHIR_NOT_SUPPORTED'
  | 'FHIR_BAD_REQUEST'
  | 'FHIR_BUSY'
  | 'FHIR_INTERNAL';

const ISSUE_CODES: Record<FhirErrorCode, OperationOutcomeIssue['code']> = {
  FHIR_INVALID_JSON: 'structure',
  FHIR_INVALID_RESOURCE: 'invalid',
  FHIR_INVALID_ID: 'value',
  FHIR_UNKNOWN_TYPE: 'not-supported',
  FHIR_NOT_FOUND: 'not-found',
  FHIR_GONE: 'deleted',
  FHIR_VERSION_CONFLICT: 'conflict',
  FHIR_CONFLICT: 'conflict',
  FHIR_PRECONDITION_FAILED: 'conflict',
  FHIR_MULTIPLE_MATCHES: 'multiple-matches',
  FHIR_BAD_SEARCH: 'invalid',
  FHIR_UNKNOWN_PARAMETER: 'not-supported',
  FHIR_NOT_ACCEPTABLE: 'not-supported',
  FHIR_UNSUPPORTED_MEDIA_TYPE: 'not-supported',
  FHIR_BODY_TOO_LARGE: 'too-costly',
  FHIR_NOT_SUPPORTED: 'not-supported',
  FHIR_BAD_REQUEST: 'invalid',
  FHIR_BUSY: 'transient',
  FHIR_INTERNAL: 'exception',
};

export class FhirError extends Error {
  constructor(
    readonly status: number,
    readonly code: FhirErrorCode,
    message: string,
    /** Extra issues, e.g. one per invalid element from the validator. */
    readonly issues: OperationOutcomeIssue[] = [],
  ) {
    super(message);
    this.name = 'FhirError';
  }

  toOutcome(): OperationOutcome {
    const main: OperationOutcomeIssue = {
      severity: this.status >= 500 ? 'fatal' : 'error',
      code: ISSUE_CODES[this.code],
      details: { coding: [{ system: 'urn:instant-openhie:fhir-error', code: this.code }], text: this.message },
      diagnostics: this.message,
    };
    return { resourceType: 'OperationOutcome', issue: this.issues.length ? [main, ...this.issues] : [main] };
  }
}

export const badRequest = (message: string, code: FhirErrorCode = 'FHIR_BAD_REQUEST'): FhirError =>
  new FhirError(400, code, message);
export const notFound = (message: string): FhirError => new FhirError(404, 'FHIR_NOT_FOUND', message);

export function informational(text: string): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'information', code: 'informational', details: { text }, diagnostics: text }],
  };
}

/** Any thrown value as a FhirError: unknown errors are internal (500) and their text is not leaked. */
export function asFhirError(error: unknown): FhirError {
  if (error instanceof FhirError) return error;
  const pgCode = (error as { code?: unknown })?.code;
  // Serialisation failures and deadlocks between concurrent writers are the client's to retry.
  if (pgCode === '40001' || pgCode === '40P01') {
    return new FhirError(409, 'FHIR_CONFLICT', 'a concurrent write conflicted with this one; retry it');
  }
  if (pgCode === '23505') {
    return new FhirError(409, 'FHIR_CONFLICT', 'a concurrent write created the same resource; retry it');
  }
  return new FhirError(500, 'FHIR_INTERNAL', 'internal error while processing the request');
}
