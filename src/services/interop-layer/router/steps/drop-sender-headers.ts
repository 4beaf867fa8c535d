/**
 * The sender identity headers (X-OpenHIM-ClientID and the router's signature over it) are the
 * router's own: a client's copies are dropped before anything reads, logs or forwards the request,
 * so an upstream never sees a clientID the router did not authenticate.
 */
import { SENDER_HEADERS } from '../../../../common/sender-identity.js';
import type { Exchange } from '../exchange.js';

export function dropSenderHeaders(exchange: Exchange): void {
  for (const name of SENDER_HEADERS) delete exchange.request.headers[name];
}
