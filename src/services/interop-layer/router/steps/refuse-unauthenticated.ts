/**
 * Before the body is read: a caller without valid credentials is refused with 401 unless a
 * channel could take it anonymously (a public channel whose IP whitelist, if any, names it: a
 * whitelist never stands in for credentials, authorise-client.ts).
 * So unauthenticated connections never hold body memory or the body budget (finding 8 of
 * issue 7); the full decision is still authoriseClient's, once the body is there.
 */
import type { Exchange, RouterDeps } from '../exchange.js';
import { ipMatches, refuseAccess } from './authorise-client.js';
import { channelAcceptsHeaders, requestContentType } from './match-channel.js';

export function refuseUnauthenticated(exchange: Exchange, deps: RouterDeps): void {
  if (exchange.client) return;
  const { request } = exchange;
  const contentType = requestContentType(request);
  const anonymousChannel = deps.routing.enabledChannels().some((candidate) => {
    const { channel } = candidate;
    const open = channel.authType === 'public' && (channel.whitelist.length === 0 || ipMatches(channel.whitelist, request.clientIP));
    return open && channelAcceptsHeaders(candidate, request, contentType);
  });
  if (!anonymousChannel) refuseAccess(exchange, deps, exchange.authFailure ?? 'this channel needs credentials', `${request.method} ${request.path}`);
}
