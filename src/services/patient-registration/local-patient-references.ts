/**
 * A clinic's visit refers to its patient by the clinic's own identifier, since the clinic does
 * not know the shared health record's ids: a conditional reference `Patient?identifier=system|value`
 * or a logical reference `{ type: 'Patient', identifier: { system, value } }` (the type may be left
 * out under `subject` or `patient`). This module finds those references and rewrites them to the
 * enterprise identity. Pure: no HTTP.
 */

export interface LocalIdentifier {
  system: string;
  value: string;
}

/** `system|value`, the key a local patient is known by. */
export const identifierKey = (id: LocalIdentifier): string => `${id.system}|${id.value}`;

export class VisitReferenceError extends Error {}

type Json = Record<string, unknown>;
const PATIENT_KEYS = new Set(['subject', 'patient']);
const CONDITIONAL = /^Patient\?identifier=(.+)$/;
/**
 * A reference string that names a Patient in any other form: relative (`Patient/1`, `./Patient/1`,
 * `Patient/1/_history/2`), absolute (`http://record/fhir/Patient/1`) or a search (`Patient?_id=1`),
 * matched also percent-decoded and in any case. The shared health record resolves each of these to
 * a Patient of its own, which is not the clinic's to choose.
 */
const NAMES_A_PATIENT = /(?:^|\/)patient(?:[/?#]|$)/i;

function namesAPatient(reference: string): boolean {
  let decoded = reference;
  try {
    decoded = decodeURIComponent(reference);
  } catch {
    // not percent-encoding: the string as it is
  }
  return NAMES_A_PATIENT.test(reference.trim()) || NAMES_A_PATIENT.test(decoded.trim());
}

function parseConditional(reference: string): LocalIdentifier {
  const token = decodeURIComponent(CONDITIONAL.exec(reference)![1]!);
  const bar = token.indexOf('|');
  if (bar <= 0 || bar === token.length - 1) throw new VisitReferenceError(`${reference}: give the identifier as system|value`);
  return { system: token.slice(0, bar), value: token.slice(bar + 1) };
}

/** The local identifier a Reference names, undefined when it is not a reference to a local patient. */
function localIdentifierOf(node: Json, key: string): LocalIdentifier | undefined {
  const reference = node.reference;
  if (typeof reference === 'string') {
    if (CONDITIONAL.test(reference)) return parseConditional(reference);
    if (namesAPatient(reference)) {
      throw new VisitReferenceError(`${reference.slice(0, 200)}: refer to the patient by the clinic's identifier (Patient?identifier=system|value), not by a server id, URL or other search`);
    }
    return undefined;
  }
  const identifier = node.identifier as Json | undefined;
  const namesPatient = node.type === 'Patient' || (node.type === undefined && PATIENT_KEYS.has(key));
  if (!namesPatient || !identifier || typeof identifier !== 'object' || Array.isArray(identifier)) return undefined;
  if (typeof identifier.system !== 'string' || !identifier.system || typeof identifier.value !== 'string' || !identifier.value) {
    throw new VisitReferenceError(`the ${key} reference's identifier needs both system and value`);
  }
  return { system: identifier.system, value: identifier.value };
}

/** Calls `visit` on every reference to a local patient, depth first; `replace` swaps the Reference. */
function walk(node: unknown, key: string, visit: (id: LocalIdentifier) => Json | undefined): unknown {
  if (Array.isArray(node)) return node.map((item) => walk(item, key, visit));
  if (!node || typeof node !== 'object') return node;
  const local = localIdentifierOf(node as Json, key);
  if (local) return visit(local) ?? node;
  return Object.fromEntries(Object.entries(node as Json).map(([k, v]) => [k, walk(v, k, visit)]));
}

/** Every distinct local patient the resources refer to. */
export function localPatientsOf(resources: unknown[]): LocalIdentifier[] {
  const found = new Map<string, LocalIdentifier>();
  for (const resource of resources) {
    walk(resource, '', (id) => {
      found.set(identifierKey(id), id);
      return undefined;
    });
  }
  return [...found.values()];
}

/** The resource with each local patient reference replaced by `Patient/<enterprise id>`. */
export function withEnterpriseReferences<T>(resource: T, enterpriseIds: Map<string, string>): T {
  return walk(resource, '', (id) => {
    const enterpriseId = enterpriseIds.get(identifierKey(id));
    if (!enterpriseId) throw new VisitReferenceError(`no enterprise identity for ${identifierKey(id)}`);
    return { reference: `Patient/${enterpriseId}` };
  }) as T;
}
