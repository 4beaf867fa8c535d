/**
 * The character set a message declares in MSH-18 (HL7 table 0211), read from its bytes before
 * they are decoded (the MSH up to MSH-18 is ASCII in every set the registry takes). Without MSH-18
 * a message is UTF-8 (ASCII is a subset), and bytes that are not UTF-8 are refused rather than
 * stored as U+FFFD; `ASCII` takes bytes below 128 and is answered in them; `8859/1` is Latin-1, decoded
 * as such and answered in it. Others are refused.
 */
export type Hl7Charset = { kind: 'utf8' } | { kind: 'ascii' } | { kind: 'latin1' } | { kind: 'unsupported'; name: string };

const UTF8_NAMES = new Set(['', 'UNICODE UTF-8', 'UNICODE', 'UTF-8']);
const LATIN1_NAMES = new Set(['8859/1']);
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

export function declaredCharset(payload: Buffer): Hl7Charset {
  const head = payload.subarray(0, 2048).toString('latin1'); // byte for byte
  const msh = head.split(/\r|\n/, 1)[0] ?? '';
  if (!msh.startsWith('MSH') || msh.length < 4) return { kind: 'utf8' };
  const fields = msh.split(msh[3]!);
  const components = fields[1]?.[0] ?? '^';
  // fields[0] is "MSH", fields[1] MSH-2: MSH-n is fields[n - 1]; MSH-18 repeats, the first counts.
  const name = (fields[17] ?? '').split('~')[0]!.split(components)[0]!.trim().toUpperCase();
  if (UTF8_NAMES.has(name)) return { kind: 'utf8' };
  if (name === 'ASCII') return { kind: 'ascii' };
  if (LATIN1_NAMES.has(name)) return { kind: 'latin1' };
  return { kind: 'unsupported', name: name.slice(0, 40) };
}

/** Whether every byte is 7-bit ASCII (what MSH-18 `ASCII` declares). */
export function isAscii(payload: Buffer): boolean {
  return payload.every((byte) => byte < 0x80);
}

/** The payload as UTF-8; undefined when its bytes are not UTF-8. */
export function strictUtf8(payload: Buffer): string | undefined {
  try {
    return STRICT_UTF8.decode(payload);
  } catch {
    return undefined;
  }
}

/** Text as ASCII bytes (an answer under MSH-18 `ASCII`); a character ASCII lacks becomes "?". */
export function asciiBytes(text: string): Buffer {
  return Buffer.from(text.replace(/[^\u0000-\u007f]/g, '?'), 'latin1');
}

/** Text as Latin-1 bytes; a character Latin-1 lacks becomes "?". */
export function latin1Bytes(text: string): Buffer {
  return Buffer.from(text.replace(/[^\u0000-\u00ff]/g, '?'), 'latin1');
}
