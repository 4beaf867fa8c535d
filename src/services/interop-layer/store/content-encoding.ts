/**
 * An upstream's answer compressed for the client (`Content-Encoding: gzip`, `deflate`, `br`) is
 * relayed as it came, but stored decoded, as OpenHIM stores it (router.js: gunzip or inflate
 * before the message store): the log's bodies are what a person reads in the console. Decoding
 * runs in libuv's pool and stops at the stored-body cap, so a small body that inflates to
 * gigabytes (a zip bomb) costs no more than the cap.
 */
import { constants, createBrotliDecompress, createGunzip, createInflate, createInflateRaw, type Gunzip } from 'node:zlib';
import type { Transform } from 'node:stream';

export type BodyEncoding = 'gzip' | 'deflate' | 'br';

/** The one encoding of a Content-Encoding header the log can undo; none for identity, several, or others. */
export function bodyEncoding(header: string | string[] | undefined): BodyEncoding | undefined {
  const value = (Array.isArray(header) ? header.join(',') : header ?? '').trim().toLowerCase();
  if (value === 'gzip' || value === 'x-gzip') return 'gzip';
  if (value === 'deflate' || value === 'br') return value;
  return undefined;
}

/**
 * The decoded bytes, at most `cap` of them (`cut` when there were more, or when the encoded bytes
 * were themselves cut: a prefix decodes to a prefix). Undefined when they do not decode.
 */
export async function decodeBody(bytes: Buffer, encoding: BodyEncoding, cap: number): Promise<{ bytes: Buffer; cut: boolean } | undefined> {
  const whole = await inflateUpTo(decoderFor(encoding, false), bytes, cap);
  if (whole) return whole;
  // Bytes that end before the stream does (cut at the cap, or by the upstream): what they hold,
  // marked cut. A sync flush at the end gives it without the stream's end.
  const prefix = await inflateUpTo(decoderFor(encoding, true), bytes, cap);
  if (prefix?.bytes.length) return { bytes: prefix.bytes, cut: true };
  // HTTP's "deflate" is zlib-wrapped, but some servers send the raw stream.
  if (encoding === 'deflate') return inflateUpTo(createInflateRaw({ finishFlush: constants.Z_SYNC_FLUSH }), bytes, cap);
  return undefined;
}

function decoderFor(encoding: BodyEncoding, partial: boolean): Transform | Gunzip {
  if (encoding === 'br') return createBrotliDecompress(partial ? { finishFlush: constants.BROTLI_OPERATION_FLUSH } : {});
  const options = partial ? { finishFlush: constants.Z_SYNC_FLUSH } : {};
  return encoding === 'gzip' ? createGunzip(options) : createInflate(options);
}

/** Undefined when the bytes are no such stream, or end before it does (the partial decoder then reads them). */
function inflateUpTo(decoder: Transform, input: Buffer, cap: number): Promise<{ bytes: Buffer; cut: boolean } | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let length = 0;
    let done = false;
    const finish = (result: { bytes: Buffer; cut: boolean } | undefined): void => {
      if (done) return;
      done = true;
      decoder.removeAllListeners('data');
      decoder.destroy();
      resolve(result);
    };
    decoder.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      if (length > cap) finish({ bytes: Buffer.concat(chunks, length).subarray(0, cap), cut: true });
    });
    decoder.on('end', () => finish({ bytes: Buffer.concat(chunks, length), cut: false }));
    decoder.on('error', () => finish(undefined));
    decoder.end(input);
  });
}
