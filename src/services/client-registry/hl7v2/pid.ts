/**
 * PID segment ↔ FHIR Patient, the mapping of docs/client-registry.md ("HL7v2 over MLLP"):
 * PID-3 identifiers (assigning authority → domain URL), PID-5 names, PID-6 mother's maiden name
 * (the patient-mothersMaidenName extension), PID-7 birth date, PID-8 gender, PID-11 addresses,
 * PID-13/14 home/work phones and e-mail, PID-29/30 death.
 */
import type { Hl7Segment } from '@medplum/core';
import type { Address, ContactPoint, HumanName, Identifier, Patient } from '@medplum/fhirtypes';
import { HL7_ERROR, Hl7MessageError } from './acknowledgement.js';
import type { AuthorityDirectory } from './authorities.js';
import { buildSegment, components, part, repeated, repetitions, value } from './encoding.js';

export const MOTHERS_MAIDEN_NAME_URL = 'http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName';

const NAME_USE: Record<string, HumanName['use']> = { L: 'official', D: 'usual', M: 'maiden', N: 'nickname', A: 'usual', S: 'anonymous' };
const NAME_TYPE: Record<string, string> = { official: 'L', usual: 'D', maiden: 'M', nickname: 'N', anonymous: 'S' };
const GENDER: Record<string, Patient['gender']> = { M: 'male', F: 'female', O: 'other', A: 'other', U: 'unknown', N: 'unknown' };
const SEX: Record<string, string> = { male: 'M', female: 'F', other: 'O', unknown: 'U' };
const ADDRESS_USE: Record<string, Address['use']> = { H: 'home', B: 'work', O: 'work', C: 'temp', M: 'home', P: 'home' };
const ADDRESS_TYPE: Record<string, string> = { home: 'H', work: 'B', temp: 'C' };

/**
 * Refuses (AE) a field repeated more than CLIENT_REGISTRY_MAX_REPEATS times before anything is
 * done with it: each PID-3 identifier costs a search, and a Patient past the cap would be refused anyway.
 */
export function assertRepetitionsWithin(segment: Hl7Segment, segmentName: string, fields: readonly number[], maxRepeats: number): void {
  for (const field of fields) {
    const count = repetitions(segment, field).length;
    if (count > maxRepeats) {
      throw new Hl7MessageError('AE', HL7_ERROR.dataTypeError,
        `${segmentName}-${field} has ${count} repetitions; at most ${maxRepeats} are accepted (CLIENT_REGISTRY_MAX_REPEATS)`, `${segmentName}^1^${field}^${maxRepeats + 1}`);
    }
  }
}

/** PID-3's identifiers with their domain URLs; an unknown authority is an AE naming its repetition. */
export function pidIdentifiers(pid: Hl7Segment, authorities: AuthorityDirectory, maxRepeats: number, segmentName = 'PID', field = 3): Identifier[] {
  assertRepetitionsWithin(pid, segmentName, [field], maxRepeats);
  return repetitions(pid, field).map((cx, n) => {
    const identifierValue = part(cx, 1, pid.context);
    const authority = { namespace: part(cx, 4, pid.context, 1), universalId: part(cx, 4, pid.context, 2), universalIdType: part(cx, 4, pid.context, 3) };
    const location = `${segmentName}^1^${field}^${n + 1}`;
    if (!identifierValue) throw new Hl7MessageError('AE', HL7_ERROR.requiredFieldMissing, `${segmentName}-${field} repetition ${n + 1} has no ID (CX-1)`, `${location}^1`);
    const system = authorities.systemOf(authority);
    if (!system) {
      const named = [authority.namespace, authority.universalId].filter(Boolean).join('&') || '(none)';
      throw new Hl7MessageError('AE', HL7_ERROR.unknownKey,
        `unknown assigning authority "${named.slice(0, 200)}" in ${segmentName}-${field} repetition ${n + 1}; register the domain as a NamingSystem (kind identifier, uniqueId oid/uri/other) first`, `${location}^4`);
    }
    const type = part(cx, 5, pid.context);
    return { ...(type ? { type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: type }] } } : {}), system, value: identifierValue };
  });
}

/** An HL7 DTM: YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ] (v2.5 2A.3.22). */
const DTM = /^(\d{4})(?:(\d{2})(?:(\d{2})(?:([01]\d|2[0-3])(?:[0-5]\d(?:[0-5]\d(?:\.\d{1,4})?)?)?)?)?)?(?:[+-](?:[01]\d|2[0-3])[0-5]\d)?$/;

/** The date part of a DTM, as FHIR writes it; undefined when it is no DTM or no calendar date (20251345, 20250230). */
function birthDate(ts: string): string | undefined {
  const match = DTM.exec(ts);
  if (!match) return undefined;
  const [, year, month, day] = match;
  if (month && (Number(month) < 1 || Number(month) > 12)) return undefined;
  if (day && (Number(day) < 1 || Number(day) > new Date(Date.UTC(Number(year), Number(month), 0)).getUTCDate())) return undefined;
  return [year, month, day].filter(Boolean).join('-');
}

/**
 * PID-29 as a FHIR dateTime: with its time when the DTM gives hours, minutes and an offset (FHIR
 * needs the zone with a time: 200912241830+0200 is 2009-12-24T18:30:00+02:00), else its date.
 */
function deathDateTime(ts: string): string | undefined {
  const date = birthDate(ts);
  const time = /^\d{8}(\d{2})(\d{2})(\d{2})?(?:\.\d{1,4})?([+-]\d{2})(\d{2})$/.exec(ts);
  return date && time ? `${date}T${time[1]}:${time[2]}:${time[3] ?? '00'}${time[4]}:${time[5]}` : date;
}

function names(pid: Hl7Segment): HumanName[] {
  return repetitions(pid, 5).flatMap((xpn) => {
    const family = part(xpn, 1, pid.context, 1);
    const given = [part(xpn, 2, pid.context), part(xpn, 3, pid.context)].filter(Boolean);
    if (!family && !given.length) return [];
    const use = NAME_USE[part(xpn, 7, pid.context)];
    const suffix = part(xpn, 4, pid.context);
    const prefix = part(xpn, 5, pid.context);
    return [{ ...(use ? { use } : {}), ...(family ? { family } : {}), ...(given.length ? { given } : {}), ...(prefix ? { prefix: [prefix] } : {}), ...(suffix ? { suffix: [suffix] } : {}) }];
  });
}

function addresses(pid: Hl7Segment): Address[] {
  return repetitions(pid, 11).flatMap((xad) => {
    const line = [part(xad, 1, pid.context, 1), part(xad, 2, pid.context)].filter(Boolean);
    const [city, state, postalCode, country] = [3, 4, 5, 6].map((c) => part(xad, c, pid.context));
    if (!line.length && !city && !state && !postalCode && !country) return [];
    const use = ADDRESS_USE[part(xad, 7, pid.context)];
    return [{ ...(use ? { use } : {}), ...(line.length ? { line } : {}), ...(city ? { city } : {}), ...(state ? { state } : {}), ...(postalCode ? { postalCode } : {}), ...(country ? { country } : {}) }];
  });
}

function phones(pid: Hl7Segment, field: number, use: ContactPoint['use']): ContactPoint[] {
  return repetitions(pid, field).flatMap((xtn): ContactPoint[] => {
    const equipment = part(xtn, 3, pid.context);
    const email = part(xtn, 4, pid.context);
    if (equipment === 'Internet' || (email && !part(xtn, 1, pid.context))) return email ? [{ system: 'email', value: email, use }] : [];
    // v2.5 splits the number (XTN-6 area code, XTN-7 local number); older senders put it in XTN-1.
    const number = part(xtn, 1, pid.context) || [part(xtn, 5, pid.context), part(xtn, 6, pid.context), part(xtn, 7, pid.context)].filter(Boolean).join(' ');
    if (!number) return [];
    return [{ system: 'phone', value: number, use: equipment === 'CP' ? 'mobile' : use }];
  });
}

/** HL7's null (v2.5 2.5.3): a field sent as `""` says the old value is to be cleared, where an empty field leaves it unchanged. */
function isNull(pid: Hl7Segment, field: number): boolean {
  return pid.getField(field)?.toString() === '""';
}

/** The Patient a PID describes; only the elements the PID carries are set (a field sent as `""` carries none: see updatedByPid). */
export function patientFromPid(pid: Hl7Segment, authorities: AuthorityDirectory, maxRepeats: number): Patient {
  assertRepetitionsWithin(pid, 'PID', [3, 5, 11, 13, 14], maxRepeats);
  const patient: Patient = { resourceType: 'Patient' };
  const identifier = pidIdentifiers(pid, authorities, maxRepeats);
  if (identifier.length) patient.identifier = identifier;
  const given = (field: number) => !isNull(pid, field);
  const name = given(5) ? names(pid) : [];
  if (name.length) patient.name = name;
  const maiden = given(6) ? value(pid, 6, 1, 1) : '';
  if (maiden) patient.extension = [{ url: MOTHERS_MAIDEN_NAME_URL, valueString: maiden }];
  const born = given(7) ? value(pid, 7) : '';
  if (born) {
    const date = birthDate(born);
    if (!date) throw new Hl7MessageError('AE', HL7_ERROR.dataTypeError, `PID-7 "${born.slice(0, 40)}" is not an HL7 date (YYYY[MM[DD[HHMM[SS]]]][+/-ZZZZ], a calendar date)`, 'PID^1^7');
    patient.birthDate = date;
  }
  const sex = given(8) ? value(pid, 8) : '';
  if (sex) {
    const gender = GENDER[sex.toUpperCase()];
    if (!gender) throw new Hl7MessageError('AE', HL7_ERROR.tableValueNotFound, `PID-8 "${sex.slice(0, 20)}" is not an administrative sex (HL7 table 0001: M, F, O, U, A, N)`, 'PID^1^8');
    patient.gender = gender;
  }
  const address = given(11) ? addresses(pid) : [];
  if (address.length) patient.address = address;
  const telecom = [...(given(13) ? phones(pid, 13, 'home') : []), ...(given(14) ? phones(pid, 14, 'work') : [])];
  if (telecom.length) patient.telecom = telecom;
  const diedAt = given(29) ? value(pid, 29) : '';
  const died = deathDateTime(diedAt);
  if (diedAt && !died) throw new Hl7MessageError('AE', HL7_ERROR.dataTypeError, `PID-29 "${diedAt.slice(0, 40)}" is not an HL7 date/time (YYYY[MM[DD[HHMM[SS]]]][+/-ZZZZ])`, 'PID^1^29');
  if (died) patient.deceasedDateTime = died;
  else if (value(pid, 30).toUpperCase() === 'Y') patient.deceasedBoolean = true;
  return patient;
}

/** The element each PID field sent as `""` clears. */
const NULLED_ELEMENTS: ReadonlyArray<[number, 'name' | 'birthDate' | 'gender' | 'address' | 'deceasedDateTime' | 'deceasedBoolean']> = [
  [5, 'name'], [7, 'birthDate'], [8, 'gender'], [11, 'address'], [29, 'deceasedDateTime'], [30, 'deceasedBoolean'],
];

/**
 * A stored source record as an update's PID leaves it (A01/A04/A05/A08 of a known patient): the
 * elements the PID carries replace the stored ones, an empty field leaves its element unchanged and
 * a field sent as `""` clears it (v2.5 2.5.3). PID-13 (home: every use but work) and PID-14 (work)
 * are two halves of `telecom`, and PID-6 one extension among others: each replaces its own part.
 */
export function updatedByPid(existing: Patient, incoming: Patient, pid: Hl7Segment): Patient {
  const updated: Patient = { ...existing, ...incoming };
  for (const [field, element] of NULLED_ELEMENTS) if (isNull(pid, field)) delete updated[element];
  if (incoming.deceasedDateTime !== undefined) delete updated.deceasedBoolean;
  if (incoming.deceasedBoolean !== undefined) delete updated.deceasedDateTime;
  const half = (field: number, mine: (t: ContactPoint) => boolean): ContactPoint[] => {
    if (isNull(pid, field)) return [];
    return repetitions(pid, field).length ? (incoming.telecom ?? []).filter(mine) : (existing.telecom ?? []).filter(mine);
  };
  // Incoming PID-14 phones are `work`, or `mobile` (XTN-3 CP): a mobile is read back into PID-13, so it counts there too.
  const telecom = [...half(13, (t) => t.use !== 'work'), ...half(14, (t) => t.use === 'work')];
  if (telecom.length) updated.telecom = telecom;
  else delete updated.telecom;
  const otherExtensions = (existing.extension ?? []).filter((e) => e.url !== MOTHERS_MAIDEN_NAME_URL);
  const maiden = isNull(pid, 6) ? [] : incoming.extension ?? (existing.extension ?? []).filter((e) => e.url === MOTHERS_MAIDEN_NAME_URL);
  const extension = [...otherExtensions, ...maiden];
  if (extension.length) updated.extension = extension;
  else delete updated.extension;
  return updated;
}

/** A PID for an answer: the given identifiers (already filtered to the asked domains) and the patient's demographics. */
export function pidFromPatient(setId: number, patient: Patient, identifiers: readonly Identifier[], authorities: AuthorityDirectory): Hl7Segment {
  const cx = identifiers.map((i) => components(i.value, '', '', authorities.authorityOf(i.system!), i.type?.coding?.[0]?.code));
  const xpn = (patient.name ?? []).map((n) => components(n.family, n.given?.[0], n.given?.slice(1).join(' ') || undefined, n.suffix?.[0], n.prefix?.[0], '', n.use ? NAME_TYPE[n.use] : undefined));
  const maiden = patient.extension?.find((e) => e.url === MOTHERS_MAIDEN_NAME_URL)?.valueString;
  const xad = (patient.address ?? []).map((a) => components(a.line?.[0], a.line?.slice(1).join(' ') || undefined, a.city, a.state, a.postalCode, a.country, a.use ? ADDRESS_TYPE[a.use] : undefined));
  // PID-13 home (every use but work, as they are read), PID-14 work.
  const xtn = (work: boolean): string => repeated((patient.telecom ?? []).filter((t) => t.value && (t.use === 'work') === work)
    .map((t) => (t.system === 'email' ? components('', 'NET', 'Internet', t.value) : components(t.value, work ? 'WPN' : 'PRN', t.use === 'mobile' ? 'CP' : 'PH'))));
  const died = patient.deceasedDateTime ? dtmOf(patient.deceasedDateTime) : '';
  const deathIndicator = died || patient.deceasedBoolean === true ? 'Y' : patient.deceasedBoolean === false ? 'N' : '';
  return buildSegment('PID', [
    String(setId), '', repeated(cx), '', repeated(xpn), maiden ? components(maiden) : '',
    patient.birthDate?.replace(/-/g, ''), patient.gender ? SEX[patient.gender] : '', '', '', repeated(xad), '', xtn(false), xtn(true),
    ...(died || deathIndicator ? [...Array<string>(14).fill(''), died, deathIndicator] : []),
  ]);
}

/** A FHIR date or dateTime as an HL7 DTM (2024-03-01T10:20:00+02:00 is 20240301102000+0200; Z is +0000). */
function dtmOf(dateTime: string): string {
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d{1,4})?\d*)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/.exec(dateTime);
  if (!m) return '';
  const [, year, month = '', day = '', hour = '', minute = '', second = '', fraction = '', zone] = m;
  const offset = !zone ? '' : zone === 'Z' ? '+0000' : zone.replace(':', '');
  return `${year}${month}${day}${hour}${minute}${second}${fraction}${offset}`;
}
