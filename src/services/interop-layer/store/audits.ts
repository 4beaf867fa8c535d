/**
 * Audit records in the shape of a FHIR R4 AuditEvent (ATNA): authentication failures, admin
 * changes and routed requests. Written behind the request like transactions.
 */
import type { Database } from '../../../db/database.js';
import type { Logger } from '../../../common/logger.js';
import { newObjectId } from '../ids.js';
import { WriteBehind } from './write-behind.js';

export type AuditKind = 'login' | 'auth-failure' | 'admin-change' | 'routed-request';
/** FHIR AuditEvent.action: C create, R read, U update, D delete, E execute. */
export type AuditAction = 'C' | 'R' | 'U' | 'D' | 'E';

export interface AuditEvent {
  resourceType: 'AuditEvent';
  id: string;
  type: { system: string; code: string; display: string };
  subtype?: Array<{ system: string; code: string; display?: string }>;
  action: AuditAction;
  recorded: string;
  /** 0 success, 4 minor failure, 8 serious failure. */
  outcome: '0' | '4' | '8' | '12';
  outcomeDesc?: string;
  agent: Array<{ who: { identifier?: { value: string }; display?: string }; requestor: boolean; network?: { address: string; type: '2' } }>;
  source: { observer: { display: string }; type: Array<{ system: string; code: string; display: string }> };
  entity?: Array<{ what: { reference?: string; display?: string }; type?: { system: string; code: string; display?: string }; detail?: Array<{ type: string; valueString: string }> }>;
}

const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const EVENT_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-event-type';

const TYPES: Record<AuditKind, AuditEvent['type']> = {
  login: { system: DCM, code: '110114', display: 'User Authentication' },
  'auth-failure': { system: DCM, code: '110114', display: 'User Authentication' },
  'admin-change': { system: EVENT_TYPE, code: 'rest', display: 'RESTful Operation' },
  'routed-request': { system: DCM, code: '110106', display: 'Export' },
};

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

export interface AuditQuery {
  kind?: string | undefined;
  outcome?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
  limit: number;
  offset: number;
}

export class AuditLog {
  private readonly writer: WriteBehind<AuditEvent>;

  constructor(private readonly db: Database, logger: Logger, flushIntervalMs: number) {
    this.writer = new WriteBehind('audits', (items) => this.insert(items), logger, Math.max(flushIntervalMs, 50));
  }

  record(input: AuditInput): AuditEvent {
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
    this.writer.enqueue(event.id, event);
    return event;
  }

  private async insert(items: AuditEvent[]): Promise<void> {
    const rows = items.map((e) => ({ id: e.id, recorded: e.recorded, action: e.action, outcome: e.outcome, doc: e }));
    await this.db.query(
      `INSERT INTO iol.audits (id, recorded, action, outcome, doc)
       SELECT x.id, x.recorded, x.action, x.outcome, x.doc
         FROM jsonb_to_recordset($1::jsonb) AS x(id text, recorded timestamptz, action text, outcome text, doc jsonb)
       ON CONFLICT (id) DO NOTHING`,
      [JSON.stringify(rows)],
    );
  }

  async find(q: AuditQuery): Promise<AuditEvent[]> {
    await this.writer.flush();
    const clauses: string[] = [];
    const params: unknown[] = [];
    if (q.kind) {
      params.push(JSON.stringify({ subtype: [{ code: q.kind }] }));
      clauses.push(`doc @> $${params.length}::jsonb`);
    }
    if (q.outcome) {
      params.push(q.outcome);
      clauses.push(`outcome = $${params.length}`);
    }
    if (q.from) {
      params.push(q.from);
      clauses.push(`recorded >= $${params.length}::timestamptz`);
    }
    if (q.to) {
      params.push(q.to);
      clauses.push(`recorded <= $${params.length}::timestamptz`);
    }
    params.push(q.limit, q.offset);
    const r = await this.db.query<{ doc: AuditEvent }>(
      `SELECT doc FROM iol.audits ${clauses.length ? `WHERE ${clauses.join(' AND ')}` : ''}
        ORDER BY recorded DESC, id DESC LIMIT $${params.length - 1} OFFSET $${params.length}`,
      params,
    );
    return r.rows.map((x) => x.doc);
  }

  flush(): Promise<void> {
    return this.writer.flush();
  }

  stop(): Promise<void> {
    return this.writer.stop();
  }
}
