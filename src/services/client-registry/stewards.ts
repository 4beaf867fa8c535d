/**
 * Data-steward operations: linking a source to another person ($cr-link), splitting it off
 * ($cr-unlink), the review queue (reading it, accepting, rejecting), and undoing a merge
 * ($cr-unmerge) decide who is who for every client of the exchange, so they are a steward's alone:
 * a sender the router vouched for with the role `client-registry-steward`, or, only where the
 * operator says the registry's port is trusted (CLIENT_REGISTRY_DIRECT_CALLERS=steward), a caller
 * without a sender assertion. A registering client or an anonymous caller gets 403.
 */
import { FhirError } from '../../fhir/outcome.js';
import { STEWARD_ROLE, callerName, isSteward } from './request-context.js';

/** The setting that says what an HTTP caller without the router's sender assertion is. */
export const DIRECT_CALLERS_SETTING = 'CLIENT_REGISTRY_DIRECT_CALLERS';
export type DirectCallers = 'anonymous' | 'steward';

export function parseDirectCallers(text: string | undefined): DirectCallers {
  const value = (text ?? '').trim() || 'anonymous';
  if (value !== 'anonymous' && value !== 'steward') throw new Error(`${DIRECT_CALLERS_SETTING}: "${value.slice(0, 40)}" is not anonymous or steward`);
  return value;
}

export function requireSteward(operation: string): void {
  if (isSteward()) return;
  throw new FhirError(403, 'FHIR_FORBIDDEN',
    `${operation} is a data steward's operation: it needs a client with the role ${STEWARD_ROLE} (through the router); this request came from ${callerName()}`);
}
