import { createPublicKey, type KeyObject } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey } from 'jose';
import type { IolConfig } from '../config.js';

/** Verifies router JWTs: HS with a shared secret, RS or ES with a public key or a JWKS URL. */
export interface JwtVerifier {
  /** The clientID (`sub`) of a valid token; throws with a reason otherwise. */
  verify(token: string): Promise<string>;
}

export function createJwtVerifier(config: IolConfig['jwt']): JwtVerifier | undefined {
  let key: Uint8Array | KeyObject | JWTVerifyGetKey | undefined;
  let defaultAlgorithms: string[];
  if (config.jwksUrl) {
    key = createRemoteJWKSet(new URL(config.jwksUrl));
    defaultAlgorithms = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'PS256'];
  } else if (config.publicKey) {
    key = createPublicKey(config.publicKey.includes('BEGIN') ? config.publicKey : Buffer.from(config.publicKey, 'base64').toString('utf8'));
    defaultAlgorithms = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'PS256'];
  } else if (config.secret) {
    key = new TextEncoder().encode(config.secret);
    defaultAlgorithms = ['HS256', 'HS384', 'HS512'];
  } else return undefined;
  const algorithms = config.algorithms ?? defaultAlgorithms;
  const resolved = key;
  return {
    async verify(token: string): Promise<string> {
      const options = {
        algorithms,
        ...(config.audience ? { audience: config.audience } : {}),
        ...(config.issuer ? { issuer: config.issuer } : {}),
      };
      const { payload } =
        typeof resolved === 'function' ? await jwtVerify(token, resolved, options) : await jwtVerify(token, resolved, options);
      if (!payload.sub) throw new Error('the token has no sub (the clientID)');
      return payload.sub;
    },
  };
}
