/** Hash routes (#/channels/abc): the console server serves one page, and links work without it knowing them. */
import { useEffect, useState } from 'preact/hooks';
import { pathOfHash } from './hash-path';

export { decodePart, pathOfHash, pathParts } from './hash-path';

export function currentPath(): string {
  return pathOfHash(location.hash);
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
