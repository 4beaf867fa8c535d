import { createPublicKey, type KeyObject } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify, type JWTVerifyGetKey, type JWTVerifyOptions } from 'jose';
import type { IolConfig } from '../config.js';
import { IolError } from '../errors.js';

/** Verifies router JWTs: HS with a shared secret, RS or ES with a public key or a JWKS URL. */
export interface JwtVerifier {
  /** The clientID (`sub`) of a valid token; throws with a reason otherwise. */
  verify(token: string): Promise<string>;
}

/** Clock skew allowed on exp/nbf/iat: small, so an expired token stops working soon after. */
const CLOCK_TOLERANCE_SECONDS = 5;
const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'PS256'];
const SYMMETRIC = ['HS256', 'HS384', 'HS512'];

export function createJwtVerifier(config: IolConfig['jwt']): JwtVerifier | undefined {
  let key: Uint8Array | KeyObject | JWTVerifyGetKey | undefined;
  let family: string[];
  if (config.jwksUrl) {
    key = createRemoteJWKSet(new URL(config.jwksUrl));
    family = ASYMMETRIC;
  } else if (config.publicKey) {
    key = createPublicKey(config.publicKey.includes('BEGIN') ? config.publicKey : Buffer.from(config.publicKey, 'base64').toString('utf8'));
    family = ASYMMETRIC;
  } else if (config.secret) {
    key = new TextEncoder().encode(config.secret);
    family = SYMMETRIC;
  } else return undefined;
  // Only the algorithms of the key's family: an HS token "signed" with the public key as its
  // secret (algorithm confusion) or `alg: none` never reaches a signature check.
  const algorithms = config.algorithms ?? family;
  const foreign = algorithms.filter((a) => !family.includes(a));
  if (foreign.length) {
    throw new IolError(500, 'IOL_JWT_CONFIG', `OPENHIM_JWT_ALGORITHMS names ${foreign.join(', ')}, which the configured key cannot verify`,
      `use only ${family.join(', ')} with ${family === SYMMETRIC ? 'OPENHIM_JWT_SECRET' : 'a public key or JWKS'}`);
  }
  const options: JWTVerifyOptions = {
    algorithms,
    clockTolerance: CLOCK_TOLERANCE_SECONDS,
    ...(config.requireExp ? { requiredClaims: ['exp'] } : {}),
    ...(config.audience ? { audience: config.audience } : {}),
    ...(config.issuer ? { issuer: config.issuer } : {}),
  };
  const resolved = key;
  return {
    async verify(token: string): Promise<string> {
      const { payload } =
        typeof resolved === 'function' ? await jwtVerify(token, resolved, options) : await jwtVerify(token, resolved, options);
      if (!payload.sub) throw new Error('the token has no sub (the clientID)');
      return payload.sub;
    },
  };
}
