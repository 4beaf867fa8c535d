/**
 * OpenHIM's view of the audit log (GET /audits, /audits/:id, /audits-filter-options): the ATNA
 * (RFC 3881 / DICOM) record OpenHIM stores from atna-audit's messages, built from our stored
 * AuditEvents. OpenHIM v8.5: src/model/audits.js (the shape), src/api/audits.js (filters,
 * paging, projection), atna-audit's userLoginAudit (what a login records).
 */
import { hostname } from 'node:os';
import { badRequest } from '../errors.js';
import type { AuditEvent, AuditQuery, OwnEventMatch, StoredAudit } from '../store/audits.js';
import { checkStorable, parseFilterRegex, instantRange } from './query-filters.js';

/** OpenHIM's default `auditing.auditEvents.auditSourceID`. */
export const AUDIT_SOURCE_ID = 'openhim';

interface Code {
  code: string;
  displayName: string;
  codeSystemName: string;
}

export interface OpenhimAudit {
  _id: string;
  rawMessage?: string;
  /** The page's byte budget was reached: GET /audits/:id has this record whole. */
  detailsOmitted?: boolean;
  eventIdentification: {
    eventDateTime: string;
    eventOutcomeIndicator: string;
    eventActionCode: string;
    eventID: Code;
    eventTypeCode: Code;
  };
  activeParticipant?: Array<{
    userID: string;
    alternativeUserID: string;
    userIsRequestor: string;
    networkAccessPointID?: string;
    networkAccessPointTypeCode?: string;
    roleIDCode?: Code;
  }>;
  auditSourceIdentification: { auditSourceID: string };
  participantObjectIdentification?: Array<{ participantObjectID: string; participantObjectTypeCode: string; participantObjectDetail?: { type: string; value: string } }>;
}

const USER_AUTHENTICATED: Code = { code: '110114', displayName: 'UserAuthenticated', codeSystemName: 'DCM' };
const LOGIN: Code = { code: '110122', displayName: 'Login', codeSystemName: 'DCM' };
const APPLICATION: Code = { code: '110150', displayName: 'Application', codeSystemName: 'DCM' };
const OWN_CODES = 'urn:instant-openhie:iol:audit';

/** eventID and eventTypeCode of each kind: logins as atna-audit's userLoginAudit, the rest ours. */
const EVENT_CODES: Record<string, { eventID: Code; eventTypeCode: Code }> = {
  login: { eventID: USER_AUTHENTICATED, eventTypeCode: LOGIN },
  'auth-failure': { eventID: USER_AUTHENTICATED, eventTypeCode: LOGIN },
  'admin-change': {
    eventID: { code: 'rest', displayName: 'RESTful Operation', codeSystemName: 'audit-event-type' },
    eventTypeCode: { code: 'admin-change', displayName: 'Admin change', codeSystemName: OWN_CODES },
  },
};

const kindOf = (event: AuditEvent): string => event.subtype?.[0]?.code ?? 'admin-change';

/**
 * OpenHIM's record of a stored audit: an ATNA record as it was received, else built from our
 * AuditEvent. `full` keeps what OpenHIM's list leaves out (its projection: participants, objects
 * and the raw message).
 */
export function toOpenhimAudit(stored: StoredAudit, full: boolean): OpenhimAudit {
  if (stored.atna) {
    const { activeParticipant, participantObjectIdentification, rawMessage, ...rest } = stored.atna;
    const details = full && !stored.details_omitted;
    return {
      _id: stored.doc.id,
      ...rest,
      ...(details ? { activeParticipant, participantObjectIdentification, ...(rawMessage !== undefined ? { rawMessage } : {}) } : {}),
      ...(full && stored.details_omitted ? { detailsOmitted: true } : {}),
    } as OpenhimAudit;
  }
  return fromAuditEvent(stored.doc, full);
}

function fromAuditEvent(event: AuditEvent, full: boolean): OpenhimAudit {
  const kind = kindOf(event);
  const codes = EVENT_CODES[kind] ?? { eventID: { code: event.type.code, displayName: event.type.display, codeSystemName: event.type.system ?? '' }, eventTypeCode: { code: kind, displayName: kind, codeSystemName: OWN_CODES } };
  const audit: OpenhimAudit = {
    _id: event.id,
    eventIdentification: {
      eventDateTime: event.recorded,
      // atna-audit records a failed login as a serious failure (8).
      eventOutcomeIndicator: kind === 'auth-failure' && event.outcome !== '0' ? '8' : event.outcome,
      eventActionCode: event.action,
      ...codes,
    },
    auditSourceIdentification: { auditSourceID: AUDIT_SOURCE_ID },
  };
  // OpenHIM's list (no filterRepresentation) leaves these out; its details view has them.
  if (!full) return audit;
  const agent = event.agent[0];
  const address = agent?.network?.address;
  audit.activeParticipant = [
    { userID: AUDIT_SOURCE_ID, alternativeUserID: '', userIsRequestor: 'false', networkAccessPointID: hostname(), networkAccessPointTypeCode: '1', roleIDCode: APPLICATION },
    {
      // As OpenHIM names a caller it could not authenticate.
      userID: agent?.who.identifier?.value ?? `Unknown with ip ${address ?? 'unknown'}`,
      alternativeUserID: '',
      userIsRequestor: 'true',
      ...(address ? { networkAccessPointID: address, networkAccessPointTypeCode: '2' } : {}),
    },
  ];
  audit.participantObjectIdentification = (event.entity ?? []).map((entity) => ({
    participantObjectID: entity.what.reference ?? entity.what.display ?? '',
    participantObjectTypeCode: '2',
    ...(event.outcomeDesc ? { participantObjectDetail: { type: 'description', value: event.outcomeDesc } } : {}),
  }));
  return audit;
}

type FilterOf = (value: unknown, q: AuditQuery) => void;
const LISTS = ['activeParticipant', 'participantObjectIdentification'] as const;

/** OpenHIM's filter keys we answer, and the AuditQuery each becomes. */
const FILTERS: Record<string, FilterOf> = {
  'eventIdentification.eventOutcomeIndicator': (value, q) => {
    q.openhimOutcome = oneOfCodes(value, 'eventIdentification.eventOutcomeIndicator', ['0', '4', '8', '12']);
  },
  'eventIdentification.eventActionCode': (value, q) => {
    q.action = oneOfCodes(value, 'eventIdentification.eventActionCode', ['C', 'R', 'U', 'D', 'E']);
  },
  'eventIdentification.eventDateTime': (value, q) => {
    // OpenHIM sends it as JSON text: {"$gte": ..., "$lte": ...}.
    const range = typeof value === 'string' ? parseJson(value, 'eventIdentification.eventDateTime') : value;
    const { from, to } = instantRange(range, 'eventIdentification.eventDateTime');
    if (from) q.from = from;
    if (to) q.to = to;
  },
  // The console sends a code's three parts together (its dropdowns list /audits-filter-options).
  ...codeFilters('eventIdentification.eventID', (part, value) => ({ kinds: kindsWith((codes) => codes.eventID[part] === value) })),
  ...codeFilters('eventIdentification.eventTypeCode', (part, value) => ({ kinds: kindsWith((codes) => codes.eventTypeCode[part] === value) })),
  // Ours name the server as their first participant, in the role Application, and the caller with no alternative id.
  ...codeFilters('activeParticipant.roleIDCode', (part, value) => ({ all: APPLICATION[part] === value })),
  'activeParticipant.alternativeUserID': fieldFilter('activeParticipant.alternativeUserID', (value) => ({ all: value === '' })),
  'activeParticipant.networkAccessPointID': fieldFilter('activeParticipant.networkAccessPointID', (value) => (value === hostname() ? { all: true } : { agentAddress: value })),
  // Ours name what they were about by reference, with no id type, and carry their description as its detail.
  ...codeFilters('participantObjectIdentification.participantObjectIDTypeCode', () => ({ all: false })),
  'participantObjectIdentification.participantObjectDetail.type': fieldFilter('participantObjectIdentification.participantObjectDetail.type', (value) =>
    value === 'description' ? { described: true } : { all: false },
  ),
  'participantObjectIdentification.participantObjectDetail.value': fieldFilter('participantObjectIdentification.participantObjectDetail.value', (value) =>
    value === '' ? { all: false } : { described: value },
  ),
  'activeParticipant.userID': (value, q) => {
    if (typeof value !== 'string' || value.length > 256) throw badRequest('activeParticipant.userID must be a user name (a string)');
    q.who = value;
  },
  'auditSourceIdentification.auditSourceID': (value, q) => {
    q.auditSourceId = codeText(value, 'auditSourceIdentification.auditSourceID');
  },
  'participantObjectIdentification.participantObjectID': (value, q) => {
    q.participantObjectPatterns = participantObjectPatterns(value);
  },
};

/** A filter on one field of OpenHIM's record (dotted `name`); `ours` says which of our own events hold `value` there. */
function fieldFilter(name: string, ours: (value: string) => OwnEventMatch): FilterOf {
  const [head, ...rest] = name.split('.');
  const list = LISTS.find((l) => l === head);
  return (value, q) => {
    const text = codeText(typeof value === 'number' ? String(value) : value, name);
    q.fields = [...(q.fields ?? []), { ...(list ? { list } : {}), path: list ? rest : [head!, ...rest], value: text, ours: ours(text) }];
  };
}

/** Filters on a code's parts (`<name>.code`, `.displayName`, `.codeSystemName`). */
function codeFilters(name: string, ours: (part: keyof Code, value: string) => OwnEventMatch): Record<string, FilterOf> {
  const parts: Array<keyof Code> = ['code', 'displayName', 'codeSystemName'];
  return Object.fromEntries(parts.map((part) => [`${name}.${part}`, fieldFilter(`${name}.${part}`, (value) => ours(part, value))]));
}

function codeText(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.length > 256) throw badRequest(`the audit filter ${name} must be a string of at most 256 characters`);
  return value;
}

/**
 * OpenHIM's participantObjectID filter (api/audits.js): a JSON-quoted regular expression, or
 * `{type: "AND", patientID, objectID}` (a JSON-quoted patient id pattern and an object id pattern,
 * both to match). The patient id's part before `\^` may hold only letters, digits, `_` and `-`.
 */
function participantObjectPatterns(value: unknown): string[] {
  const name = 'participantObjectIdentification.participantObjectID';
  const quoted = (raw: unknown, what: string): string => {
    const parsed = typeof raw === 'string' ? parseJson(raw, `${name} ${what}`) : undefined;
    if (typeof parsed !== 'string') throw badRequest(`${name}: the ${what} must be a JSON string`);
    return parsed;
  };
  const checkPatient = (pattern: string) => {
    const at = pattern.indexOf('\\^');
    if (!/^[\w-]*$/.test(at < 0 ? '' : pattern.slice(0, at))) throw badRequest('Special characters (except for hyphens(-)) not allowed in PatientID filter field');
    return parseFilterRegex(pattern, name) ?? '';
  };
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    const and = value as { type?: unknown; patientID?: unknown; objectID?: unknown };
    if (and.type !== 'AND') throw badRequest(`${name} as an object takes type "AND", patientID and objectID`);
    // The OpenHIM console sends this patientID unquoted (controllers/audits.js), which OpenHIM's
    // JSON.parse fails on (500): a patientID that is no JSON text is taken as the pattern itself.
    const patientID = typeof and.patientID === 'string' && !isJson(and.patientID) ? and.patientID : quoted(and.patientID, 'patientID');
    const patterns = [checkPatient(patientID)];
    if (and.objectID !== undefined) patterns.push(parseFilterRegex(typeof and.objectID === 'number' ? String(and.objectID) : and.objectID, `${name} objectID`) ?? '');
    return patterns.filter((p) => p !== '');
  }
  const pattern = checkPatient(quoted(value, 'pattern'));
  return pattern ? [pattern] : [];
}

/** GET /audits' `filters` (JSON text, as OpenHIM's console sends it) as an AuditQuery's filters. */
export function parseOpenhimFilters(raw: unknown): Partial<AuditQuery> {
  const q: AuditQuery = { limit: 0, offset: 0 };
  if (raw === undefined || raw === '') return {};
  const filters = typeof raw === 'string' ? parseJson(raw, 'filters') : undefined;
  if (!filters || typeof filters !== 'object' || Array.isArray(filters)) throw badRequest('filters must be a JSON object');
  checkStorable(filters, 'filters');
  for (const [key, value] of Object.entries(filters)) {
    if (!Object.hasOwn(FILTERS, key)) {
      throw badRequest(`the audit filter ${key.slice(0, 80)} is not supported`, `use ${Object.keys(FILTERS).join(', ')}`);
    }
    FILTERS[key]!(value, q);
  }
  const { limit: _l, offset: _o, ...rest } = q;
  return rest;
}

/** The distinct codes of the stored ATNA records (AuditLog.atnaCodes). */
export interface AtnaCodes {
  eventType: unknown[];
  eventID: unknown[];
  activeParticipantRoleID: unknown[];
  participantObjectIDTypeCode: unknown[];
  auditSourceID: string[];
}

/**
 * OpenHIM's /audits-filter-options (its auditMeta document): the codes of the kinds we record,
 * and those of the ATNA records received, each code once.
 */
export function openhimFilterOptions(kinds: readonly string[], atna: AtnaCodes): Record<string, unknown> {
  const codes = kinds.map((kind) => EVENT_CODES[kind]).filter((c): c is { eventID: Code; eventTypeCode: Code } => c !== undefined);
  const unique = (list: unknown[]) => [...new Map(list.map((c) => [(c as { code?: unknown }).code, c])).values()];
  return {
    eventType: unique([...codes.map((c) => c.eventTypeCode), ...atna.eventType]),
    eventID: unique([...codes.map((c) => c.eventID), ...atna.eventID]),
    activeParticipantRoleID: unique([...(codes.length ? [APPLICATION] : []), ...atna.activeParticipantRoleID]),
    participantObjectIDTypeCode: unique(atna.participantObjectIDTypeCode),
    auditSourceID: [...new Set([...(codes.length || !atna.auditSourceID.length ? [AUDIT_SOURCE_ID] : []), ...atna.auditSourceID])],
  };
}

/** Our kinds whose OpenHIM codes pass `test`. */
function kindsWith(test: (codes: { eventID: Code; eventTypeCode: Code }) => boolean): string[] {
  return Object.entries(EVENT_CODES).filter(([, codes]) => test(codes)).map(([kind]) => kind);
}

function oneOfCodes(value: unknown, name: string, allowed: readonly string[]): string {
  const text = typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string' || !allowed.includes(text)) throw badRequest(`${name} must be one of ${allowed.join(', ')}`);
  return text;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function parseJson(text: string, name: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest(`${name} is not valid JSON`);
  }
}
