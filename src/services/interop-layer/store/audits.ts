/**
 * Audit records in the shape of a FHIR R4 AuditEvent (ATNA): authentication failures, admin
 * changes and routed requests. Written behind the request like transactions.
 */
import type { Database } from '../../../db/database.js';
import { atnaToAuditEvent, type AtnaRecord } from '../atna/record.js';
import type { Logger } from '../../../common/logger.js';
import { newObjectId } from '../ids.js';
import { storableJson } from './storable.js';
import { describeError, WriteBehind } from './write-behind.js';

export type AuditKind = 'login' | 'auth-failure' | 'admin-change' | 'routed-request' | 'atna';
/** FHIR AuditEvent.action: C create, R read, U update, D delete, E execute. */
export type AuditAction = 'C' | 'R' | 'U' | 'D' | 'E';

export interface AuditEvent {
  resourceType: 'AuditEvent';
  id: string;
  type: { system?: string; code: string; display: string };
  subtype?: Array<{ system: string; code: string; display?: string }>;
  action: AuditAction;
  recorded: string;
  /** 0 success, 4 minor failure, 8 serious failure. */
  outcome: '0' | '4' | '8' | '12';
  outcomeDesc?: string;
  agent: Array<{
    who: { identifier?: { value: string }; display?: string };
    altId?: string;
    requestor: boolean;
    role?: Array<{ coding: Coding[] }>;
    network?: { address: string; type: string };
  }>;
  source: { site?: string; observer: { display: string }; type: Array<{ system: string; code: string; display: string }> };
  entity?: Array<{
    what: { reference?: string; display?: string; identifier?: { value: string; type?: { coding: Coding[] } } };
    type?: Coding;
    role?: Coding;
    query?: string;
    detail?: Array<{ type: string; valueString: string }>;
  }>;
}

interface Coding {
  system?: string;
  code: string;
  display?: string;
}

/** A row of iol.audits: the AuditEvent, and the ATNA record as received when it came as one. */
export interface StoredAudit {
  doc: AuditEvent;
  atna?: AtnaRecord | null;
  /** The page reached its byte budget before this record: its participants, objects and raw message were left out. */
  details_omitted?: boolean;
}

const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const EVENT_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-event-type';

const TYPES: Record<AuditKind, AuditEvent['type']> = {
  login: { system: DCM, code: '110114', display: 'User Authentication' },
  'auth-failure': { system: DCM, code: '110114', display: 'User Authentication' },
  'admin-change': { system: EVENT_TYPE, code: 'rest', display: 'RESTful Operation' },
  'routed-request': { system: DCM, code: '110106', display: 'Export' },
  atna: { system: DCM, code: '110100', display: 'Application Activity' },
};

/** The AuditEvent of a routed request, built from its row in iol.transactions. */
const ROUTED_AUDIT_SQL = `jsonb_build_object(
  'resourceType', 'AuditEvent',
  'id', id,
  'type', jsonb_build_object('system', '${DCM}', 'code', '110106', 'display', 'Export'),
  'subtype', jsonb_build_array(jsonb_build_object('system', 'urn:instant-openhie:iol:audit', 'code', 'routed-request')),
  'action', 'E',
  'recorded', to_char(request_ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
  'outcome', CASE WHEN status = 'Failed' THEN '8' ELSE '0' END,
  'outcomeDesc', status,
  'agent', jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
     'who', CASE WHEN client_id IS NULL THEN jsonb_build_object('display', 'anonymous')
                 ELSE jsonb_build_object('identifier', jsonb_build_object('value', client_id),
                   'display', COALESCE((SELECT c.client_id FROM iol.clients c WHERE c.id = iol.transactions.client_id), client_id)) END,
     'requestor', true,
     'network', CASE WHEN doc->>'clientIP' IS NULL THEN NULL ELSE jsonb_build_object('address', doc->>'clientIP', 'type', '2') END))),
  'source', jsonb_build_object('observer', jsonb_build_object('display', 'instant-openhie interop-layer'),
     'type', jsonb_build_array(jsonb_build_object('system', 'http://terminology.hl7.org/CodeSystem/security-source-type', 'code', '4', 'display', 'Application Server'))),
  'entity', jsonb_build_array(jsonb_build_object(
     'what', jsonb_build_object('reference', 'Transaction/' || id),
     'detail', jsonb_build_array(
        jsonb_build_object('type', 'channelID', 'valueString', COALESCE(channel_id, '')),
        jsonb_build_object('type', 'method', 'valueString', COALESCE(doc->'request'->>'method', '')),
        jsonb_build_object('type', 'path', 'valueString', request_path),
        jsonb_build_object('type', 'status', 'valueString', status)))))`;

/** A stored event's outcome as OpenHIM records it: a failed login is a serious failure (8) there. */
const OPENHIM_OUTCOME_SQL = `(CASE WHEN doc->'subtype'->0->>'code' = 'auth-failure' AND outcome <> '0' THEN '8' ELSE outcome END)`;

type Bind = (value: unknown) => string;

/** A received ATNA record's field equals the value, in any element of its list. */
function atnaFieldSql(field: OpenhimFieldFilter, p: Bind): string {
  const equals = (doc: string) => `${doc} #>> ${p(field.path)}::text[] = ${p(field.value)}`;
  if (!field.list) return equals('atna');
  const list = `atna->'${field.list}'`;
  return `EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(${list}) = 'array' THEN ${list} ELSE '[]'::jsonb END) e WHERE ${equals('e')})`;
}

/** Our own event (an AuditEvent in `doc`) holds the value in its OpenHIM record. */
function ownEventMatchSql(match: OwnEventMatch, p: Bind): string {
  if ('kinds' in match) return `doc->'subtype'->0->>'code' = ANY(${p(match.kinds)}::text[])`;
  if ('all' in match) return match.all ? 'true' : 'false';
  if ('agentAddress' in match) return `doc->'agent'->0->'network'->>'address' = ${p(match.agentAddress)}`;
  const about = `jsonb_typeof(doc->'entity') = 'array' AND jsonb_array_length(doc->'entity') > 0`;
  return match.described === true ? `(${about} AND doc->>'outcomeDesc' <> '')` : `(${about} AND doc->>'outcomeDesc' = ${p(match.described)})`;
}

export interface AuditInput {
  kind: AuditKind;
  action: AuditAction;
  success: boolean;
  description?: string;
  who?: string;
  address?: string;
  /** What the event was about, e.g. `Channel/5f...` or a request path. */
  entity?: string;
  detail?: Record<string, string>;
}

/**
 * One of OpenHIM's filters on a field of its audit record (`activeParticipant.roleIDCode.code`:
 * `110153`), as mongoose matches it: a received ATNA record matches when the field (in any
 * element of `list`) equals the value; one of our own events when its OpenHIM record
 * (api/openhim-audits.ts) holds the value there, as `ours` says.
 */
export interface OpenhimFieldFilter {
  list?: 'activeParticipant' | 'participantObjectIdentification';
  path: readonly string[];
  value: string;
  ours: OwnEventMatch;
}

/**
 * Which of our own events hold a filter's value: those of some kinds, all or none, those whose
 * caller came from an address, or those about something with a description (any, or this one).
 */
export type OwnEventMatch = { kinds: readonly string[] } | { all: boolean } | { agentAddress: string } | { described: true | string };

export interface AuditQuery {
  kind?: string | undefined;
  /** Any of these kinds (OpenHIM's eventID / eventTypeCode filters). */
  kinds?: readonly string[] | undefined;
  outcome?: string | undefined;
  /** Outcome as OpenHIM records it (a failed login is 8 there, 4 in the AuditEvent). */
  openhimOutcome?: string | undefined;
  action?: string | undefined;
  /** The requesting agent's identifier (a user's email). */
  who?: string | undefined;
  /** Only stored events, not those built from routed requests (OpenHIM's /audits has none). */
  storedOnly?: boolean | undefined;
  /** OpenHIM's filters on the codes and names of its record (each must hold). */
  fields?: readonly OpenhimFieldFilter[] | undefined;
  /** auditSourceIdentification.auditSourceID (ours are all `openhim`). */
  auditSourceId?: string | undefined;
  /** Regular expressions (PostgreSQL's `~`) each of which some participant object's id must match. */
  participantObjectPatterns?: readonly string[] | undefined;
  /** Bytes of ATNA records a page carries whole; past them a record comes without its details (findStored). */
  detailBytes?: number | undefined;
  /**
   * false: ATNA records come without their details (raw message, participants, objects) and
   * their FHIR form, left out by the database (OpenHIM's `simple` view): a page of big records
   * costs the server what its summaries cost.
   */
  details?: boolean | undefined;
  from?: string | undefined;
  to?: string | undefined;
  limit: number;
  offset: number;
}

/** What is kept of an event the database refused: who, when and what kind, and why the rest is missing. */
function refusedAudit(event: AuditEvent, error: unknown): AuditEvent {
  const { code } = describeError(error);
  return {
    resourceType: 'AuditEvent',
    id: String(event.id),
    type: event.type,
    ...(event.subtype ? { subtype: event.subtype } : {}),
    action: event.action,
    recorded: Number.isNaN(Date.parse(event.recorded)) ? new Date().toISOString() : event.recorded,
    outcome: event.outcome,
    outcomeDesc: `this audit event could not be stored as recorded (database error ${code ?? 'unknown'}); its details were dropped`,
    agent: [{ who: { display: 'unknown' }, requestor: true }],
    source: event.source,
  };
}

export class AuditLog {
  private readonly writer: WriteBehind<StoredAudit>;

  constructor(private readonly db: Database, logger: Logger, flushIntervalMs: number) {
    this.writer = new WriteBehind('audits', (items) => this.insert(items), logger, {
      intervalMs: flushIntervalMs,
      onRefused: (item, error) => this.insert([{ doc: refusedAudit(item.doc, error) }]),
    });
  }

  /**
   * An ATNA audit record (POST /audits, or one received by the audit repository): stored as
   * received, and as its FHIR AuditEvent. `durable`: written before this returns (the caller
   * acknowledges it as stored), else behind like the other audits.
   */
  async recordAtna(record: AtnaRecord, durable: boolean): Promise<StoredAudit & { doc: AuditEvent }> {
    const item = { doc: atnaToAuditEvent(newObjectId(), record), atna: record };
    if (durable) await this.insert([item]);
    else this.writer.enqueue(item.doc.id, item);
    return item;
  }

  record(raw: AuditInput): AuditEvent {
    const input = clipAuditInput(raw);
    const event: AuditEvent = {
      resourceType: 'AuditEvent',
      id: newObjectId(),
      type: TYPES[input.kind],
      subtype: [{ system: 'urn:instant-openhie:iol:audit', code: input.kind }],
      action: input.action,
      recorded: new Date().toISOString(),
      outcome: input.success ? '0' : input.kind === 'auth-failure' ? '4' : '8',
      ...(input.description ? { outcomeDesc: input.description } : {}),
      agent: [
        {
          who: input.who ? { identifier: { value: input.who }, display: input.who } : { display: 'anonymous' },
          requestor: true,
          ...(input.address ? { network: { address: input.address, type: '2' as const } } : {}),
        },
      ],
      source: {
        observer: { display: 'instant-openhie interop-layer' },
        type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }],
      },
      ...(input.entity
        ? {
            entity: [
              {
                what: input.entity.includes('/') && !input.entity.startsWith('/') ? { reference: input.entity } : { display: input.entity },
                ...(input.detail ? { detail: Object.entries(input.detail).map(([type, valueString]) => ({ type, valueString })) } : {}),
              },
            ],
          }
        : {}),
    };
    this.writer.enqueue(event.id, { doc: event });
    return event;
  }

  private async insert(items: StoredAudit[]): Promise<void> {
    const rows = items.map(({ doc: e, atna }) => ({ id: e.id, recorded: e.recorded, action: e.action, outcome: e.outcome, doc: e, atna: atna ?? null }));
    await this.db.query(
      `INSERT INTO iol.audits (id, recorded, action, outcome, doc, atna)
       SELECT x.id, x.recorded, x.action, x.outcome, x.doc, x.atna
         FROM jsonb_to_recordset($1::jsonb) AS x(id text, recorded timestamptz, action text, outcome text, doc jsonb, atna jsonb)
       ON CONFLICT (id) DO NOTHING`,
      [storableJson(rows)],
    );
  }

  /**
   * Newest first. Routed requests are not stored twice: their AuditEvents are built here from
   * the transaction log (one row per routed request), and merged with the stored events.
   */
  async find(q: AuditQuery): Promise<AuditEvent[]> {
    return (await this.findStored(q)).map((row) => row.doc);
  }

  /** As find, with each stored event's ATNA record when it came as one. */
  async findStored(q: AuditQuery): Promise<StoredAudit[]> {
    await this.writer.flush();
    const params: unknown[] = [];
    const p = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    const stored: string[] = [];
    const routed: string[] = [];
    if (q.kind) stored.push(`doc @> ${p(JSON.stringify({ subtype: [{ code: q.kind }] }))}::jsonb`);
    if (q.kinds) stored.push(`doc->'subtype'->0->>'code' = ANY(${p(q.kinds)}::text[])`);
    if (q.openhimOutcome) stored.push(`${OPENHIM_OUTCOME_SQL} = ${p(q.openhimOutcome)}`);
    if (q.action) stored.push(`action = ${p(q.action)}`);
    if (q.who) stored.push(`doc @> ${p(JSON.stringify({ agent: [{ who: { identifier: { value: q.who } } }] }))}::jsonb`);
    for (const field of q.fields ?? []) stored.push(`(CASE WHEN atna IS NULL THEN ${ownEventMatchSql(field.ours, p)} ELSE ${atnaFieldSql(field, p)} END)`);
    if (q.auditSourceId !== undefined) stored.push(`COALESCE(atna->'auditSourceIdentification'->>'auditSourceID', 'openhim') = ${p(q.auditSourceId)}`);
    for (const pattern of q.participantObjectPatterns ?? []) {
      stored.push(`EXISTS (SELECT 1 FROM jsonb_array_elements(COALESCE(doc->'entity', '[]'::jsonb)) e
                            WHERE COALESCE(e->'what'->'identifier'->>'value', e->'what'->>'reference', e->'what'->>'display') ~ ${p(pattern)})`);
    }
    if (q.outcome) {
      const ref = p(q.outcome);
      stored.push(`outcome = ${ref}`);
      routed.push(`(CASE WHEN status = 'Failed' THEN '8' ELSE '0' END) = ${ref}`);
    }
    if (q.from) {
      const ref = p(q.from);
      stored.push(`recorded >= ${ref}::timestamptz`);
      routed.push(`request_ts >= ${ref}::timestamptz`);
    }
    if (q.to) {
      const ref = p(q.to);
      stored.push(`recorded <= ${ref}::timestamptz`);
      routed.push(`request_ts <= ${ref}::timestamptz`);
    }
    const includeRouted =
      !q.storedOnly && (!q.kind || q.kind === 'routed-request') && !q.kinds && !q.action && !q.who && !q.openhimOutcome && !q.fields?.length && q.auditSourceId === undefined && !q.participantObjectPatterns?.length;
    const where = (clauses: string[]) => (clauses.length ? `WHERE ${clauses.join(' AND ')}` : '');
    const limit = p(q.limit);
    const offset = p(q.offset);
    // ATNA records carry up to a MiB each (raw message, query): past the page's byte budget the rest
    // of the page comes without them, as GET /transactions leaves bodies out.
    // (A parameter the statement does not use has no type the database can infer: bound only when used.)
    const budget = q.details === false ? '' : p(q.detailBytes ?? Number.MAX_SAFE_INTEGER);
    const summary = `atna - 'rawMessage' - 'activeParticipant' - 'participantObjectIdentification'`;
    const columns =
      q.details === false
        ? `CASE WHEN atna IS NULL THEN doc ELSE jsonb_build_object('resourceType', 'AuditEvent', 'id', doc->'id') END AS doc, ${summary} AS atna, false AS details_omitted`
        : `doc, CASE WHEN atna IS NULL OR running <= ${budget}::bigint THEN atna ELSE ${summary} END AS atna, (atna IS NOT NULL AND running > ${budget}::bigint) AS details_omitted`;
    const running = q.details === false ? '0' : `sum(COALESCE(octet_length(atna::text), 0)) OVER (ORDER BY recorded DESC, id DESC)`;
    const r = await this.db.query<StoredAudit>(
      `SELECT ${columns}
         FROM (SELECT page.*, ${running} AS running FROM (
           SELECT recorded, id, doc, atna FROM (
             (SELECT recorded, id, doc, atna FROM iol.audits ${where(stored)} ORDER BY recorded DESC, id DESC LIMIT ${limit}::int + ${offset}::int)
             ${includeRouted ? `UNION ALL (SELECT request_ts AS recorded, id, ${ROUTED_AUDIT_SQL} AS doc, NULL::jsonb AS atna FROM iol.transactions ${where(routed)} ORDER BY request_ts DESC, id DESC LIMIT ${limit}::int + ${offset}::int)` : ''}
           ) merged ORDER BY recorded DESC, id DESC LIMIT ${limit}::int OFFSET ${offset}::int) page) sized
        ORDER BY recorded DESC, id DESC`,
      params,
    );
    return r.rows;
  }

  /** One stored event (not a routed request's), or undefined. */
  async byId(id: string): Promise<AuditEvent | undefined> {
    return (await this.storedById(id))?.doc;
  }

  /** One stored event with its ATNA record when it came as one. */
  async storedById(id: string): Promise<StoredAudit | undefined> {
    await this.writer.flush();
    const r = await this.db.query<StoredAudit>('SELECT doc, atna FROM iol.audits WHERE id = $1', [id]);
    return r.rows[0];
  }

  /**
   * The distinct codes of the stored ATNA records, as OpenHIM's auditMeta collects them for its
   * filter options (at most 500 of each).
   */
  async atnaCodes(): Promise<{ eventType: unknown[]; eventID: unknown[]; activeParticipantRoleID: unknown[]; participantObjectIDTypeCode: unknown[]; auditSourceID: string[] }> {
    await this.writer.flush();
    const distinctCodes = (expression: string, from = 'iol.audits') =>
      `(SELECT COALESCE(jsonb_agg(c ORDER BY c->>'code'), '[]'::jsonb) FROM (
          SELECT DISTINCT ON (c->>'code') c FROM (SELECT ${expression} AS c FROM ${from}) x
           WHERE jsonb_typeof(c) = 'object' AND c->>'code' IS NOT NULL ORDER BY c->>'code' LIMIT 500) y)`;
    const r = await this.db.query<{ event_type: unknown[]; event_id: unknown[]; role: unknown[]; object_type: unknown[]; source: string[] }>(
      `SELECT ${distinctCodes(`atna->'eventIdentification'->'eventTypeCode'`)} AS event_type,
              ${distinctCodes(`atna->'eventIdentification'->'eventID'`)} AS event_id,
              ${distinctCodes(`p->'roleIDCode'`, `iol.audits, jsonb_array_elements(COALESCE(atna->'activeParticipant', '[]'::jsonb)) p`)} AS role,
              ${distinctCodes(`o->'participantObjectIDTypeCode'`, `iol.audits, jsonb_array_elements(COALESCE(atna->'participantObjectIdentification', '[]'::jsonb)) o`)} AS object_type,
              (SELECT COALESCE(jsonb_agg(s ORDER BY s), '[]'::jsonb) FROM (SELECT DISTINCT atna->'auditSourceIdentification'->>'auditSourceID' AS s FROM iol.audits
                WHERE atna->'auditSourceIdentification'->>'auditSourceID' IS NOT NULL LIMIT 500) z) AS source`,
    );
    const row = r.rows[0]!;
    return { eventType: row.event_type, eventID: row.event_id, activeParticipantRoleID: row.role, participantObjectIDTypeCode: row.object_type, auditSourceID: row.source };
  }

  /** The kinds of the stored events (OpenHIM's filter options are made from them). */
  async storedKinds(): Promise<string[]> {
    await this.writer.flush();
    const r = await this.db.query<{ kind: string }>(`SELECT DISTINCT doc->'subtype'->0->>'code' AS kind FROM iol.audits WHERE doc->'subtype'->0->>'code' IS NOT NULL AND atna IS NULL ORDER BY 1`);
    return r.rows.map((x) => x.kind);
  }

  flush(): Promise<void> {
    return this.writer.flush();
  }

  stop(): Promise<void> {
    return this.writer.stop();
  }
}

/** Longest text an audit keeps of anything a caller chose (a user name, a path, a reason). */
const AUDIT_TEXT_CHARS = 256;

function clip(text: string | undefined): string | undefined {
  return text === undefined || text.length <= AUDIT_TEXT_CHARS ? text : `${text.slice(0, AUDIT_TEXT_CHARS)}…`;
}

/**
 * Audits record what callers sent, including unauthenticated ones: every caller-chosen string is
 * cut, so a 16 MB user name cannot become a 32 MB audit row.
 */
function clipAuditInput(input: AuditInput): AuditInput {
  return {
    ...input,
    who: clip(input.who),
    description: clip(input.description),
    entity: clip(input.entity),
    address: clip(input.address),
    ...(input.detail ? { detail: Object.fromEntries(Object.entries(input.detail).slice(0, 20).map(([k, v]) => [clip(k)!, clip(v)!])) } : {}),
  };
}
