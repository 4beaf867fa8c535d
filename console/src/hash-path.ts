/** The hash route's path and parts: pure, so the unit tests read them without the page's DOM types. */

/**
 * The page's path as the hash writes it, still encoded (its parts are decoded once, by pathParts);
 * OpenHIM's console writes `#!/...` (links in its mails: transactions, set-password), read as `#/...`.
 */
export function pathOfHash(hash: string): string {
  return hash.replace(/^#!?/, '') || '/';
}

/**
 * A path part decoded, or as written when it is no valid escape. Links encode an id with
 * encodeURIComponent; decoding the whole hash first as well turned a mediator urn's `%25` into a
 * bare `%`, and the second decoding threw (URI malformed: the mediator's page never opened).
 */
export function decodePart(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

export function pathParts(path: string): string[] {
  return path.split('/').map(decodePart);
}
