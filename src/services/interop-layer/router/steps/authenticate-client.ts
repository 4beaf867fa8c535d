/**
 * Who is calling: mutual TLS certificate fingerprint, then the Authorization header (Basic,
 * Custom token, Bearer JWT), each switchable. Wrong credentials do not end the request here:
 * a public channel may still take it; authoriseClient refuses it otherwise.
 */
import { createHash } from 'node:crypto';
import type { Exchange, RouterDeps } from '../exchange.js';
import { safeEqual, sha256hex, verifyAgainstDummy, verifyPassword } from '../../passwords.js';
import type { ClientEntry } from '../../routing-table.js';

async function checkClientPassword(deps: RouterDeps, entry: ClientEntry, password: string): Promise<boolean> {
  const { passwordAlgorithm, passwordHash, passwordSalt } = entry.secrets;
  if (!passwordHash) return verifyAgainstDummy(password);
  // The stored hash is part of the key: a verification of the old password can never answer for
  // a client whose password changed, whenever the change reaches this replica's cache.
  const subject = `client:${entry.client.clientID}\0${passwordHash}`;
  if (deps.verified.has(subject, password)) return true;
  let ok: boolean;
  if (passwordAlgorithm === 'scrypt') ok = await verifyPassword(password, passwordHash);
  else {
    // OpenHIM console clients: hex(hash(password + salt)) with the named algorithm.
    const algorithm = passwordAlgorithm ?? 'sha512';
    if (!['sha512', 'sha256', 'sha1'].includes(algorithm)) return verifyAgainstDummy(password);
    ok = safeEqual(createHash(algorithm).update(password).update(passwordSalt ?? '').digest('hex'), passwordHash);
  }
  if (ok) deps.verified.remember(subject, password);
  return ok;
}

export async function authenticateClient(exchange: Exchange, deps: RouterDeps): Promise<void> {
  const types = deps.config.routerAuthTypes;
  const { request } = exchange;
  if (types.has('mutual-tls') && request.peerFingerprint) {
    // OpenHIM: the certificate must be trusted (keystore /keystore/ca) and name a client by its fingerprint.
    const trusted = request.peerTrusted || deps.config.tlsClientTrust === 'pinned';
    const entry = trusted ? deps.routing.clientByFingerprint(request.peerFingerprint) : undefined;
    if (entry) {
      exchange.client = entry.client;
      return;
    }
    exchange.authFailure = trusted ? 'the client certificate belongs to no client' : 'the client certificate is not trusted: add it (or its issuer) to the keystore (POST /keystore/ca/cert)';
  }
  const authorization = request.headers.authorization;
  if (!authorization) return;
  const space = authorization.indexOf(' ');
  const scheme = (space > 0 ? authorization.slice(0, space) : authorization).toLowerCase();
  const credentials = space > 0 ? authorization.slice(space + 1).trim() : '';
  if (scheme === 'basic' && types.has('basic')) {
    const decoded = Buffer.from(credentials, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const entry = colon > 0 ? deps.routing.client(decoded.slice(0, colon)) : undefined;
    const password = decoded.slice(colon + 1);
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
  // Credentials in the header that worked win over an unknown certificate offered before.
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
