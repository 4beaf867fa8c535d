/**
 * OpenHIM's URL rewriting (middleware/rewriteUrls.js) for channels with `rewriteUrls`: the links
 * an upstream puts in its answer (`href`, `src` and `fullUrl`, in JSON or XML) that point at a host
 * the router proxies are rewritten to point at the router, so a client never follows a link
 * around it. The rules, first match wins: the channel's `rewriteUrlsConfig` (fromHost:fromPort to
 * toHost:toPort, the path through its pathTransform), then, with `addAutoRewriteRules` (OpenHIM's
 * default), one per channel's primary route: that upstream's host and port to the address the
 * client reached the router at (OPENHIM_ROUTER_PUBLIC_HOST, else its Host), the path through the
 * route's pathTransform inverted. A link without a host is the primary route's: only its path
 * changes. Answers that are not text, or are compressed, pass unchanged.
 */
import { isUtf8 } from 'node:buffer';
import type { Exchange, RouterDeps } from '../exchange.js';
import type { Channel } from '../../models.js';
import { compilePathTransform, invertPathTransform } from '../../validation.js';
import { forwardedHost } from './route-to-upstreams.js';

interface RewriteRule {
  fromHost: string;
  fromPort: number;
  /** host[:port] the link gets. */
  to: string;
  protocol: 'http' | 'https';
  transform?: ((path: string) => string) | undefined;
}

/** The linking attributes OpenHIM rewrites: `"href": "..."` (JSON), `href="..."` (XML, HTML), and FHIR XML's `<fullUrl value="..."/>`. */
const LINKS = /(["']?(?:href|src|fullUrl)["']?\s?[:=]\s?|<fullUrl\s+value=)(["'])([^"'\s]*)\2/g;
const TEXTUAL = /^(?:text\/|application\/(?:[\w.+-]*\+)?(?:json|xml|xhtml\+xml|javascript)\b)/i;
/** Larger answers pass unchanged: a link rewrite is for API answers, not bulk downloads. */
const MAX_REWRITTEN_BYTES = 10 * 1024 * 1024;

export function rewriteResponseUrls(exchange: Exchange, deps: RouterDeps): void {
  const channel = exchange.channel?.channel;
  const response = exchange.response;
  if (!channel?.rewriteUrls || !response || exchange.halted || exchange.primaryOutcome?.failed !== false) return;
  const type = String(response.headers['content-type'] ?? '');
  const encoding = String(response.headers['content-encoding'] ?? 'identity').toLowerCase();
  if ((type && !TEXTUAL.test(type)) || encoding !== 'identity' || !response.body.length || response.body.length > MAX_REWRITTEN_BYTES) return;
  // Untyped bytes are rewritten only when they are text: re-encoding anything else would change it.
  if (!type && !isUtf8(response.body)) return;
  const rules = rewriteRules(channel, exchange, deps);
  const primary = channel.routes.find((r) => r.primary && r.status === 'enabled');
  const text = response.body.toString('utf8');
  const rewritten = text.replace(LINKS, (match, key: string, quote: string, link: string) => {
    const next = rewriteLink(link, rules, primary);
    return next === link ? match : `${key}${quote}${next}${quote}`;
  });
  if (rewritten !== text) response.body = Buffer.from(rewritten, 'utf8');
}

function rewriteRules(channel: Channel, exchange: Exchange, deps: RouterDeps): RewriteRule[] {
  const rules: RewriteRule[] = channel.rewriteUrlsConfig.map((rule) => ({
    fromHost: rule.fromHost.toLowerCase(),
    fromPort: rule.fromPort,
    to: `${rule.toHost}:${rule.toPort}`,
    // As OpenHIM: the router's HTTPS port means https, any other port http.
    protocol: rule.toPort === deps.config.routerHttpsPort ? 'https' : 'http',
    transform: rule.pathTransform ? compilePathTransform(rule.pathTransform) : undefined,
  }));
  if (channel.addAutoRewriteRules === false) return rules;
  const to = forwardedHost(exchange.request, deps.config.routerPublicHost);
  const protocol = exchange.request.secure ? 'https' : 'http';
  for (const { channel: other } of deps.routing.enabledChannels()) {
    const route = other.routes.find((r) => r.primary && r.status === 'enabled');
    if (!route) continue;
    rules.push({ fromHost: route.host.toLowerCase(), fromPort: route.port, to, protocol, transform: route.pathTransform ? invertPathTransform(route.pathTransform) : undefined });
  }
  return rules;
}

/** One link rewritten by the first rule matching its host and port; unchanged when none does. */
function rewriteLink(link: string, rules: readonly RewriteRule[], primary: { host: string; port: number } | undefined): string {
  const absolute = /^https?:\/\//i.test(link);
  if (!absolute && !link.startsWith('/')) return link;
  let url: URL;
  try {
    url = absolute ? new URL(link) : new URL(link, `http://${primary ? `${primary.host.includes(':') ? `[${primary.host}]` : primary.host}:${primary.port}` : 'relative.invalid'}`);
  } catch {
    return link;
  }
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const rule = rules.find((r) => r.fromHost === host && r.fromPort === port);
  if (!rule) return link;
  const path = rule.transform ? rule.transform(url.pathname) : url.pathname;
  if (!absolute) return `${path}${url.search}${url.hash}`;
  return `${rule.protocol}://${rule.to}${path}${url.search}${url.hash}`;
}
