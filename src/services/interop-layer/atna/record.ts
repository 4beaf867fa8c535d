/**
 * The ATNA audit record as OpenHIM stores it (v8.5 src/model/audits.js: RFC 3881 / DICOM audit
 * message fields, as xml2js reads the XML), its validation at the edge, and the FHIR R4
 * AuditEvent it is also served as (GET /audit-events; the DICOM-to-FHIR mapping of
 * https://hl7.org/fhir/R4/auditevent-mappings.html#dicom).
 */
import { z } from 'zod';
import { badRequest } from '../errors.js';
import type { AuditAction, AuditEvent } from '../store/audits.js';

/** Longest text any field keeps; the raw message and a query may be larger (base64 of a message). */
const FIELD_CHARS = 4096;
const LARGE_CHARS = 1024 * 1024;
const LIST_MAX = 100;

/** Mongoose casts numbers to strings (`code: 110112`), and so do we; nothing else. */
const text = (max = FIELD_CHARS) => z.preprocess((v) => (typeof v === 'number' && Number.isFinite(v) ? String(v) : v), z.string().max(max));
const flagText = z.preprocess((v) => (typeof v === 'boolean' ? String(v) : v), text());

const code = z.object({ code: text().optional(), displayName: text().optional(), codeSystemName: text().optional() });
export type AtnaCode = z.infer<typeof code>;

const activeParticipant = z.object({
  userID: text().optional(),
  alternativeUserID: text().optional(),
  userIsRequestor: flagText.optional(),
  networkAccessPointID: text().optional(),
  networkAccessPointTypeCode: text().optional(),
  roleIDCode: code.optional(),
});

const participantObject = z.object({
  participantObjectID: text().optional(),
  participantObjectTypeCode: text().optional(),
  participantObjectTypeCodeRole: text().optional(),
  participantObjectIDTypeCode: code.optional(),
  participantObjectQuery: text(LARGE_CHARS).optional(),
  participantObjectDetail: z.object({ type: text().optional(), value: text(LARGE_CHARS).optional() }).optional(),
});

const syslog = z.object({
  prival: z.number().int().optional(),
  facilityID: z.number().int().optional(),
  severityID: z.number().int().optional(),
  facility: text().optional(),
  severity: text().optional(),
  type: text().optional(),
  time: text().optional(),
  host: text().optional(),
  appName: text().optional(),
  pid: text().optional(),
  msgID: text().optional(),
});

/** RFC 3881's outcomes and actions: what the FHIR AuditEvent can hold too. */
const OUTCOMES = ['0', '4', '8', '12'] as const;
const ACTIONS = ['C', 'R', 'U', 'D', 'E'] as const;

/**
 * A date and time as ATNA writes them (ISO 8601, from year 1900), not after tomorrow: a record
 * dated far ahead would sort first in every list for good, and one outside the database's range
 * could not be stored.
 */
/** A day the calendar has (2026-02-30 is none; Date would read it as 2 March). */
function realDay(year: number, month: number, day: number): boolean {
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

const eventDateTime = text(64).refine((value) => {
  const ms = Date.parse(value);
  const day = /^(\d{4})-(\d{2})-(\d{2})/.exec(value.trim());
  return !!day && realDay(Number(day[1]), Number(day[2]), Number(day[3])) && !Number.isNaN(ms) && ms >= Date.UTC(1900, 0, 1) && ms <= Date.now() + 24 * 60 * 60_000;
}, { message: 'must be an ISO 8601 date and time from 1900 to tomorrow' });

/** OpenHIM's AuditRecordSchema; fields it does not have are dropped, as its mongoose model drops them. */
export const atnaRecordSchema = z.object({
  rawMessage: text(LARGE_CHARS).optional(),
  syslog: syslog.optional(),
  eventIdentification: z.object({
    eventDateTime: eventDateTime.optional(),
    eventOutcomeIndicator: z.preprocess((v) => (typeof v === 'number' ? String(v) : v), z.enum(OUTCOMES)).optional(),
    eventActionCode: z.enum(ACTIONS).optional(),
    eventID: code.optional(),
    eventTypeCode: code.optional(),
  }),
  activeParticipant: z.array(activeParticipant).max(LIST_MAX).default([]),
  auditSourceIdentification: z
    .object({ auditSourceID: text().optional(), auditEnterpriseSiteID: text().optional(), auditSourceTypeCode: code.optional() })
    .optional(),
  participantObjectIdentification: z.array(participantObject).max(LIST_MAX).default([]),
});

export type AtnaRecord = z.infer<typeof atnaRecordSchema> & { eventIdentification: { eventDateTime: string } };

/** A posted or received record, checked; `eventDateTime` defaults to now as in OpenHIM's model. */
export function parseAtnaRecord(body: unknown): AtnaRecord {
  const result = atnaRecordSchema.safeParse(body);
  if (!result.success) {
    const issues = result.error.issues.slice(0, 5).map((i) => `${i.path.join('.') || 'audit'}: ${i.message}`).join('; ');
    throw badRequest(`invalid ATNA audit record: ${issues}`, 'send OpenHIM\'s audit record (eventIdentification, activeParticipant, auditSourceIdentification, participantObjectIdentification)');
  }
  const record = result.data;
  const when = record.eventIdentification.eventDateTime;
  return { ...record, eventIdentification: { ...record.eventIdentification, eventDateTime: new Date(when ? Date.parse(when) : Date.now()).toISOString() } };
}

const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
/** Code systems named as audit messages name them, and their FHIR URIs. */
const SYSTEMS: Record<string, string> = {
  DCM,
  'IHE Transactions': 'urn:ihe:event-type-code',
  'RFC-3881': 'http://terminology.hl7.org/CodeSystem/audit-entity-type',
};

function coding(c: AtnaCode | undefined): { system?: string; code: string; display?: string } | undefined {
  if (!c?.code) return undefined;
  const system = c.codeSystemName ? (SYSTEMS[c.codeSystemName] ?? `urn:atna:code-system:${encodeURIComponent(c.codeSystemName)}`) : undefined;
  return { ...(system ? { system } : {}), code: c.code, ...(c.displayName ? { display: c.displayName } : {}) };
}

const isBase64 = (value: string) => value.length > 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(value.replace(/\s+/g, '')) && value.replace(/\s+/g, '').length % 4 === 0;

/** The FHIR R4 AuditEvent of an ATNA record (the DICOM mapping), kind `atna`. */
export function atnaToAuditEvent(id: string, record: AtnaRecord): AuditEvent {
  const ident = record.eventIdentification;
  const type = coding(ident.eventID) ?? { system: DCM, code: '110100', display: 'Application Activity' };
  const subtype = coding(ident.eventTypeCode);
  const source = record.auditSourceIdentification;
  return {
    resourceType: 'AuditEvent',
    id,
    type: { system: type.system ?? '', code: type.code, display: type.display ?? type.code },
    // The first subtype says where the event came from (our kinds); the message's own type follows.
    subtype: [{ system: 'urn:instant-openhie:iol:audit', code: 'atna' }, ...(subtype ? [subtype] : [])],
    action: atnaAction(record),
    recorded: ident.eventDateTime,
    outcome: atnaOutcome(record),
    agent: record.activeParticipant.map((p) => ({
      who: { ...(p.userID ? { identifier: { value: p.userID } } : {}), display: p.userID || 'unknown' },
      ...(p.alternativeUserID ? { altId: p.alternativeUserID } : {}),
      requestor: p.userIsRequestor === 'true',
      ...(p.roleIDCode?.code ? { role: [{ coding: [coding(p.roleIDCode)!] }] } : {}),
      ...(p.networkAccessPointID ? { network: { address: p.networkAccessPointID, type: (p.networkAccessPointTypeCode ?? '2') as '2' } } : {}),
    })),
    source: {
      ...(source?.auditEnterpriseSiteID ? { site: source.auditEnterpriseSiteID } : {}),
      observer: { display: source?.auditSourceID || 'unknown' },
      type: source?.auditSourceTypeCode?.code
        ? [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: source.auditSourceTypeCode.code, display: source.auditSourceTypeCode.displayName ?? source.auditSourceTypeCode.code }]
        : [],
    },
    entity: record.participantObjectIdentification.map((o) => ({
      what: { identifier: { value: o.participantObjectID ?? '', ...(o.participantObjectIDTypeCode?.code ? { type: { coding: [coding(o.participantObjectIDTypeCode)!] } } : {}) } },
      ...(o.participantObjectTypeCode ? { type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: o.participantObjectTypeCode } } : {}),
      ...(o.participantObjectTypeCodeRole ? { role: { system: 'http://terminology.hl7.org/CodeSystem/object-role', code: o.participantObjectTypeCodeRole } } : {}),
      ...(o.participantObjectQuery && isBase64(o.participantObjectQuery) ? { query: o.participantObjectQuery.replace(/\s+/g, '') } : {}),
      ...(o.participantObjectDetail?.type ? { detail: [{ type: o.participantObjectDetail.type, valueString: o.participantObjectDetail.value ?? '' }] } : {}),
    })),
  } as AuditEvent;
}

export function atnaAction(record: AtnaRecord): AuditAction {
  return record.eventIdentification.eventActionCode ?? 'E';
}

export function atnaOutcome(record: AtnaRecord): AuditEvent['outcome'] {
  return record.eventIdentification.eventOutcomeIndicator ?? '0';
}

/**
 * atna-audit's auditLogUsedAudit, as OpenHIM records it when a user reads audit records in
 * detail (GET /audits/:id, or the list in its full or simpledetails view): who read which record.
 */
export function auditLogUsedRecord(input: { outcome: '0' | '4' | '12'; sourceId: string; hostname: string; user: string; groups: string; auditUri: string }): AtnaRecord {
  return {
    eventIdentification: {
      eventDateTime: new Date().toISOString(),
      eventOutcomeIndicator: input.outcome,
      eventActionCode: 'R',
      eventID: { code: '110101', displayName: 'Audit Log Used', codeSystemName: 'DCM' },
    },
    activeParticipant: [
      { userID: input.sourceId, alternativeUserID: '', userIsRequestor: 'false', networkAccessPointID: input.hostname, networkAccessPointTypeCode: '1', roleIDCode: { code: '110150', displayName: 'Application', codeSystemName: 'DCM' } },
      { userID: input.user, alternativeUserID: '', userIsRequestor: 'true', roleIDCode: { code: input.groups, displayName: input.groups, codeSystemName: input.groups } },
    ],
    auditSourceIdentification: { auditSourceID: input.sourceId, auditSourceTypeCode: { code: '1' } },
    participantObjectIdentification: [
      { participantObjectID: input.auditUri, participantObjectTypeCode: '2', participantObjectTypeCodeRole: '13', participantObjectIDTypeCode: { code: '12', displayName: 'URI' } },
    ],
  };
}
