/**
 * Which of the client registry's records a clinic may use through the mediator: acting for a
 * clinic the router vouched for, only the records that clinic registered (the registry's
 * record-owner tag names it). A record another client registered, or one registered without an
 * owner (imported, HL7v2, the registry's own port), is refused without any of its content: a
 * clinic must not read other clinics' patients, nor file visits under them, by sending their
 * identifiers. A steward gives an ownerless record an owner with the tag (docs/client-registry.md).
 */
import { GOLDEN_TAG } from '../client-registry/golden-record.js';
import { RECORD_OWNER_SYSTEM } from '../client-registry/record-owners.js';
import { operationOutcome, type ActingFor } from './fhir-calls.js';
import type { Answer } from './registration.js';

export interface RegistryRecord {
  resourceType?: string;
  identifier?: Array<{ system?: string; value?: string }>;
  meta?: { tag?: Array<{ system?: string; code?: string }> };
}

/** The client the registry records as the record's owner, if any. */
export const ownerOf = (record: RegistryRecord): string | undefined => record.meta?.tag?.find((t) => t?.system === RECORD_OWNER_SYSTEM)?.code;

/** Whether the registry made this record itself (a golden record: it carries every source's identifiers). */
export const isGolden = (record: RegistryRecord): boolean => !!record.meta?.tag?.some((t) => t?.system === GOLDEN_TAG.system && t.code === GOLDEN_TAG.code);

/** Why the clinic may not use the registry's record of `identifier` (403), or undefined when it may (or nobody is vouched for). */
export function refusedRecord(record: RegistryRecord | undefined, actingFor: ActingFor | undefined, identifier: string): Answer | undefined {
  if (!actingFor) return undefined;
  const owner = record ? ownerOf(record) : undefined;
  if (owner === actingFor.clientID) return undefined;
  const why = owner
    ? `${identifier} is registered in the client registry by another client: a clinic uses the patients it registered, under its own identifiers (ask a data steward if this record is yours)`
    : `${identifier} is in the client registry without an owner (imported, sent over HL7v2 or to the registry's own port): a data steward assigns it to a clinic (the record-owner tag) before that clinic uses it here`;
  return { status: 403, body: operationOutcome('forbidden', why) };
}
