/**
 * Nesting depth of JSON text, found by one linear scan before parsing: a 16 MB body of `[[[[…`
 * is refused in milliseconds instead of costing seconds of JSON.parse (and gigabytes) first.
 */

/** The depth past the limit, or undefined when the text nests at most `maxDepth` levels. */
export function jsonNestingExceeds(text: string, maxDepth: number): number | undefined {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
      continue;
    }
    if (c === 34) inString = true;
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > maxDepth) return depth;
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return undefined;
}
