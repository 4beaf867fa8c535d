/** Escaping for the XML this server writes: attribute values and text content. */

const ATTRIBUTE_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\n': '&#10;', '\r': '&#13;', '\t': '&#9;' };
const TEXT_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };

/** A value for a double-quoted attribute; line breaks and tabs as references, so they survive normalisation. */
export function escapeAttribute(text: string): string {
  return text.replace(/[&<>"\n\r\t]/g, (ch) => ATTRIBUTE_ESCAPES[ch]!);
}

export function escapeText(text: string): string {
  return text.replace(/[&<>]/g, (ch) => TEXT_ESCAPES[ch]!);
}
