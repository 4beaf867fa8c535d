/**
 * Who may change a source record: the client that registered it (its owner, recorded on the
 * record as the tag RECORD_OWNER_SYSTEM|clientID when the router vouched for the sender) or a data
 * steward. Another client's update, conditional update, patch, delete or merge of it is 403, so a
 * clinic can no longer rewrite the national registry's record (and with it the golden record's
 * demographics) or merge it away.
 *
 * A record with no recorded owner was registered before owners were recorded, or by a caller the
 * router did not vouch for (the registry's own port, an HL7v2 feed). Its owner is then the client
 * owning a protected identifier domain (identifier-domains.ts) of one of its identifiers, and that
 * client's first change records it; with no such domain, only callers without a sender (as it was
 * registered) and stewards change it. An operator moving to owners protects each client's domain
 * (CLIENT_REGISTRY_PROTECTED_DOMAINS) so that the client keeps its older records; a steward may
 * also set the owner tag itself. A domain's owner is named only by a steward or that setting
 * (identifier-domains.ts), so no client makes itself the owner of ownerless records.
 */
import type { Coding, Patient, Resource } from '@medplum/fhirtypes';
import { FhirError } from '../../fhir/outcome.js';
import type { FhirRepository } from '../../fhir/repository.js';
import type { WriteInterceptor } from '../../fhir/write-interceptors.js';
import { isGolden } from './golden-record.js';
import type { DomainsReader, IdentifierDomains } from './identifier-domains.js';
import { callerName, currentSender, isRegistryWrite, isSteward } from './request-context.js';

export const RECORD_OWNER_SYSTEM = 'http://instant-openhie.org/fhir/cr-record-owner';

const isOwnerTag = (tag: Coding) => tag.system === RECORD_OWNER_SYSTEM;

export function recordedOwner(patient: Patient | undefined): string | undefined {
  return patient?.meta?.tag?.find(isOwnerTag)?.code;
}

/** The patient with `owner` as its only owner tag (none when undefined). */
export function withOwner(patient: Patient, owner: string | undefined): Patient {
  const tags = (patient.meta?.tag ?? []).filter((t) => !isOwnerTag(t));
  if (owner) tags.push({ system: RECORD_OWNER_SYSTEM, code: owner });
  const { tag: _old, ...meta } = patient.meta ?? {};
  return { ...patient, meta: tags.length ? { ...meta, tag: tags } : meta };
}

/** The clients that own a record: its recorded owner, else the owners of its protected domains. */
function ownersOf(patient: Patient, domains: IdentifierDomains): string[] {
  const recorded = recordedOwner(patient);
  if (recorded) return [recorded];
  const owners = new Set<string>();
  for (const identifier of patient.identifier ?? []) {
    const owner = identifier.system ? domains.owner(domains.canonical(identifier.system) ?? identifier.system) : undefined;
    if (owner) owners.add(owner);
  }
  return [...owners];
}

/**
 * Refuses (403) the current caller's change of a stored source record it may not change; answers
 * the owner to record after the change (undefined: none).
 */
export function assertMayChange(id: string, stored: Patient, domains: IdentifierDomains): string | undefined {
  const recorded = recordedOwner(stored);
  if (isSteward()) return recorded;
  const sender = currentSender();
  const owners = ownersOf(stored, domains);
  if (owners.length ? sender !== undefined && owners.includes(sender) : sender === undefined) return recorded ?? sender;
  const whose = recorded ? `client ${recorded}'s` : owners.length ? `owned by the owner of its identifier domain (${owners.join(', ').slice(0, 200)})` : 'registered without a sender (no recorded owner)';
  throw new FhirError(403, 'FHIR_FORBIDDEN',
    `${stored.resourceType ?? 'Patient'}/${id} is ${recorded ? whose + ' record' : whose}: only its owning client or a data steward may change, delete${stored.resourceType === 'Patient' ? ' or merge' : ''} it; this request came from ${callerName()}`);
}

/** Records the sender as a new record's owner and refuses changes by others (see above). */
export function recordOwnerInterceptor(readDomains: DomainsReader): WriteInterceptor {
  return {
    name: 'client registry: record owners',
    // A clinic's RelatedPersons and Subscriptions are its own as its Patients are.
    types: ['Patient', 'RelatedPerson', 'Subscription'],
    async before({ action, id, resource, previous, repo }) {
      if (isRegistryWrite()) return;
      const before = previous as Patient | undefined;
      const patient = resource as Patient | undefined;
      if (isGolden(before) || isGolden(patient)) return; // refused by the registry's own rules
      if (!before) {
        // A steward may register on a client's behalf by naming it; anyone else is the owner it is.
        const owner = isSteward() ? recordedOwner(patient) ?? currentSender() : currentSender();
        return patient ? withOwner(patient, owner) as Resource : undefined;
      }
      const owner = assertMayChange(id, before, await readDomains(repo));
      if (action === 'delete' || !patient) return;
      // A steward names a new owner: an owner tag other than the current one wins ($meta-add appends it after the current one).
      const named = (patient.meta?.tag ?? []).filter(isOwnerTag).map((t) => t.code).filter((code): code is string => !!code);
      return withOwner(patient, isSteward() ? named.find((code) => code !== owner) ?? named[0] ?? owner : owner) as Resource;
    },
  };
}

/** A merge changes both records: the caller must be allowed to change each (or be a steward). */
export async function assertMayMerge(repo: FhirRepository, readDomains: DomainsReader, source: Patient, target: Patient): Promise<void> {
  if (isSteward() || isRegistryWrite()) return;
  const domains = await readDomains(repo);
  assertMayChange(source.id!, source, domains);
  assertMayChange(target.id!, target, domains);
}
