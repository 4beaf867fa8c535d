/**
 * The registry's FHIR engine: every request runs with its sender known to the rules inside its
 * writes (request-context.ts), and a message Bundle posted to the base is a PMIR feed (pmir.ts).
 * The sender is the client the router vouched for: `addRegistrySenderVerification` checks the router's
 * signed assertion on the raw request and passes on only a verified clientID.
 */
import type { FastifyInstance } from 'fastify';
import { addSenderVerification } from '../../common/sender-verification.js';
import { FhirEngine, errorResponse, type FhirEngineOptions } from '../../fhir/engine.js';
import type { FhirRequest, FhirResponse } from '../../fhir/interaction.js';
import { FhirError } from '../../fhir/outcome.js';
import { sendFhirError } from '../../fhir/http/fastify.js';
import { IdentifierDomainCache, type DomainsReader } from './identifier-domains.js';
import { isPatientSearch, keepRequestedDomains, pdqmSearchExtension } from './pdqm-search.js';
import { messageRequest, type PmirFeed } from './pmir.js';
import { isResolveDuplicate, type DuplicateResolution } from './resolve-duplicate.js';
import { STEWARD_ROLE, asSender } from './request-context.js';
import { scopedSubscriptionAnswer, scopedSubscriptionSearch } from './subscription-access.js';
import { DELIVERY_HEADER } from './subscriptions.js';
import type { DirectCallers } from './stewards.js';
import type { UsedSenderSignatures } from './used-sender-signatures.js';

/** Set by senderVerificationHook alone (a client's copy is removed first): the verified clientID. */
export const VERIFIED_SENDER_HEADER = 'x-instant-verified-sender';
/** Set by senderVerificationHook alone: "true" when the caller is a data steward (stewards.ts). */
export const VERIFIED_STEWARD_HEADER = 'x-instant-verified-steward';

export class ClientRegistryEngine extends FhirEngine {
  private pmir?: PmirFeed;
  readonly softwareInfo: { name: string; version: string };
  /** The registered identifier domains, cached (identifier-domains.ts). */
  readonly identifierDomains: IdentifierDomainCache;
  /** PDQm ITI-78 3.78.4.4.2: a Patient read in a format the supplier cannot produce is 400 (a search stays 406, Case 5). */
  override readonly unsupportedReadFormatStatus = 400 as const;

  constructor(options: FhirEngineOptions & { software: { name: string; version: string } }) {
    super(options);
    this.softwareInfo = options.software;
    this.identifierDomains = new IdentifierDomainCache(options.schema);
  }

  usePmirFeed(feed: PmirFeed): void {
    this.pmir = feed;
  }

  /** PIXm ITI-104's "resolve duplicate": a PUT of a Patient with a `replaced-by` link is a merge (resolve-duplicate.ts). */
  useDuplicateResolution(resolution: DuplicateResolution): void {
    this.duplicates = resolution;
  }

  private duplicates?: DuplicateResolution;

  /** PDQm ITI-78 on Patient searches (pdqm-search.ts): domains resolved, a total, identifiers of the asked domains. */
  usePdqmSearch(readDomains: DomainsReader): void {
    this.pdqmDomains = readDomains;
    this.addSearchExtension(pdqmSearchExtension(readDomains));
  }

  private pdqmDomains?: DomainsReader;

  private async resolveDuplicate(duplicates: DuplicateResolution, request: FhirRequest, baseUrl: string | undefined): Promise<FhirResponse> {
    try {
      return await duplicates.handle(this.repository(baseUrl), request);
    } catch (error) {
      return errorResponse(error);
    }
  }

  override async handle(request: FhirRequest, options: { baseUrl?: string } = {}): Promise<FhirResponse> {
    const caller = { sender: request.headers[VERIFIED_SENDER_HEADER], steward: request.headers[VERIFIED_STEWARD_HEADER] === 'true' };
    return asSender(caller.sender, async () => scopedSubscriptionAnswer(await this.answer(scopedSubscriptionSearch(request, caller), options), caller, request), caller.steward);
  }

  private async answer(request: FhirRequest, options: { baseUrl?: string }): Promise<FhirResponse> {
    // A subscription's delivery that came back here (its endpoint is this registry, directly or
    // through the router) would feed the registry changes of its own without end.
    if (request.headers[DELIVERY_HEADER] && request.method !== 'GET' && request.method !== 'HEAD') {
      return errorResponse(new FhirError(508, 'FHIR_FORBIDDEN', `this is a delivery of this registry's Subscription/${String(request.headers[DELIVERY_HEADER]).slice(0, 64)} sent back to it, which would loop: point the subscription at its subscriber`));
    }
    if (this.pmir) {
      let message: FhirRequest | undefined;
      try {
        message = messageRequest(request);
      } catch (error) {
        return errorResponse(error);
      }
      if (message) return this.pmir.handle(this.repository(options.baseUrl), message);
    }
    if (this.duplicates && isResolveDuplicate(request)) return this.resolveDuplicate(this.duplicates, request, options.baseUrl);
    const response = await super.handle(request, options);
    if (this.pdqmDomains && isPatientSearch(request)) return keepRequestedDomains(this.repository(options.baseUrl), this.pdqmDomains, request, response);
    return response;
  }
}

const READS = new Set(['GET', 'HEAD']);
const REPLAYED = 'this sender identity was already used (a replayed request)';

/**
 * The router's sender assertion, checked on the request as received (common/sender-verification.ts).
 * A forged, stale or mismatched one is a 401, and so is one already used for a write (`used`): a
 * write is vouched for once. Reads are not recorded (a replayed read tells the attacker what the
 * captured answer did; recording it would be a database write per search). The verified sender
 * reaches the engine in headers only this hook sets (a client's copies are removed first).
 */
export function addRegistrySenderVerification(server: FastifyInstance, secret: string | undefined, used?: UsedSenderSignatures, directCallers: DirectCallers = 'anonymous'): void {
  server.addHook('onRequest', async (request) => {
    delete request.headers[VERIFIED_SENDER_HEADER];
    delete request.headers[VERIFIED_STEWARD_HEADER];
  });
  addSenderVerification(server, {
    secret,
    ...(used ? {
      refusal: async (request, sender) => !READS.has(request.method) && !(await used.use(sender.signature, sender.expiresAtMs)) ? REPLAYED : undefined,
    } : {}),
    refuse: (request, reply, reason) => sendFhirError(request, reply, new FhirError(401, 'FHIR_FORBIDDEN', `sender identity refused: ${reason}`)),
    accept(request, sender) {
      if (sender) {
        request.headers[VERIFIED_SENDER_HEADER] = sender.clientID;
        if (sender.roles.includes(STEWARD_ROLE)) request.headers[VERIFIED_STEWARD_HEADER] = 'true';
      } else if (directCallers === 'steward') {
        // No assertion: a caller on the registry's own port, trusted only where the operator says so.
        request.headers[VERIFIED_STEWARD_HEADER] = 'true';
      }
    },
  });
}
