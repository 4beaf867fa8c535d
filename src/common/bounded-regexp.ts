/**
 * Regular expressions that admins, mediators and metadata imports give (a channel's urlPattern
 * and matchContentRegex, a route's pathTransform), run against every routed request's path and
 * body: bounded in time whatever the input. A pattern must be one V8's linear-time engine can
 * run (no backreferences or lookarounds), and is at most MAX_PATTERN_LENGTH characters (a huge
 * nested pattern made V8's backtracking compiler abort the whole process). It then runs on the
 * ordinary engine, fast for the usual patterns; a match that backtracks past a bound (the
 * catastrophic backtracking of patterns like ^(a+)+$) is finished by the linear engine instead,
 * whose cost grows with the pattern's size times the text's length: a long text is matched under
 * a deadline (boundedTest).
 * The V8 flags below are process-wide and are read when a regular expression is compiled: every
 * process that runs such patterns imports this module first.
 */
import { setFlagsFromString } from 'node:v8';
import { Script, createContext } from 'node:vm';

setFlagsFromString('--enable-experimental-regexp-engine');
setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');
setFlagsFromString('--regexp-backtracks-before-fallback=10000');

/**
 * The linear-time engine costs per input character in proportion to the pattern's size (a 3,800
 * character pattern of optional alternatives: ~70 µs a character), so patterns are kept short.
 */
export const MAX_PATTERN_LENGTH = 1024;
/** Texts up to this length are matched directly (at most tens of ms for the worst pattern). */
export const DIRECT_MATCH_CHARS = 2048;
/** Longer texts (a request body, a long path) are matched under this deadline; past it, no match. */
export const MATCH_DEADLINE_MS = 250;

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

/*
 * A match on a long text runs in a vm context with a timeout: V8 interrupts the regular expression
 * (either engine) at the deadline. The watchdog costs ~50 µs a call, so short texts, the usual
 * case, are matched directly.
 */
const matchScript = new Script('pattern.test(text)');
const matchContext = createContext({ pattern: /$^/, text: '' });

/**
 * Whether `pattern` matches `text`, in bounded time: a text longer than DIRECT_MATCH_CHARS is
 * given up after MATCH_DEADLINE_MS and counted as no match (`onGiveUp` is told).
 */
export function boundedTest(pattern: RegExp, text: string, onGiveUp?: () => void): boolean {
  if (text.length <= DIRECT_MATCH_CHARS) return pattern.test(text);
  matchContext.pattern = pattern;
  matchContext.text = text;
  try {
    return matchScript.runInContext(matchContext, { timeout: MATCH_DEADLINE_MS }) === true;
  } catch (error) {
    if ((error as { code?: string }).code !== 'ERR_SCRIPT_EXECUTION_TIMEOUT') throw error;
    onGiveUp?.();
    return false;
  } finally {
    matchContext.text = '';
  }
}
