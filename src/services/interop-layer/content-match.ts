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
 * not match), and an XPath runs under XPATH_DEADLINE_MS. A request's body is parsed at most once
 * (MatchableBody, under XML_PARSE_DEADLINE_MS), however many channels test it: each XPath channel
 * used to parse a 1 MiB body again (~250 ms each).
 */
import { createRequire } from 'node:module';
import { DOMParser } from '@xmldom/xmldom';
import { badRequest } from './errors.js';
import { DEADLINE_PASSED, runWithDeadline } from '../../common/deadline.js';

export const MAX_CONTENT_EXPRESSION_CHARS = 1024;
export const MAX_JSON_PATH_SEGMENTS = 32;
/** Parsing the body as XML, once per request: the same deadline as a content regex on a long body (common/bounded-regexp.ts). */
export const XML_PARSE_DEADLINE_MS = 250;
/** One XPath on the parsed document: an expression on a parsed body takes microseconds, far below this. */
export const XPATH_DEADLINE_MS = 50;

/** The fields of a channel that say how its body must look. */
export interface ContentRule {
  matchContentRegex?: string | undefined;
  matchContentXpath?: string | undefined;
  matchContentJson?: string | undefined;
  matchContentValue?: string | undefined;
}

/** A request body as the content rules see it: text, and the XML and JSON parsed once, on first use. */
export class MatchableBody {
  private parsedXml: { doc: unknown } | undefined;
  private parsedJson: { value: unknown } | undefined;

  constructor(readonly text: string) {}

  /** The XML document, or undefined for a body that is not well-formed XML or took past the deadline to parse. */
  xml(onGiveUp?: () => void): unknown {
    if (!this.parsedXml) {
      const outcome = runWithDeadline(() => parseXml(this.text), XML_PARSE_DEADLINE_MS);
      if (outcome === DEADLINE_PASSED) onGiveUp?.();
      this.parsedXml = { doc: outcome === DEADLINE_PASSED ? undefined : outcome };
    }
    return this.parsedXml.doc;
  }

  /** The JSON value, or undefined for a body that is not JSON. */
  json(): unknown {
    if (!this.parsedJson) {
      let value: unknown;
      try {
        value = JSON.parse(this.text);
      } catch {
        value = undefined;
      }
      this.parsedJson = { value };
    }
    return this.parsedJson.value;
  }
}

/** Tests a body; `onGiveUp` is told when the work was stopped at a deadline. */
export type ContentValueTest = (body: MatchableBody, onGiveUp?: () => void) => boolean;

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
  return (body, onGiveUp) => {
    const doc = body.xml(onGiveUp);
    if (doc === undefined) return false;
    // As OpenHIM: xpath.select's result as text (a node list is its nodes' XML joined by commas).
    const outcome = runWithDeadline(() => String(xpath.select(expression, doc)) === value, XPATH_DEADLINE_MS);
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
  return (body) => {
    let node = body.json();
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
