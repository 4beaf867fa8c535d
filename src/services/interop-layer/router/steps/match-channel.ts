/**
 * Which channel takes the request: enabled channels by priority; urlPattern tested against the
 * path unanchored, as OpenHIM does (write ^...$ to anchor); methods (empty = any); content type
 * and content regex when set. First match wins; none is a 404.
 */
import { halt, textResponse, type Exchange, type RouterDeps } from '../exchange.js';

export function matchChannel(exchange: Exchange, deps: RouterDeps): void {
  const { request } = exchange;
  const contentType = String(request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  let bodyText: string | undefined;
  for (const candidate of deps.routing.enabledChannels()) {
    if (!candidate.urlPattern.test(request.path)) continue;
    if (candidate.methods.size > 0 && !candidate.methods.has(request.method)) continue;
    const types = candidate.channel.matchContentTypes;
    if (types.length > 0 && !types.some((t) => t.toLowerCase() === contentType)) continue;
    if (candidate.contentRegex) {
      bodyText ??= request.body.toString('utf8');
      if (!candidate.contentRegex.test(bodyText)) continue;
    }
    exchange.channel = candidate;
    return;
  }
  halt(exchange, textResponse(404, `no channel matches ${request.method} ${request.path}`));
}
