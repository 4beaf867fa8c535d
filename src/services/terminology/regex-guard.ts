/**
 * The regex of a `regex` compose filter runs inside the database (PostgreSQL ARE, also in
 * PGlite, where nothing can interrupt a statement): a pattern that backtracks catastrophically
 * would hold the database. Only a safe subset is accepted: short, no back-references, no
 * quantified group that itself holds a quantifier or an alternation (`(a+)+`, `(a|aa)*`), and
 * small repetition counts. Everything else is a 400 naming the rule.
 */
import { badParameter } from './parameters.js';

export const MAX_REGEX_CHARS = 200;
export const MAX_REGEX_REPEAT = 20;

const refuse = (pattern: string, why: string): Error =>
  badParameter(`the regex filter "${pattern.slice(0, 80)}" is refused: ${why} (filters accept a safe subset of PostgreSQL regular expressions)`);

/** Throws a 400 unless the pattern is in the safe subset. */
export function assertSafeRegex(pattern: string): void {
  if (pattern.length > MAX_REGEX_CHARS) throw refuse(pattern, `longer than ${MAX_REGEX_CHARS} characters`);
  // Per open group: does it hold a quantifier or alternation (then quantifying it nests)?
  const groups: Array<{ risky: boolean }> = [];
  let lastGroupRisky = false; // the atom just before the current position was a risky group
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    // `?` and {0,1} do not repeat: optional risky groups are fine.
    const quantified = (repeats: boolean): void => {
      if (lastGroupRisky && repeats) throw refuse(pattern, 'a quantified group holds a quantifier or an alternation (nested quantifiers)');
      if (groups.length) groups[groups.length - 1]!.risky = true;
      lastGroupRisky = false;
    };
    if (ch === '\\') {
      const next = pattern[i + 1] ?? '';
      if (/[1-9]/.test(next)) throw refuse(pattern, 'back-references are not accepted');
      i++;
      lastGroupRisky = false;
    } else if (ch === '[') {
      // A bracket expression is one atom: skip to its closing bracket (a leading ] or ^] is literal).
      let j = i + 1;
      if (pattern[j] === '^') j++;
      if (pattern[j] === ']') j++;
      while (j < pattern.length && pattern[j] !== ']') j += pattern[j] === '\\' ? 2 : 1;
      i = j;
      lastGroupRisky = false;
    } else if (ch === '(') {
      groups.push({ risky: false });
      lastGroupRisky = false;
    } else if (ch === ')') {
      const group = groups.pop();
      lastGroupRisky = group?.risky ?? false;
      if (group?.risky && groups.length) groups[groups.length - 1]!.risky = true;
    } else if (ch === '|') {
      if (groups.length) groups[groups.length - 1]!.risky = true;
      lastGroupRisky = false;
    } else if (ch === '*' || ch === '+' || ch === '?') {
      if (ch === '?' && pattern[i - 1] === '(') continue; // (?: (?= (?! group forms
      quantified(ch !== '?');
      if (pattern[i + 1] === '?') i++; // lazy form
    } else if (ch === '{') {
      const bound = /^\{(\d*)(?:,(\d*))?\}/.exec(pattern.slice(i));
      if (bound) {
        if ([bound[1], bound[2]].some((n) => n && Number(n) > MAX_REGEX_REPEAT)) throw refuse(pattern, `repetition counts above ${MAX_REGEX_REPEAT}`);
        quantified(Number(bound[2] ?? bound[1] ?? 0) > 1 || bound[2] === '');
        i += bound[0].length - 1;
      }
    } else {
      lastGroupRisky = false;
    }
  }
}
