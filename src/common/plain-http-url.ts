/**
 * An http(s) URL as a setting may name a place (a FHIR base, an allowed destination): no
 * credentials, query or fragment, which would be sent along or make two spellings of one place.
 * Undefined when the text is not such a URL.
 */
export function plainHttpUrl(text: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  return url.username || url.password || url.search || url.hash ? undefined : url;
}
