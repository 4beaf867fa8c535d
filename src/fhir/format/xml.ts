/**
 * FHIR XML (http://hl7.org/fhir/R4/xml.html) to and from the JSON the engine works in, driven by
 * the R4 StructureDefinitions (xml-schema.ts). Parsing uses saxes with namespaces resolved (an
 * element is its namespace and local name, whatever prefix the document binds); writing is plain
 * string building in the order the definitions give. A DTD is refused (the specification forbids
 * one, and it is how entity-expansion attacks start).
 */
import { SaxesParser, type SaxesTagNS } from 'saxes';
import { FhirError, tooCostly } from '../outcome.js';
import { escapeAttribute, escapeText } from './xml-escape.js';
import { decimalText, keepDecimalText, MAX_KEPT_TEXTS_PER_PARSE } from '../../common/json-decimals.js';
import { XHTML_NAMESPACE, XhtmlFragment, xhtmlDivForXml } from './xhtml.js';
import { isXmlResourceType, xmlTypeOf, type XmlElement, type XmlType } from './xml-schema.js';

export const FHIR_NAMESPACE = 'http://hl7.org/fhir';
const XMLNS_NAMESPACE = 'http://www.w3.org/2000/xmlns/';
/** xsi:schemaLocation (XML Schema Part 1, 2.6.3) is a hint for validators; it is accepted and never fetched. */
const XSI_NAMESPACE = 'http://www.w3.org/2001/XMLSchema-instance';

type Json = Record<string, unknown>;

function invalidXml(message: string): FhirError {
  return new FhirError(400, 'FHIR_INVALID_XML', message);
}

// ── JSON → XML ──────────────────────────────────────────────────────────────────────────

/**
 * A resource (already valid JSON FHIR) as FHIR XML, with the XML declaration; `pretty` puts each
 * element on its own line, indented by depth (_pretty=true; whitespace between elements means
 * nothing in FHIR XML).
 */
export function resourceToXml(resource: Json, options: { pretty?: boolean } = {}): string {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  writeResource(out, resource, true);
  return options.pretty ? indented(out) : out.join('');
}

/** Gives the event loop back between pieces of long work (fhir/event-loop-turns.ts). */
export interface Turns {
  share(): Promise<void>;
}

/**
 * resourceToXml for an answer that may be large, as its UTF-8 bytes: a Bundle (a search page of
 * up to FHIR_SEARCH_MAX_PAGE_BYTES) is written entry by entry, each entry's text made bytes on its
 * own, sharing the event loop between entries, so writing it cannot hold the process (30 resources
 * of 40,000 elements took 4 s in one go, joining their 3.5 million pieces 1.3 s more). Each
 * entry's resource is bounded by FHIR_MAX_RESOURCE_ELEMENTS.
 */
export async function resourceToXmlInTurns(resource: Json, turns: Turns, options: { pretty?: boolean } = {}): Promise<Buffer> {
  const entries = resource.resourceType === 'Bundle' ? resource.entry : undefined;
  if (!Array.isArray(entries) || entries.length < 2) return Buffer.from(resourceToXml(resource, options));
  const bundle = xmlTypeOf('Bundle')!;
  const text = (pieces: string[], depth: number): string => (options.pretty ? indented(pieces, depth) : pieces.join(''));
  const separator = Buffer.from(options.pretty ? '\n' : '');
  // Bundle.entry is followed only by Bundle.signature (R4 bundle.html): the rest is written first.
  const { entry: _entry, signature, ...head } = resource;
  const opening: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  writeResource(opening, head, true);
  const closing = opening.pop()!;
  const parts: Buffer[] = [Buffer.from(text(opening, 0))];
  const entryElement = bundle.byName.get('entry')!;
  for (const item of entries) {
    const pieces: string[] = [];
    writeElement(pieces, entryElement, item, undefined, 'Bundle.entry');
    parts.push(separator, Buffer.from(text(pieces, 1)));
    await turns.share();
  }
  const ending: string[] = [];
  if (signature !== undefined) writeElement(ending, bundle.byName.get('signature')!, signature, undefined, 'Bundle.signature');
  if (ending.length) parts.push(separator, Buffer.from(text(ending, 1)));
  parts.push(separator, Buffer.from(closing));
  return Buffer.concat(parts);
}

/**
 * The written pieces one a line: each piece is an opening tag, a closing tag, or a whole element
 * (`<x value=""/>`, a narrative div, the declaration). Attribute values are escaped, so an opening
 * tag never holds `</`.
 */
function indented(pieces: string[], from = 0): string {
  const lines: string[] = [];
  let depth = from;
  for (const piece of pieces) {
    const closing = piece.startsWith('</');
    const whole = closing || piece.startsWith('<?') || piece.endsWith('/>') || piece.includes('</');
    if (closing) depth--;
    lines.push(`${'  '.repeat(Math.max(0, depth))}${piece}`);
    if (!whole) depth++;
  }
  return lines.join('\n');
}

function writeResource(out: string[], resource: Json, root: boolean): void {
  const type = String(resource.resourceType ?? '');
  const shape = isXmlResourceType(type) ? xmlTypeOf(type) : undefined;
  if (!shape) throw new FhirError(500, 'FHIR_INTERNAL', `cannot write resource type "${type.slice(0, 60)}" as XML`);
  out.push(root ? `<${type} xmlns="${FHIR_NAMESPACE}">` : `<${type}>`);
  writeChildren(out, shape, resource, type);
  out.push(`</${type}>`);
}

function writeChildren(out: string[], shape: XmlType, value: Json, path: string): void {
  // Walk the keys the object has (few), in the order the definition gives (many elements).
  const present: XmlElement[] = [];
  for (const key of Object.keys(value)) {
    if (value[key] === undefined) continue; // a member JSON would leave out (`definition: undefined`): not an empty element
    const element = shape.byName.get(key.charCodeAt(0) === 95 /* _ */ ? key.slice(1) : key);
    if (element && !present.includes(element)) present.push(element);
  }
  present.sort((a, b) => a.order - b.order);
  for (const element of present) {
    const item = value[element.name];
    const extras = value[`_${element.name}`];
    if (element.repeats) {
      const items = Array.isArray(item) ? item : item === undefined ? [] : [item];
      const metas = Array.isArray(extras) ? extras : [];
      for (let i = 0; i < Math.max(items.length, metas.length); i++) {
        writeElement(out, element, items[i], metas[i], `${path}.${element.name}`, decimalText(items, i, items[i]));
      }
    } else writeElement(out, element, item, extras, `${path}.${element.name}`, decimalText(value, element.name, item));
  }
}

/** `written`: a decimal's text as it was received (common/json-decimals.ts), when its number would write it otherwise. */
function writeElement(out: string[], element: XmlElement, value: unknown, extras: unknown, path: string, written?: string): void {
  switch (element.kind) {
    case 'primitive': {
      const meta = (extras && typeof extras === 'object' ? extras : {}) as Json;
      let open = `<${element.name}`;
      if (typeof meta.id === 'string') open += ` id="${escapeAttribute(meta.id)}"`;
      if (value !== undefined && value !== null) open += ` value="${escapeAttribute(written ?? String(value))}"`;
      const extensions = Array.isArray(meta.extension) ? (meta.extension as Json[]) : [];
      if (!extensions.length) {
        out.push(`${open}/>`);
        return;
      }
      out.push(`${open}>`);
      const extension = xmlTypeOf('Extension')!.byName.get('extension')!;
      for (const e of extensions) writeElement(out, extension, e, undefined, `${path}.extension`);
      out.push(`</${element.name}>`);
      return;
    }
    case 'resource':
      if (!value || typeof value !== 'object') return;
      out.push(`<${element.name}>`);
      writeResource(out, value as Json, false);
      out.push(`</${element.name}>`);
      return;
    case 'xhtml':
      if (typeof value === 'string') out.push(wellFormedXhtml(value));
      return;
    case 'complex': {
      if (!value || typeof value !== 'object') return;
      const shape = element.content!;
      const object = value as Json;
      let open = `<${element.name}`;
      for (const attribute of shape.attributes) {
        if (typeof object[attribute] === 'string') open += ` ${attribute}="${escapeAttribute(object[attribute] as string)}"`;
      }
      out.push(`${open}>`);
      writeChildren(out, shape, object, path);
      out.push(`</${element.name}>`);
    }
  }
}

/** The narrative as an XHTML div when it is one well-formed div; otherwise its text, escaped, in a div. */
function wellFormedXhtml(div: string): string {
  return xhtmlDivForXml(div) ?? `<div xmlns="${XHTML_NAMESPACE}">${escapeText(div)}</div>`;
}

// ── XML → JSON ──────────────────────────────────────────────────────────────────────────

/**
 * One open element while reading: what it may contain and what it becomes. `finish` returns the
 * JSON value (and a primitive's `_name` extras) once the element closes.
 */
interface Frame {
  path: string;
  /** Where children go: a shape to look names up in, or undefined for text-only content. */
  shape?: XmlType;
  target: Json;
  repeated: Set<string>;
  /** The element of the parent this frame fills (undefined for the root resource). */
  element?: XmlElement;
  /** A resource wrapper (contained, entry.resource): holds exactly one resource. */
  wrapper?: boolean;
  primitiveValue?: unknown;
  /** A decimal's value attribute as written, kept beside its number (common/json-decimals.ts). */
  decimalText?: string;
}

/** Limits of one XML body: its nesting, and the elements of each resource (FHIR_MAX_RESOURCE_ELEMENTS). */
export interface XmlReadOptions {
  maxDepth?: number;
  /**
   * Elements one resource may have: each FHIR element is at least one JSON value, so a resource
   * past it is refused (413) as soon as its element past the limit opens, not after the whole body
   * is read. A Bundle's entry resources count each on their own (the JSON check that follows is the
   * exact one), contained resources with their container, a narrative as one.
   */
  maxElements?: number;
}

/** A body read in slices of this many characters when the event loop is shared between them. */
const READ_SLICE_CHARS = 64 * 1024;

/** FHIR XML as the JSON resource it stands for; malformed or non-FHIR XML is a 400. */
export function xmlToResource(text: string, options: XmlReadOptions = {}): Json {
  const reader = xmlReader(text, options);
  reader.write(text);
  return reader.close();
}

/**
 * xmlToResource for a body that may be large (up to the body limit): the XML is read in slices,
 * sharing the event loop between them, so reading it cannot hold the process (a 16 MB body of
 * 900,000 elements took 6 s, and then was refused).
 */
export async function xmlToResourceInTurns(text: string, turns: Turns, options: XmlReadOptions = {}): Promise<Json> {
  const reader = xmlReader(text, options);
  for (let at = 0; at < text.length;) {
    let end = Math.min(at + READ_SLICE_CHARS, text.length);
    // Never between the halves of a surrogate pair.
    if (end < text.length && isHighSurrogate(text.charCodeAt(end - 1))) end++;
    const slice = text.slice(at, end);
    reader.write(slice);
    at = end;
    await turns.share();
  }
  return reader.close();
}

const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;

/** One document's parser with its handlers: `write` reads a piece of the text, `close` ends the document and answers its resource; parse failures are 400s. */
function xmlReader(text: string, options: XmlReadOptions) {
  if (/<!DOCTYPE/i.test(text)) throw invalidXml('the XML has a DTD (<!DOCTYPE>), which FHIR does not allow');
  const maxDepth = options.maxDepth ?? 100;
  const maxElements = options.maxElements ?? Number.POSITIVE_INFINITY;
  const parser = new SaxesParser<{ xmlns: true; position: false }>({ xmlns: true, position: false });
  const stack: Frame[] = [];
  let result: Json | undefined;
  /** Set while inside the narrative: the div being read, and where it goes. */
  let xhtml: { fragment: XhtmlFragment; frame: Frame; element: XmlElement } | undefined;
  let keptDecimals = 0;
  /** Elements of the resource being read: the body's, or the Bundle entry's whose resource is open. */
  const inBody = { count: 0, where: 'the body' };
  let counted = inBody;
  let entryIndex = -1;
  /** The wrapper of a resource the body's own Bundle holds in an entry (not one in a nested Bundle). */
  const isEntryResource = (wrapper: Frame | undefined): boolean => wrapper?.path === 'Bundle.entry.resource' && stack.length === 3;
  const count = (): void => {
    if (++counted.count > maxElements) {
      throw tooCostly(`${counted.where} has more than ${maxElements} elements (JSON values: objects, arrays, strings, numbers), ` +
        'the most one resource may have here (FHIR_MAX_RESOURCE_ELEMENTS): split it into several resources', 413);
    }
  };

  parser.on('opentag', (tag) => {
    // The narrative counts too: resolving a namespace walks the open elements (saxes), so depth is work.
    if (stack.length + (xhtml?.fragment.depth ?? 0) >= maxDepth) throw invalidXml(`the XML is nested deeper than ${maxDepth} levels`);
    if (xhtml) {
      xhtml.fragment.open(tag, parser.position);
      return;
    }
    const parent = stack[stack.length - 1];
    const name = tag.local;
    if (!parent || parent.wrapper) {
      if (parent && parent.target.resourceType) throw invalidXml(`${parent.path} must hold exactly one resource`);
      if (!parent && result) throw invalidXml('the XML must hold exactly one resource element');
      if (tag.uri !== FHIR_NAMESPACE) throw invalidXml(`the resource element <${tag.name.slice(0, 60)}> must be in the FHIR namespace (xmlns="${FHIR_NAMESPACE}")`);
      const shape = isXmlResourceType(name) ? xmlTypeOf(name) : undefined;
      if (!shape) throw invalidXml(`unknown resource type <${tag.name.slice(0, 60)}>`);
      checkAttributes(tag, [], name, true);
      if (isEntryResource(parent)) counted = { count: 0, where: `Bundle.entry[${entryIndex}].resource` };
      count();
      const target: Json = { resourceType: name };
      if (parent) parent.target = target;
      stack.push({ path: name, shape, target, repeated: new Set() });
      return;
    }
    const element = parent.shape?.byName.get(name);
    if (!element) throw invalidXml(`unknown element <${tag.name.slice(0, 60)}> in ${parent.path}`);
    const path = `${parent.path}.${name}`;
    if (path === 'Bundle.entry' && stack.length === 1) entryIndex++;
    // A wrapper (contained, entry.resource) is not a JSON value of its own; the narrative's div is one string.
    if (element.kind !== 'resource') count();
    if (element.kind === 'xhtml') {
      if (tag.uri !== XHTML_NAMESPACE) throw invalidXml(`${path} must be in the XHTML namespace (xmlns="${XHTML_NAMESPACE}")`);
      xhtml = { fragment: new XhtmlFragment(text), frame: parent, element };
      xhtml.fragment.open(tag, parser.position);
      return;
    }
    if (tag.uri !== FHIR_NAMESPACE) throw invalidXml(`<${tag.name.slice(0, 60)}> in ${parent.path} is not in the FHIR namespace (${FHIR_NAMESPACE}), so it is not a FHIR element`);
    switch (element.kind) {
      case 'primitive': {
        const { id, value } = checkAttributes(tag, ['id', 'value'], path, false);
        stack.push({
          path, element, shape: xmlTypeOf('Element'), target: id !== undefined ? { id } : {}, repeated: new Set(),
          primitiveValue: value === undefined ? null : primitiveValue(element.type, value, path),
          ...(element.type === 'decimal' && value !== undefined ? { decimalText: value } : {}),
        });
        return;
      }
      case 'resource':
        checkAttributes(tag, [], path, false);
        stack.push({ path, element, target: {}, repeated: new Set(), wrapper: true });
        return;
      case 'complex': {
        const shape = element.content!;
        const attributes = checkAttributes(tag, shape.attributes, path, false);
        const target: Json = {};
        for (const attribute of shape.attributes) if (attributes[attribute] !== undefined) target[attribute] = attributes[attribute];
        stack.push({ path, element, shape, target, repeated: new Set() });
      }
    }
  });

  parser.on('text', (text) => {
    if (xhtml) xhtml.fragment.text(text);
    else if (text.trim() !== '') throw invalidXml(`${stack[stack.length - 1]?.path ?? 'the document'} has text content; FHIR puts values in value attributes`);
  });
  parser.on('cdata', (text) => {
    if (xhtml) xhtml.fragment.text(text);
    else if (text.trim() !== '') throw invalidXml('CDATA is not allowed outside the narrative');
  });
  parser.on('comment', (text) => xhtml?.fragment.comment(text));
  parser.on('processinginstruction', ({ target, body }) => xhtml?.fragment.processingInstruction(target, body));

  parser.on('closetag', (tag) => {
    if (xhtml) {
      if (xhtml.fragment.close(tag, parser.position)) {
        put(xhtml.frame.target, xhtml.element, xhtml.fragment.toString(), undefined, xhtml.frame.repeated, `${xhtml.frame.path}.div`);
        xhtml = undefined;
      }
      return;
    }
    const frame = stack.pop()!;
    dropAllNullSides(frame);
    const parent = stack[stack.length - 1];
    if (!frame.element && isEntryResource(parent)) counted = inBody;
    if (!frame.element) {
      // A resource closes: the document's root, or the content of a wrapper.
      if (!parent) result = frame.target;
      else parent.target = frame.target;
      return;
    }
    if (frame.wrapper && !frame.target.resourceType) throw invalidXml(`${frame.path} must hold exactly one resource`);
    if (frame.element.kind === 'primitive') {
      const extras = Object.keys(frame.target).length ? frame.target : undefined;
      // ele-1, as JSON's `"_gender": {}` is refused: `<gender/>` says nothing, and dropping it would hide the mistake.
      if (frame.primitiveValue === null && !extras) throw invalidXml(`${frame.path} has no value attribute, id or extension: an element has a value or children; leave it out`);
      put(parent!.target, frame.element, frame.primitiveValue, extras, parent!.repeated, frame.path);
      if (frame.decimalText !== undefined && keptDecimals++ < MAX_KEPT_TEXTS_PER_PARSE) keepReadDecimalText(parent!.target, frame.element, frame.decimalText, stack);
    } else put(parent!.target, frame.element, frame.target, undefined, parent!.repeated, frame.path);
  });

  const guarded = (step: () => unknown): void => {
    try {
      step();
    } catch (error) {
      if (error instanceof FhirError) throw error;
      throw invalidXml(`the body is not well-formed XML: ${(error as Error).message.slice(0, 200)}`);
    }
  };
  return {
    write(chunk: string): void {
      guarded(() => parser.write(chunk));
    },
    close(): Json {
      guarded(() => parser.close());
      if (!result) throw invalidXml('the XML holds no resource');
      return result;
    },
  };
}

/** A decimal just put into `target` keeps its text, and the open elements above are marked as holding one. */
function keepReadDecimalText(target: Json, element: XmlElement, written: string, open: Frame[]): void {
  const above = open.map((frame) => frame.target);
  if (!element.repeats) return keepDecimalText(target, element.name, written, above);
  const list = target[element.name] as unknown[];
  keepDecimalText(list, list.length - 1, written, [...above, target]);
}

/** The wrapper frame replaced its target with the resource it read; its parent holds the wrapper. */
function dropAllNullSides(frame: Frame): void {
  for (const name of frame.repeated) {
    for (const key of [name, `_${name}`]) {
      const list = frame.target[key];
      if (Array.isArray(list) && list.every((v) => v === null)) delete frame.target[key];
    }
  }
}

function put(target: Json, element: XmlElement, value: unknown, extras: Json | undefined, repeated: Set<string>, path: string): void {
  const name = element.name;
  if (!element.repeats) {
    if (Object.hasOwn(target, name) || Object.hasOwn(target, `_${name}`)) throw invalidXml(`${path} appears more than once but does not repeat`);
    if (value !== null && value !== undefined) target[name] = value;
    if (extras) target[`_${name}`] = extras;
    return;
  }
  if (element.kind === 'primitive') {
    repeated.add(name);
    ((target[name] ??= []) as unknown[]).push(value ?? null);
    ((target[`_${name}`] ??= []) as unknown[]).push(extras ?? null);
    return;
  }
  ((target[name] ??= []) as unknown[]).push(value);
}

/**
 * The FHIR attributes of an element by name. FHIR's attributes (value, id, url) are unqualified:
 * `f:value` is another attribute, refused like any FHIR does not define. Namespace declarations
 * pass, and so does xsi:schemaLocation on a resource.
 */
function checkAttributes(tag: SaxesTagNS, allowed: string[], path: string, resource: boolean): Record<string, string> {
  const values: Record<string, string> = {};
  for (const { name, local, uri, value } of Object.values(tag.attributes)) {
    if (uri === XMLNS_NAMESPACE) continue;
    if (resource && uri === XSI_NAMESPACE && local === 'schemaLocation') continue;
    if (uri !== '' || !allowed.includes(local)) throw invalidXml(`${path} has an attribute "${name.slice(0, 40)}" that FHIR does not define`);
    values[local] = value;
  }
  return values;
}

// R4 datatypes.html: xs:int without leading zeros (its regex -?([0]|([1-9][0-9]*)); xs:int's "+" kept). Range is the validator's.
const INTEGER = /^[+-]?(0|[1-9]\d{0,9})$/;
const DECIMAL = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;

function primitiveValue(type: string, raw: string, path: string): unknown {
  switch (type) {
    case 'boolean':
      if (raw !== 'true' && raw !== 'false') throw invalidXml(`${path}: "${raw.slice(0, 40)}" is not a boolean`);
      return raw === 'true';
    case 'integer':
    case 'positiveInt':
    case 'unsignedInt':
      if (!INTEGER.test(raw)) throw invalidXml(`${path}: "${raw.slice(0, 40)}" is not an integer`);
      return Number(raw);
    case 'decimal':
      if (!DECIMAL.test(raw) || !Number.isFinite(Number(raw))) throw invalidXml(`${path}: "${raw.slice(0, 40)}" is not a decimal`);
      return Number(raw);
    default:
      return raw;
  }
}
