/**
 * The request target as an access log line shows it (the router's lines and the Fastify
 * services'): never a query, path parameters or URL userinfo, which can carry credentials.
 */
/**
 * Enough to tell requests apart; the target itself is bounded by the HTTP server's header size,
 * this only keeps one line readable (a display cap, not a protection: no setting).
 */
const MAX_LOGGED_PATH_CHARS = 256;
/** An absolute-form target (`http://user:pw@host/path`): scheme and authority go, the path stays. */
const ABSOLUTE_FORM = /^[a-z][a-z0-9+.-]*:\/\/[^/?#;]*/i;
/**
 * Userinfo after `//` anywhere in the path (`//user:pw@host/...`, `/a//user:pw@h/...`), also with
 * backslashes or percent-encoded slashes and `@` (`/%2F%2Fuser:pw%40h`, `/\\user:pw@h`).
 */
const USERINFO = /(\/\/|\\\\|\/\\|\\\/|%2f%2f|\/%2f|%2f\/|%5c%5c|\/%5c|%5c\/)[^/\\]*?(?:@|%40)/gi;

/**
 * The request target as logged: no scheme, authority or userinfo (an absolute-form or `//` target
 * can carry `user:password@`), cut at the first `?`, `#`, `;` (path parameters such as
 * `;jsessionid=`) or encoded `?` (`%3F`, a query in disguise), and capped.
 */
export function loggablePath(target: string): string {
  let path = target.replace(ABSOLUTE_FORM, '');
  const cut = path.search(/[?#;]|%3f/i);
  if (cut >= 0) path = path.slice(0, cut);
  path = path.replace(USERINFO, '$1');
  if (!path.startsWith('/')) path = `/${path}`;
  return path.length > MAX_LOGGED_PATH_CHARS ? `${path.slice(0, MAX_LOGGED_PATH_CHARS)}…` : path;
}
