/**
 * The registry's FHIR engine: every request runs with its sender known to the rules inside its
 * writes (request-context.ts), and a message Bundle posted to the base is a PMIR feed (pmir.ts).
 * The sender is the client the router vouched for: `senderVerificationHook` checks the router's
 * signed assertion on the raw request and passes on only a verified clientID.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { verifySenderIdentity } from '../../common/sender-identity.js';
import { FhirEngine, type FhirEngineOptions } from '../../fhir/engine.js';
import type { FhirRequest, FhirResponse } from '../../fhir/interaction.js';
import { FhirError } from '../../fhir/outcome.js';
import { IdentifierDomainCache } from './identifier-domains.js';
import { isMessageBundle, type PmirFeed } from './pmir.js';
import { asSender } from './request-context.js';

/** Set by senderVerificationHook alone (a client's copy is removed first): the verified clientID. */
export const VERIFIED_SENDER_HEADER = 'x-instant-verified-sender';

export class ClientRegistryEngine extends FhirEngine {
  private pmir?: PmirFeed;
  readonly softwareInfo: { name: string; version: string };
  /** The registered identifier domains, cached (identifier-domains.ts). */
  readonly identifierDomains: IdentifierDomainCache;

  constructor(options: FhirEngineOptions & { software: { name: string; version: string } }) {
    super(options);
    this.softwareInfo = options.software;
    this.identifierDomains = new IdentifierDomainCache(options.schema);
  }

  usePmirFeed(feed: PmirFeed): void {
    this.pmir = feed;
  }

  override async handle(request: FhirRequest, options: { baseUrl?: string } = {}): Promise<FhirResponse> {
    return asSender(request.headers[VERIFIED_SENDER_HEADER], () => {
      if (this.pmir && isMessageBundle(request)) return this.pmir.handle(this.repository(options.baseUrl), request);
      return super.handle(request, options);
    });
  }
}

/** Fastify onRequest hook: verifies the router's sender assertion; a forged or stale one is a 401. */
export function senderVerificationHook(secret: string | undefined) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    delete request.headers[VERIFIED_SENDER_HEADER];
    const path = (request.raw.url ?? '').split('?')[0]!;
    const check = verifySenderIdentity(secret, request.headers, request.method, path);
    if (check.ok === true) request.headers[VERIFIED_SENDER_HEADER] = check.clientID;
    else if (check.ok === false) {
      const outcome = new FhirError(401, 'FHIR_FORBIDDEN', `sender identity refused: ${check.reason}`).toOutcome();
      await reply.code(401).header('content-type', 'application/fhir+json').send(outcome);
    }
  };
}
