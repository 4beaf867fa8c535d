/**
 * FHIR XML (http://hl7.org/fhir/R4/xml.html) to and from the JSON the engine works in, driven by
 * the R4 StructureDefinitions (xml-schema.ts). Parsing uses fast-xml-parser; writing is plain
 * string building in the order the definitions give. A DTD is refused (the specification forbids
 * one, and it is how entity-expansion attacks start).
 */
import { SaxesParser, type SaxesTagPlain } from 'saxes';
import { FhirError } from '../outcome.js';
import { isXmlResourceType, xmlTypeOf, type XmlElement, type XmlType } from './xml-schema.js';

export const FHIR_NAMESPACE = 'http://hl7.org/fhir';
const XHTML_NAMESPACE = 'http://www.w3.org/1999/xhtml';

type Json = Record<string, unknown>;

function invalidXml(message: string): FhirError {
  return new FhirError(400, 'FHIR_INVALID_XML', message);
}

// ── JSON → XML ──────────────────────────────────────────────────────────────────────────

/** A resource (already valid JSON FHIR) as FHIR XML, with the XML declaration. */
export function resourceToXml(resource: Json): string {
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  writeResource(out, resource, true);
  return out.join('');
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
      for (let i = 0; i < Math.max(items.length, metas.length); i++) writeElement(out, element, items[i], metas[i], `${path}.${element.name}`);
    } else writeElement(out, element, item, extras, `${path}.${element.name}`);
  }
}

function writeElement(out: string[], element: XmlElement, value: unknown, extras: unknown, path: string): void {
  switch (element.kind) {
    case 'primitive': {
      const meta = (extras && typeof extras === 'object' ? extras : {}) as Json;
      let open = `<${element.name}`;
      if (typeof meta.id === 'string') open += ` id="${escapeAttribute(meta.id)}"`;
      if (value !== undefined && value !== null) open += ` value="${escapeAttribute(String(value))}"`;
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

function escapeAttribute(text: string): string {
  return text.replace(/[&<>"\n\r\t]/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\n': '&#10;', '\r': '&#13;', '\t': '&#9;' })[ch]!);
}

/** The narrative as it is when it is one well-formed div; otherwise its text, escaped, in a div. */
function wellFormedXhtml(div: string): string {
  try {
    const normalised = normaliseXhtml(div);
    if (normalised.startsWith('<div')) return normalised.includes(`xmlns="${XHTML_NAMESPACE}"`) ? div : div.replace(/^<div/, `<div xmlns="${XHTML_NAMESPACE}"`);
  } catch {
    // not XML: fall through
  }
  return `<div xmlns="${XHTML_NAMESPACE}">${escapeText(div)}</div>`;
}

function escapeText(text: string): string {
  return text.replace(/[&<>]/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[ch]!);
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
}

/** FHIR XML as the JSON resource it stands for; malformed or non-FHIR XML is a 400. */
export function xmlToResource(text: string, options: { maxDepth?: number } = {}): Json {
  if (/<!DOCTYPE/i.test(text)) throw invalidXml('the XML has a DTD (<!DOCTYPE>), which FHIR does not allow');
  const maxDepth = options.maxDepth ?? 100;
  const parser = new SaxesParser<{ xmlns: false; position: false }>({ xmlns: false, position: false });
  const stack: Frame[] = [];
  let result: Json | undefined;
  /** Set while inside the narrative: its text so far, and how deep inside it we are. */
  let xhtml: { text: string; depth: number; frame: Frame; element: XmlElement } | undefined;

  parser.on('opentag', (tag) => {
    if (xhtml) {
      xhtml.depth++;
      xhtml.text += openTag(tag);
      return;
    }
    if (stack.length >= maxDepth) throw invalidXml(`the XML is nested deeper than ${maxDepth} levels`);
    const parent = stack[stack.length - 1];
    if (!parent || parent.wrapper) {
      if (parent && parent.target.resourceType) throw invalidXml(`${parent.path} must hold exactly one resource`);
      if (!parent && result) throw invalidXml('the XML must hold exactly one resource element');
      if (!parent && tag.attributes.xmlns !== FHIR_NAMESPACE) throw invalidXml(`the resource element must be in the FHIR namespace (xmlns="${FHIR_NAMESPACE}")`);
      const shape = isXmlResourceType(tag.name) ? xmlTypeOf(tag.name) : undefined;
      if (!shape) throw invalidXml(`unknown resource type <${tag.name.slice(0, 60)}>`);
      checkAttributes(tag.attributes, [], tag.name);
      const target: Json = { resourceType: tag.name };
      if (parent) parent.target = target;
      stack.push({ path: tag.name, shape, target, repeated: new Set() });
      return;
    }
    const element = parent.shape?.byName.get(tag.name);
    if (!element) throw invalidXml(`unknown element <${tag.name.slice(0, 60)}> in ${parent.path}`);
    const path = `${parent.path}.${tag.name}`;
    switch (element.kind) {
      case 'primitive':
        checkAttributes(tag.attributes, ['id', 'value'], path);
        stack.push({
          path, element, shape: xmlTypeOf('Element'), target: tag.attributes.id !== undefined ? { id: tag.attributes.id } : {}, repeated: new Set(),
          primitiveValue: tag.attributes.value === undefined ? null : primitiveValue(element.type, tag.attributes.value, path),
        });
        return;
      case 'resource':
        checkAttributes(tag.attributes, [], path);
        stack.push({ path, element, target: {}, repeated: new Set(), wrapper: true });
        return;
      case 'xhtml':
        if (tag.attributes.xmlns !== XHTML_NAMESPACE) throw invalidXml(`${path} must be in the XHTML namespace (xmlns="${XHTML_NAMESPACE}")`);
        xhtml = { text: openTag(tag), depth: 1, frame: parent, element };
        return;
      case 'complex': {
        const shape = element.content!;
        checkAttributes(tag.attributes, shape.attributes, path);
        const target: Json = {};
        for (const attribute of shape.attributes) if (tag.attributes[attribute] !== undefined) target[attribute] = tag.attributes[attribute];
        stack.push({ path, element, shape, target, repeated: new Set() });
      }
    }
  });

  parser.on('text', (text) => {
    if (xhtml) xhtml.text += escapeText(text);
    else if (text.trim() !== '') throw invalidXml(`${stack[stack.length - 1]?.path ?? 'the document'} has text content; FHIR puts values in value attributes`);
  });
  parser.on('cdata', (text) => {
    if (xhtml) xhtml.text += escapeText(text);
    else if (text.trim() !== '') throw invalidXml('CDATA is not allowed outside the narrative');
  });

  parser.on('closetag', (tag) => {
    if (xhtml) {
      xhtml.text += tag.isSelfClosing ? '' : `</${tag.name}>`;
      if (--xhtml.depth === 0) {
        put(xhtml.frame.target, xhtml.element, xhtml.text, undefined, xhtml.frame.repeated, `${xhtml.frame.path}.div`);
        xhtml = undefined;
      }
      return;
    }
    const frame = stack.pop()!;
    dropAllNullSides(frame);
    const parent = stack[stack.length - 1];
    if (!frame.element) {
      // A resource closes: the document's root, or the content of a wrapper.
      if (!parent) result = frame.target;
      else parent.target = frame.target;
      return;
    }
    if (frame.wrapper && !frame.target.resourceType) throw invalidXml(`${frame.path} must hold exactly one resource`);
    if (frame.element.kind === 'primitive') {
      const extras = Object.keys(frame.target).length ? frame.target : undefined;
      put(parent!.target, frame.element, frame.primitiveValue, extras, parent!.repeated, frame.path);
    } else put(parent!.target, frame.element, frame.target, undefined, parent!.repeated, frame.path);
  });

  try {
    parser.write(text).close();
  } catch (error) {
    if (error instanceof FhirError) throw error;
    throw invalidXml(`the body is not well-formed XML: ${(error as Error).message.slice(0, 200)}`);
  }
  if (!result) throw invalidXml('the XML holds no resource');
  return result;
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

function checkAttributes(attributes: Record<string, string>, allowed: string[], path: string): void {
  for (const name of Object.keys(attributes)) {
    if (allowed.includes(name) || name === 'xmlns' || name.startsWith('xmlns:')) continue;
    throw invalidXml(`${path} has an attribute "${name.slice(0, 40)}" that FHIR does not define`);
  }
}

function openTag(tag: SaxesTagPlain): string {
  let open = `<${tag.name}`;
  for (const [name, value] of Object.entries(tag.attributes)) open += ` ${name}="${escapeAttribute(String(value))}"`;
  return open + (tag.isSelfClosing ? '/>' : '>');
}

/** A narrative in one canonical form (attributes and text escaped alike); throws if not XML. */
export function normaliseXhtml(div: string): string {
  const parser = new SaxesParser<{ xmlns: false; position: false }>({ xmlns: false, position: false });
  let out = '';
  parser.on('opentag', (tag) => (out += openTag(tag)));
  parser.on('text', (text) => (out += escapeText(text)));
  parser.on('cdata', (text) => (out += escapeText(text)));
  parser.on('closetag', (tag) => (out += tag.isSelfClosing ? '' : `</${tag.name}>`));
  parser.write(div).close();
  return out;
}

const INTEGER = /^[+-]?\d{1,10}$/;
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
