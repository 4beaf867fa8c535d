/**
 * Answers: the MSH of a response, MSA (acknowledgement code and the request's MSH-10) and the
 * ERR segment (HL7 v2.5: ERR-2 location, ERR-3 code from HL7 table 0357, ERR-4 severity, ERR-8
 * text). AA: accepted; AE: the message's content is wrong (unknown key, missing field); AR: the
 * message is refused whatever its content (unsupported type or event, not an HL7 message, the
 * registry unavailable).
 */
import { Hl7Message, type Hl7Segment } from '@medplum/core';
import { buildSegment, components, hl7Timestamp, reencode, subcomponents, value } from './encoding.js';

export type AckCode = 'AA' | 'AE' | 'AR';

/** HL7 table 0357 (message error condition codes) entries the registry answers with. */
export const HL7_ERROR = {
  segmentSequence: [100, 'Segment sequence error'],
  requiredFieldMissing: [101, 'Required field missing'],
  dataTypeError: [102, 'Data type error'],
  tableValueNotFound: [103, 'Table value not found'],
  unsupportedMessageType: [200, 'Unsupported message type'],
  unsupportedEvent: [201, 'Unsupported event code'],
  unsupportedProcessingId: [202, 'Unsupported processing id'],
  unsupportedVersionId: [203, 'Unsupported version id'],
  unknownKey: [204, 'Unknown key identifier'],
  duplicateKey: [205, 'Duplicate key identifier'],
  internalError: [207, 'Application internal error'],
} as const satisfies Record<string, readonly [number, string]>;

export type Hl7ErrorCondition = (typeof HL7_ERROR)[keyof typeof HL7_ERROR];

/** A refusal of one message, answered with MSA-1 `ack` and an ERR segment. */
export class Hl7MessageError extends Error {
  constructor(
    readonly ack: 'AE' | 'AR',
    readonly condition: Hl7ErrorCondition,
    message: string,
    /** ERR-2: segment^sequence^field^repetition^component, e.g. `PID^1^3^1^4`. */
    readonly location?: string,
    /** Further errors of the same message, one ERR segment each (e.g. every unknown domain of QPD-4). */
    readonly others: readonly Hl7MessageError[] = [],
  ) {
    super(message);
    this.name = 'Hl7MessageError';
  }
}

/**
 * The ERR segment of a refusal. Before v2.5 (ITI-8 feeds are v2.3.1) ERR had one field, ERR-1
 * "error code and location" (segment^sequence^field^code&text&HL70357): a request of such a
 * version gets it too, beside the v2.5 fields its receivers ignore.
 */
export function errSegment(error: Hl7MessageError, request?: Hl7Message): Hl7Segment {
  const [code, text] = error.condition;
  const [segment, sequence, field] = (error.location ?? '').split('^');
  return buildSegment('ERR', [
    beforeV25(request) ? components(segment, sequence, field, subcomponents(String(code), text, 'HL70357')) : '',
    error.location ?? '',
    components(String(code), text, 'HL70357'),
    'E',
    '', '', '',
    components(error.message.slice(0, 500)),
  ]);
}

/** One ERR per error: the refusal's, then its others. */
export function errSegments(error: Hl7MessageError, request?: Hl7Message): Hl7Segment[] {
  return [error, ...error.others].map((e) => errSegment(e, request));
}

/** Whether the request's MSH-12 names a version before 2.5 (2.3.1, 2.4...). */
function beforeV25(request: Hl7Message | undefined): boolean {
  const version = /^2\.(\d+)/.exec(request ? value(request.header, 12) : '');
  return version !== null && Number(version[1]) < 5;
}

/** The MSH of an answer to `request` (sender and receiver swapped, the request's version echoed). */
export function responseHeader(request: Hl7Message | undefined, messageType: string): Hl7Segment {
  const msh = request?.header;
  const controlId = `CR${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`.toUpperCase();
  return buildSegment('MSH', [
    '^~\\&',
    rawField(msh, 5), rawField(msh, 6), rawField(msh, 3), rawField(msh, 4),
    hl7Timestamp(), '', messageType, controlId,
    rawField(msh, 11) || 'P', rawField(msh, 12) || '2.5',
    // MSH-18: an answer is in the character set of the request (index.ts answerPayload).
    ...(rawField(msh, 18) ? ['', '', '', '', '', rawField(msh, 18)] : []),
  ]);
}

/**
 * A field of the request as it was encoded (sending application, facility, processing id),
 * rewritten in the answer's delimiters (|^~\&) when the request used others.
 */
function rawField(segment: Hl7Segment | undefined, field: number): string {
  try {
    return segment ? reencode(segment.getField(field)?.toString() ?? '', segment.context) : '';
  } catch {
    return '';
  }
}

export function msaSegment(request: Hl7Message | undefined, code: AckCode): Hl7Segment {
  return buildSegment('MSA', [code, components(request ? value(request.header, 10) : '')]);
}

/** The event of MSH-9 (A04 in ADT^A04^ADT_A01), for ACK^A04^ACK. */
function ackType(request: Hl7Message | undefined): string {
  const event = request ? value(request.header, 9, 2) : '';
  return event ? components('ACK', event, 'ACK') : 'ACK';
}

export function buildAck(request: Hl7Message | undefined, code: AckCode, error?: Hl7MessageError): Hl7Message {
  const segments = [responseHeader(request, ackType(request)), msaSegment(request, code)];
  if (error) segments.push(...errSegments(error, request));
  return new Hl7Message(segments);
}
