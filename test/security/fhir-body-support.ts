/**
 * A FHIR engine served over HTTP with chosen limits (src/common/limits.ts), for the security
 * tests of FHIR bodies, JSON Patch, prototype safety and index values: test/fhir/support.ts's
 * server on its own schema.
 */
import type { Limits } from '../../src/common/limits.js';
import { startFhirServer, type FhirTestServer } from '../fhir/support.js';

export type LimitedFhirServer = FhirTestServer;

export function startLimitedFhirServer(
  driver: 'pglite' | 'postgres',
  options: { limits?: Partial<Limits>; bodyLimit?: number } = {},
): Promise<LimitedFhirServer> {
  return startFhirServer(driver, { ...options, schema: 'fhir_security', limits: options.limits ?? {} });
}

/** Asserts-free helper: the OperationOutcome's first diagnostics, or the body as text. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function diagnostics(body: any): string {
  return body?.issue?.[0]?.diagnostics ?? JSON.stringify(body)?.slice(0, 300) ?? '';
}
