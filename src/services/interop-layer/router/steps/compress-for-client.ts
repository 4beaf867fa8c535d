/**
 * The answer is compressed for a client that asks for it (`Accept-Encoding: gzip`, `br`,
 * `deflate`), as OpenHIM's router does with koa-compress (koaMiddleware.js, `threshold: 8`):
 * a compressible type (the `compressible` package, koa-compress's own filter) of at least
 * OPENHIM_ROUTER_COMPRESS_MIN_BYTES, in the coding the client weighs highest (ties: br, gzip,
 * deflate, koa-compress's order). A client that sends no Accept-Encoding gets identity, as from
 * koa-compress. Left alone: answers already encoded, HEAD and bodiless answers, partial content,
 * and `Cache-Control: no-transform` (RFC 9110 7.7). The log keeps the answer as it was
 * (`exchange.response`); only the client's copy (`exchange.clientResponse`) is compressed.
 */
import { brotliCompress, brotliCompressSync, constants, deflate, deflateSync, gzip, gzipSync } from 'node:zlib';
import { promisify } from 'node:util';
import compressible from 'compressible';
import type { Exchange, RouterDeps, RouterResponse } from '../exchange.js';
import type { BodyEncoding } from '../../store/content-encoding.js';
import { weightedItems } from '../../../../common/weighted-header.js';
import { fhirFormatOf } from '../fhir-errors.js';

/** koa-compress's brotli quality: its default, 11, costs tens of milliseconds per 100 KB. */
const BROTLI = { params: { [constants.BROTLI_PARAM_QUALITY]: 4 } };
/** Up to this size the bytes are compressed on the router's thread (a few µs); above, in libuv's pool. */
const SYNC_MAX_BYTES = 16 * 1024;
const PREFERENCE: readonly BodyEncoding[] = ['br', 'gzip', 'deflate'];
const NO_TRANSFORM = /(?:^|,)\s*no-transform\s*(?:,|$)/i;

const compressAsync = {
  br: promisify(brotliCompress),
  gzip: promisify(gzip),
  deflate: promisify(deflate),
};

export function compressForClient(exchange: Exchange, deps: RouterDeps): void | Promise<void> {
  const response = exchange.response;
  // An answer already encoded (an upstream's gzip, relayed or recoded): what a client gets depends
  // on its Accept-Encoding, which a cache in front must know.
  if (response && response.headers['content-encoding'] !== undefined && deps.config.routerCompressMinBytes > 0) {
    exchange.clientResponse = { ...response, headers: withVary(response.headers) };
    return;
  }
  const accepted = exchange.request.headers['accept-encoding'];
  const minBytes = deps.config.routerCompressMinBytes;
  if (accepted === undefined || !response || minBytes <= 0 || response.body.length < minBytes || !compressibleAnswer(exchange, response)) return;
  // The router's own answer to a FHIR client becomes an OperationOutcome when sent (fhir-errors.ts): left as it is.
  if (response.own && fhirFormatOf(exchange.request.querystring, exchange.request.headers.accept)) return;
  const coding = chosenCoding(accepted);
  if (!coding) return;
  if (response.body.length <= SYNC_MAX_BYTES) {
    exchange.clientResponse = encoded(response, coding, compressSync(coding, response.body));
    return;
  }
  return compress(coding, response.body).then(
    (bytes) => {
      exchange.clientResponse = encoded(response, coding, bytes);
    },
    () => undefined, // cannot happen for in-memory bytes; the client then gets them as they are
  );
}

function compressibleAnswer(exchange: Exchange, response: RouterResponse): boolean {
  if (exchange.request.method === 'HEAD' || response.representationLength !== undefined) return false;
  if (response.status === 204 || response.status === 206 || response.status === 304) return false;
  const headers = response.headers;
  if (headers['content-encoding'] !== undefined || headers['content-range'] !== undefined) return false;
  const cacheControl = headers['cache-control'];
  if (cacheControl !== undefined && NO_TRANSFORM.test(String(cacheControl))) return false;
  const type = String(headers['content-type'] ?? '').split(';', 1)[0]!.trim();
  return type !== '' && compressible(type) === true;
}

/** The coding to answer in: the highest weight the client gives one we make (`*` stands for any); none for identity. */
export function chosenCoding(header: string | string[] | undefined): BodyEncoding | undefined {
  if (header === undefined) return undefined;
  const weights = new Map<string, number>();
  for (const item of weightedItems(header)) {
    const name = item.name.toLowerCase();
    const coding = name === 'x-gzip' ? 'gzip' : name;
    if (!weights.has(coding)) weights.set(coding, item.q);
  }
  const star = weights.get('*');
  let best: BodyEncoding | undefined;
  let bestWeight = 0;
  for (const coding of PREFERENCE) {
    const weight = weights.get(coding) ?? star ?? 0;
    if (weight > bestWeight) {
      best = coding;
      bestWeight = weight;
    }
  }
  return best;
}

function compressSync(coding: BodyEncoding, body: Buffer): Buffer {
  if (coding === 'br') return brotliCompressSync(body, BROTLI);
  return coding === 'gzip' ? gzipSync(body) : deflateSync(body);
}

function compress(coding: BodyEncoding, body: Buffer): Promise<Buffer> {
  return coding === 'br' ? compressAsync.br(body, BROTLI) : compressAsync[coding](body);
}

/** The client's copy: the compressed bytes, their coding, Vary on Accept-Encoding, a strong ETag made weak (the bytes differ). */
function encoded(response: RouterResponse, coding: BodyEncoding, body: Buffer): RouterResponse {
  const headers = withVary({ ...response.headers, 'content-encoding': coding });
  const etag = headers.etag;
  if (typeof etag === 'string' && etag.startsWith('"')) headers.etag = `W/${etag}`;
  return { ...response, headers, body };
}

/** The headers with Accept-Encoding in Vary (kept as they are when Vary says * or names it). */
export function withVary(given: Record<string, string | string[]>): Record<string, string | string[]> {
  const headers = { ...given };
  const vary = headers.vary === undefined ? '' : String(headers.vary);
  if (!/(?:^|,)\s*(?:\*|accept-encoding)\s*(?:,|$)/i.test(vary)) headers.vary = vary ? `${vary}, Accept-Encoding` : 'Accept-Encoding';
  return headers;
}
