/**
 * Which channel takes the request: enabled channels by priority; urlPattern tested against the
 * normalised path (normalisePath) unanchored, as OpenHIM does (write ^...$ to anchor); methods
 * (empty = none, as OpenHIM); content type, then the content rule when set (regex, else XPath or JSON path
 * with a value: content-match.ts). First match wins; none is a 404.
 */
import { halt, textResponse, type Exchange, type RouterDeps, type RouterRequest } from '../exchange.js';
import type { CompiledChannel } from '../../routing-table.js';
import { boundedTest } from '../../../../common/bounded-regexp.js';
import { MatchableBody } from '../../content-match.js';
import { mayUseChannel } from './authorise-client.js';

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

/**
 * A channel with a content rule is tested only when the caller may use it: the body is the
 * caller's, and testing it for a channel that would refuse the caller anyway lets any client
 * spend the router's time. Such a channel is passed over; when no channel the caller may use
 * matches, the first one passed over is taken and authoriseClient refuses it (401), where OpenHIM
 * answers 401 if its content matched (else 404, or a later channel the caller may use).
 */
export function matchChannel(exchange: Exchange, deps: RouterDeps): void {
  const { request, client } = exchange;
  const contentType = requestContentType(request);
  let body: MatchableBody | undefined;
  let refusedWithContentRule: CompiledChannel | undefined;
  for (const candidate of deps.routing.enabledChannels()) {
    if (!channelAcceptsHeaders(candidate, request, contentType)) continue;
    const hasContentRule = Boolean(candidate.contentRegex || candidate.contentValueTest);
    if (hasContentRule && !mayUseChannel(candidate.channel, client, request.clientIP)) {
      refusedWithContentRule ??= candidate;
      continue;
    }
    if (candidate.contentRegex) {
      body ??= new MatchableBody(request.body.toString('utf8'));
      if (!boundedTest(candidate.contentRegex, body.text, () => deps.logger.warn({ channel: candidate.channel.name }, 'matchContentRegex given up on a long body (over 250 ms): not matched'))) continue;
    } else if (candidate.contentValueTest) {
      // Bodies past the limit are not parsed: they match no XPath or JSON rule.
      if (request.body.length > deps.config.limits.routerMatchContentMaxBytes) continue;
      body ??= new MatchableBody(request.body.toString('utf8'));
      if (!candidate.contentValueTest(body, () => deps.logger.warn({ channel: candidate.channel.name }, 'matchContentXpath given up at its deadline: not matched'))) continue;
    }
    exchange.channel = candidate;
    return;
  }
  if (refusedWithContentRule) {
    exchange.channel = refusedWithContentRule;
    return;
  }
  halt(exchange, textResponse(404, `no channel matches ${request.method} ${request.path}`));
}
