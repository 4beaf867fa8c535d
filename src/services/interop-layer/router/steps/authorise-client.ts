/**
 * May this caller use the channel: the IP whitelist when set, and then a public channel, or
 * `allow` naming the client's clientID or one of its roles. As OpenHIM (middleware/
 * authorisation.js: `authoriseIP && (public || authoriseClient)`), a whitelist only narrows: a
 * whitelisted IP still needs an allowed client's credentials on a private channel. Refusal is a
 * 401 with WWW-Authenticate. Once authorised, the transaction exists.
 */
import { halt, textResponse, type Exchange, type RouterDeps } from '../exchange.js';
import { newObjectId } from '../../ids.js';
import type { Channel, Client } from '../../models.js';
import { loggableHeaders, loggableQuery } from '../bodies.js';

/** Whether the caller's IP is on the list; an IPv4 address and its IPv4-mapped IPv6 form (`::ffff:1.2.3.4`, in OpenHIM exports from dual-stack hosts) are one. */
export function ipMatches(list: readonly string[], ip: string): boolean {
  const bare = unmapped(ip);
  return list.some((entry) => entry === ip || unmapped(entry) === bare);
}

const unmapped = (ip: string): string => (ip.toLowerCase().startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip);

/** A 401 with WWW-Authenticate, audited as an auth failure on `entity`. */
export function refuseAccess(exchange: Exchange, deps: RouterDeps, reason: string, entity: string): void {
  const { client, request } = exchange;
  deps.audits.record({
    kind: 'auth-failure',
    action: 'E',
    success: false,
    description: reason,
    ...(client ? { who: client.clientID } : {}),
    address: request.clientIP,
    entity,
  });
  halt(exchange, textResponse(401, `Unauthorized: ${reason}`, { 'www-authenticate': 'Basic realm="OpenHIM"' }));
}

/** Whether the caller (a client, or none) from `clientIP` may use the channel. */
export function mayUseChannel(channel: Channel, client: Client | undefined, clientIP: string): boolean {
  if (channel.whitelist.length > 0 && !ipMatches(channel.whitelist, clientIP)) return false;
  if (channel.authType === 'public') return true;
  return Boolean(client && channel.allow.some((a) => a === client.clientID || client.roles.includes(a)));
}

export function authoriseClient(exchange: Exchange, deps: RouterDeps): void {
  const channel = exchange.channel!.channel;
  const { client, request } = exchange;
  if (!mayUseChannel(channel, client, request.clientIP)) {
    const reason = !client
      ? exchange.authFailure ?? 'this channel needs credentials'
      : `client ${client.clientID} may not use channel ${channel.name}`;
    refuseAccess(exchange, deps, reason, `Channel/${channel._id}`);
    return;
  }
  beginTransaction(exchange, deps);
}

/** The exchange's transaction, begun in the log (Processing): an authorised request, or a tcp channel's message. */
export function beginTransaction(exchange: Exchange, deps: RouterDeps): void {
  const channel = exchange.channel!.channel;
  const { client, request } = exchange;
  exchange.transaction = {
    _id: newObjectId(),
    // As OpenHIM (middleware/messageStore.js): the client's _id, as channelID is the channel's.
    ...(client ? { clientID: client._id } : {}),
    clientIP: request.clientIP,
    channelID: channel._id,
    childIDs: [],
    request: {
      host: request.host,
      port: request.port,
      path: request.path,
      headers: loggableHeaders(request.headers),
      querystring: loggableQuery(request.querystring),
      method: request.method,
      timestamp: new Date().toISOString(),
    },
    routes: [],
    orchestrations: [],
    canRerun: true,
    status: 'Processing',
  };
  deps.transactions.begin(exchange.transaction);
}
