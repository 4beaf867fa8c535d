/**
 * Who is calling: the Authorization header (Bearer JWT, Custom token, Basic), then the mutual TLS
 * certificate's fingerprint, each switchable: OpenHIM's order (koaMiddleware.js), so credentials
 * in the header name the client even over a connection whose certificate names another. Wrong
 * credentials do not end the request here: a public channel may still take it, or a known
 * certificate; authoriseClient refuses it otherwise.
 */
import type { Exchange, RouterDeps } from '../exchange.js';
import { sha256hex, verifyAgainstDummy } from '../../passwords.js';
import { verifyClientPassword } from '../../client-passwords.js';
import type { ClientEntry } from '../../routing-table.js';

/** Basic credentials as RFC 7617 and OpenHIM's basic-auth take them (token68: base64, or base64url). */
const TOKEN68 = /^[A-Za-z0-9._~+/-]+=*$/;

/** An Authorization header's scheme (lower-cased) and credentials. */
function splitAuthorization(authorization: string): { scheme: string; credentials: string } {
  const space = authorization.indexOf(' ');
  return space > 0
    ? { scheme: authorization.slice(0, space).toLowerCase(), credentials: authorization.slice(space + 1).trim() }
    : { scheme: authorization.toLowerCase(), credentials: '' };
}

/** Basic credentials decoded; undefined when they are not token68. clientID undefined without a colon. */
function decodeBasic(credentials: string): { clientID: string | undefined; password: string } | undefined {
  if (!TOKEN68.test(credentials)) return undefined;
  const decoded = Buffer.from(credentials, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return { clientID: colon > 0 ? decoded.slice(0, colon) : undefined, password: decoded.slice(colon + 1) };
}

/** The verification cache's key: the stored hash is part of it, so a verification of the old password never answers for a changed one. */
function passwordSubject(entry: ClientEntry): string | undefined {
  const hash = entry.secrets.passwordHash;
  return hash ? `client:${entry.client.clientID}\0${hash}` : undefined;
}

async function checkClientPassword(deps: RouterDeps, entry: ClientEntry, password: string): Promise<boolean> {
  const subject = passwordSubject(entry);
  if (!subject) return verifyAgainstDummy(password);
  if (deps.verified.has(subject, password)) return true;
  const ok = await verifyClientPassword(entry.secrets, password, deps.config.limits.clientBcryptMaxCost, deps.bcryptGate);
  if (ok) deps.verified.remember(subject, password);
  return ok;
}

/**
 * Synchronous when the answer is known at once (no credentials, a certificate, a custom token,
 * Basic credentials verified minutes ago): a promise per request costs every routed request.
 * Only a password to verify (scrypt) or a JWT to check returns one.
 */
export function authenticateClient(exchange: Exchange, deps: RouterDeps): void | Promise<void> {
  const { request } = exchange;
  const authorization = request.headers.authorization;
  if (authorization && deps.config.routerAuthTypes.has('basic')) {
    const { scheme, credentials } = splitAuthorization(authorization);
    const basic = scheme === 'basic' ? decodeBasic(credentials) : undefined;
    const entry = basic?.clientID !== undefined ? deps.routing.client(basic.clientID) : undefined;
    const subject = entry ? passwordSubject(entry) : undefined;
    if (entry && subject && deps.verified.has(subject, basic!.password)) {
      exchange.client = entry.client;
      return;
    }
  }
  return authenticateClientFully(exchange, deps);
}

async function authenticateClientFully(exchange: Exchange, deps: RouterDeps): Promise<void> {
  const types = deps.config.routerAuthTypes;
  const { request } = exchange;
  await authenticateByHeader(exchange, deps);
  if (!exchange.client && types.has('mutual-tls') && request.peerFingerprint) {
    // OpenHIM: the certificate must be trusted (keystore /keystore/ca) and name a client by its fingerprint.
    const trusted = request.peerTrusted || deps.config.tlsClientTrust === 'pinned';
    const entry = trusted ? deps.routing.clientByFingerprint(request.peerFingerprint) : undefined;
    if (entry) exchange.client = entry.client;
    else exchange.authFailure ??= trusted ? 'the client certificate belongs to no client' : 'the client certificate is not trusted: add it (or its issuer) to the keystore (POST /keystore/ca/cert)';
  }
  // A certificate that named the client stands in for wrong credentials in the header (as OpenHIM's steps fall through).
  if (exchange.client) exchange.authFailure = undefined;
  if (exchange.authFailure) {
    deps.metrics.countAuthFailure('router');
    deps.audits.record({
      kind: 'auth-failure',
      action: 'E',
      success: false,
      description: exchange.authFailure,
      address: request.clientIP,
      entity: `${request.method} ${request.path}`,
    });
  }
}

/** The Authorization header's credentials: Basic, Custom token or Bearer JWT, as switched on. */
async function authenticateByHeader(exchange: Exchange, deps: RouterDeps): Promise<void> {
  const types = deps.config.routerAuthTypes;
  const authorization = exchange.request.headers.authorization;
  if (!authorization) return;
  const { scheme, credentials } = splitAuthorization(authorization);
  const basic = scheme === 'basic' && types.has('basic') ? decodeBasic(credentials) : undefined;
  if (scheme === 'basic' && types.has('basic') && !basic) {
    exchange.authFailure = 'the Basic credentials are not base64';
  } else if (basic) {
    const entry = basic.clientID !== undefined ? deps.routing.client(basic.clientID) : undefined;
    const { password } = basic;
    // An unknown clientID costs the same scrypt as a known one: the time does not tell which exist.
    const ok = entry ? await checkClientPassword(deps, entry, password) : await verifyAgainstDummy(password);
    if (entry && ok) exchange.client = entry.client;
    else exchange.authFailure = 'wrong clientID or password';
  } else if (scheme === 'custom' && types.has('token')) {
    const entry = deps.routing.clientByTokenHash(sha256hex(credentials));
    if (entry) exchange.client = entry.client;
    else exchange.authFailure = 'unknown custom token';
  } else if (scheme === 'bearer' && types.has('jwt') && deps.jwt) {
    try {
      const clientID = await deps.jwt.verify(credentials);
      const entry = deps.routing.client(clientID);
      if (entry) exchange.client = entry.client;
      else exchange.authFailure = `the token's subject ${clientID} is no client`;
    } catch (error) {
      exchange.authFailure = `invalid token: ${(error as Error).message}`;
    }
  } else {
    exchange.authFailure = `authentication scheme "${scheme}" is not accepted here`;
  }
}
