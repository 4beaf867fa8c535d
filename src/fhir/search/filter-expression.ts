/**
 * The `_filter` search parameter's expression language (R4 search_filter.html), read into a tree:
 *
 *   filter    = test / filter ("and" / "or") filter / "not" "(" filter ")" / "(" filter ")"
 *   test      = paramName SP operator SP value
 *   operator  = eq / ne / co / sw / ew / gt / lt / ge / le / ap / sa / eb / pr / po / ss / sb / in / ni / re
 *   value     = a JSON-style string ("...", with \" and \\) or a run of characters up to a space or ")"
 *
 * `and` binds tighter than `or`; keywords and operators are read in any case. A parameter path
 * with a filter of its own (`name[use eq official].family`) or a chain is not read: 400. The
 * tree is bounded (tests, nesting, length): a hostile expression costs a 400, not the parser.
 * parse.ts turns each test into the search parameter it names (sql.ts then composes them).
 */
import { FhirError } from '../outcome.js';

export type FilterExpression =
  | { kind: 'and'; left: FilterExpression; right: FilterExpression }
  | { kind: 'or'; left: FilterExpression; right: FilterExpression }
  | { kind: 'not'; inner: FilterExpression }
  | { kind: 'test'; path: string; operator: FilterOperator; value: string };

export const FILTER_OPERATORS = ['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'lt', 'ge', 'le', 'ap', 'sa', 'eb', 'pr', 'po', 'ss', 'sb', 'in', 'ni', 're'] as const;
export type FilterOperator = (typeof FILTER_OPERATORS)[number];

export interface FilterBounds {
  /** Tests (param operator value) in one expression. */
  maxTests: number;
  /** Nesting of parentheses and `not`. */
  maxDepth: number;
}

type Token = { kind: 'open' } | { kind: 'close' } | { kind: 'word'; text: string } | { kind: 'string'; text: string };

const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

function invalid(message: string): FhirError {
  return new FhirError(400, 'FHIR_BAD_SEARCH', `_filter: ${message}`);
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '(' || c === ')') {
      tokens.push(c === '(' ? { kind: 'open' } : { kind: 'close' });
      i++;
    } else if (c === '"') {
      let value = '';
      i++;
      for (;;) {
        if (i >= text.length) throw invalid('a string value has no closing quote');
        const d = text[i]!;
        if (d === '"') break;
        if (d === '\\') {
          const next = text[i + 1];
          if (next === undefined) throw invalid('a string value ends in a backslash');
          value += next === 'n' ? '\n' : next === 't' ? '\t' : next === 'r' ? '\r' : next;
          i += 2;
          continue;
        }
        value += d;
        i++;
      }
      tokens.push({ kind: 'string', text: value });
      i++;
    } else {
      const start = i;
      while (i < text.length && !/[\s()]/.test(text[i]!)) i++;
      tokens.push({ kind: 'word', text: text.slice(start, i) });
    }
  }
  return tokens;
}

export function parseFilterExpression(text: string, bounds: FilterBounds): FilterExpression {
  const tokens = tokenize(text);
  let at = 0;
  let tests = 0;
  const peekWord = (): string | undefined => {
    const token = tokens[at];
    return token?.kind === 'word' ? token.text.toLowerCase() : undefined;
  };
  const expect = (kind: 'open' | 'close', what: string): void => {
    if (tokens[at]?.kind !== kind) throw invalid(`expected ${what}`);
    at++;
  };

  const or = (depth: number): FilterExpression => {
    let left = and(depth);
    while (peekWord() === 'or') {
      at++;
      left = { kind: 'or', left, right: and(depth) };
    }
    return left;
  };
  const and = (depth: number): FilterExpression => {
    let left = unary(depth);
    while (peekWord() === 'and') {
      at++;
      left = { kind: 'and', left, right: unary(depth) };
    }
    return left;
  };
  const unary = (depth: number): FilterExpression => {
    if (depth > bounds.maxDepth) throw invalid(`nested deeper than ${bounds.maxDepth}`);
    if (peekWord() === 'not') {
      at++;
      expect('open', '"(" after not');
      const inner = or(depth + 1);
      expect('close', '")"');
      return { kind: 'not', inner };
    }
    if (tokens[at]?.kind === 'open') {
      at++;
      const inner = or(depth + 1);
      expect('close', '")"');
      return inner;
    }
    return test();
  };
  const test = (): FilterExpression => {
    const name = tokens[at];
    if (name?.kind !== 'word') throw invalid('expected a search parameter name');
    if (name.text.includes('[') || name.text.includes('.')) {
      throw invalid(`"${name.text.slice(0, 100)}": chained parameters and filters inside a path are not supported; name one search parameter of the searched type`);
    }
    if (!PARAM_NAME.test(name.text)) throw invalid(`"${name.text.slice(0, 100)}" is not a search parameter name`);
    const operator = tokens[at + 1];
    const op = operator?.kind === 'word' ? operator.text.toLowerCase() : undefined;
    if (!op || !(FILTER_OPERATORS as readonly string[]).includes(op)) {
      throw invalid(`expected an operator (${FILTER_OPERATORS.join(', ')}) after ${name.text}`);
    }
    const value = tokens[at + 2];
    if (!value || value.kind === 'open' || value.kind === 'close') throw invalid(`${name.text} ${op} needs a value`);
    at += 3;
    if (++tests > bounds.maxTests) throw invalid(`more than ${bounds.maxTests} tests`);
    return { kind: 'test', path: name.text, operator: op as FilterOperator, value: value.text };
  };

  if (!tokens.length) throw invalid('the expression is empty');
  const tree = or(0);
  if (at < tokens.length) throw invalid(`unexpected "${describe(tokens[at]!)}"`);
  return tree;
}

function describe(token: Token): string {
  return token.kind === 'open' ? '(' : token.kind === 'close' ? ')' : token.text.slice(0, 100);
}
