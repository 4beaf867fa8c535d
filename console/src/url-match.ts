/**
 * "Does this URL match?": the router's matching rule, as docs/interop-layer.md states it:
 * enabled channels by priority (lower first, none last), urlPattern tested unanchored, methods
 * (an empty list matches no method, as in OpenHIM; a channel without the field, any). The first match wins.
 */
import type { Channel } from './models.js';

export function patternMatches(pattern: string, path: string): boolean | 'invalid' {
  try {
    return new RegExp(pattern).test(path);
  } catch {
    return 'invalid';
  }
}

export function firstMatchingChannel(channels: Channel[], path: string, method: string): Channel | undefined {
  const ordered = channels
    .filter((c) => (c.status ?? 'enabled') === 'enabled')
    .sort((a, b) => (a.priority ?? Number.MAX_SAFE_INTEGER) - (b.priority ?? Number.MAX_SAFE_INTEGER));
  return ordered.find((c) => patternMatches(c.urlPattern, path) === true && (c.methods === undefined || c.methods.includes(method)));
}
