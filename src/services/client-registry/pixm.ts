/**
 * PIXm ITI-83 `GET [base]/Patient/$ihe-pix?sourceIdentifier=system|value[&targetSystem=...]`
 * (PIXm 3.x): the Patient Identifiers of the person, business identifiers and the logical ids of
 * the Patient resources. `sourceIdentifier` is a business identifier (`domain|value`) or a Patient's
 * logical id on this server (`[base]|Patient/<id>`, 3.83.4.1.2.1); `targetSystem` names domains, or
 * this server's base for logical ids. The answer has one `targetIdentifier` per business identifier
 * of the person's source records and one `targetId` per Patient resource of the person (the golden
 * record first: the enterprise identity; then each source record), the source identifier itself
 * left out (3.83.4.2.2.1). A retired (merged) record's identifiers answer nothing (200, no
 * parameter: 3.83.4.2.2.5), and a retired record is not among the person's. A domain asked by its
 * OID (`targetSystem=urn:oid:...`) has its identifiers answered in that form (domain-forms.ts). Errors as the profile
 * requires: unknown sourceIdentifier domain 400, unknown identifier 404, unknown targetSystem 403,
 * each an OperationOutcome with the profile's diagnostics.
 */
import type { Identifier, OperationOutcome, Parameters, ParametersParameter, Patient } from '@medplum/fhirtypes';
import type { FhirResponse } from '../../fhir/interaction.js';
import type { FhirOperation } from '../../fhir/operations/registry.js';
import { badRequest } from '../../fhir/outcome.js';
import { splitEscaped, splitValues, tokenParts } from '../../fhir/search/parse.js';
import { escapeSearchValue } from '../../common/search-value-escape.js';
import type { FhirRepository } from '../../fhir/repository.js';
import { isGolden } from './golden-record.js';
import { askedDomainForms, inAskedForm } from './domain-forms.js';
import type { DomainsReader } from './identifier-domains.js';
import { readPatient } from './linker.js';
import { replacedBy } from './registry-ownership.js';
import type { RegistryStore } from './store.js';

/** At most this many source records answer one identifier (a domain's identifier names one person). */
const MAX_SOURCES = 50;

function pixError(status: number, code: 'code-invalid' | 'not-found' | 'invalid', diagnostics: string): FhirResponse {
  const outcome: OperationOutcome = { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics }] };
  return { status, resource: outcome };
}

const notFound = (): FhirResponse => pixError(404, 'not-found', 'sourceIdentifier Patient Identifier not found');
/** 3.83.4.2.2.5: the patient was merged away (deprecated): 200 with no result. */
const retired = (): Parameters => ({ resourceType: 'Parameters' });

/** A parameter's values: a search value's comma-separated parts (escapes removed), or an Identifier's system. */
function values(parameters: Parameters, name: string): string[] {
  return (parameters.parameter ?? []).filter((p) => p.name === name).flatMap((p) => {
    const value = p.valueString ?? p.valueUri ?? p.valueCode;
    if (value !== undefined) return splitValues(value);
    return p.valueIdentifier?.system !== undefined ? [p.valueIdentifier.system] : [];
  });
}

/**
 * The sourceIdentifier's system and value: a token (`system|value`, a `|`, `,` or `\` in either
 * escaped with a backslash, search.html#escaping) or, in a POSTed Parameters, an Identifier.
 */
function sourceIdentifiers(parameters: Parameters): Array<{ system?: string; code: string }> {
  return (parameters.parameter ?? []).filter((p) => p.name === 'sourceIdentifier').flatMap((p) => {
    if (p.valueIdentifier) return [{ system: p.valueIdentifier.system ?? '', code: p.valueIdentifier.value ?? '' }];
    const value = p.valueString ?? p.valueUri ?? p.valueCode;
    return value === undefined ? [] : splitEscaped(value).map(tokenParts);
  });
}

/** A targetSystem naming this server's base: the logical ids of its Patient resources are wanted. */
const LOGICAL_IDS = ' logical ids'; // not a URI: no domain is named so

const withoutSlash = (url: string): string => url.replace(/\/+$/, '');

/** The source records of one person, found by a business identifier or a logical id. */
type Found = { kind: 'person'; goldenId: string; queried?: string } | { kind: 'retired' } | { kind: 'none' };

async function findByLogicalId(repo: FhirRepository, store: RegistryStore, value: string): Promise<Found> {
  const id = /^(?:Patient\/)?([A-Za-z0-9\-.]{1,64})$/.exec(value)?.[1];
  const patient = id ? await readPatient(repo, id) : undefined;
  if (!patient) return { kind: 'none' };
  if (isGolden(patient)) return { kind: 'person', goldenId: patient.id!, queried: patient.id! };
  if (replacedBy(patient)) return { kind: 'retired' };
  return { kind: 'person', goldenId: (await store.goldenOf(repo.sql, patient.id!)) ?? patient.id!, queried: patient.id! };
}

async function findByIdentifier(repo: FhirRepository, store: RegistryStore, system: string, value: string): Promise<Found> {
  const found = await repo.search('Patient', [['identifier', `${escapeSearchValue(system)}|${escapeSearchValue(value)}`], ['_count', String(MAX_SOURCES)]]);
  const holders = (found.entry ?? []).map((e) => e.resource as Patient).filter((p) => !isGolden(p));
  const live = holders.find((p) => !replacedBy(p));
  if (!live) return holders.length ? { kind: 'retired' } : { kind: 'none' };
  return { kind: 'person', goldenId: (await store.goldenOf(repo.sql, live.id!)) ?? live.id!, queried: live.id! };
}

/** Whether any record holds an identifier of this domain (an index lookup, one row at most). */
async function domainInUse(repo: FhirRepository, system: string): Promise<boolean> {
  const bundle = await repo.search('Patient', [['identifier', `${escapeSearchValue(system)}|`], ['_count', '1'], ['_elements', 'id']]);
  return (bundle.entry ?? []).length > 0;
}

export function pixmOperation(store: RegistryStore, readDomains: DomainsReader): FhirOperation {
  return {
    name: 'ihe-pix',
    levels: ['type'],
    resourceTypes: ['Patient'],
    affectsState: false,
    definitionUrl: 'https://profiles.ihe.net/ITI/PIXm/OperationDefinition/IHE.PIXm.pix',
    async run({ repo, parameters, baseUrl }) {
      const sources = sourceIdentifiers(parameters);
      if (sources.length !== 1) throw badRequest('$ihe-pix needs exactly one sourceIdentifier (system|value)');
      const { system = '', code: value } = sources[0]!;
      if (!system || !value) throw badRequest('sourceIdentifier must give both the assigning authority and the value: system|value');
      // This server's base names the logical ids of its Patient resources (the client's base or the engine's).
      const bases = new Set([baseUrl, ...repo.localBaseUrls()].map(withoutSlash));
      const domains = await readDomains(repo);
      const byLogicalId = bases.has(withoutSlash(system));
      // With no domain registered (open) any system is taken, and one is recognised once a record uses it.
      const recognised = async (url: string | undefined): Promise<string | undefined> =>
        url && (!domains.open || (await domainInUse(repo, url))) ? url : undefined;
      const sourceSystem = byLogicalId ? system : await recognised(domains.canonical(system));
      if (!sourceSystem) return pixError(400, 'code-invalid', 'sourceIdentifier Assigning Authority not found');
      const targetSystems: string[] = [];
      // Each distinct domain once: a lookup may cost a search (domainInUse), and a POSTed Parameters may repeat one thousands of times.
      const asked = [...new Set(values(parameters, 'targetSystem'))];
      for (const target of asked) {
        if (bases.has(withoutSlash(target))) {
          targetSystems.push(LOGICAL_IDS);
          continue;
        }
        const url = await recognised(domains.canonical(target));
        if (!url) return pixError(403, 'code-invalid', 'targetSystem not found');
        targetSystems.push(url);
      }
      const wantsIds = !targetSystems.length || targetSystems.includes(LOGICAL_IDS);
      const forms = askedDomainForms(asked.filter((target) => !bases.has(withoutSlash(target))), domains);
      const found = byLogicalId ? await findByLogicalId(repo, store, value) : await findByIdentifier(repo, store, sourceSystem, value);
      if (found.kind === 'none') return notFound();
      if (found.kind === 'retired') return retired();
      const records: Patient[] = [];
      for (const id of await store.sourcesOf(repo.sql, found.goldenId)) {
        const patient = await readPatient(repo, id);
        if (patient && !replacedBy(patient)) records.push(patient);
      }
      const seen = new Set<string>(byLogicalId ? [] : [`${sourceSystem}|${value}`]);
      const parameter: ParametersParameter[] = [];
      /** The other records of the person holding an identifier of an asked domain: their Patient resources are targets too (PIXm's example). */
      const inTargetDomains = new Set<string>();
      for (const patient of records) {
        for (const identifier of patient.identifier ?? []) {
          const key = `${identifier.system}|${identifier.value}`;
          if (targetSystems.length && !targetSystems.includes(identifier.system!)) continue;
          if (targetSystems.length && patient.id !== found.queried) inTargetDomains.add(patient.id!);
          if (seen.has(key)) continue;
          seen.add(key);
          const target: Identifier = { ...(identifier.use ? { use: identifier.use } : {}), system: identifier.system, value: identifier.value };
          parameter.push({ name: 'targetIdentifier', valueIdentifier: inAskedForm(target, forms) });
        }
      }
      // One targetId per other Patient resource of the person (never the one queried): all of them, the
      // golden record (the enterprise identity) first, when no domain or this server's ids are asked;
      // else those holding an identifier of an asked domain.
      const targetIds = wantsIds ? [found.goldenId, ...records.map((p) => p.id!)] : [...inTargetDomains];
      for (const id of new Set(targetIds)) {
        if (id === found.queried) continue;
        parameter.push({ name: 'targetId', valueReference: { reference: `${baseUrl}/Patient/${id}` } });
      }
      return { resourceType: 'Parameters', ...(parameter.length ? { parameter } : {}) } as Parameters;
    },
  };
}
