/**
 * What the FHIR XML format needs to know of each type, read from the R4 StructureDefinitions
 * (their snapshots): the order of elements (XML is ordered, JSON is not), which repeat, which
 * are primitives (a `value` attribute, with id and extensions in JSON's `_name`), which are
 * attributes (Element.id, Extension.url), where a resource is wrapped (contained,
 * Bundle.entry.resource) and the XHTML narrative.
 */
import type { ElementDefinition, StructureDefinition } from '@medplum/fhirtypes';
import { profileCatalogue, type ProfileEntry } from '../definition-files.js';

export type ElementKind = 'primitive' | 'complex' | 'resource' | 'xhtml';

export interface XmlElement {
  /** The name in JSON and in XML (choice types expanded: valueQuantity). */
  name: string;
  /** FHIR type code (string, decimal, HumanName, Resource, xhtml...). */
  type: string;
  repeats: boolean;
  kind: ElementKind;
  /** Position among its siblings in the definition: XML writes elements in this order. */
  order: number;
  /** Children of a complex element (resolved on first use: types refer to each other). */
  readonly content: XmlType | undefined;
}

export interface XmlType {
  /** Elements in the order the specification gives them. */
  elements: XmlElement[];
  byName: Map<string, XmlElement>;
  /** Children written as XML attributes (id on elements, url on Extension). */
  attributes: string[];
}

const FHIR_TYPE_EXTENSION = 'http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type';

let entriesById: Map<string, ProfileEntry> | undefined;
const definitions = new Map<string, StructureDefinition>();
const types = new Map<string, XmlType>();

/** The catalogue's description of a type with snapshot elements, by id (= the type's name). */
function entryOf(code: string): ProfileEntry | undefined {
  if (!entriesById) {
    entriesById = new Map();
    for (const entry of profileCatalogue().entries) if (entry.snapshot && entry.kind !== 'logical') entriesById.set(entry.id, entry);
  }
  return entriesById.get(code);
}

/** A type's StructureDefinition, read from the catalogue on first use. */
function definitionOf(code: string): StructureDefinition | undefined {
  let sd = definitions.get(code);
  if (!sd) {
    const entry = entryOf(code);
    if (!entry) return undefined;
    sd = profileCatalogue().definition(entry);
    definitions.set(code, sd);
  }
  return sd;
}

export function isPrimitiveType(code: string): boolean {
  return entryOf(code)?.kind === 'primitive-type';
}

export function isXmlResourceType(code: string): boolean {
  const entry = entryOf(code);
  return entry?.kind === 'resource' && !entry.abstract;
}

/** The XML shape of a resource or data type by name, or undefined for an unknown one. */
export function xmlTypeOf(code: string): XmlType | undefined {
  const sd = definitionOf(code);
  if (!sd) return undefined;
  return typeAt(sd, sd.snapshot!.element![0]!.path!);
}

function typeAt(sd: StructureDefinition, path: string): XmlType {
  const key = `${sd.id}:${path}`;
  const known = types.get(key);
  if (known) return known;
  const type: XmlType = { elements: [], byName: new Map(), attributes: [] };
  types.set(key, type); // before the children: recursive types (Extension, Questionnaire.item) refer back
  const prefix = `${path}.`;
  for (const element of sd.snapshot!.element!) {
    const elementPath = element.path!;
    if (!elementPath.startsWith(prefix) || elementPath.slice(prefix.length).includes('.')) continue;
    if (element.max === '0') continue;
    const name = elementPath.slice(prefix.length);
    if (element.representation?.includes('xmlAttr')) {
      if (name !== 'value') type.attributes.push(name);
      continue;
    }
    for (const [jsonName, code] of expandChoices(name, element)) {
      const xmlElement = describe(sd, element, jsonName, code, type.elements.length);
      type.elements.push(xmlElement);
      type.byName.set(jsonName, xmlElement);
    }
  }
  return type;
}

function expandChoices(name: string, element: ElementDefinition): Array<[string, string]> {
  const codes = (element.type ?? []).map(typeCode);
  if (!name.endsWith('[x]')) return [[name, codes[0] ?? 'Element']];
  const base = name.slice(0, -3);
  return codes.map((code) => [`${base}${code[0]!.toUpperCase()}${code.slice(1)}`, code]);
}

/** System.String and friends (Resource.id, Element.id) carry their FHIR type in an extension. */
function typeCode(type: NonNullable<ElementDefinition['type']>[number]): string {
  const code = type.code ?? 'Element';
  if (!code.startsWith('http://hl7.org/fhirpath/System.')) return code;
  return type.extension?.find((e) => e.url === FHIR_TYPE_EXTENSION)?.valueUrl ?? 'string';
}

function describe(sd: StructureDefinition, element: ElementDefinition, name: string, code: string, order: number): XmlElement {
  const repeats = element.max !== '1';
  const path = element.path!;
  if (code === 'xhtml') return { name, type: code, repeats, order, kind: 'xhtml', content: undefined };
  if (code === 'Resource' || isXmlResourceType(code)) return { name, type: code, repeats, order, kind: 'resource', content: undefined };
  if (isPrimitiveType(code)) return { name, type: code, repeats, order, kind: 'primitive', content: undefined };
  let content: XmlType | undefined;
  return {
    name,
    type: code,
    repeats,
    order,
    kind: 'complex',
    get content() {
      content ??= contentOf(sd, element, path, code);
      return content;
    },
  };
}

function contentOf(sd: StructureDefinition, element: ElementDefinition, path: string, code: string): XmlType | undefined {
  if (element.contentReference) return typeAt(sd, element.contentReference.replace(/^#/, ''));
  const inline = sd.snapshot!.element!.some((e) => e.path!.startsWith(`${path}.`));
  if (inline) return typeAt(sd, path);
  return xmlTypeOf(code);
}
