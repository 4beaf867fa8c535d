/**
 * An upstream's answer compressed in a coding the client said it does not take (`Accept-Encoding:`
 * empty, `identity`, or a list without that coding) is decoded before it goes back, as OpenHIM
 * decodes upstream gzip before answering (httpTests "should decompress gzip"). A client that says
 * nothing takes any coding (RFC 9110 12.5.3), and one that takes it gets the bytes as they came.
 * Decoding runs in libuv's pool and stops at OPENHIM_ROUTER_MAX_BODY_BYTES (a bomb is a 502).
 */
import type { Exchange, RouterDeps, RouterResponse } from '../exchange.js';
import { textResponse } from '../exchange.js';
import { bodyEncoding, decodeBody, type BodyEncoding } from '../../store/content-encoding.js';
import { weightedItems } from '../../../../common/weighted-header.js';
import { withVary } from './compress-for-client.js';

export function decodeForClient(exchange: Exchange, deps: RouterDeps): void | Promise<void> {
  const response = exchange.response;
  if (!response || exchange.halted || exchange.primaryOutcome?.failed !== false || !response.body.length) return;
  const encoding = bodyEncoding(response.headers['content-encoding']);
  if (!encoding || accepts(exchange.request.headers['accept-encoding'], encoding)) return;
  return decode(exchange, response, encoding, deps.config.routerMaxBodyBytes);
}

async function decode(exchange: Exchange, response: RouterResponse, encoding: BodyEncoding, cap: number): Promise<void> {
  const decoded = await decodeBody(response.body, encoding, cap);
  if (!decoded || decoded.cut) {
    const why = decoded ? `decodes to more than ${cap} bytes (OPENHIM_ROUTER_MAX_BODY_BYTES)` : 'does not decode';
    const message = `the upstream answered in ${encoding}, which this client does not accept (Accept-Encoding), and the answer ${why}`;
    exchange.transaction!.error = { message };
    exchange.primaryOutcome = { status: 502, failed: true };
    exchange.response = textResponse(502, message, { 'x-openhim-transactionid': exchange.transaction!._id });
    return;
  }
  const { 'content-encoding': _coding, ...headers } = response.headers;
  // Decoded because of this client's Accept-Encoding: a cache in front must know it varies so.
  exchange.response = { ...response, headers: withVary(headers), body: decoded.bytes };
}

/** Whether an Accept-Encoding header takes the coding: absent takes any; else listed (or `*`) with a weight above 0. */
export function accepts(header: string | string[] | undefined, coding: BodyEncoding): boolean {
  if (header === undefined) return true;
  const names = coding === 'gzip' ? ['gzip', 'x-gzip'] : [coding];
  let star = false;
  for (const item of weightedItems(header)) {
    const name = item.name.toLowerCase();
    if (names.includes(name)) return item.q > 0;
    if (name === '*') star = item.q > 0;
  }
  return star;
}
