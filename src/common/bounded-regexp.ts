/**
 * Regular expressions that admins, mediators and metadata imports give (a channel's urlPattern
 * and matchContentRegex, a route's pathTransform), run against every routed request's path and
 * body: bounded in time whatever the input. A pattern must be one V8's linear-time engine can
 * run (no backreferences or lookarounds), and is at most MAX_PATTERN_LENGTH characters (a huge
 * nested pattern made V8's backtracking compiler abort the whole process). It then runs on the
 * ordinary engine, fast for the usual patterns; a match that backtracks past a bound (the
 * catastrophic backtracking of patterns like ^(a+)+$) is finished by the linear engine instead.
 * The V8 flags below are process-wide and are read when a regular expression is compiled: every
 * process that runs such patterns imports this module first.
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--enable-experimental-regexp-engine');
setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
setFlagsFromString('--regexp-backtracks-before-fallback=10000');

export const MAX_PATTERN_LENGTH = 4096;

export class PatternRefused extends Error {}

/** The pattern compiled, or a PatternRefused saying why it is not accepted. */
export function boundedRegExp(pattern: string, flags = ''): RegExp {
  if (pattern.length > MAX_PATTERN_LENGTH) throw new PatternRefused(`is longer than ${MAX_PATTERN_LENGTH} characters`);
  let compiled: RegExp;
  try {
    compiled = new RegExp(pattern, flags);
  } catch (error) {
    throw new PatternRefused(`is not a valid regular expression: ${(error as Error).message}`);
  }
  try {
    new RegExp(pattern, `${flags}l`);
  } catch {
    throw new PatternRefused('uses what cannot run in linear time (a backreference such as \\1, or a lookahead or lookbehind such as (?!...)): such patterns can take exponential time on a crafted path; write it without them');
  }
  return compiled;
}
