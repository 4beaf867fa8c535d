/**
 * Seeded generators of hostile input for the fuzz test: mutated FHIR bodies, search strings,
 * JSON Patches, bundles, admin API filters and router paths. Everything derives from one seed, so
 * a failure is reproduced by running again with FUZZ_SEED set to the seed the test printed.
 */

/** mulberry32: small, fast, good enough to spread mutations; deterministic per seed. */
export class Random {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(max: number): number {
    return Math.floor(this.next() * max);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

export const HOSTILE_KEYS = [
  '__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', '__defineGetter__',
  'resourceType', 'id', 'meta', 'extension', '_family', 'text', 'contained', '', ' ', 'a.b', 'name[0]', '$ref',
];

const STRINGS = [
  '', ' ', 'x', 'Smith', '\u0000', 'a\u0000b', '\ud800', '\udfff', 'é', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢', '\u202e', '<script>alert(1)</script>',
  "'; DROP TABLE resources; --", '%00', '%2e%2e', '../../etc/passwd', '\\', '|', ',', '$', '*', '1e308', '-0', 'NaN',
  '2024-13-45', '2024-02-30T25:61:61Z', 'urn:uuid:not-a-uuid', 'Patient/../../x', 'http://evil.example/Patient/1',
  'constructor', '__proto__', '{"a":1}', '\r\nX-Injected: yes',
];

const NUMBERS = [0, -1, 1, 1.5, 1e308, -1e308, 2 ** 53, 1e-300, 123456789012345680000];

export function randomScalar(rng: Random): unknown {
  switch (rng.int(6)) {
    case 0:
      return rng.pick(STRINGS);
    case 1:
      return rng.pick(NUMBERS);
    case 2:
      return rng.chance(0.5);
    case 3:
      return null;
    case 4:
      return 'x'.repeat(rng.pick([300, 3000, 20_000]));
    default:
      return rng.pick(STRINGS) + rng.pick(STRINGS);
  }
}

function randomValue(rng: Random, depth = 0): unknown {
  const roll = rng.int(10);
  if (depth > 3 || roll < 6) return randomScalar(rng);
  if (roll < 8) return Array.from({ length: rng.int(4) }, () => randomValue(rng, depth + 1));
  const out: Record<string, unknown> = {};
  for (let i = rng.int(4); i > 0; i--) out[rng.chance(0.5) ? rng.pick(HOSTILE_KEYS) : rng.pick(['family', 'given', 'value', 'system', 'code', 'reference'])] = randomValue(rng, depth + 1);
  return out;
}

function deep(levels: number): unknown {
  let value: unknown = 'bottom';
  for (let i = 0; i < levels; i++) value = { extension: [{ url: 'http://x', valueString: 'a', extension: [value] }] } as unknown;
  return value;
}

/** Valid resources the mutations start from. */
export function seedResources(patientId: string): Array<Record<string, unknown>> {
  return [
    {
      resourceType: 'Patient',
      identifier: [{ system: 'http://example.org/mrn', value: 'MRN-1' }],
      name: [{ family: 'Fuzz', given: ['Ada'] }],
      gender: 'female',
      birthDate: '1980-02-29',
      telecom: [{ system: 'phone', value: '+1 555 0100' }],
    },
    {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '8867-4', display: 'Heart rate' }] },
      subject: { reference: `Patient/${patientId}` },
      effectiveDateTime: '2024-01-01T10:00:00Z',
      valueQuantity: { value: 72, unit: '/min', system: 'http://unitsofmeasure.org', code: '/min' },
    },
    {
      resourceType: 'Encounter',
      status: 'finished',
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
      subject: { reference: `Patient/${patientId}` },
    },
  ];
}

/** Paths of a JSON document, for picking where to mutate. */
function containers(value: unknown, out: Array<Record<string, unknown> | unknown[]> = []): Array<Record<string, unknown> | unknown[]> {
  if (value && typeof value === 'object') {
    out.push(value as Record<string, unknown>);
    for (const child of Object.values(value)) containers(child, out);
  }
  return out;
}

/** A mutated copy of a valid resource, as JSON text (sometimes not JSON at all). */
export function mutatedBody(rng: Random, seed: Record<string, unknown>): string {
  const doc = JSON.parse(JSON.stringify(seed)) as Record<string, unknown>;
  for (let n = 1 + rng.int(4); n > 0; n--) {
    const target = rng.pick(containers(doc));
    const keys = Object.keys(target);
    switch (rng.int(7)) {
      case 0: // replace a value
        if (keys.length) (target as Record<string, unknown>)[rng.pick(keys)] = randomValue(rng);
        break;
      case 1: // add a hostile or unknown key
        if (!Array.isArray(target)) target[rng.pick(HOSTILE_KEYS)] = randomValue(rng);
        else target.push(randomValue(rng));
        break;
      case 2: // remove a key
        if (keys.length && !Array.isArray(target)) delete target[rng.pick(keys)];
        break;
      case 3:
        doc.resourceType = rng.pick(['Patient', 'Observation', 'constructor', '__proto__', 'toString', 'patient', '', 'Bundle', 'OperationOutcome', 'X'.repeat(200)]);
        break;
      case 4:
        doc.extension = [deep(rng.pick([5, 60, 200]))];
        break;
      case 5:
        doc.id = rng.pick(['x', 'a'.repeat(65), '../x', 'é', '', '1 2', 'valid-id-1']);
        break;
      default:
        doc.name = [{ family: 'x'.repeat(rng.pick([64, 2_000, 3_000, 70_000])), given: [rng.pick(STRINGS)] }];
    }
  }
  let text = JSON.stringify(doc);
  // __proto__ set through assignment is not an own key: write it into the text itself.
  if (rng.chance(0.15)) text = text.replace(/^\{/, `{"__proto__":{"polluted":"yes"},`);
  if (rng.chance(0.1)) text = text.replace(/^\{/, `{"constructor":{"prototype":{"polluted":"yes"}},`);
  if (rng.chance(0.08)) text = text.slice(0, rng.int(text.length)); // truncated
  if (rng.chance(0.05)) text = text.replace('"', '"\\u0000'); // NUL inside a string
  if (rng.chance(0.05)) text = text.replace('"', '"\\ud800'); // lone surrogate
  return text;
}

const SEARCH_PARAMS: Record<string, string[]> = {
  Patient: ['family', 'given', 'name', 'birthdate', 'identifier', 'gender', '_id', '_lastUpdated', 'telecom', 'address', 'general-practitioner', 'organization', 'link'],
  Observation: ['code', 'date', 'subject', 'patient', 'value-quantity', 'status', 'category', 'code-value-quantity', 'component-code', 'encounter', 'performer'],
  Encounter: ['subject', 'status', 'class', 'date', 'patient', 'participant', 'reason-reference'],
};
const MODIFIERS = ['', ':exact', ':contains', ':missing', ':not', ':text', ':above', ':below', ':in', ':not-in', ':of-type', ':identifier', ':Patient', ':constructor', ':__proto__', ':iterate', '::', ':'];
const PREFIXES = ['', 'eq', 'ne', 'gt', 'lt', 'ge', 'le', 'sa', 'eb', 'ap', 'zz'];
const VALUES = [
  'Fuzz', 'F', 'http://loinc.org|8867-4', '|8867-4', 'http://loinc.org|', '8867-4', '2024', '2024-01', '2024-01-01T10:00:00Z', '2024-13-01',
  '72|http://unitsofmeasure.org|/min', '72', '1e308', '-1', 'Patient/1', 'Patient/../x', 'true', 'false', 'a,b,c', 'a\\,b', '\\', '%', '%%00', '\u0000',
  'x'.repeat(5_000), ',,,,', '$', 'female', 'http://example.org/mrn|MRN-1',
];

function searchPair(rng: Random, type: string, depth = 0): [string, string] {
  const roll = rng.int(12);
  if (roll === 0 && depth < 6) {
    const [inner, value] = searchPair(rng, 'Observation', depth + 1);
    return [`_has:Observation:${rng.pick(['subject', 'patient', 'constructor', 'x'])}:${inner}`, value];
  }
  if (roll === 1 && depth < 6) {
    const [inner, value] = searchPair(rng, 'Patient', depth + 1);
    return [`${rng.pick(['subject', 'patient', 'subject:Patient', 'subject:Group', 'code'])}.${inner}`, value];
  }
  if (roll === 2) return [rng.pick(['_include', '_revinclude', '_include:iterate']), rng.pick(['Observation:subject', 'Observation:*', 'Patient:constructor', 'x:y:z', '*', 'Observation:subject:Patient'])];
  if (roll === 3) return [rng.pick(['_sort', '_count', '_offset', '_total', '_summary', '_elements', '_type', '_cursor', '_snapshot']), rng.pick(['-family', 'birthdate,-_lastUpdated', '1000', '100000', '-1', '1e308', 'accurate', 'count', 'text', 'name,gender', 'constructor', 'a999999999999', '00000000-0000-0000-0000-000000000000', ''])];
  if (roll === 4) return [rng.pick(['constructor', '__proto__', 'toString', '_filter', '_text', '_content', '_query', '_list', '', ' ', '_has', '_has:', 'family.x']), rng.pick(VALUES)];
  const params = SEARCH_PARAMS[type] ?? SEARCH_PARAMS.Patient!;
  return [`${rng.pick(params)}${rng.chance(0.4) ? rng.pick(MODIFIERS) : ''}`, `${rng.chance(0.3) ? rng.pick(PREFIXES) : ''}${rng.pick(VALUES)}`];
}

/** `Type?query` for a search, sometimes with raw percent-encoding mistakes. */
export function searchPath(rng: Random): string {
  const type = rng.pick(['Patient', 'Observation', 'Encounter']);
  const query = new URLSearchParams();
  for (let n = 1 + rng.int(4); n > 0; n--) {
    const [key, value] = searchPair(rng, type);
    query.append(key, value);
  }
  let text = query.toString();
  if (rng.chance(0.1)) text += rng.pick(['&%', '&%zz=1', '&a=%ff%fe', '&&&', '&=x', '&family=%00']);
  return `${type}?${text}`;
}

const POINTERS = [
  '/name', '/name/0', '/name/0/family', '/name/-', '/name/99999', '/gender', '/__proto__/polluted', '/constructor/prototype/polluted',
  '/name/0/__proto__', '/~1', '/~0', '/', '', 'name', '/id', '/resourceType', '/meta/versionId', '/extension', '/extension/-', '/telecom/0',
];

/** A JSON Patch: random operations, sometimes the self-copy doubling attack. */
export function jsonPatch(rng: Random): unknown {
  if (rng.chance(0.1)) {
    const ops: unknown[] = [{ op: 'add', path: '/extension', value: [{ url: 'http://x', valueString: 'y'.repeat(100) }] }];
    for (let i = 0; i < 40; i++) ops.push({ op: 'copy', from: '/extension', path: '/extension/-' });
    return ops;
  }
  if (rng.chance(0.05)) return rng.pick([{}, 'x', null, 42, [null], [[]]]);
  return Array.from({ length: 1 + rng.int(5) }, () => {
    const op: Record<string, unknown> = { op: rng.pick(['add', 'remove', 'replace', 'move', 'copy', 'test', 'delete', '__proto__']), path: rng.pick(POINTERS) };
    if (rng.chance(0.7)) op.value = randomValue(rng);
    if (rng.chance(0.4)) op.from = rng.pick(POINTERS);
    if (rng.chance(0.05)) return { ...op, path: 42 };
    return op;
  });
}

function parsedOr(text: string, fallback: unknown): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return fallback;
  }
}

/** A batch or transaction bundle with a few entries of every kind. */
export function bundle(rng: Random, patientId: string): string {
  const entries: unknown[] = [];
  for (let n = 1 + rng.int(6); n > 0; n--) {
    const method = rng.pick(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'TRACE', '']);
    const seed = rng.pick(seedResources(patientId));
    const url = rng.pick([
      `${String(seed.resourceType)}`, `Patient/${patientId}`, searchPath(rng), 'Patient?_count=1000', '../admin', 'http://elsewhere/x', '', `Patient/${patientId}/_history`, 'metadata', '$everything',
    ]);
    entries.push({
      fullUrl: rng.pick([`urn:uuid:${crypto.randomUUID()}`, 'urn:uuid:dup', undefined, 'x']),
      request: rng.chance(0.95) ? { method, url, ...(rng.chance(0.1) ? { ifNoneExist: 'identifier=x|y' } : {}) } : undefined,
      resource: method === 'PATCH' ? { resourceType: 'Binary', contentType: 'application/json-patch+json', data: Buffer.from(JSON.stringify(jsonPatch(rng))).toString('base64') } : rng.chance(0.5) ? seed : parsedOr(mutatedBody(rng, seed), seed),
    });
  }
  if (rng.chance(0.05)) for (let i = 0; i < 200; i++) entries.push({ request: { method: 'GET', url: 'Patient?_count=1000' } });
  const type = rng.pick(['batch', 'transaction', 'collection', 'constructor', undefined]);
  return JSON.stringify({ resourceType: 'Bundle', type, entry: rng.chance(0.05) ? { x: 1 } : entries });
}

/** A query string for the admin API's list endpoints (/transactions, /audits, /audit-events, /tasks). */
export function adminQuery(rng: Random): string {
  const query = new URLSearchParams();
  const filters: Record<string, unknown> = {};
  for (let n = rng.int(4); n > 0; n--) {
    const key = rng.pick(['status', 'channelID', 'clientID', 'request.timestamp', 'request.path', 'response.status', '$where', '$in', '__proto__', 'constructor', 'properties.x', 'childIDs',
      'eventIdentification.eventOutcomeIndicator', 'eventIdentification.eventDateTime', 'eventIdentification.eventID.code', 'activeParticipant.userID']);
    filters[key] = rng.pick([
      'Successful', 'Failed', '[', '(a+)+$', { $gte: '2024-01-01', $lte: 'garbage' }, { $in: 'x' }, { $in: [1, 2] }, { $regex: '(' }, { $where: 'sleep(1)' }, 12, null, '5**', 'x'.repeat(5000), '\u0000',
    ]);
  }
  if (rng.chance(0.8)) query.set('filters', rng.chance(0.9) ? JSON.stringify(filters) : rng.pick(['{', 'null', '[]', '"x"', '1e308', '{"__proto__":{"polluted":1}}']));
  if (rng.chance(0.6)) query.set('filterPage', rng.pick(['0', '1', '-1', '1e308', 'NaN', 'x', '99999999999999999999']));
  if (rng.chance(0.6)) query.set('filterLimit', rng.pick(['0', '1', '-5', '1e308', '100000', 'x']));
  if (rng.chance(0.3)) query.set('filterRepresentation', rng.pick(['simple', 'full', 'fulltruncate', 'bulkrerun', 'x', 'constructor']));
  if (rng.chance(0.2)) query.set(rng.pick(['startDate', 'endDate', 'from', 'to']), rng.pick(['2024-01-01', 'garbage', '1e308', '-1']));
  return query.toString();
}

/** A path for the router, with dot segments, encodings and odd characters. */
export function routerPath(rng: Random): string {
  return rng.pick([
    '/fhir/Patient', '/fhir/Patient/%2e%2e/Observation', '/fhir/../health', '/fhir/%2E%2E/%2e%2e/health', '/fhir/Patient/..%2f..%2fhealth', '/fhir//Patient',
    '/fhir/./Patient', '/fhir/Patient%00', '/fhir/%ff', '/FHIR/Patient', '/fhir/Patient?_count=1000&_count=2', '/fhir/metadata', '/%2e%2e/fhir/Patient', '/fhir/Patient/..',
    '/fhir/Patient\\..\\..\\health', '/fhir/\u00e9', '//fhir/Patient', '/fhir/Patient/%252e%252e/x',
  ]);
}
