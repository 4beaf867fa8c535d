/**
 * HL7v2 over MLLP for the client registry: the listener (listener.ts, mllp.ts) hands each
 * message to answerMessage, which parses it with @medplum/core's Hl7Message, routes it by
 * MSH-9 and answers an ACK or an RSP. Nothing a sender writes makes it throw: an unparseable
 * message is answered AR, a refused one AE, with an ERR segment saying why.
 */
import { Hl7Message, type Hl7Segment } from '@medplum/core';
import type { FhirEngine } from '../../../fhir/engine.js';
import type { Logger } from '../../../common/logger.js';
import { buildAck, HL7_ERROR, Hl7MessageError } from './acknowledgement.js';
import { mergePatients, registerPatient, REGISTER_EVENTS } from './adt.js';
import { AuthorityDirectory } from './authorities.js';
import { value } from './encoding.js';
import { RegistryCalls } from './fhir-calls.js';
import { asciiBytes, declaredCharset, isAscii, latin1Bytes, strictUtf8 } from './charset.js';
import type { Limits } from '../../../common/limits.js';
import { startMllpListener, type MllpListener } from '../../../common/mllp/listener.js';
import { pdqQuery, pixQuery, queryError } from './queries.js';

export interface Hl7Options {
  strictDomains: boolean;
  maxQueryResults: number;
  /** CLIENT_REGISTRY_MAX_REPEATS: repetitions of PID-3/5/11/13/14, MRG-1 and the queries' QPD-4/QPD-8 domains (more is AE before any search). */
  maxRepeats: number;
  logger?: Pick<Logger, 'warn' | 'error'> | undefined;
}

function parse(text: string): Hl7Message | undefined {
  // MLLP carries CR-separated segments; some senders use CRLF or LF.
  const normalised = text.replace(/^\uFEFF/, '').replace(/\r\n|\n/g, '\r').replace(/\r+$/, '');
  if (!/^MSH[^A-Za-z0-9\r]/.test(normalised) || normalised.length < 8) return undefined;
  try {
    return Hl7Message.parse(normalised);
  } catch {
    return undefined;
  }
}

/**
 * MSH-2 must be the four encoding characters (component, repetition, escape, subcomponent; a fifth,
 * v2.7's truncation character, is tolerated), distinct from each other and from MSH-1, and none a
 * letter, digit or blank: with fewer, the parser would take MSH-1 or the next field's first letter
 * for a delimiter and split every value on it.
 */
function encodingCharactersValid(text: string): boolean {
  const separator = text[3]!;
  const end = text.indexOf(separator, 4);
  const delimiters = [separator, ...(end === -1 ? text.slice(4) : text.slice(4, end))];
  return (delimiters.length === 5 || delimiters.length === 6) && new Set(delimiters).size === delimiters.length && !delimiters.some((c) => /[A-Za-z0-9\s]/.test(c));
}

/** HL7 table 0103 processing IDs: production, debugging, training. */
const PROCESSING_IDS = new Set(['P', 'D', 'T']);

/**
 * What HL7 v2.5 2.9.2.1 has the receiver check before anything else, refused AR: MSH-9 (message
 * type), MSH-10 (control ID, which MSA-2 echoes) and MSH-12 (version: any 2.x) are required; MSH-11
 * (processing ID) is P, D or T when given (none is taken as P).
 */
function headerProblem(header: Hl7Segment): Hl7MessageError | undefined {
  if (!value(header, 9, 1)) return new Hl7MessageError('AR', HL7_ERROR.requiredFieldMissing, 'MSH-9 (message type) is required', 'MSH^1^9');
  if (!value(header, 10)) return new Hl7MessageError('AR', HL7_ERROR.requiredFieldMissing, 'MSH-10 (message control ID) is required: the acknowledgement echoes it in MSA-2', 'MSH^1^10');
  const version = value(header, 12);
  if (!version) return new Hl7MessageError('AR', HL7_ERROR.requiredFieldMissing, 'MSH-12 (version ID) is required', 'MSH^1^12');
  if (!/^2\.\d+(\.\d+)?$/.test(version)) return new Hl7MessageError('AR', HL7_ERROR.unsupportedVersionId, `MSH-12 version "${version.slice(0, 20)}" is not supported: the registry takes HL7 v2.x (2.3.1 to 2.5.1 and later)`, 'MSH^1^12');
  const processing = value(header, 11).toUpperCase();
  if (processing && !PROCESSING_IDS.has(processing)) return new Hl7MessageError('AR', HL7_ERROR.unsupportedProcessingId, `MSH-11 processing ID "${processing.slice(0, 10)}" is not supported: P, D or T (HL7 table 0103)`, 'MSH^1^11');
  return undefined;
}

/** The answer (ACK or RSP) to one HL7v2 message, as text. */
export async function answerMessage(text: string, engine: FhirEngine, options: Hl7Options): Promise<string> {
  const message = parse(text);
  if (!message) {
    return buildAck(undefined, 'AR', new Hl7MessageError('AR', HL7_ERROR.segmentSequence, 'not an HL7v2 message: it must start with an MSH segment (MSH|^~\\&|...)', 'MSH^1')).toString();
  }
  if (!encodingCharactersValid(text.replace(/^\uFEFF/, '').split(/[\r\n]/, 1)[0]!)) {
    return buildAck(message, 'AR', new Hl7MessageError('AR', HL7_ERROR.dataTypeError, 'MSH-2 must hold the four encoding characters, distinct and none a letter or digit (^~\\& recommended)', 'MSH^1^2')).toString();
  }
  const invalidHeader = headerProblem(message.header);
  if (invalidHeader) return buildAck(message, 'AR', invalidHeader).toString();
  const type = value(message.header, 9, 1).toUpperCase();
  const event = value(message.header, 9, 2).toUpperCase();
  try {
    const calls = new RegistryCalls(engine);
    if (type === 'ADT') {
      if (REGISTER_EVENTS.has(event)) {
        await registerPatient(message, calls, await AuthorityDirectory.load(calls, options.strictDomains), options.maxRepeats);
        return buildAck(message, 'AA').toString();
      }
      if (event === 'A40') {
        await mergePatients(message, calls, await AuthorityDirectory.load(calls, options.strictDomains), options.maxRepeats);
        return buildAck(message, 'AA').toString();
      }
      throw new Hl7MessageError('AR', HL7_ERROR.unsupportedEvent, `ADT^${event.slice(0, 10)} is not supported: the registry takes A01, A04, A05, A08 and A40`, 'MSH^1^9^1^2');
    }
    if (type === 'QBP' && (event === 'Q22' || event === 'Q23')) {
      try {
        const authorities = await AuthorityDirectory.load(calls, options.strictDomains);
        const answer = event === 'Q23' ? await pixQuery(message, calls, authorities, options.maxRepeats) : await pdqQuery(message, calls, authorities, options.maxQueryResults, options.maxRepeats);
        return answer.toString();
      } catch (error) {
        if (error instanceof Hl7MessageError) return queryError(message, event === 'Q23' ? 'K23' : 'K22', error).toString();
        throw error;
      }
    }
    if (type === 'QCN' && event === 'J01') {
      // ITI-21's Continuation option: the consumer cancels a query it wants no more increments of.
      // The registry keeps no state per query (the DSC pointer carries it), so there is nothing to
      // discard: the cancel is acknowledged once it names the query (QID-1 query tag).
      const qid = message.getSegment('QID');
      if (!qid) throw new Hl7MessageError('AE', HL7_ERROR.segmentSequence, 'the cancel query has no QID segment', 'QID');
      if (!value(qid, 1)) throw new Hl7MessageError('AE', HL7_ERROR.requiredFieldMissing, 'QID-1 (the query tag of the query to cancel) is required', 'QID^1^1');
      return buildAck(message, 'AA').toString();
    }
    if (type === 'QBP') throw new Hl7MessageError('AR', HL7_ERROR.unsupportedEvent, `QBP^${event.slice(0, 10)} is not supported: the registry answers Q22 (PDQ) and Q23 (PIX)`, 'MSH^1^9^1^2');
    throw new Hl7MessageError('AR', HL7_ERROR.unsupportedMessageType, `message type "${type.slice(0, 10)}" is not supported: the registry takes ADT, QBP and QCN^J01`, 'MSH^1^9^1^1');
  } catch (error) {
    if (error instanceof Hl7MessageError) return buildAck(message, error.ack, error).toString();
    options.logger?.error({ err: error }, 'HL7v2 message failed');
    return buildAck(message, 'AR', new Hl7MessageError('AR', HL7_ERROR.internalError, 'the client registry could not process the message; send it again later')).toString();
  }
}

/**
 * The answer to one message as it came in bytes: decoded in the character set its MSH-18 declares
 * (charset.ts) and answered in it; an undeclared set, or bytes that are not what is declared, AR/AE.
 */
export async function answerPayload(payload: Buffer, engine: FhirEngine, options: Hl7Options): Promise<string | Buffer> {
  const charset = declaredCharset(payload);
  const refuse = (error: Hl7MessageError) => buildAck(parse(payload.toString('latin1')), error.ack, error).toString();
  if (charset.kind === 'unsupported') {
    const refusal = buildAck(parse(payload.toString('latin1')), 'AR', new Hl7MessageError('AR', HL7_ERROR.tableValueNotFound, `MSH-18 character set "${charset.name}" is not supported: send UNICODE UTF-8 (or no MSH-18) or 8859/1`, 'MSH^1^18'));
    // Written in ASCII, so it must not declare the set it refuses (a UTF-16 receiver could not read it): no MSH-18.
    const fields = refusal.header.fields;
    fields.splice(17);
    while (fields.length > 12 && fields[fields.length - 1]!.toString() === '') fields.pop();
    return asciiBytes(refusal.toString());
  }
  if (charset.kind === 'latin1') return latin1Bytes(await answerMessage(payload.toString('latin1'), engine, options));
  if (charset.kind === 'ascii' && !isAscii(payload)) {
    return refuse(new Hl7MessageError('AE', HL7_ERROR.dataTypeError, 'MSH-18 declares ASCII but the message holds bytes above 127: declare its character set (UNICODE UTF-8, or 8859/1 for Latin-1) or send ASCII only', 'MSH^1^18'));
  }
  const text = strictUtf8(payload);
  if (text === undefined) {
    return refuse(new Hl7MessageError('AE', HL7_ERROR.dataTypeError, 'the message is not valid UTF-8: declare its character set in MSH-18 (8859/1 for Latin-1) or send UTF-8', 'MSH^1^18'));
  }
  // The answer declares the request's MSH-18: under ASCII a stored name's "ü" must not go out as UTF-8 bytes.
  if (charset.kind === 'ascii') return asciiBytes(await answerMessage(text, engine, options));
  return answerMessage(text, engine, options);
}

/** Starts the MLLP listener answering with the registry's engine. */
export function startHl7Listener(engine: FhirEngine, listen: { host: string; port: number; limits: Limits }, options: Hl7Options): Promise<MllpListener> {
  const { limits } = listen;
  return startMllpListener({
    host: listen.host,
    port: listen.port,
    limits: { maxMessageBytes: limits.mllpMaxMessageBytes, maxConnections: limits.mllpMaxConnections, idleTimeoutMs: limits.mllpIdleTimeoutMs, settings: 'CLIENT_REGISTRY_MLLP_*' },
    logger: options.logger,
    answer: (_text, _remote, payload) => answerPayload(payload, engine, options),
  });
}
