/**
 * A channel's body content rule, as OpenHIM's requestMatching.js applies it: matchContentRegex
 * first (compiled by the routing table, common/bounded-regexp.ts); else matchContentXpath with
 * matchContentValue (the XPath evaluated on the XML body, its result as text equal to the value);
 * else matchContentJson with matchContentValue (a dotted path such as `a.b` or `a[0].b` into the
 * JSON body, the value found as text equal to the value). An expression without a value matches
 * nothing (OpenHIM: an invalid channel); the API refuses such a channel (checkContentMatch).
 *
 * Bounded cost: expressions are short (MAX_CONTENT_EXPRESSION_CHARS, MAX_JSON_PATH_SEGMENTS),
 * the router parses only bodies up to OPENHIM_ROUTER_MATCH_CONTENT_MAX_BYTES, XML is parsed
 * without entity expansion (xmldom resolves no external or declared entities: such a body does
 * not match), and an XPath runs under CONTENT_MATCH_DEADLINE_MS.
 */
import { createRequire } from 'node:module';
import { DOMParser } from '@xmldom/xmldom';
import { badRequest } from './errors.js';
import { DEADLINE_PASSED, runWithDeadline } from '../../common/deadline.js';

export const MAX_CONTENT_EXPRESSION_CHARS = 1024;
export const MAX_JSON_PATH_SEGMENTS = 32;
/** The same deadline as a content regex on a long body (common/bounded-regexp.ts). */
export const CONTENT_MATCH_DEADLINE_MS = 250;

/** The fields of a channel that say how its body must look. */
export interface ContentRule {
  matchContentRegex?: string | undefined;
  matchContentXpath?: string | undefined;
  matchContentJson?: string | undefined;
  matchContentValue?: string | undefined;
}

/** Tests a body (as UTF-8 text); `onGiveUp` is told when the work was stopped at the deadline. */
export type ContentValueTest = (bodyText: string, onGiveUp?: () => void) => boolean;

// The xpath package's types pull the DOM library into the whole program: typed here instead.
const xpath = createRequire(import.meta.url)('xpath') as { parse(expression: string): unknown; select(expression: string, node: unknown): unknown };

/** A 400 naming what is wrong with the channel's content rule, as the API validates it. */
export function checkContentMatch(rule: ContentRule): void {
  for (const field of ['matchContentXpath', 'matchContentJson', 'matchContentValue'] as const) {
    const value = rule[field];
    if (value !== undefined && value.length > MAX_CONTENT_EXPRESSION_CHARS) throw badRequest(`${field} is longer than ${MAX_CONTENT_EXPRESSION_CHARS} characters`);
  }
  if ((rule.matchContentXpath || rule.matchContentJson) && !rule.matchContentValue) {
    throw badRequest('a channel with matchContentXpath or matchContentJson must have a matchContentValue to compare with (OpenHIM matches no request on such a channel)');
  }
  if (rule.matchContentXpath) compileXPath(rule.matchContentXpath);
  if (rule.matchContentJson) {
    const segments = jsonPathSegments(rule.matchContentJson);
    if (segments.length > MAX_JSON_PATH_SEGMENTS) throw badRequest(`matchContentJson "${rule.matchContentJson.slice(0, 100)}" has more than ${MAX_JSON_PATH_SEGMENTS} steps`);
  }
}

/**
 * The XPath or JSON test of a stored channel, or undefined when it has none (or a regex, which
 * OpenHIM checks instead). A rule the API would refuse (a row written otherwise) matches nothing.
 */
export function compileContentValueTest(rule: ContentRule): ContentValueTest | undefined {
  if (rule.matchContentRegex) return undefined;
  if (!rule.matchContentXpath && !rule.matchContentJson) return undefined;
  try {
    checkContentMatch(rule);
  } catch {
    return matchesNothing;
  }
  const value = rule.matchContentValue!;
  if (rule.matchContentXpath) return xpathTest(rule.matchContentXpath, value);
  return jsonTest(jsonPathSegments(rule.matchContentJson!), value);
}

const matchesNothing: ContentValueTest = () => false;

function compileXPath(expression: string): void {
  try {
    xpath.parse(expression);
  } catch (error) {
    throw badRequest(`matchContentXpath "${expression.slice(0, 100)}" is not a valid XPath 1.0 expression: ${(error as Error).message}`);
  }
}

function xpathTest(expression: string, value: string): ContentValueTest {
  return (bodyText, onGiveUp) => {
    const outcome = runWithDeadline(() => {
      const doc = parseXml(bodyText);
      // As OpenHIM: xpath.select's result as text (a node list is its nodes' XML joined by commas).
      return doc !== undefined && String(xpath.select(expression, doc)) === value;
    }, CONTENT_MATCH_DEADLINE_MS);
    if (outcome === DEADLINE_PASSED) {
      onGiveUp?.();
      return false;
    }
    return outcome;
  };
}

/** The document, or undefined for a body that is not well-formed XML (or uses an entity it cannot resolve). */
function parseXml(text: string): unknown {
  let failed = false;
  const parser = new DOMParser({
    onError: (level) => {
      if (level !== 'warning') failed = true;
    },
  });
  try {
    const doc = parser.parseFromString(text, 'text/xml');
    return failed ? undefined : doc;
  } catch {
    return undefined;
  }
}

/** OpenHIM's path syntax: `a.b`, `a[0].b`, `.a` (indexes become properties, a leading dot is dropped). */
function jsonPathSegments(path: string): string[] {
  return path.replace(/\[(\w+)\]/g, '.$1').replace(/^\./, '').split('.');
}

function jsonTest(segments: readonly string[], value: string): ContentValueTest {
  return (bodyText) => {
    let node: unknown;
    try {
      node = JSON.parse(bodyText);
    } catch {
      return false;
    }
    for (const segment of segments) {
      // Own properties only: a path such as `constructor` must not reach the prototype.
      if (node === null || typeof node !== 'object' || !Object.hasOwn(node, segment)) return false;
      node = (node as Record<string, unknown>)[segment];
    }
    // As OpenHIM: the value as text ("1" matches 1, "true" matches true); null matches nothing.
    if (node === null || node === undefined) return false;
    try {
      return String(node) === value;
    } catch {
      return false; // an object whose own "toString" key is not a function cannot be made text
    }
  };
}
