/**
 * Where a subscription may make the registry POST: a caller names the URL, so without care it
 * points the registry at its own network (the database, the router's API, a cloud's metadata
 * address) and reads the answers' differences as a port scan.
 * - With CLIENT_REGISTRY_SUBSCRIPTION_ENDPOINTS set, the URLs listed there and below them: each
 *   entry matches its own scheme, host and port only, and paths on a segment boundary
 *   (`https://emr.example.org/feeds` takes `/feeds` and `/feeds/a`, not `/feedsx`).
 * - Unset, any public address: loopback, private, link-local, carrier-grade NAT, multicast and
 *   unspecified addresses are refused, as written in the URL and as a name resolves when sent.
 * A URL with credentials is refused either way: they belong in channel.header, which answers mask.
 */
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { lookup as dnsLookup } from 'node:dns';
import { plainHttpUrl } from '../../common/plain-http-url.js';

export const ENDPOINTS_SETTING = 'CLIENT_REGISTRY_SUBSCRIPTION_ENDPOINTS';

const notPublic = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) notPublic.addSubnet(network, prefix, 'ipv4');
// IPv6 ranges that are local, or that carry an IPv4 address a gateway or relay may take a request
// to (IPv4-compatible ::a.b.c.d, NAT64 well-known and local-use, 6to4, Teredo): refused whatever IPv4
// address they hold, as no subscriber needs them.
for (const [network, prefix] of [
  ['::', 96], ['::1', 128], ['100::', 64], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['2001::', 32], ['2001:db8::', 32], ['2002::', 16],
  ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) notPublic.addSubnet(network, prefix, 'ipv6');

/** Whether an IP address is a public one (anything else, including what is not an address, is not). */
export function isPublicAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '');
  const family = isIP(bare);
  if (family === 0) return false;
  // An IPv4 address written as IPv6 (::ffff:127.0.0.1) is that IPv4 address.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare)?.[1];
  if (mapped) return isPublicAddress(mapped);
  if (family === 6 && /^::ffff:/i.test(bare)) return false;
  return !notPublic.check(bare, family === 4 ? 'ipv4' : 'ipv6');
}

export interface AllowedEndpoint {
  origin: string;
  /** The path the endpoint must be, or be below; '/' for the whole origin. */
  path: string;
}

/** The setting's entries, each an http(s) URL without credentials, query or fragment; throws naming a bad one. */
export function parseAllowedEndpoints(value: string | undefined): AllowedEndpoint[] {
  return (value ?? '').split(',').map((s) => s.trim()).filter(Boolean).map((entry) => {
    const url = plainHttpUrl(entry);
    if (!url) {
      throw new Error(`${ENDPOINTS_SETTING}: "${entry.slice(0, 200)}" is not an http(s) URL (without credentials, query or fragment)`);
    }
    return { origin: url.origin, path: url.pathname.replace(/\/+$/, '') || '/' };
  });
}

function listed(endpoint: URL, allowed: readonly AllowedEndpoint[]): boolean {
  return allowed.some(({ origin, path }) => endpoint.origin === origin && (path === '/' || endpoint.pathname === path || endpoint.pathname.startsWith(`${path}/`)));
}

/** Why the registry will not send to `endpoint` (undefined: it will). Says nothing of the network. */
export function refusedDestination(endpoint: URL, allowed: readonly AllowedEndpoint[]): string | undefined {
  if (endpoint.username || endpoint.password) return 'Subscription.channel.endpoint must not carry credentials: send them in channel.header (e.g. "Authorization: Bearer ..."), which answers mask';
  if (allowed.length) return listed(endpoint, allowed) ? undefined : `Subscription.channel.endpoint is not one this registry sends to (${ENDPOINTS_SETTING} lists those)`;
  const host = endpoint.hostname.toLowerCase().replace(/\.$/, '');
  const address = host.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host.endsWith('.localhost') || (isIP(address) !== 0 && !isPublicAddress(address))) {
    return `Subscription.channel.endpoint is an address of this registry's own network, which it does not send to unless the operator lists it in ${ENDPOINTS_SETTING}`;
  }
  return undefined;
}

/**
 * The DNS lookup for deliveries when no endpoints are listed: a name that resolves to an address
 * that is not public fails to connect (the check a name cannot pass by resolving differently later).
 */
export const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
    if (error) return callback(error, '', 0);
    const list = addresses as unknown as Array<{ address: string; family: number }>;
    const refused = list.find((a) => !isPublicAddress(a.address));
    if (refused || !list.length) return callback(Object.assign(new Error(`${hostname} resolves to an address this registry does not send to`), { code: 'EADDRNOTPUBLIC' }), '', 0);
    if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: typeof list) => void)(null, list);
    callback(null, list[0]!.address, list[0]!.family);
  });
};
