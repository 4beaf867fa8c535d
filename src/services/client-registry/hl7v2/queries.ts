/**
 * QBP queries answered with RSP: Q23 (PIX query, IHE ITI-9) through the registry's PIXm
 * `$ihe-pix`, and Q22 (PDQ, IHE ITI-21) through its Patient search. Each answer is
 * MSH, MSA, [ERR], QAK (QPD-2 query tag, OK / NF / AE / AR), the request's QPD, then PIDs.
 */
import { createHash } from 'node:crypto';
import { Hl7Message, Hl7Segment } from '@medplum/core';
import type { Identifier, Parameters, Patient } from '@medplum/fhirtypes';
import { isGolden, referencedId } from '../golden-record.js';
import { buildAck, HL7_ERROR, Hl7MessageError, msaSegment, responseHeader, errSegments, type AckCode } from './acknowledgement.js';
import type { AuthorityDirectory } from './authorities.js';
import { buildSegment, components, DEFAULT_CONTEXT, part, reencode, repetitions, value } from './encoding.js';
import { hl7ErrorFor, type RegistryCalls } from './fhir-calls.js';
import { assertRepetitionsWithin, pidFromPatient } from './pid.js';
import { escapeSearchValue } from '../../../common/search-value-escape.js';

const GOLDEN_TAG = 'http://instant-openhie.org/fhir/cr-record-type|golden';

type QueryStatus = 'OK' | 'NF' | 'AE' | 'AR';

function requireQpd(message: Hl7Message): Hl7Segment {
  const qpd = message.getSegment('QPD');
  if (!qpd) throw new Hl7MessageError('AE', HL7_ERROR.segmentSequence, 'the query has no QPD segment', 'QPD');
  return qpd;
}

/** QAK-4..6 and the DSC of an answer given in increments (ITI-21 continuation). */
interface Increment {
  total: number;
  remaining: number;
  /** DSC-1, when records remain. */
  pointer?: string;
}

/** RSP^K2x: the answer of a query, with its QAK and the request's QPD echoed. */
export function queryResponse(request: Hl7Message, event: 'K22' | 'K23', ack: AckCode, status: QueryStatus, pids: Hl7Segment[], error?: Hl7MessageError, increment?: Increment): Hl7Message {
  const qpd = request.getSegment('QPD');
  const segments = [responseHeader(request, components('RSP', event, event === 'K22' ? 'RSP_K21' : 'RSP_K23')), msaSegment(request, ack)];
  if (error) segments.push(...errSegments(error, request));
  // QAK-3 echoes QPD-1 (the message query name); QAK-4..6 hit count total, this payload, hits remaining.
  const counts = increment ? [String(increment.total), String(pids.length), String(increment.remaining)] : [];
  segments.push(buildSegment('QAK', [components(qpd ? value(qpd, 2) : ''), status, ...(increment ? [qpd?.getField(1)?.toString() ?? ''] : []), ...counts]));
  // The request's QPD as it came, in the answer's delimiters (a request may use others than |^~\\&).
  if (qpd) segments.push(Hl7Segment.parse(reencode(qpd.toString(), qpd.context), DEFAULT_CONTEXT));
  segments.push(...pids);
  if (increment?.pointer) segments.push(buildSegment('DSC', [increment.pointer, 'I']));
  return new Hl7Message(segments);
}

/** A query refused: AE/AR in MSA and QAK, the ERR, no PID. */
export function queryError(request: Hl7Message, event: 'K22' | 'K23', error: Hl7MessageError): Hl7Message {
  if (!request.getSegment('QPD')) return buildAck(request, error.ack, error);
  return queryResponse(request, event, error.ack, error.ack, [], error);
}

/**
 * QPD-4 (Q23) or QPD-8 (Q22): the domains asked for, as URLs. Unknown ones are AE 204 with one ERR
 * per unknown domain, ERR-2 `QPD^1^<field>^<repetition>` (ITI-9 case 5; ITI-21 likewise for QPD-8).
 * More than CLIENT_REGISTRY_MAX_REPEATS is AE at once: `$ihe-pix` looks each domain up (a search
 * per domain while none is registered), so a 1 MiB QPD-4 held the database for minutes.
 */
function askedDomains(qpd: Hl7Segment, field: number, authorities: AuthorityDirectory, maxRepeats: number): string[] {
  assertRepetitionsWithin(qpd, 'QPD', [field], maxRepeats);
  const unknown: Hl7MessageError[] = [];
  const systems = repetitions(qpd, field).map((cx, n) => {
    const authority = { namespace: part(cx, 4, qpd.context, 1), universalId: part(cx, 4, qpd.context, 2), universalIdType: part(cx, 4, qpd.context, 3) };
    const system = authorities.systemOf(authority);
    if (!system) unknown.push(new Hl7MessageError('AE', HL7_ERROR.unknownKey, `unknown domain "${[authority.namespace, authority.universalId].filter(Boolean).join('&').slice(0, 200)}" in QPD-${field}`, `QPD^1^${field}^${n + 1}`));
    return system;
  });
  if (unknown.length) {
    const [first, ...others] = unknown;
    throw new Hl7MessageError(first!.ack, first!.condition, first!.message, first!.location, others);
  }
  return systems.filter((s): s is string => s !== undefined);
}

/** Q23 (ITI-9): the identifiers of the person QPD-3 names, in the QPD-4 domains (all when empty). */
export async function pixQuery(request: Hl7Message, calls: RegistryCalls, authorities: AuthorityDirectory, maxRepeats: number): Promise<Hl7Message> {
  const qpd = requireQpd(request);
  const cx = repetitions(qpd, 3)[0];
  const idValue = part(cx, 1, qpd.context);
  if (!idValue) throw new Hl7MessageError('AE', HL7_ERROR.requiredFieldMissing, 'QPD-3 (the person identifier) is required', 'QPD^1^3^1^1');
  const authority = { namespace: part(cx, 4, qpd.context, 1), universalId: part(cx, 4, qpd.context, 2), universalIdType: part(cx, 4, qpd.context, 3) };
  const system = authorities.systemOf(authority);
  if (!system) throw new Hl7MessageError('AE', HL7_ERROR.unknownKey, 'QPD-3 assigning authority not found', 'QPD^1^3^1^4');
  const targets = askedDomains(qpd, 4, authorities, maxRepeats);
  const query: Array<[string, string]> = [['sourceIdentifier', `${escapeSearchValue(system)}|${escapeSearchValue(idValue)}`], ...targets.map((t): [string, string] => ['targetSystem', t])];
  const response = await calls.raw('GET', 'Patient/$ihe-pix', query);
  if (response.status === 404) throw new Hl7MessageError('AE', HL7_ERROR.unknownKey, 'QPD-3 patient identifier not found', 'QPD^1^3^1^1');
  // PIXm's 403 "targetSystem not found": a domain the directory takes (any OID or URL while none
  // are configured) that the registry does not know. ITI-9 case 5: AE 204 per unknown domain.
  if (response.status === 403 && targets.length) throw await unknownTargets(calls, system, idValue, targets);
  if (response.status >= 400) throw hl7ErrorFor(response, 'QPD^1^3');
  const identifiers = ((response.resource as Parameters).parameter ?? []).filter((p) => p.name === 'targetIdentifier' && p.valueIdentifier).map((p) => p.valueIdentifier!);
  if (!identifiers.length) return queryResponse(request, 'K23', 'AA', 'NF', []);
  // ITI-9: one PID with the identifiers in PID-3 and an empty name (a coded pseudo-name).
  const pid = pidFromPatient(1, { resourceType: 'Patient' }, identifiers, authorities);
  pid.setField(5, '~^^^^^^S');
  return queryResponse(request, 'K23', 'AA', 'OK', [pid]);
}

/** One ERR 204 at QPD^1^4^<repetition> for each QPD-4 domain the registry answers it does not know (asked one by one: an error path only). */
async function unknownTargets(calls: RegistryCalls, system: string, idValue: string, targets: string[]): Promise<Hl7MessageError> {
  const unknown: Hl7MessageError[] = [];
  for (const [n, target] of targets.entries()) {
    const single = await calls.raw('GET', 'Patient/$ihe-pix', [['sourceIdentifier', `${escapeSearchValue(system)}|${escapeSearchValue(idValue)}`], ['targetSystem', target]]);
    if (single.status === 403) unknown.push(new Hl7MessageError('AE', HL7_ERROR.unknownKey, `unknown domain "${target.slice(0, 200)}" in QPD-4`, `QPD^1^4^${n + 1}`));
  }
  if (!unknown.length) return new Hl7MessageError('AE', HL7_ERROR.unknownKey, 'a QPD-4 domain is not known to the registry', 'QPD^1^4');
  const [first, ...others] = unknown;
  return new Hl7MessageError(first!.ack, first!.condition, first!.message, first!.location, others);
}

/** QPD-3 field names (@PID.n[.c[.s]]) and the Patient search parameter each one is. */
const PDQ_FIELDS: Record<string, string> = {
  'PID.3.1': 'identifier', 'PID.3': 'identifier',
  'PID.5.1': 'family', 'PID.5.1.1': 'family', 'PID.5.2': 'given', 'PID.5': 'family',
  'PID.6.1': 'mothersMaidenName', 'PID.6.1.1': 'mothersMaidenName',
  'PID.7': 'birthdate', 'PID.7.1': 'birthdate',
  'PID.8': 'gender',
  'PID.11.1': 'address', 'PID.11.1.1': 'address', 'PID.11.3': 'address-city', 'PID.11.4': 'address-state', 'PID.11.5': 'address-postalcode', 'PID.11.6': 'address-country',
  'PID.13.1': 'phone', 'PID.13': 'phone', 'PID.13.6': 'phone', 'PID.13.7': 'phone',
};
const SEX_CODE: Record<string, string> = { M: 'male', F: 'female', O: 'other', U: 'unknown', A: 'other', N: 'unknown' };

/** QPD-3 as Patient search parameters. */
function pdqSearch(qpd: Hl7Segment, authorities: AuthorityDirectory): Array<[string, string]> {
  const criteria = repetitions(qpd, 3);
  if (!criteria.length) throw new Hl7MessageError('AE', HL7_ERROR.requiredFieldMissing, 'QPD-3 (demographics fields) needs at least one @PID field and value', 'QPD^1^3');
  const search: Array<[string, string]> = [];
  let identifierValue = '';
  let authority = { namespace: '', universalId: '', universalIdType: '' };
  criteria.forEach((qip, n) => {
    const field = part(qip, 1, qpd.context).replace(/^@/, '');
    const given = part(qip, 2, qpd.context).replace(/\*+$/, ''); // a trailing wildcard: string search already matches prefixes
    const location = `QPD^1^3^${n + 1}`;
    if (field === 'PID.3.4.1') return void (authority = { ...authority, namespace: given });
    if (field === 'PID.3.4.2') return void (authority = { ...authority, universalId: given });
    if (field === 'PID.3.4.3') return void (authority = { ...authority, universalIdType: given });
    const parameter = PDQ_FIELDS[field];
    if (!parameter) throw new Hl7MessageError('AE', HL7_ERROR.tableValueNotFound, `QPD-3: the registry cannot search on @${field.slice(0, 40)}`, `${location}^1`);
    if (!given) return;
    // No demographic holds a control character (a NUL, an escape): refused here, where the error can say where it is.
    if (/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(given)) throw new Hl7MessageError('AE', HL7_ERROR.dataTypeError, `QPD-3 @${field}: the value holds a control character`, `${location}^2`);
    if (parameter === 'identifier') return void (identifierValue = given);
    if (parameter === 'birthdate') {
      const date = /^(\d{4})(\d{2})?(\d{2})?/.exec(given);
      if (!date) throw new Hl7MessageError('AE', HL7_ERROR.dataTypeError, `QPD-3 @${field}: "${given.slice(0, 40)}" is not an HL7 date`, `${location}^2`);
      return void search.push(['birthdate', [date[1], date[2], date[3]].filter(Boolean).join('-')]);
    }
    if (parameter === 'gender') {
      const gender = SEX_CODE[given.toUpperCase()];
      if (!gender) throw new Hl7MessageError('AE', HL7_ERROR.tableValueNotFound, `QPD-3 @PID.8: "${given.slice(0, 20)}" is not an administrative sex`, `${location}^2`);
      return void search.push(['gender', gender]);
    }
    search.push([parameter, escapeSearchValue(given)]); // a comma in an HL7 value is text, not FHIR's "or"
  });
  if (identifierValue) {
    const hasAuthority = authority.namespace || authority.universalId;
    const system = hasAuthority ? authorities.systemOf(authority) : undefined;
    if (hasAuthority && !system) throw new Hl7MessageError('AE', HL7_ERROR.unknownKey, 'QPD-3 @PID.3.4: unknown assigning authority', 'QPD^1^3');
    search.push(['identifier', system ? `${escapeSearchValue(system)}|${escapeSearchValue(identifierValue)}` : escapeSearchValue(identifierValue)]);
  }
  if (!search.length) throw new Hl7MessageError('AE', HL7_ERROR.requiredFieldMissing, 'QPD-3 gives no value to search on', 'QPD^1^3');
  return search;
}

/**
 * Q22 (ITI-21): one PID per person (golden record) whose active source records match QPD-3: that
 * record's demographics, the person's identifiers. At most `maxResults` persons are considered.
 * With a quantity limit (RCP-2, in records) the answer comes in increments (the Continuation
 * option): QAK-4..6 count the hits, and a DSC continuation pointer, sent back in the DSC of the
 * same query, asks for the next increment. The pointer is the next offset bound to the query's
 * QPD-3 and QPD-8, so the registry keeps no state; persons come in the order of their first
 * matching record, which later registrations do not change.
 */
export async function pdqQuery(request: Hl7Message, calls: RegistryCalls, authorities: AuthorityDirectory, maxResults: number, maxRepeats: number): Promise<Hl7Message> {
  const qpd = requireQpd(request);
  const search = pdqSearch(qpd, authorities);
  const domains = askedDomains(qpd, 8, authorities, maxRepeats);
  const asked = Number.parseInt(value(request.getSegment('RCP'), 2), 10);
  const increment = Number.isInteger(asked) && asked > 0 ? Math.min(asked, maxResults) : undefined;
  const offset = continuationOffset(request, qpd);
  const sources = await calls.search<Patient>('Patient', [...search, ['_tag:not', GOLDEN_TAG], ['_count', String(Math.min(maxResults * 4, 1000))]]);
  const people = new Map<string, Patient>(); // golden id → the first matching source
  for (const source of sources) {
    // A merged-away (or otherwise inactive) record is no patient of the registry any more: its
    // demographics must not stand beside the survivor's identifiers in a PID (review finding 6).
    if (source.active === false) continue;
    const golden = source.link?.find((l) => l.type === 'refer');
    const key = (golden && referencedId(golden)) ?? source.id!;
    if (!people.has(key) && people.size < maxResults) people.set(key, source);
  }
  // ITI-21: a person with nothing in the asked domains is not returned (nor counted), so with
  // QPD-8 every person's identifiers are read first; without it only those of the answered ones.
  const hits: Array<{ goldenId: string; source: Patient; identifiers?: Identifier[] }> = [];
  for (const [goldenId, source] of people) {
    if (!domains.length) {
      hits.push({ goldenId, source });
      continue;
    }
    const identifiers = (await identifiersOfPerson(calls, goldenId, source)).filter((i) => domains.includes(i.system!));
    if (identifiers.length) hits.push({ goldenId, source, identifiers });
  }
  const page = hits.slice(offset, increment === undefined ? undefined : offset + increment);
  const pids: Hl7Segment[] = [];
  for (const { goldenId, source, identifiers } of page) {
    pids.push(pidFromPatient(pids.length + 1, source, identifiers ?? await identifiersOfPerson(calls, goldenId, source), authorities));
  }
  if (increment === undefined && offset === 0) return queryResponse(request, 'K22', 'AA', pids.length ? 'OK' : 'NF', pids);
  const remaining = Math.max(0, hits.length - offset - pids.length);
  return queryResponse(request, 'K22', 'AA', pids.length ? 'OK' : 'NF', pids, undefined, {
    total: hits.length, remaining, ...(remaining ? { pointer: continuationPointer(offset + pids.length, qpd) } : {}),
  });
}

/**
 * What a continuation pointer is bound to: the query's criteria and domains (QPD-3, QPD-8). It is
 * no signature: the sender may edit the offset, which only pages within its own query's hits.
 */
function queryDigest(qpd: Hl7Segment): string {
  return createHash('sha256').update(`${qpd.getField(3)?.toString() ?? ''}\u0000${qpd.getField(8)?.toString() ?? ''}`).digest('hex').slice(0, 16);
}

function continuationPointer(offset: number, qpd: Hl7Segment): string {
  return `${offset}-${queryDigest(qpd)}`;
}

/** The offset a continuation query (DSC-1) asks for; 0 for a first query. */
function continuationOffset(request: Hl7Message, qpd: Hl7Segment): number {
  const pointer = value(request.getSegment('DSC'), 1);
  if (!pointer) return 0;
  const match = /^(\d{1,6})-([0-9a-f]{16})$/.exec(pointer);
  if (!match || match[2] !== queryDigest(qpd)) {
    throw new Hl7MessageError('AE', HL7_ERROR.dataTypeError, 'DSC-1 is not a continuation pointer of this query (send the QPD of the first query unchanged)', 'DSC^1^1');
  }
  return Number(match[1]);
}

/** Every identifier of every source record linked to the person's golden record. */
async function identifiersOfPerson(calls: RegistryCalls, goldenId: string, source: Patient): Promise<Identifier[]> {
  const golden = await calls.raw('GET', `Patient/${goldenId}`);
  const sourceIds = golden.status === 200 && isGolden(golden.resource as Patient)
    ? ((golden.resource as Patient).link ?? []).filter((l) => l.type === 'seealso').map(referencedId).filter((id): id is string => !!id)
    : [source.id!];
  const seen = new Set<string>();
  const identifiers: Identifier[] = [];
  for (const id of sourceIds) {
    const patient = id === source.id ? source : ((await calls.raw('GET', `Patient/${id}`)).resource as Patient | undefined);
    if (patient?.resourceType !== 'Patient' || patient.active === false) continue;
    for (const identifier of patient.identifier ?? []) {
      const key = `${identifier.system}|${identifier.value}`;
      if (!seen.has(key)) identifiers.push(identifier);
      seen.add(key);
    }
  }
  return identifiers;
}
