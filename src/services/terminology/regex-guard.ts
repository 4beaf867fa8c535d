/**
 * The regex of a `regex` compose filter runs inside the database (PostgreSQL ARE, also in
 * PGlite, where a statement past its budget restarts the whole embedded database): a pattern that
 * backtracks catastrophically, or whose automaton is large, would hold it. Only a safe subset is
 * accepted: short, no back-references, no quantified group that itself holds a quantifier or an
 * alternation (`(a+)+`, `(a|aa)*`), and few counted repetitions in all: PostgreSQL copies the atom
 * of `x{0,20}` twenty times, and eight such copies in a row (`.{0,20}` x 8) made a DFA whose
 * states thrashed its cache, past 10 s on 200,000 displays. Everything else is a 400 naming the
 * rule. The guard also weighs what it accepts, for the compose's cost model (compose.ts).
 */
import { badParameter } from './parameters.js';

export const MAX_REGEX_CHARS = 200;
export const MAX_REGEX_REPEAT = 20;
/**
 * Atoms copied by counted repetitions, the whole pattern together (`(ab){3}` copies 6, `.{0,20}` 20);
 * an optional atom (`x?`, `x{0,1}`) counts once: each is a branch of the automaton as a copy is, and
 * `.?` x 64 ran 5.7 s over 9,000 displays (40 includes of `(\w?)?` x 32 restarted the embedded database).
 */
export const MAX_REGEX_COPIES = 32;
/**
 * Unbounded repetitions (`*`, `+`, `{n,}`) in the whole pattern: each is a loop the engine may try
 * at every position, and a chain of them is what costs (`.*` x 98 then `z`, 150 includes of it
 * under the cost bound, held the embedded database past its 10 s budget and restarted it).
 */
export const MAX_REGEX_LOOPS = 4;

const refuse = (pattern: string, why: string): Error =>
  badParameter(`the regex filter "${pattern.slice(0, 80)}" is refused: ${why} (filters accept a safe subset of PostgreSQL regular expressions)`);

/**
 * Throws a 400 unless the pattern is in the safe subset; returns its weight for the cost model:
 * how much dearer it is per concept than an equality. Measured on PGlite over 200,000 displays: a
 * plain pattern costs a few equalities; each atom copied by a counted repetition, and each
 * unbounded repetition, about 5 more
 * (`.{0,20}x` 3 s, `.{0,20}.{0,20}x` 9 s where 100 equalities per concept took 4 s).
 */
export function assertSafeRegex(pattern: string): number {
  if (pattern.length > MAX_REGEX_CHARS) throw refuse(pattern, `longer than ${MAX_REGEX_CHARS} characters`);
  // Per open group: does it hold a quantifier or alternation (then quantifying it nests)?
  const groups: Array<{ risky: boolean; size: number }> = [];
  let lastGroupRisky = false; // the atom just before the current position was a risky group
  // Expanded sizes (atoms, with counted repetitions copied) of the last atom and of the open groups.
  let lastAtomSize = 0;
  let copies = 0;
  let optionals = 0; // atoms made optional by x? or x{0,1}: already in copies, weighed twice
  let loops = 0;
  const looped = (): void => {
    if (++loops > MAX_REGEX_LOOPS) throw refuse(pattern, `more than ${MAX_REGEX_LOOPS} unbounded repetitions (*, +, {n,}); one .* between the parts is enough`);
  };
  const copied = (extra: number): void => {
    copies += extra;
    if (copies > MAX_REGEX_COPIES) throw refuse(pattern, `counted repetitions copy more than ${MAX_REGEX_COPIES} atoms in all (an optional x? counts once; write .* or a shorter count)`);
    if (groups.length) groups[groups.length - 1]!.size += extra;
  };
  const addAtom = (size: number): void => {
    lastAtomSize = size;
    if (groups.length) groups[groups.length - 1]!.size += size;
  };
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
      addAtom(1);
    } else if (ch === '[') {
      // A bracket expression is one atom: skip to its closing bracket (a leading ] or ^] is literal).
      let j = i + 1;
      if (pattern[j] === '^') j++;
      if (pattern[j] === ']') j++;
      while (j < pattern.length && pattern[j] !== ']') j += pattern[j] === '\\' ? 2 : 1;
      i = j;
      lastGroupRisky = false;
      addAtom(1);
    } else if (ch === '(') {
      groups.push({ risky: false, size: 0 });
      lastGroupRisky = false;
      lastAtomSize = 0;
    } else if (ch === ')') {
      const group = groups.pop();
      lastGroupRisky = group?.risky ?? false;
      if (group?.risky && groups.length) groups[groups.length - 1]!.risky = true;
      addAtom(group?.size ?? 0);
    } else if (ch === '|') {
      if (groups.length) groups[groups.length - 1]!.risky = true;
      lastGroupRisky = false;
    } else if (ch === '*' || ch === '+' || ch === '?') {
      if (ch === '?' && pattern[i - 1] === '(') continue; // (?: (?= (?! group forms
      quantified(ch !== '?');
      if (ch !== '?') looped();
      else {
        copied(lastAtomSize);
        optionals += lastAtomSize;
      }
      if (pattern[i + 1] === '?') i++; // lazy form
    } else if (ch === '{') {
      const bound = /^\{(\d*)(?:,(\d*))?\}/.exec(pattern.slice(i));
      if (bound) {
        if ([bound[1], bound[2]].some((n) => n && Number(n) > MAX_REGEX_REPEAT)) throw refuse(pattern, `repetition counts above ${MAX_REGEX_REPEAT}`);
        // The atom is copied (upper bound) times: the copies beyond the first count; {0,1} is x?.
        const upper = Number(bound[2] || bound[1] || 0);
        const optional = upper === 1 && bound[2] !== undefined && Number(bound[1] || 0) === 0;
        copied(optional ? lastAtomSize : lastAtomSize * Math.max(0, upper - 1));
        if (optional) optionals += lastAtomSize;
        quantified(Number(bound[2] ?? bound[1] ?? 0) > 1 || bound[2] === '');
        if (bound[2] === '') looped();
        i += bound[0].length - 1;
      }
    } else {
      lastGroupRisky = false;
      if (ch !== '^' && ch !== '$') addAtom(1);
    }
  }
  // Each copied atom and each loop about 5 equalities per concept (measured on 200,000 displays);
  // an optional atom about 10 (`.?` x 32 took 2.3 µs a concept per atom, a copy of `.{0,20}` 1 µs).
  return 4 + 5 * (copies + optionals + loops);
}
