/**
 * ValueSet/$validate-code (type level with url or an inline valueSet, instance level by id):
 * whether a code (code + system, a Coding, any Coding of a CodeableConcept) is in the value set,
 * and whether a display given with it is one of the concept's. One statement per coding: the
 * compose's condition with the code pinned.
 */
import type { FhirOperation } from '../../../fhir/operations/registry.js';
import { compileValueSet, conceptKey } from '../compose.js';
import type { ConceptStore } from '../concept-store.js';
import { findMember } from '../expansion.js';
import { OperationInput } from '../parameters.js';
import { unknownSystemMessage } from '../resolve.js';
import { displayLanguageOf } from './display-language.js';
import { abstractRefusal, checkConcept, codingsToCheck, displayInLanguage, notFoundMessage, sameDisplay, validationResult } from './code-system.js';
import { valueSetOf } from './expand.js';

const VS_VALIDATE_PARAMETERS = ['url', 'context', 'valueSet', 'valueSetVersion', 'code', 'system', 'systemVersion', 'display', 'coding',
  'codeableConcept', 'date', 'abstract', 'displayLanguage', 'activeOnly'];

export function valueSetValidateOperation(store: ConceptStore): FhirOperation {
  return {
    name: 'validate-code',
    levels: ['type', 'instance'],
    resourceTypes: ['ValueSet'],
    affectsState: false,
    definitionUrl: 'http://hl7.org/fhir/OperationDefinition/ValueSet-validate-code',
    async run({ repo, id, parameters, request }) {
      const input = new OperationInput(parameters, 'validate-code', VS_VALIDATE_PARAMETERS);
      // Each coding's version: from system|version, the coding, or systemVersion (which must agree).
      const codings = codingsToCheck(input, ['system'], 'systemVersion');
      const activeOnly = input.boolean('activeOnly', false);
      const abstractAllowed = input.boolean('abstract', true);
      const language = displayLanguageOf(input, request);
      const valueSet = await valueSetOf(repo, input, id);
      const compiled = await compileValueSet(repo, store, valueSet);
      const name = valueSet.url ?? (valueSet.id ? `ValueSet/${valueSet.id}` : '(inline)');
      const failures: string[] = [];
      let correctDisplay: string | undefined;
      for (const coding of codings) {
        if (!coding.system) {
          failures.push(`code "${coding.code!.slice(0, 100)}" has no system; give "system" with "code"`);
          continue;
        }
        const member = await findMember(repo.sql, store.schema, compiled, coding.system, coding.code!, coding.version);
        if (!member) {
          const known = await store.findSystem(repo.sql, coding.system);
          if (known && coding.version && !(await store.findSystem(repo.sql, coding.system, coding.version))) {
            failures.push(`${await unknownSystemMessage(repo.sql, store, coding.system, coding.version)}, so ${coding.code!.slice(0, 100)} cannot be checked against value set ${name}`);
            continue;
          }
          const drawn = compiled.systems.filter((s) => s.url === coding.system).map((s) => s.version || '(none)');
          if (coding.version && drawn.length && !drawn.includes(coding.version)) {
            failures.push(`value set ${name} draws on version ${drawn.join(', ')} of code system ${coding.system.slice(0, 200)}, not on version ${coding.version.slice(0, 40)}`);
            continue;
          }
          // A code system held only in part: the code may be valid there though not held here.
          const partial = compiled.systems.find((s) => s.url === coding.system && s.content);
          if (partial && !(await store.concept(repo.sql, partial, coding.code!))) {
            failures.push(`${notFoundMessage(partial, coding.code!)}; so its membership of value set ${name} is not known`);
            continue;
          }
          failures.push(known || compiled.listed.some((c) => c.system === coding.system)
            ? `${coding.system.slice(0, 200)}#${coding.code!.slice(0, 100)} is not in value set ${name}`
            : `code system ${coding.system.slice(0, 200)} is not known to this terminology service, and ${coding.code!.slice(0, 100)} is not listed in value set ${name}`);
          continue;
        }
        if ('csid' in member) {
          if (activeOnly && !member.active) {
            failures.push(`${coding.system}#${coding.code} is inactive, and activeOnly was asked`);
            continue;
          }
          if (!abstractAllowed && await store.notSelectable(repo.sql, member.csid, member.ord)) {
            failures.push(abstractRefusal(member.system, member.code));
            continue;
          }
          const system = (await store.findSystem(repo.sql, member.system, member.version))!;
          if (coding.display === undefined) return validationResult(true, undefined, await displayInLanguage(repo, store, system, member.code, language, member.display));
          const checked = await checkConcept(repo, store, system, member.code, coding.display);
          // The value set may give the concept its own display or designations (include.concept):
          // "the text to display for this concept in the context of this value set" is valid here too.
          const ownText = compiled.conceptTexts.get(conceptKey(system, member.code));
          const ownTexts = [ownText?.display, ...(ownText?.designation ?? []).map((d) => d.value)].filter((t): t is string => !!t);
          if (!checked.result && ownTexts.some((text) => sameDisplay(text, coding.display!))) {
            return validationResult(true, undefined, coding.display);
          }
          if (!checked.result) {
            failures.push(checked.message!);
            correctDisplay ??= checked.display; // the spec: display carries the right one when the given is wrong
            continue;
          }
          return validationResult(true, undefined, await displayInLanguage(repo, store, system, member.code, language, checked.display));
        }
        const listedTexts = [member.display, ...(('designations' in member ? member.designations : undefined) ?? [])].filter((t): t is string => !!t);
        if (coding.display !== undefined && member.display && !listedTexts.some((text) => sameDisplay(text, coding.display!))) {
          failures.push(`display "${coding.display.slice(0, 100)}" is not the display of ${coding.system}#${coding.code} in value set ${name} ("${member.display}")`);
          correctDisplay ??= member.display;
          continue;
        }
        return validationResult(true, undefined, member.display);
      }
      return validationResult(false, failures.join('; '), correctDisplay);
    },
  };
}
