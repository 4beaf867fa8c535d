/**
 * CodeSystem/$lookup, CodeSystem/$validate-code and CodeSystem/$subsumes (type level with a
 * system url, or instance level by id; GET and POST): answered from the concept tables, the
 * closure making subsumption one probe.
 */
import type { Coding, Parameters, ParametersParameter } from '@medplum/fhirtypes';
import type { FhirOperation } from '../../../fhir/operations/registry.js';
import type { FhirRepository } from '../../../fhir/repository.js';
import type { ConceptStore, StoredCodeSystem, StoredConcept } from '../concept-store.js';
import { badParameter, canonicalTarget, OperationInput } from '../parameters.js';
import { displayLanguageOf } from './display-language.js';
import { unknownSystemMessage, unknownTerminology } from '../resolve.js';
import { displayIn } from './expand.js';
import { holdsDecimalText, keepDecimalText, markHoldingDecimalText } from '../../../common/json-decimals.js';

/** The code system version an operation names: the instance's, or system/url (+ version). */
export async function codeSystemOf(repo: FhirRepository, store: ConceptStore, options: { id?: string; url?: string; version?: string; operation: string }): Promise<StoredCodeSystem> {
  if (options.id) {
    await repo.read('CodeSystem', options.id); // 404/410 as for a read
    const systems = await store.systemsOfResource(repo.sql, options.id);
    if (!systems[0]) throw unknownTerminology(`CodeSystem/${options.id} has no url, so it holds no concepts to answer $${options.operation}`);
    // A url or version given with the instance names it too: another one is not it (as on ValueSet and ConceptMap instances).
    const named = canonicalTarget(options.url, options.version, options.operation);
    if (named.url && !systems.some((s) => s.url === named.url)) {
      throw badParameter(`give the code system one way, not the instance in the path (${systems[0].url.slice(0, 200)}) and another url (${named.url.slice(0, 200)})`);
    }
    const chosen = systems.find((s) => !named.version || s.version === named.version);
    if (!chosen) throw unknownTerminology(await unknownSystemMessage(repo.sql, store, systems[0].url, named.version));
    return chosen;
  }
  ({ url: options.url, version: options.version } = canonicalTarget(options.url, options.version, options.operation));
  if (!options.url) throw badParameter(`$${options.operation} needs the code system: "system" (or "url"), a Coding, or call CodeSystem/{id}/$${options.operation}`);
  const system = await store.findSystem(repo.sql, options.url, options.version);
  if (!system) throw unknownTerminology(await unknownSystemMessage(repo.sql, store, options.url, options.version));
  return system;
}

/** code + system (+ version), or a Coding in `codingName`. */
function codedInput(input: OperationInput, codingName: string, codeName = 'code', systemNames = ['system']): { code?: string; system?: string; version?: string; display?: string } {
  const coding: Coding | undefined = input.coding(codingName);
  const code = input.string(codeName);
  if (coding && code !== undefined) throw badParameter(`$${input.operationName}: give "${codeName}" or "${codingName}", not both`);
  if (coding) return { code: coding.code, system: coding.system, version: coding.version, display: coding.display };
  let system: string | undefined;
  for (const name of systemNames) system ??= input.string(name);
  return { code, system, version: input.string('version'), display: input.string('display') };
}

const LOOKUP_PARAMETERS = ['code', 'system', 'version', 'coding', 'date', 'displayLanguage', 'property'];

export function lookupOperation(store: ConceptStore): FhirOperation {
  return {
    name: 'lookup',
    levels: ['type', 'instance'],
    resourceTypes: ['CodeSystem'],
    affectsState: false,
    definitionUrl: 'http://hl7.org/fhir/OperationDefinition/CodeSystem-lookup',
    async run({ repo, id, parameters, request }) {
      const input = new OperationInput(parameters, 'lookup', LOOKUP_PARAMETERS);
      const { code, system: url, version } = codedInput(input, 'coding');
      if (!code) throw badParameter('$lookup needs "code" (with "system") or "coding"');
      const system = await codeSystemOf(repo, store, { id, url, version, operation: 'lookup' });
      const concept = await store.conceptDetails(repo.sql, system, code);
      if (!concept) throw unknownTerminology(`code "${code.slice(0, 100)}" is not in code system ${system.url}${system.version ? `|${system.version}` : ''}`);
      const wanted = new Set(input.strings('property'));
      const want = (name: string): boolean => wanted.size === 0 || wanted.has(name) || wanted.has('*');
      const designations = concept.designations;
      const displayLanguage = displayLanguageOf(input, request);
      const out: ParametersParameter[] = [
        { name: 'name', valueString: system.name ?? system.url },
        ...(system.version ? [{ name: 'version', valueString: system.version }] : []),
        { name: 'display', valueString: displayIn(displayLanguage, designations) ?? concept.display ?? concept.code },
      ];
      if (concept.definition && want('definition')) out.push({ name: 'definition', valueString: concept.definition });
      if (want('designation')) {
        for (const d of designations) {
          out.push({ name: 'designation', part: [
            ...(d.language ? [{ name: 'language', valueCode: d.language }] : []),
            ...(d.useCode ? [{ name: 'use', valueCoding: { ...(d.useSystem ? { system: d.useSystem } : {}), code: d.useCode } }] : []),
            { name: 'value', valueString: d.value },
          ] });
        }
      }
      const property = (code: string, value: ParametersParameter, description?: string): void => {
        if (want(code)) out.push({ name: 'property', part: [{ name: 'code', valueCode: code }, { ...value, name: 'value' }, ...(description ? [{ name: 'description', valueString: description }] : [])] });
      };
      property('inactive', { name: 'value', valueBoolean: !concept.active });
      // A stored `inactive` is already in the one above (with `status`), and may disagree with it: given once.
      for (const p of concept.properties) if (p.code !== 'inactive') property(p.code, typedValue(p.type, p.value));
      for (const parent of concept.parents) property('parent', { name: 'value', valueCode: parent.code }, parent.display);
      for (const child of concept.children) property('child', { name: 'value', valueCode: child.code }, child.display);
      const answer = { resourceType: 'Parameters', parameter: out } as Parameters;
      if (out.some((p) => p.part?.some(holdsDecimalText))) markHoldingDecimalText(answer);
      return answer;
    },
  };
}

function typedValue(type: string, value: string): ParametersParameter {
  switch (type) {
    case 'boolean': return { name: 'value', valueBoolean: value === 'true' };
    case 'integer': return { name: 'value', valueInteger: Number(value) };
    case 'decimal': {
      // Stored as written (`2.50`): answered so, not as JavaScript writes the number.
      const part: ParametersParameter = { name: 'value', valueDecimal: Number(value) };
      keepDecimalText(part as unknown as Record<string, unknown>, 'valueDecimal', value);
      return part;
    }
    case 'string': return { name: 'value', valueString: value };
    case 'dateTime': return { name: 'value', valueDateTime: value };
    case 'Coding': return { name: 'value', valueCoding: { code: value } };
    default: return { name: 'value', valueCode: value };
  }
}

/** Whether a display is one the concept has (its display or a designation), ignoring case and spacing. */
function displayMatches(concept: StoredConcept, designationValues: readonly string[], display: string): boolean {
  return [concept.display, ...designationValues].some((value) => value !== undefined && sameDisplay(value, display));
}

/** Two displays are the same ignoring case and spacing. */
export function sameDisplay(a: string, b: string): boolean {
  const norm = (s: string): string => s.trim().replace(/\s+/g, ' ').toLowerCase();
  return norm(a) === norm(b);
}

export function validationResult(result: boolean, message?: string, display?: string, extra: ParametersParameter[] = []): Parameters {
  return {
    resourceType: 'Parameters',
    parameter: [
      { name: 'result', valueBoolean: result },
      ...(message ? [{ name: 'message', valueString: message }] : []),
      ...(display ? [{ name: 'display', valueString: display }] : []),
      ...extra,
    ],
  };
}

const CS_VALIDATE_PARAMETERS = ['url', 'codeSystem', 'code', 'version', 'display', 'coding', 'codeableConcept', 'date', 'abstract', 'displayLanguage', 'system'];

export function codeSystemValidateOperation(store: ConceptStore): FhirOperation {
  return {
    name: 'validate-code',
    levels: ['type', 'instance'],
    resourceTypes: ['CodeSystem'],
    affectsState: false,
    definitionUrl: 'http://hl7.org/fhir/OperationDefinition/CodeSystem-validate-code',
    async run({ repo, id, parameters, request }) {
      const input = new OperationInput(parameters, 'validate-code', CS_VALIDATE_PARAMETERS);
      if (input.has('codeSystem')) throw badParameter('$validate-code with an inline codeSystem is not supported: store the CodeSystem first, then name it by url or id');
      const codings = codingsToCheck(input, ['url', 'system'], 'version');
      const named = input.string('url') ?? input.string('system');
      const version = input.string('version');
      const abstractAllowed = input.boolean('abstract', true);
      const language = displayLanguageOf(input, request);
      // Named (instance or url): that system; otherwise each coding's own system, unknown ones failing alone.
      const fixed = id || named ? await codeSystemOf(repo, store, { id, url: named, version, operation: 'validate-code' }) : undefined;
      let lastFailure = '';
      let correctDisplay: string | undefined; // returned with a wrong display (the spec's "display")
      for (const coding of codings) {
        if (fixed && coding.system && coding.system !== fixed.url) {
          lastFailure = `the coding's system ${coding.system.slice(0, 200)} is not the code system ${fixed.url}`;
          continue;
        }
        if (fixed && coding.version && coding.version !== fixed.version) {
          lastFailure = `the coding names version ${coding.version.slice(0, 40)} of ${fixed.url}, not version ${fixed.version || '(none)'} named by the call`;
          continue;
        }
        const system = fixed ?? (coding.system ? await store.findSystem(repo.sql, coding.system, coding.version) : undefined);
        if (!system) {
          lastFailure = coding.system ? await unknownSystemMessage(repo.sql, store, coding.system, coding.version) : `code "${coding.code!.slice(0, 100)}" has no system`;
          continue;
        }
        const checked = await checkConcept(repo, store, system, coding.code!, coding.display);
        if (checked.result && !abstractAllowed && await store.notSelectable(repo.sql, system.csid, checked.concept!.ord)) {
          lastFailure = abstractRefusal(system.url, checked.concept!.code);
          continue;
        }
        if (checked.result) return validationResult(true, undefined, await displayInLanguage(repo, store, system, checked.concept!.code, language, checked.display));
        lastFailure = checked.message!;
        correctDisplay ??= checked.display;
      }
      return validationResult(false, lastFailure, correctDisplay);
    },
  };
}

/** The display returned for a valid code: its designation in `language` (displayLanguage) when it has one. */
export async function displayInLanguage(repo: FhirRepository, store: ConceptStore, system: StoredCodeSystem, code: string, language: string | undefined, display: string | undefined): Promise<string | undefined> {
  if (!language) return display;
  const details = await store.conceptDetails(repo.sql, system, code);
  return displayIn(language, details?.designations) ?? display;
}

/** Why abstract=false refuses a concept (R4: "if false, abstract concepts are not considered to be valid"). */
export function abstractRefusal(system: string, code: string): string {
  return `${system.slice(0, 200)}#${code.slice(0, 100)} is an abstract concept (notSelectable), and abstract=false was asked`;
}

/**
 * The codings a call asks about: code (+system/url, display), a coding, or a codeableConcept's
 * codings, each with the version of its system: from `system|version` (a canonical), the coding's
 * own, or the call's version parameter (`versionName`: version, systemVersion). Versions given
 * more than one way must agree (400).
 */
export function codingsToCheck(input: OperationInput, systemNames: string[], versionName?: string): Coding[] {
  const called = versionName ? input.string(versionName) : undefined;
  return givenCodings(input, systemNames).map((coding) => {
    const { url, version } = coding.system?.includes('|') ? canonicalTarget(coding.system, coding.version, input.operationName) : { url: coding.system, version: coding.version };
    if (called && version && called !== version) {
      throw badParameter(`$${input.operationName}: the system ${(url ?? '').slice(0, 200)} is given version ${version.slice(0, 40)} and ${versionName} ${called.slice(0, 40)}`);
    }
    const chosen = version ?? called;
    return { ...coding, ...(url ? { system: url } : {}), ...(chosen ? { version: chosen } : {}) };
  });
}

function givenCodings(input: OperationInput, systemNames: string[]): Coding[] {
  const concept = input.codeableConcept('codeableConcept');
  const coding = input.coding('coding');
  const code = input.string('code');
  const given = [concept, coding, code].filter((x) => x !== undefined).length;
  if (given === 0) throw badParameter(`$${input.operationName} needs "code", "coding" or "codeableConcept"`);
  if (given > 1) throw badParameter(`$${input.operationName}: give one of "code", "coding" or "codeableConcept"`);
  if (concept) {
    const codings = (concept.coding ?? []).filter((c) => c.code);
    if (!codings.length) throw badParameter(`$${input.operationName}: the codeableConcept has no coding with a code`);
    return codings;
  }
  if (coding) {
    if (!coding.code) throw badParameter(`$${input.operationName}: the coding has no code`);
    return [coding];
  }
  let system: string | undefined;
  for (const name of systemNames) system ??= input.string(name);
  return [{ code, system, display: input.string('display') }];
}

/**
 * Why a code is not found: plainly for a complete code system; for one whose content is a
 * fragment (or example) or not present, that the answer is not final (R4 CodeSystem.content).
 */
export function notFoundMessage(system: StoredCodeSystem, code: string): string {
  const name = `${system.url}${system.version ? `|${system.version}` : ''}`;
  const quoted = `code "${code.slice(0, 100)}"`;
  if (system.content === 'not-present' && system.conceptCount === 0) {
    return `${quoted} cannot be checked: code system ${name} has content not-present (its concepts are not held by this terminology service)`;
  }
  if (system.content === 'fragment' || system.content === 'example' || system.content === 'not-present') {
    return `${quoted} is not among the concepts held for code system ${name}, whose content is ${system.content}, not complete: the code may still be valid in the full code system`;
  }
  return `${quoted} is not in code system ${name}`;
}

/** One statement: the concept, with its designations' values when a display is to be checked. */
export async function checkConcept(repo: FhirRepository, store: ConceptStore, system: StoredCodeSystem, code: string, display: string | undefined): Promise<{ result: boolean; message?: string; display?: string; concept?: StoredConcept }> {
  const found = await store.concept(repo.sql, system, code, { designations: display !== undefined });
  if (!found) return { result: false, message: notFoundMessage(system, code) };
  const { designationValues, ...concept } = found;
  if (display !== undefined && !displayMatches(concept, designationValues ?? [], display)) {
    return { result: false, concept, display: concept.display, message: `display "${display.slice(0, 100)}" is not a display of ${system.url}#${concept.code} (it is "${concept.display ?? concept.code}")` };
  }
  return { result: true, concept, display: concept.display };
}

const SUBSUMES_PARAMETERS = ['codeA', 'codeB', 'system', 'version', 'codingA', 'codingB'];

export function subsumesOperation(store: ConceptStore): FhirOperation {
  return {
    name: 'subsumes',
    levels: ['type', 'instance'],
    resourceTypes: ['CodeSystem'],
    affectsState: false,
    definitionUrl: 'http://hl7.org/fhir/OperationDefinition/CodeSystem-subsumes',
    async run({ repo, id, parameters }) {
      const input = new OperationInput(parameters, 'subsumes', SUBSUMES_PARAMETERS);
      const a = codedInput(input, 'codingA', 'codeA');
      const b = codedInput(input, 'codingB', 'codeB');
      if (!a.code || !b.code) throw badParameter('$subsumes needs codeA and codeB (with system), or codingA and codingB');
      // Each of system, codingA and codingB may name the system (`url|version`, or a coding's version): one system, one version.
      const canonical = (url: string | undefined, version: string | undefined): { url?: string; version?: string } => canonicalTarget(url, version, 'subsumes');
      const named = [canonical(input.string('system'), input.string('version')), canonical(a.system, a.version), canonical(b.system, b.version)];
      const urls = [...new Set(named.map((n) => n.url).filter((u): u is string => !!u))];
      if (urls.length > 1) throw badParameter(`$subsumes compares codes of one code system; got ${urls[0]!.slice(0, 200)} and ${urls[1]!.slice(0, 200)}`);
      const versions = [...new Set(named.map((n) => n.version).filter((v): v is string => !!v))];
      if (versions.length > 1) throw badParameter(`$subsumes compares codes of one code system version; got versions ${versions[0]!.slice(0, 40)} and ${versions[1]!.slice(0, 40)}`);
      const system = await codeSystemOf(repo, store, { id, url: urls[0], version: versions[0], operation: 'subsumes' });
      const conceptA = await store.concept(repo.sql, system, a.code);
      const conceptB = await store.concept(repo.sql, system, b.code);
      for (const [name, code, concept] of [['A', a.code, conceptA], ['B', b.code, conceptB]] as const) {
        if (!concept) throw unknownTerminology(`code${name} "${code.slice(0, 100)}" is not in code system ${system.url}${system.version ? `|${system.version}` : ''}`);
      }
      let outcome: string;
      if (conceptA!.ord === conceptB!.ord) outcome = 'equivalent';
      else if (await store.subsumes(repo.sql, system.csid, conceptA!.ord, conceptB!.ord)) outcome = 'subsumes';
      else if (await store.subsumes(repo.sql, system.csid, conceptB!.ord, conceptA!.ord)) outcome = 'subsumed-by';
      else outcome = 'not-subsumed';
      return { resourceType: 'Parameters', parameter: [{ name: 'outcome', valueCode: outcome }] } as Parameters;
    },
  };
}
