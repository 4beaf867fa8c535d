/**
 * PIXm ITI-104 "Resolve Patient duplicate" (2:3.104.4.2): the Patient Identity Source PUTs the
 * duplicate record (a conditional update by its identifier, or an update by id) with a
 * `replaced-by` link to the surviving record, named by identifier as the profile's example does
 * (or by reference). The registry applies it as a merge (merge.ts), in one transaction: the rest
 * of the duplicate's content is written as an update, then the duplicate is merged into the
 * survivor (inactive, `replaced-by`, its golden link moved), so PIXm and PDQm answer with the
 * survivor from then on. A resend of a merge already done (after a lost answer) changes nothing.
 */
import type { Identifier, Patient, PatientLink } from '@medplum/fhirtypes';
import { versionHeaders, type FhirRequest, type FhirResponse } from '../../fhir/interaction.js';
import { FhirError, badRequest } from '../../fhir/outcome.js';
import type { FhirRepository } from '../../fhir/repository.js';
import { applyReturnPreference } from '../../fhir/router.js';
import { withLinks } from './golden-record.js';
import type { DomainsReader } from './identifier-domains.js';
import { demographicsChanged, readPatient } from './linker.js';
import type { PatientMerger } from './merge.js';
import { recordsHolding } from './records-by-identifier.js';
import { replacedBy } from './registry-ownership.js';

const ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** `PUT Patient/<id>` or `PUT Patient?<criteria>` of a Patient with a `replaced-by` link. */
export function isResolveDuplicate(request: FhirRequest): boolean {
  if (request.method !== 'PUT' || !/^\/*Patient(\/[^/]+)?\/*$/.test(request.path)) return false;
  const body = request.body as { resourceType?: unknown; link?: unknown } | undefined;
  return body?.resourceType === 'Patient' && Array.isArray(body.link) && body.link.some((l) => (l as PatientLink | null)?.type === 'replaced-by');
}

export class DuplicateResolution {
  constructor(private readonly merger: PatientMerger, private readonly readDomains: DomainsReader) {}

  async handle(repo: FhirRepository, request: FhirRequest): Promise<FhirResponse> {
    const patient = request.body as Patient;
    const survivorLinks = (patient.link ?? []).filter((l) => l?.type === 'replaced-by');
    if (survivorLinks.length !== 1) throw badRequest('a duplicate is replaced by one record: give one link of type replaced-by');
    const id = /^\/*Patient\/([^/]+)/.exec(request.path)?.[1];
    if (id !== undefined && !ID.test(id)) throw badRequest(`"${id.slice(0, 80)}" is not a valid resource id`, 'FHIR_INVALID_ID');
    const preconditions = { ifMatch: request.headers['if-match'], ifNoneMatch: request.headers['if-none-match'] };
    const response = await repo.transaction(async (tx): Promise<FhirResponse> => {
      const current = id !== undefined ? await readPatient(tx, id) : await this.matchedDuplicate(tx, request.query);
      const survivor = await this.survivorOf(tx, survivorLinks[0]!);
      if (current?.id === survivor) throw new FhirError(422, 'FHIR_INVALID_RESOURCE', `Patient/${survivor} cannot be replaced by itself: the replaced-by link names the record being updated`);
      // Its other content is an update as any; `active` is the merge's to set (and unmerge's to restore).
      const content = withLinks(patient, (patient.link ?? []).filter((l) => l?.type !== 'replaced-by'));
      delete content.active;
      if (current?.active !== undefined) content.active = current.active;
      // Already merged into that record: a resend (inactive and saying what it said, after a lost
      // answer) is answered as the record stands; anything else is a write to a merged record (409).
      if (current && replacedBy(current) === survivor) {
        if (patient.active !== false || demographicsChanged(current, await this.asStored(tx, content))) {
          throw new FhirError(409, 'FHIR_CONFLICT', `Patient/${current.id} was merged into Patient/${survivor}: a merged record is not written to; unmerge first ($cr-unmerge) to change it`);
        }
        return { status: 200, resource: current, headers: versionHeaders(current, tx.baseUrl, true) };
      }
      const written = id !== undefined
        ? await tx.update('Patient', id, content, { ...preconditions, keepLabels: true })
        : await tx.conditionalUpdate('Patient', request.query, content, { strict: true, ...preconditions, keepLabels: true });
      const duplicate = written.resource.id!;
      const named = survivorLinks[0]!.other?.identifier;
      await this.merger.merge(tx, duplicate, survivor, 'PIXm ITI-104', named ? { system: named.system!, value: named.value! } : undefined);
      const merged = await tx.read('Patient', duplicate);
      return { status: written.created ? 201 : 200, resource: merged, headers: versionHeaders(merged, tx.baseUrl, true) };
    });
    return applyReturnPreference(request, response);
  }

  /** The patient's identifiers as the registry stores them (each domain by its URL), to compare with a stored record. */
  private async asStored(repo: FhirRepository, patient: Patient): Promise<Patient> {
    if (!patient.identifier?.length) return patient;
    const domains = await this.readDomains(repo);
    return { ...patient, identifier: patient.identifier.map((i) => (i?.system ? { ...i, system: domains.canonical(i.system) ?? i.system } : i)) };
  }

  /** The record a conditional update's criteria name (none: it will be created; several: 412). */
  private async matchedDuplicate(repo: FhirRepository, query: FhirRequest['query']): Promise<Patient | undefined> {
    return (await repo.matchConditional('Patient', query, true, 'conditional update'))[0] as Patient | undefined;
  }

  /** The surviving record a `replaced-by` link names: by reference, by identifier, or both (then they must agree). */
  private async survivorOf(repo: FhirRepository, link: PatientLink): Promise<string> {
    const reference = link.other?.reference;
    const identifier = link.other?.identifier as Identifier | undefined;
    let referenced: string | undefined;
    if (reference !== undefined) {
      const local = typeof reference === 'string' && reference.startsWith(`${repo.baseUrl}/`) ? reference.slice(repo.baseUrl.length + 1) : reference;
      referenced = /^Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(String(local))?.[1];
      if (!referenced) throw new FhirError(422, 'FHIR_INVALID_RESOURCE', 'the replaced-by link must reference a Patient of this registry (Patient/<id>) or name it by identifier');
    }
    if (!identifier) {
      if (!referenced) throw new FhirError(422, 'FHIR_INVALID_RESOURCE', 'the replaced-by link must name the surviving record: link.other.identifier (system and value) or link.other.reference');
      return referenced;
    }
    if (typeof identifier.system !== 'string' || typeof identifier.value !== 'string' || !identifier.system || !identifier.value) {
      throw new FhirError(422, 'FHIR_INVALID_RESOURCE', 'the replaced-by link\'s identifier needs a system and a value');
    }
    const ids = await recordsHolding(repo, this.readDomains, [identifier]);
    const named = `${identifier.system}|${identifier.value}`.slice(0, 300);
    if (referenced) {
      if (ids.includes(referenced)) return referenced;
      throw new FhirError(422, 'FHIR_INVALID_RESOURCE', `the replaced-by link references Patient/${referenced}, which does not carry its identifier ${named}`);
    }
    if (ids.length !== 1) {
      throw new FhirError(422, 'FHIR_INVALID_RESOURCE', `the replaced-by link's identifier ${named} must name exactly one record of the registry; it names ${ids.length ? 'several' : 'none'}: register the surviving record first`);
    }
    return ids[0]!;
  }
}
