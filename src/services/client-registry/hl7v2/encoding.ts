/**
 * Reading and writing HL7v2 values on top of @medplum/core's Hl7Message (which splits segments,
 * fields, repetitions and components but leaves escape sequences and subcomponents to us, and
 * throws on a field or repetition that is not there). Every accessor here answers '' for a value
 * that is absent, so mapping code never trips on a short segment.
 */
import { Hl7Context, Hl7Field, Hl7Segment, type Hl7Message } from '@medplum/core';

/**
 * HL7 escape sequences (v2.5 2.7): the delimiters (\F\ \S\ \T\ \R\ \E\) and hexadecimal data
 * (\X41\: bytes, read as UTF-8, else one Latin-1 character a byte, as MSH-18 `8859/1` says);
 * formatting and highlighting (\H\, \N\, \.br\) and anything unknown are dropped.
 */
export function unescapeValue(text: string, context: Hl7Context): string {
  const escape = context.escapeCharacter;
  if (!text.includes(escape)) return text;
  const delimiters: Record<string, string> = {
    F: context.fieldSeparator, S: context.componentSeparator, T: context.subcomponentSeparator,
    R: context.repetitionSeparator, E: escape,
  };
  const pattern = new RegExp(`${escapeRegExp(escape)}([^${escapeRegExp(escape)}]*)${escapeRegExp(escape)}`, 'g');
  return text.replace(pattern, (_, code: string) => delimiters[code] ?? hexData(code));
}

const TEXT_DECODER = new TextDecoder('utf-8', { fatal: true });

function hexData(code: string): string {
  if (!/^X(?:[0-9A-Fa-f]{2})+$/.test(code)) return '';
  const bytes = Buffer.from(code.slice(1), 'hex');
  try {
    return TEXT_DECODER.decode(bytes);
  } catch {
    return bytes.toString('latin1');
  }
}

export function escapeValue(text: string, context: Hl7Context = DEFAULT_CONTEXT): string {
  const escape = context.escapeCharacter;
  const codes = new Map<string, string>([
    [escape, 'E'], [context.fieldSeparator, 'F'], [context.componentSeparator, 'S'],
    [context.subcomponentSeparator, 'T'], [context.repetitionSeparator, 'R'],
  ]);
  let out = '';
  for (const char of text.replace(/[\r\n]+/g, ' ')) out += codes.has(char) ? `${escape}${codes.get(char)}${escape}` : char;
  return out;
}

/**
 * Text encoded with a request's delimiters (`from`: MSH-1, MSH-2) rewritten with `to`'s (the
 * answers' |^~\&): each delimiter mapped to its counterpart, escape sequences kept under the new
 * escape character, and a character that is a delimiter only in `to` escaped (\F\ \S\ \T\ \R\ \E\).
 * A field, a segment or a whole message may be given.
 */
export function reencode(text: string, from: Hl7Context, to: Hl7Context = DEFAULT_CONTEXT): string {
  const delimiters = (c: Hl7Context) => [c.fieldSeparator, c.componentSeparator, c.repetitionSeparator, c.subcomponentSeparator, c.escapeCharacter].join('');
  if (delimiters(from) === delimiters(to)) return text;
  const mapped = new Map<string, string>([
    [from.fieldSeparator, to.fieldSeparator], [from.componentSeparator, to.componentSeparator],
    [from.repetitionSeparator, to.repetitionSeparator], [from.subcomponentSeparator, to.subcomponentSeparator],
  ]);
  const literal = new Map<string, string>([
    [to.fieldSeparator, 'F'], [to.componentSeparator, 'S'], [to.subcomponentSeparator, 'T'], [to.repetitionSeparator, 'R'], [to.escapeCharacter, 'E'],
  ]);
  const escaped = (code: string) => `${to.escapeCharacter}${code}${to.escapeCharacter}`;
  let out = '';
  for (let at = 0; at < text.length; at++) {
    const char = text[at]!;
    if (char === from.escapeCharacter) {
      // An escape sequence (\F\, \X0D\, \.br\ ...) keeps its content; a lone escape character is a literal one.
      const end = text.indexOf(from.escapeCharacter, at + 1);
      const content = end === -1 ? undefined : text.slice(at + 1, end);
      if (content !== undefined && /^[A-Za-z0-9.+-]*$/.test(content)) {
        out += escaped(content);
        at = end;
      } else out += escaped('E');
      continue;
    }
    const delimiter = mapped.get(char);
    if (delimiter !== undefined) out += delimiter;
    else out += literal.has(char) ? escaped(literal.get(char)!) : char;
  }
  return out;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&');
}

export const DEFAULT_CONTEXT = new Hl7Context();

/** A field's repetitions, each as its raw components (still escaped; subcomponents unsplit). */
export function repetitions(segment: Hl7Segment | undefined, field: number): string[][] {
  const value = segment?.getField(field);
  if (!value) return [];
  return value.components.filter((components) => components.some((c) => c !== ''));
}

/** One component of a repetition, unescaped; `sub` (1-based) picks a subcomponent. */
export function part(components: readonly string[] | undefined, component: number, context: Hl7Context, sub?: number): string {
  const raw = components?.[component - 1] ?? '';
  const chosen = sub === undefined ? raw : (raw.split(context.subcomponentSeparator)[sub - 1] ?? '');
  return unescapeValue(chosen, context).trim();
}

/** A component of the first repetition of a field. */
export function value(segment: Hl7Segment | undefined, field: number, component = 1, sub?: number): string {
  if (!segment) return '';
  return part(repetitions(segment, field)[0], component, segment.context, sub);
}

export function segmentsNamed(message: Hl7Message, name: string): Hl7Segment[] {
  return message.segments.filter((s) => s.name === name);
}

/** Builds a segment from field texts already encoded (components joined by ^, values escaped). */
export function buildSegment(name: string, fields: ReadonlyArray<string | undefined>): Hl7Segment {
  // Trailing empty fields are left out, as senders do.
  const texts = fields.map((f) => f ?? '');
  while (texts.length && texts[texts.length - 1] === '') texts.pop();
  return new Hl7Segment([name, ...texts].map((text) => Hl7Field.parse(text, DEFAULT_CONTEXT)), DEFAULT_CONTEXT);
}

/** A value already encoded (a component made of subcomponents): not escaped again. */
export interface Encoded {
  encoded: string;
}

function encodePieces(values: ReadonlyArray<string | Encoded | undefined>, separator: string): string {
  const out = values.map((v) => (v === undefined ? '' : typeof v === 'string' ? escapeValue(v) : v.encoded));
  while (out.length && out[out.length - 1] === '') out.pop();
  return out.join(separator);
}

/** Components (values escaped, then joined by ^), trailing empty ones left out. */
export function components(...values: Array<string | Encoded | undefined>): string {
  return encodePieces(values, DEFAULT_CONTEXT.componentSeparator);
}

/** Subcomponents joined by &, for a component such as CX-4 (assigning authority). */
export function subcomponents(...values: Array<string | undefined>): Encoded {
  return { encoded: encodePieces(values, DEFAULT_CONTEXT.subcomponentSeparator) };
}

/** Repetitions of a field joined by ~. */
export function repeated(values: readonly string[]): string {
  return values.join(DEFAULT_CONTEXT.repetitionSeparator);
}

/** HL7 TS (yyyyMMddHHmmss+0000) of now, in UTC: without the offset a TS is the sender's local time. */
export function hl7Timestamp(date = new Date()): string {
  return `${date.toISOString().replace(/[-:T]/g, '').slice(0, 14)}+0000`;
}
