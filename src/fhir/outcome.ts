/**
 * The engine's one error type and the one place errors become OperationOutcomes. Handlers throw
 * (or return) a FhirError; the HTTP layer and the bundle processor both turn it into a response
 * with toErrorResponse, so a client always gets an OperationOutcome with a stable code.
 */
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';
import { TRANSACTION_TIMEOUT_SETTING, isTransactionTimeout } from '../db/transaction-budget.js';

/** Stable codes: each names one kind of failure the engine reports. */
export type FhirErrorCode =
  | 'FHIR_INVALID_JSON'
  | 'FHIR_INVALID_XML'
  | 'FHIR_INVALID_RESOURCE'
  | 'FHIR_INVALID_ID'
  | 'FHIR_UNKNOWN_TYPE'
  | 'FHIR_NOT_FOUND'
  | 'FHIR_GONE'
  | 'FHIR_VERSION_CONFLICT'
  | 'FHIR_CONFLICT'
  | 'FHIR_FORBIDDEN'
  | 'FHIR_PRECONDITION_FAILED'
  | 'FHIR_MULTIPLE_MATCHES'
  | 'FHIR_BAD_SEARCH'
  | 'FHIR_UNKNOWN_PARAMETER'
  | 'FHIR_UNKNOWN_TERMINOLOGY'
  | 'FHIR_NOT_ACCEPTABLE'
  | 'FHIR_UNSUPPORTED_MEDIA_TYPE'
  | 'FHIR_BODY_TOO_LARGE'
  | 'FHIR_TOO_COSTLY'
  | 'FHIR_UNAVAILABLE'
  | 'FHIR_NOT_SUPPORTED'
  | 'FHIR_BAD_REQUEST'
  | 'FHIR_BUSY'
  | 'FHIR_INTERNAL';

const ISSUE_CODES: Record<FhirErrorCode, OperationOutcomeIssue['code']> = {
  FHIR_INVALID_JSON: 'structure',
  FHIR_INVALID_XML: 'structure',
  FHIR_INVALID_RESOURCE: 'invalid',
  FHIR_INVALID_ID: 'value',
  FHIR_UNKNOWN_TYPE: 'not-supported',
  FHIR_NOT_FOUND: 'not-found',
  FHIR_GONE: 'deleted',
  FHIR_VERSION_CONFLICT: 'conflict',
  FHIR_CONFLICT: 'conflict',
  FHIR_FORBIDDEN: 'forbidden',
  FHIR_PRECONDITION_FAILED: 'conflict',
  FHIR_MULTIPLE_MATCHES: 'multiple-matches',
  FHIR_BAD_SEARCH: 'invalid',
  FHIR_UNKNOWN_PARAMETER: 'not-supported',
  FHIR_UNKNOWN_TERMINOLOGY: 'not-found',
  FHIR_NOT_ACCEPTABLE: 'not-supported',
  FHIR_UNSUPPORTED_MEDIA_TYPE: 'not-supported',
  FHIR_BODY_TOO_LARGE: 'too-costly',
  FHIR_TOO_COSTLY: 'too-costly',
  FHIR_UNAVAILABLE: 'transient',
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
    /** Response headers the status needs (a 405's Allow). */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'FhirError';
  }

  toOutcome(): OperationOutcome {
    const message = clip(this.message, MAX_MESSAGE_CHARS);
    const main: OperationOutcomeIssue = {
      severity: this.status >= 500 ? 'fatal' : 'error',
      code: ISSUE_CODES[this.code],
      details: { coding: [{ system: 'urn:instant-openhie:fhir-error', code: this.code }], text: message },
      diagnostics: message,
    };
    return { resourceType: 'OperationOutcome', issue: [main, ...boundedIssues(this.issues)] };
  }
}

/**
 * An answer about a bad body stays small whatever the body: at most MAX_OUTCOME_ISSUES issues (then
 * one saying how many more there are) and texts of at most MAX_ISSUE_CHARS, so 50,000 unknown
 * members cannot make a 6 MB OperationOutcome.
 */
export const MAX_OUTCOME_ISSUES = 100;
const MAX_MESSAGE_CHARS = 2_000;
const MAX_ISSUE_CHARS = 500;

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}... (${text.length - max} more characters)` : text;
}

export function boundedIssues(issues: OperationOutcomeIssue[]): OperationOutcomeIssue[] {
  const shown = issues.slice(0, MAX_OUTCOME_ISSUES).map(boundedIssue);
  if (issues.length > MAX_OUTCOME_ISSUES) {
    const more = issues.length - MAX_OUTCOME_ISSUES;
    shown.push({
      severity: 'information', code: 'informational',
      diagnostics: `${more} more issues are not listed (only the first ${MAX_OUTCOME_ISSUES} are): fix these and validate again to see the rest`,
    });
  }
  return shown;
}

function boundedIssue(issue: OperationOutcomeIssue): OperationOutcomeIssue {
  const out: OperationOutcomeIssue = { ...issue };
  if (out.diagnostics !== undefined) out.diagnostics = clip(out.diagnostics, MAX_ISSUE_CHARS);
  if (out.details?.text !== undefined) out.details = { ...out.details, text: clip(out.details.text, MAX_ISSUE_CHARS) };
  if (out.expression) out.expression = out.expression.slice(0, 4).map((e) => clip(e, MAX_ISSUE_CHARS));
  return out;
}

export const badRequest = (message: string, code: FhirErrorCode = 'FHIR_BAD_REQUEST'): FhirError =>
  new FhirError(400, code, message);
export const notFound = (message: string): FhirError => new FhirError(404, 'FHIR_NOT_FOUND', message);

/**
 * A request past one of the limits that bound its cost (search depth, parameters, bundle entries,
 * the statement time budget): the client's to narrow, so a 4xx (400, or 413 for a bundle's size).
 */
export const tooCostly = (message: string, status = 400): FhirError => new FhirError(status, 'FHIR_TOO_COSTLY', message);

/** Seconds a client waits before retrying a request the restarting embedded database failed. */
export const RETRY_AFTER_SECONDS = 5;

export function informational(text: string): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'information', code: 'informational', details: { text }, diagnostics: text }],
  };
}

/** Any thrown value as a FhirError: unknown errors are internal (500) and their text is not leaked. */
export function asFhirError(error: unknown): FhirError {
  if (error instanceof FhirError) return error;
  if (isSizeRangeError(error)) {
    return tooCostly('the request is too large for the server to process (a library ran out of stack or string space on it): ' +
      'split it into smaller resources, or fewer repetitions of an element', 422);
  }
  const pgCode = (error as { code?: unknown })?.code;
  // Serialisation failures and deadlocks between concurrent writers are the client's to retry.
  if (pgCode === '40001' || pgCode === '40P01') {
    return new FhirError(409, 'FHIR_CONFLICT', 'a concurrent write conflicted with this one; retry it');
  }
  // A statement cut at its time budget (PostgreSQL's statement_timeout, or the PGlite watchdog):
  // the server refuses to finish it, and the client must narrow it, so a 4xx, not a 5xx to retry.
  if (isTransactionTimeout(error)) {
    return tooCostly(`the request's database transaction ran longer than its budget (${TRANSACTION_TIMEOUT_SETTING}) and was rolled back as a whole: ` +
      'nothing of it was stored; split it (fewer entries per transaction bundle)');
  }
  if (pgCode === '57014') {
    return tooCostly('the request ran longer than the database statement budget (INSTANT_DB_STATEMENT_TIMEOUT_MS) and was cancelled; ' +
      'narrow it: fewer or more selective search parameters, less chaining or _has, a smaller _count');
  }
  // Innocent calls failed while the embedded database restarted after another request's timeout.
  if (pgCode === '57P03' || pgCode === '57P01') {
    return new FhirError(503, 'FHIR_UNAVAILABLE', `the database is restarting; retry in ${RETRY_AFTER_SECONDS} seconds`);
  }
  // Insufficient resources (class 53: a full disk, out of memory, too many connections): the
  // server's state, which the operator fixes; the statement failed, so nothing was stored.
  if (typeof pgCode === 'string' && pgCode.startsWith('53')) {
    const what = pgCode === '53100' ? 'out of disk space' : pgCode === '53300' ? 'out of connections' : 'out of memory or another resource';
    return new FhirError(503, 'FHIR_UNAVAILABLE', `the server's database is ${what}: nothing of this request was stored; retry later`);
  }
  if (pgCode === '23505') {
    return new FhirError(409, 'FHIR_CONFLICT', 'a concurrent write created the same resource; retry it');
  }
  // Data PostgreSQL cannot take (class 22: an inverted range, a value out of range): the input's fault.
  if (typeof pgCode === 'string' && pgCode.startsWith('22')) {
    const message = (error as { message?: unknown }).message;
    const detail = /range lower bound must be less than or equal to range upper bound/.test(String(message))
      ? 'a period or range ends before it starts (FHIR invariant per-1: start SHALL be before end)'
      : `a value is out of the range the server can store or search (${String(message).slice(0, 120)})`;
    return new FhirError(400, 'FHIR_INVALID_RESOURCE', detail);
  }
  return new FhirError(500, 'FHIR_INTERNAL', 'internal error while processing the request');
}

/**
 * The last line behind FHIR_MAX_RESOURCE_ELEMENTS: a library's deep recursion or a string or array
 * it builds from the input can still fail with a RangeError on some shape of a large body. That is
 * the input's size, not a server fault: 422 too-costly, never a 500.
 */
function isSizeRangeError(error: unknown): boolean {
  return error instanceof RangeError && /Maximum call stack size exceeded|Invalid string length|Invalid array length/.test(error.message);
}
