/** Hash routes (#/channels/abc): the console server serves one page, and links work without it knowing them. */
import { useEffect, useState } from 'preact/hooks';

/**
 * The page's path as the hash writes it, still encoded (its parts are decoded once, by pathParts);
 * OpenHIM's console writes `#!/...` (links in its mails: transactions, set-password), read as `#/...`.
 */
export function pathOfHash(hash: string): string {
  return hash.replace(/^#!?/, '') || '/';
}

export function currentPath(): string {
  return pathOfHash(location.hash);
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

export function useHashPath(): string {
  const [path, setPath] = useState(currentPath());
  useEffect(() => {
    const update = () => setPath(currentPath());
    addEventListener('hashchange', update);
    return () => removeEventListener('hashchange', update);
  }, []);
  return path;
}

export function navigate(path: string): void {
  location.hash = `#${path}`;
}

export const href = (path: string): string => `#${path}`;
