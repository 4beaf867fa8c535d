/**
 * The DICOM / RFC 3881 AuditMessage XML an ATNA sender puts in its syslog message, read into the
 * record OpenHIM stores: as OpenHIM's parseAuditRecordFromXML reads it with xml2js (attributes
 * merged into their element, a repeated element a list, names with their first letter lower
 * case, DICOM's `csd-code` as `code` and `originalText` as `displayName`). Parsed with saxes,
 * streaming: a DTD is refused (no entity is ever expanded), depth and element count are bounded.
 */
import { SaxesParser } from 'saxes';

const MAX_DEPTH = 32;
const MAX_ELEMENTS = 5000;

type XmlValue = string | XmlObject | XmlValue[];
interface XmlObject {
  [key: string]: XmlValue;
}

const lowerFirst = (name: string) => name.charAt(0).toLowerCase() + name.slice(1);
const ATTRIBUTE_NAMES: Record<string, string> = { 'csd-code': 'code', originalText: 'displayName' };

/** xml2js's reading of one element: text alone is a string, else an object (text under `_`). */
function finish(element: { attributes: XmlObject; children: XmlObject; text: string; hasChildren: boolean }): XmlValue {
  const text = element.text.trim();
  if (!element.hasChildren && Object.keys(element.attributes).length === 0) return text;
  const value: XmlObject = Object.assign(Object.create(null) as XmlObject, element.attributes, element.children);
  if (text) value._ = text;
  return value;
}

/** The root element as xml2js (with OpenHIM's options) reads it, or an error saying why not. */
function readXml(xml: string): { name: string; value: XmlValue } {
  if (/<!DOCTYPE/i.test(xml)) throw new Error('the audit message has a DTD (<!DOCTYPE>), which is not accepted');
  const parser = new SaxesParser({ position: false });
  const stack: Array<{ name: string; attributes: XmlObject; children: XmlObject; text: string; hasChildren: boolean }> = [];
  let root: { name: string; value: XmlValue } | undefined;
  let elements = 0;
  parser.on('opentag', (tag) => {
    if (stack.length >= MAX_DEPTH) throw new Error(`the audit message is nested deeper than ${MAX_DEPTH} levels`);
    if (++elements > MAX_ELEMENTS) throw new Error(`the audit message has more than ${MAX_ELEMENTS} elements`);
    const attributes: XmlObject = Object.create(null) as XmlObject;
    for (const [name, attribute] of Object.entries(tag.attributes)) {
      const local = name.includes(':') ? name.slice(name.indexOf(':') + 1) : name;
      if (name.startsWith('xmlns')) continue;
      const key = ATTRIBUTE_NAMES[local] ?? lowerFirst(local);
      attributes[ATTRIBUTE_NAMES[key] ?? key] = typeof attribute === 'string' ? attribute : attribute.value;
    }
    const local = tag.name.includes(':') ? tag.name.slice(tag.name.indexOf(':') + 1) : tag.name;
    stack.push({ name: lowerFirst(local), attributes, children: Object.create(null) as XmlObject, text: '', hasChildren: false });
  });
  parser.on('text', (text) => {
    const top = stack.at(-1);
    if (top) top.text += text;
  });
  parser.on('cdata', (text) => {
    const top = stack.at(-1);
    if (top) top.text += text;
  });
  parser.on('closetag', () => {
    const element = stack.pop()!;
    const value = finish(element);
    const parent = stack.at(-1);
    if (!parent) {
      root = { name: element.name, value };
      return;
    }
    parent.hasChildren = true;
    const existing = parent.children[element.name];
    parent.children[element.name] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
  });
  parser.write(xml).close();
  if (!root) throw new Error('the audit message holds no XML element');
  return root;
}

const list = (value: XmlValue | undefined): XmlValue[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);
/** Where OpenHIM's model has one value (a code, a detail), the first of several. */
const one = (value: XmlValue | undefined): XmlValue | undefined => (Array.isArray(value) ? value[0] : value);

function singleValued(value: XmlValue): XmlValue {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return value;
  const out: XmlObject = Object.create(null) as XmlObject;
  for (const [key, field] of Object.entries(value)) out[key] = one(field)!;
  return out;
}

/**
 * The audit record (before the model's checks, parseAtnaRecord) of an AuditMessage document, as
 * OpenHIM's parseAuditRecordFromXML builds it. Throws with the reason when it is not one.
 */
export function auditRecordFromXml(xml: string): Record<string, unknown> {
  const { name, value } = readXml(xml);
  if (name !== 'auditMessage' || typeof value !== 'object' || Array.isArray(value)) throw new Error('the document is not a valid AuditMessage');
  const record: Record<string, unknown> = {};
  const ident = one(value.eventIdentification);
  if (ident !== undefined) record.eventIdentification = singleValued(ident);
  record.activeParticipant = list(value.activeParticipant).map(singleValued);
  const source = one(value.auditSourceIdentification);
  if (source !== undefined) record.auditSourceIdentification = singleValued(source);
  record.participantObjectIdentification = list(value.participantObjectIdentification).map(singleValued);
  return record;
}
