/**
 * The FHIR path a registry browser asks for, made safe to append to a registry's FHIR base: built
 * from the decoded route parameter (so `%73hr` or `%2e%2e` mean what they decode to), with no `.`
 * or `..` segment, each segment re-encoded, and the result checked to stay under the base.
 */

/** Encodes one path segment, keeping what FHIR paths use literally ($operation, ids with : or @). */
function encodeSegment(segment: string): string {
  return encodeURIComponent(segment).replace(/%24/g, '$').replace(/%3A/gi, ':').replace(/%40/g, '@').replace(/%2C/gi, ',');
}

/** The upstream URL, or why the path is refused (400). */
export function registryUrl(base: string, decodedPath: string, rawQuery: string): { url: string } | { refused: string } {
  const segments = decodedPath.split('/');
  if (segments.some((s) => s === '.' || s === '..')) return { refused: 'a registry path may not have . or .. segments' };
  if (segments.some((s) => s === '') && decodedPath !== '') return { refused: 'a registry path may not have empty segments' };
  const path = segments.map(encodeSegment).join('/');
  const url = `${base}/${path}${rawQuery ? `?${rawQuery}` : ''}`;
  let resolved: URL;
  try {
    resolved = new URL(url);
  } catch {
    return { refused: 'not a valid registry path' };
  }
  const baseUrl = new URL(base);
  if (resolved.origin !== baseUrl.origin || !resolved.pathname.startsWith(`${baseUrl.pathname.replace(/\/+$/, '')}/`)) {
    return { refused: 'the path leaves the registry\'s FHIR base' };
  }
  return { url };
}
