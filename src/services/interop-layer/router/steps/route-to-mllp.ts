/**
 * The steps of a tcp channel's message (router/tcp-channels.ts): the sender's address checked
 * against the channel's whitelist, the transaction begun, and the message sent to the channel's
 * primary route of type `mllp` (or `tcp`: framed the same way), whose framed answer goes back.
 * A tcp channel has no credentials to check (as in OpenHIM, where such messages run as a
 * built-in tcp client): its port is the boundary, bound to the router's host unless `tcpHost` says otherwise.
 */
import { halt, textResponse, type Exchange, type RouterDeps } from '../exchange.js';
import { sendMllpMessage } from '../mllp-upstream.js';
import { UpstreamFailure } from '../upstream.js';
import { beginTransaction, ipMatches, refuseAccess } from './authorise-client.js';

export const HL7V2_CONTENT_TYPE = 'application/hl7-v2';

export function acceptTcpSender(exchange: Exchange, deps: RouterDeps): void {
  const channel = exchange.channel!.channel;
  if (channel.whitelist.length > 0 && !ipMatches(channel.whitelist, exchange.request.clientIP)) {
    refuseAccess(exchange, deps, `address ${exchange.request.clientIP} is not on the whitelist of channel ${channel.name}`, `Channel/${channel._id}`);
    return;
  }
  beginTransaction(exchange, deps);
  exchange.transaction!.canRerun = false; // a rerun replays over HTTP; a tcp channel's message has no HTTP route
}

export async function routeToMllp(exchange: Exchange, deps: RouterDeps): Promise<void> {
  const channel = exchange.channel!.channel;
  const tx = exchange.transaction!;
  const primary = channel.routes.find((r) => r.status === 'enabled' && r.primary);
  if (!primary || (primary.type !== 'mllp' && primary.type !== 'tcp')) {
    const message = `tcp channel ${channel.name} has no enabled primary route of type mllp`;
    tx.error = { message };
    exchange.primaryOutcome = { failed: true };
    halt(exchange, textResponse(502, message));
    return;
  }
  try {
    const answer = await sendMllpMessage({
      host: primary.host,
      port: primary.port,
      timeoutMs: channel.timeout ?? deps.config.defaultTimeoutMs,
      maxMessageBytes: deps.config.limits.routerTcpMaxMessageBytes,
    }, exchange.request.body);
    exchange.primaryOutcome = { status: 200, failed: false };
    exchange.response = { status: 200, headers: { 'content-type': HL7V2_CONTENT_TYPE }, body: answer };
  } catch (error) {
    const failure = error instanceof UpstreamFailure ? error : new UpstreamFailure('error', (error as Error).message);
    tx.error = { message: failure.message };
    exchange.primaryOutcome = { failed: true };
    exchange.response = textResponse(failure.httpStatus, failure.message);
  }
}
