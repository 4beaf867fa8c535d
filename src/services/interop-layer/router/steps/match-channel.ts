/**
 * Which channel takes the request: enabled channels by priority; urlPattern tested against the
 * normalised path (normalisePath) unanchored, as OpenHIM does (write ^...$ to anchor); methods
 * (empty = none, as OpenHIM); content type, then the content rule when set (regex, else XPath or JSON path
 * with a value: content-match.ts). First match wins; none is a 404.
 */
import { halt, textResponse, type Exchange, type RouterDeps, type RouterRequest } from '../exchange.js';
import type { CompiledChannel } from '../../routing-table.js';
import { boundedTest } from '../../../../common/bounded-regexp.js';

export function requestContentType(request: RouterRequest): string {
  return String(request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/** Whether the channel could take the request judging by what arrives before the body. */
export function channelAcceptsHeaders(candidate: CompiledChannel, request: RouterRequest, contentType: string): boolean {
  if (!boundedTest(candidate.urlPattern, request.path)) return false;
  if (!candidate.methods.has(request.method)) return false; // an empty list matches nothing, as in OpenHIM
  const types = candidate.channel.matchContentTypes;
  return types.length === 0 || types.some((t) => t.toLowerCase() === contentType);
}

export function matchChannel(exchange: Exchange, deps: RouterDeps): void {
  const { request } = exchange;
  const contentType = requestContentType(request);
  let bodyText: string | undefined;
  for (const candidate of deps.routing.enabledChannels()) {
    if (!channelAcceptsHeaders(candidate, request, contentType)) continue;
    if (candidate.contentRegex) {
      bodyText ??= request.body.toString('utf8');
      if (!boundedTest(candidate.contentRegex, bodyText, () => deps.logger.warn({ channel: candidate.channel.name }, 'matchContentRegex given up on a long body (over 250 ms): not matched'))) continue;
    } else if (candidate.contentValueTest) {
      // Bodies past the limit are not parsed: they match no XPath or JSON rule.
      if (request.body.length > deps.config.limits.routerMatchContentMaxBytes) continue;
      bodyText ??= request.body.toString('utf8');
      if (!candidate.contentValueTest(bodyText, () => deps.logger.warn({ channel: candidate.channel.name }, 'matchContentXpath given up (over 250 ms): not matched'))) continue;
    }
    exchange.channel = candidate;
    return;
  }
  halt(exchange, textResponse(404, `no channel matches ${request.method} ${request.path}`));
}
