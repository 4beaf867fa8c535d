/**
 * ADT feeds (IHE PIX/PDQ patient identity feed, ITI-8 / ITI-30 style) as FHIR writes:
 * A01/A04/A05/A08 register or update the source record that carries one of PID-3's identifiers
 * (create when none does: an A08 for a patient the registry has not seen registers it);
 * A40 merges the MRG-1 patient into the PID-3 patient. Every write goes through the engine, so
 * identifier domains, matching and golden records apply exactly as for a FHIR client.
 */
import type { Hl7Message } from '@medplum/core';
import type { Patient } from '@medplum/fhirtypes';
import { isGolden } from '../golden-record.js';
import { replacedBy } from '../registry-ownership.js';
import { HL7_ERROR, Hl7MessageError } from './acknowledgement.js';
import type { AuthorityDirectory } from './authorities.js';
import { pidIdentifiers, patientFromPid, updatedByPid } from './pid.js';
import type { RegistryCalls } from './fhir-calls.js';
import { escapeSearchValue } from '../../../common/search-value-escape.js';

const GOLDEN_TAG = 'http://instant-openhie.org/fhir/cr-record-type|golden';

export const REGISTER_EVENTS = new Set(['A01', 'A04', 'A05', 'A08']);

function requireSegment(message: Hl7Message, name: string) {
  const segment = message.getSegment(name);
  if (!segment) throw new Hl7MessageError('AE', HL7_ERROR.segmentSequence, `the message has no ${name} segment`, name);
  return segment;
}

/** The source record holding one of the identifiers (domain URLs), if any. */
async function findSource(calls: RegistryCalls, identifiers: readonly { system?: string; value?: string }[]): Promise<Patient | undefined> {
  for (const identifier of identifiers) {
    // Escaped: a value holding a comma would otherwise be two identifiers, one of them any domain's (another patient's record updated).
    const token = `${escapeSearchValue(identifier.system ?? '')}|${escapeSearchValue(identifier.value ?? '')}`;
    const found = await calls.search<Patient>('Patient', [['identifier', token], ['_tag:not', GOLDEN_TAG], ['_count', '2']]);
    const source = found.find((p) => !isGolden(p));
    if (source) return source;
  }
  return undefined;
}

/** A01/A04/A05/A08: create or update the source record; answers its id. */
export async function registerPatient(message: Hl7Message, calls: RegistryCalls, authorities: AuthorityDirectory, maxRepeats: number): Promise<string> {
  const pid = requireSegment(message, 'PID');
  const incoming = patientFromPid(pid, authorities, maxRepeats);
  if (!incoming.identifier?.length) throw new Hl7MessageError('AE', HL7_ERROR.requiredFieldMissing, 'PID-3 (patient identifier list) is required: the registry keys source records by it', 'PID^1^3');
  const existing = await findSource(calls, incoming.identifier);
  if (!existing) return (await calls.call<Patient>('POST', 'Patient', [], incoming, 'PID')).id!;
  // The message is the sender's current view of the patient: its elements replace the stored ones
  // (an empty field keeps, "" clears: updatedByPid); identifiers from other messages (other domains) and the registry's links stay.
  const seen = new Set(incoming.identifier.map((i) => `${i.system}|${i.value}`));
  const kept = (existing.identifier ?? []).filter((i) => !seen.has(`${i.system}|${i.value}`));
  const updated: Patient = { ...updatedByPid(existing, incoming, pid), identifier: [...incoming.identifier, ...kept], link: existing.link };
  if (!updated.link) delete updated.link;
  await calls.call<Patient>('PUT', `Patient/${existing.id}`, [], updated, 'PID');
  return existing.id!;
}

/**
 * A40: the MRG-1 patient (prior) is merged into the PID-3 patient (survivor): the prior source
 * record joins the survivor's golden record ($cr-link), is marked inactive and gets a
 * `replaced-by` link to the survivor. Both must be known (else AE 204); one patient named twice is
 * AE 205; an A40 already applied (the prior already replaced by the survivor) is AA again, nothing changed.
 */
export async function mergePatients(message: Hl7Message, calls: RegistryCalls, authorities: AuthorityDirectory, maxRepeats: number): Promise<void> {
  // HL7's ADT_A39 repeats the PID/MRG group; IHE ITI-8 (and ITI-30) take one pair per A40. Only the
  // first would be merged, so a message with more is refused before anything is merged.
  for (const name of ['PID', 'MRG']) {
    if (message.getAllSegments(name).length > 1) {
      throw new Hl7MessageError('AE', HL7_ERROR.segmentSequence, `an A40 merges one patient: send one PID/MRG pair per message (this one holds ${message.getAllSegments(name).length} ${name} segments)`, `${name}^2`);
    }
  }
  const pid = requireSegment(message, 'PID');
  const mrg = requireSegment(message, 'MRG');
  const survivorIds = pidIdentifiers(pid, authorities, maxRepeats);
  const priorIds = pidIdentifiers(mrg, authorities, maxRepeats, 'MRG', 1);
  if (!survivorIds.length) throw new Hl7MessageError('AE', HL7_ERROR.requiredFieldMissing, 'PID-3 (the surviving patient) is required', 'PID^1^3');
  if (!priorIds.length) throw new Hl7MessageError('AE', HL7_ERROR.requiredFieldMissing, 'MRG-1 (the prior patient identifier list) is required', 'MRG^1^1');
  const survivor = await findSource(calls, survivorIds);
  if (!survivor) throw new Hl7MessageError('AE', HL7_ERROR.unknownKey, 'the surviving patient (PID-3) is not registered', 'PID^1^3');
  const prior = await findSource(calls, priorIds);
  if (!prior) throw new Hl7MessageError('AE', HL7_ERROR.unknownKey, 'the prior patient (MRG-1) is not registered', 'MRG^1^1');
  if (prior.id === survivor.id) {
    throw new Hl7MessageError('AE', HL7_ERROR.duplicateKey, 'MRG-1 names the same patient as PID-3: a patient cannot be merged into itself', 'MRG^1^1');
  }
  // Already merged into this survivor: a resend (the sender lost the ACK) is answered AA again.
  if (replacedBy(prior) === survivor.id) return;
  // The registry's own merge (Patient/$merge): one transaction, replaced-by/replaces links, the
  // golden links moved, audited as a decision, undoable with $cr-unmerge.
  await calls.call('POST', 'Patient/$merge', [], {
    resourceType: 'Parameters',
    parameter: [
      { name: 'source-patient', valueReference: { reference: `Patient/${prior.id}` } },
      { name: 'target-patient', valueReference: { reference: `Patient/${survivor.id}` } },
    ],
  }, 'MRG');
}
