/**
 * CORS on the admin API, so a console served from another origin can call it. OpenHIM (kcors)
 * reflects any origin with credentials; we answer any origin (OPENHIM_API_CORS_ORIGINS=*, the
 * default) without credentials, so a browser page can use the API with the credentials it holds
 * itself (basic or token headers), and let cookies (the admin session) cross origins only for the
 * origins listed: reflecting every origin with credentials would hand an admin's session to any
 * page on the same site (any port of localhost).
 */
import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';

/** OpenHIM's methods and the headers its token authentication and consoles send. */
const METHODS = ['GET', 'HEAD', 'PUT', 'POST', 'DELETE'];
const MAX_AGE_SECONDS = 600;

export interface CorsPolicy {
  /** Any origin may call without credentials. */
  anyOrigin: boolean;
  /** Origins (scheme://host[:port]) that may call with credentials (the session cookie). */
  credentialed: ReadonlySet<string>;
}

/** `*`, origins, or both, comma-separated; `none` (or empty) switches CORS off. */
export function parseCorsOrigins(value: string | undefined): CorsPolicy {
  const items = (value ?? '*').split(',').map((s) => s.trim()).filter(Boolean);
  const origins = items.filter((item) => item !== '*' && item !== 'none').map((origin) => origin.replace(/\/+$/, ''));
  return { anyOrigin: items.includes('*'), credentialed: new Set(origins) };
}

export async function installCors(app: FastifyInstance, policy: CorsPolicy): Promise<void> {
  if (!policy.anyOrigin && policy.credentialed.size === 0) return;
  await app.register(cors, {
    delegator: (request, callback) => {
      const origin = request.headers.origin;
      if (origin && policy.credentialed.has(origin)) {
        callback(null, { origin, credentials: true, methods: METHODS, maxAge: MAX_AGE_SECONDS });
      } else if (policy.anyOrigin) {
        callback(null, { origin: '*', credentials: false, methods: METHODS, maxAge: MAX_AGE_SECONDS });
      } else {
        callback(null, { origin: false });
      }
    },
  });
}
