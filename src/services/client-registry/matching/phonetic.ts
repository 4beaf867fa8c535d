/** Phonetic codes: names that sound alike get the same code whatever their spelling. */
import { doubleMetaphone as doubleMetaphoneCodes } from 'double-metaphone';

const SOUNDEX_DIGITS: Record<string, string> = {
  b: '1', f: '1', p: '1', v: '1',
  c: '2', g: '2', j: '2', k: '2', q: '2', s: '2', x: '2', z: '2',
  d: '3', t: '3',
  l: '4',
  m: '5', n: '5',
  r: '6',
};

/**
 * American Soundex (the census rules): first letter, then up to three digits; letters coding
 * alike and separated only by h or w count once; vowels separate them. Non-letters are ignored;
 * '' when there is no letter.
 */
export function soundex(value: string): string {
  const letters = value.toLowerCase().replace(/[^a-z]/g, '');
  if (!letters) return '';
  let code = letters[0].toUpperCase();
  let last = SOUNDEX_DIGITS[letters[0]] ?? '';
  for (let i = 1; i < letters.length && code.length < 4; i++) {
    const letter = letters[i];
    const digit = SOUNDEX_DIGITS[letter];
    if (digit) {
      if (digit !== last) code += digit;
      last = digit;
    } else if (letter !== 'h' && letter !== 'w') {
      last = ''; // a vowel separates two letters of the same code
    }
  }
  return code.padEnd(4, '0');
}

/** Double Metaphone primary and alternate codes ('' for no letters). */
export function doubleMetaphone(value: string): [string, string] {
  const letters = value.replace(/[^A-Za-z]/g, '');
  if (!letters) return ['', ''];
  const [primary, alternate] = doubleMetaphoneCodes(letters);
  return [primary, alternate];
}
