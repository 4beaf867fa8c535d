/** The names of the exchange's own session cookies, kept in one place so the router can drop them. */
export const IOL_SESSION_COOKIE = 'iol.session';
export const CONSOLE_SESSION_COOKIE = 'console.session';

/** Every name a browser may send them under (over HTTPS the console's has the __Host- prefix). */
export const OWN_SESSION_COOKIES: ReadonlySet<string> = new Set([IOL_SESSION_COOKIE, CONSOLE_SESSION_COOKIE].flatMap((name) => [name, `__Host-${name}`]));
