/**
 * Paging of history bundles: `_cursor` tokens (a place in history's order, storage/reader.ts) and
 * the self, next and previous links. Keyset pages stay stable while resources are written between
 * two requests; `_offset` is still read (links a client built itself) but never issued.
 */
import type { BundleLink } from '@medplum/fhirtypes';
import { badRequest } from './outcome.js';
import type { HistoryPage, HistoryPosition, HistoryQuery } from './storage/reader.js';
import { ID_PATTERN } from './validation.js';

const TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** `a<token>` (older than the place) or `b<token>` (newer); the token is base64url JSON. */
export function encodeHistoryCursor(direction: 'after' | 'before', position: HistoryPosition): string {
  const token = Buffer.from(JSON.stringify([position.lastUpdated, position.type, position.id, position.version])).toString('base64url');
  return `${direction === 'after' ? 'a' : 'b'}${token}`;
}

/** The cursor a history link carried; anything this server did not issue is a 400. */
export function decodeHistoryCursor(text: string): NonNullable<HistoryQuery['cursor']> {
  const refuse = () => badRequest(`_cursor "${text.slice(0, 40)}" is not one this server issued for a history`, 'FHIR_BAD_SEARCH');
  if (text.length > 400 || !/^[ab][A-Za-z0-9_-]+$/.test(text)) throw refuse();
  let parts: unknown;
  try {
    parts = JSON.parse(Buffer.from(text.slice(1), 'base64url').toString('utf8'));
  } catch {
    throw refuse();
  }
  if (!Array.isArray(parts) || parts.length !== 4) throw refuse();
  const [lastUpdated, type, id, version] = parts as unknown[];
  if (typeof lastUpdated !== 'string' || !TIME.test(lastUpdated) || Number.isNaN(Date.parse(lastUpdated))) throw refuse();
  if (typeof type !== 'string' || !/^[A-Z][A-Za-z]{0,63}$/.test(type) || typeof id !== 'string' || !ID_PATTERN.test(id)) throw refuse();
  if (!Number.isSafeInteger(version) || (version as number) < 1 || (version as number) > 2_147_483_647) throw refuse();
  return { direction: text[0] === 'a' ? 'after' : 'before', position: { lastUpdated, type, id, version: version as number } };
}

/**
 * self (the page as asked), next (older) and previous (newer) links. A page of `_count=0`, or
 * one with no versions, has no next: following it could only return the same page.
 */
export function historyLinks(url: string, query: Array<[string, string]>, asked: Pick<HistoryQuery, 'cursor' | 'offset'>, page: HistoryPage): BundleLink[] {
  const link = (cursor?: string): string => {
    const q = new URLSearchParams(query.filter(([key]) => key !== '_offset' && key !== '_cursor'));
    if (cursor) q.set('_cursor', cursor);
    const text = q.toString();
    return `${url}${text ? `?${text}` : ''}`;
  };
  const self = new URLSearchParams(query).toString();
  const links: BundleLink[] = [{ relation: 'self', url: `${url}${self ? `?${self}` : ''}` }];
  const newest = page.positions[0];
  const oldest = page.positions[page.positions.length - 1];
  if (!newest || !oldest) return links;
  const backwards = asked.cursor?.direction === 'before';
  // Reading newer versions, older ones always follow (the cursor's own place at least).
  if (backwards || page.more) links.push({ relation: 'next', url: link(encodeHistoryCursor('after', oldest)) });
  const newerExist = backwards ? page.more : asked.cursor !== undefined || asked.offset > 0;
  if (newerExist) links.push({ relation: 'previous', url: link(encodeHistoryCursor('before', newest)) });
  return links;
}
