/**
 * Who sees a Subscription: the client that made it (its owner tag, record-owners.ts) and data
 * stewards; one made by a caller the router did not vouch for, only such callers. A search on
 * Subscription finds the caller's own (its owner tag added to the search, so pages and totals
 * hold); any other answer holding another's Subscription — a read, a version, a history, a
 * `_type` search, a batch entry — has it removed (404 where an answer stood for it). Every
 * Subscription in an answer has its header values masked (subscriptions.ts keeps them when sent
 * back so): the subscriber's credentials, never written to the router's transaction log.
 */
import type { Bundle, BundleEntry, Resource, Subscription } from '@medplum/fhirtypes';
import type { FhirRequest, FhirResponse } from '../../fhir/interaction.js';
import { errorResponse } from '../../fhir/engine.js';
import { FhirError } from '../../fhir/outcome.js';
import { RECORD_OWNER_SYSTEM, recordedOwner } from './record-owners.js';
import { MASKED_VALUE } from './subscriptions.js';

export interface Caller {
  sender: string | undefined;
  steward: boolean;
}

const isSubscriptionSearch = (request: FhirRequest) =>
  (request.method === 'GET' || request.method === 'HEAD') && request.path.replace(/\/+$/, '') === 'Subscription'
  || request.method === 'POST' && request.path === 'Subscription/_search';

/** A client's search on Subscription, limited to its own. */
export function scopedSubscriptionSearch(request: FhirRequest, caller: Caller): FhirRequest {
  if (caller.steward || !isSubscriptionSearch(request)) return request;
  const own: [string, string] = caller.sender ? ['_tag', `${RECORD_OWNER_SYSTEM}|${caller.sender}`] : ['_tag:not', `${RECORD_OWNER_SYSTEM}|`];
  return { ...request, query: [...request.query, own] };
}

const visibleTo = (subscription: Subscription, caller: Caller) => caller.steward || recordedOwner(subscription as never) === caller.sender;

function masked(subscription: Subscription): Subscription {
  const headers = subscription.channel?.header;
  if (!headers?.length) return subscription;
  return { ...subscription, channel: { ...subscription.channel, header: headers.map((h) => `${h.slice(0, h.indexOf(':'))}: ${MASKED_VALUE}`) } };
}

const isSubscription = (resource: Resource | undefined): resource is Subscription => resource?.resourceType === 'Subscription';

/** The answer with what the caller may not see of Subscriptions removed, and headers masked. */
export function scopedSubscriptionAnswer(response: FhirResponse, caller: Caller, request?: FhirRequest): FhirResponse {
  const resource = response.resource;
  if (isSubscription(resource)) {
    if (!visibleTo(resource, caller)) return errorResponse(new FhirError(404, 'FHIR_NOT_FOUND', `Subscription/${resource.id} is not known`));
    return { ...response, resource: masked(resource) };
  }
  if (resource?.resourceType === 'Bundle') {
    const history = request && !caller.steward && (resource as Bundle).type === 'history' ? subscriptionHistory(request) : undefined;
    if (history) {
      const hidden = (resource as Bundle).entry?.some((e) => isSubscription(e.resource) && !visibleTo(e.resource, caller));
      // Another's Subscription has no history for this caller, as it has no read.
      if (history.id && hidden) return errorResponse(new FhirError(404, 'FHIR_NOT_FOUND', `Subscription/${history.id.slice(0, 64)} is not known`));
      // The total counts every version, the caller's or not (on other pages too): it would tell how
      // many Subscriptions others hold. A history's total is optional (R4 Bundle.total).
      if (!history.id || !(resource as Bundle).entry?.length) {
        const { total: _counted, ...rest } = scopedBundle(resource as Bundle, caller);
        return { ...response, resource: rest as Bundle };
      }
    }
    return { ...response, resource: scopedBundle(resource as Bundle, caller) };
  }
  return response;
}

/** A history that may list Subscriptions: the system's, Subscription's, or one Subscription's (its id). */
function subscriptionHistory(request: FhirRequest): { id?: string } | undefined {
  if (request.method !== 'GET' && request.method !== 'HEAD') return undefined;
  const path = request.path.replace(/^\/+|\/+$/g, '');
  if (path === '_history' || path === 'Subscription/_history') return {};
  const instance = /^Subscription\/([^/]+)\/_history$/.exec(path);
  return instance ? { id: instance[1] } : undefined;
}

function scopedBundle(bundle: Bundle, caller: Caller): Bundle {
  if (!bundle.entry?.some(holdsSubscription)) return bundle;
  // An answer to a batch keeps one entry per request: another's Subscription stands as not found.
  const answersRequests = bundle.type === 'batch-response' || bundle.type === 'transaction-response';
  const entry = bundle.entry.flatMap((e): BundleEntry[] => {
    const inner = e.resource;
    if (isSubscription(inner)) {
      if (visibleTo(inner, caller)) return [{ ...e, resource: masked(inner) }];
      return answersRequests ? [{ response: { status: '404 Not Found' } }] : [];
    }
    if (inner?.resourceType === 'Bundle') return [{ ...e, resource: scopedBundle(inner as Bundle, caller) }];
    return [e];
  });
  return { ...bundle, entry };
}

function holdsSubscription(entry: BundleEntry): boolean {
  const inner = entry.resource;
  return isSubscription(inner) || (inner?.resourceType === 'Bundle' && !!(inner as Bundle).entry?.some(holdsSubscription));
}
