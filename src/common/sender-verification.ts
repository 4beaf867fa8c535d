/**
 * The router's signed sender assertion (sender-identity.ts) checked on a Fastify server's requests
 * as received: the request target (path and query) and the SHA-256 of the body bytes, hashed as
 * they stream in, so a captured assertion cannot vouch for another body or query. Used by the
 * services that act on who the client is (the client registry, the patient-registration mediator).
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { verifySenderIdentity } from './sender-identity.js';

/** A request's sender: a client the router vouched for, or none (no assertion: the caller is anonymous). */
export type VerifiedSender = { clientID: string; roles: string[]; signature: string; expiresAtMs: number } | undefined;

export interface SenderVerification {
  /** The key shared with the router; unset: any assertion is refused, every caller without one is anonymous. */
  secret: string | undefined;
  /**
   * Why this valid assertion may not be taken (used before: a replay), or undefined: then it is
   * refused like a forged one.
   */
  refusal?(request: FastifyRequest, sender: NonNullable<VerifiedSender>): Promise<string | undefined>;
  /** Answers a request whose assertion is refused (forged, stale, for another request, replayed). */
  refuse(request: FastifyRequest, reply: FastifyReply, reason: string): Promise<void>;
  /** Called with the verified sender, or undefined for a caller without an assertion, before the handler. */
  accept(request: FastifyRequest, sender: VerifiedSender): void;
}

const BODY_HASH = Symbol('sender identity: body digest');
type HashedRequest = FastifyRequest & { [BODY_HASH]?: Hash };

export function addSenderVerification(server: FastifyInstance, verification: SenderVerification): void {
  server.addHook('preParsing', async (request, _reply, payload) => {
    const hash = createHash('sha256');
    (request as HashedRequest)[BODY_HASH] = hash;
    const hashing = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        hash.update(chunk);
        callback(null, chunk);
      },
    });
    payload.on('error', (error) => hashing.destroy(error as Error));
    return payload.pipe(hashing);
  });
  // After the body is read (or, with no body, not read: the digest of no bytes).
  server.addHook('preHandler', async (request, reply) => {
    const digest = ((request as HashedRequest)[BODY_HASH] ?? createHash('sha256')).digest('base64url');
    const check = verifySenderIdentity(verification.secret, request.headers, request.method, request.raw.url ?? '', digest);
    if (check.ok === false) return verification.refuse(request, reply, check.reason);
    if (check.ok === 'absent') return verification.accept(request, undefined);
    const sender = { clientID: check.clientID, roles: check.roles, signature: check.signature, expiresAtMs: check.expiresAtMs };
    const refusal = await verification.refusal?.(request, sender);
    if (refusal !== undefined) return verification.refuse(request, reply, refusal);
    verification.accept(request, sender);
  });
}
