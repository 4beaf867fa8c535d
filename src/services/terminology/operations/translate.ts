/**
 * ConceptMap/$translate (type level, or instance level by id; GET and POST): the targets a code
 * maps to in the named ConceptMap, or in every stored map that mentions it (found through the
 * map_element table), following group.unmapped (provided, fixed, other-map) when a group has no
 * element for the code, and run backwards with reverse=true.
 */
import type { ConceptMap, ConceptMapGroup, Parameters, ParametersParameter } from '@medplum/fhirtypes';
import type { FhirOperation } from '../../../fhir/operations/registry.js';
import type { FhirRepository } from '../../../fhir/repository.js';
import { badParameter, OperationInput, splitCanonical } from '../parameters.js';
import { findByUrl, resolveTarget, unknownTerminology } from '../resolve.js';
import { codingsToCheck } from './code-system.js';
import { escapeSearchValue } from '../../../common/search-value-escape.js';

const TRANSLATE_PARAMETERS = ['url', 'conceptMap', 'conceptMapVersion', 'code', 'system', 'version', 'source', 'coding', 'codeableConcept',
  'target', 'targetsystem', 'dependency', 'reverse'];
/** Maps that send unmapped codes to another map: followed this deep at most. */
const MAX_OTHER_MAP_DEPTH = 5;

const REVERSED: Record<string, string> = { wider: 'narrower', narrower: 'wider', subsumes: 'specializes', specializes: 'subsumes' };

interface Match {
  equivalence: string;
  system?: string;
  version?: string;
  code: string;
  display?: string;
  source?: string;
}

interface Question {
  code: string;
  system?: string;
  version?: string;
  targetSystem?: string;
  reverse: boolean;
}

async function translateInMap(repo: FhirRepository, map: ConceptMap, question: Question, depth: number): Promise<Match[]> {
  const matches: Match[] = [];
  for (const group of map.group ?? []) {
    const [from, to] = question.reverse ? [group.target, group.source] : [group.source, group.target];
    if (question.system && from && from !== question.system) continue;
    // The source code's version (R4 "version": "the version of the system, if one was provided in the source data").
    const fromVersion = question.reverse ? group.targetVersion : group.sourceVersion;
    if (question.version && fromVersion && fromVersion !== question.version) continue;
    if (question.targetSystem && to && to !== question.targetSystem) continue;
    const found = question.reverse ? reverseIn(group, question.code) : forwardIn(group, question.code);
    if (found.length) {
      matches.push(...found.map((m) => ({ ...m, source: map.url })));
      continue;
    }
    if (question.reverse || !group.unmapped) continue;
    const unmapped = group.unmapped;
    if (unmapped.mode === 'provided') matches.push({ equivalence: 'equal', system: group.target, code: question.code, source: map.url });
    else if (unmapped.mode === 'fixed' && unmapped.code) matches.push({ equivalence: 'equivalent', system: group.target, code: unmapped.code, display: unmapped.display, source: map.url });
    else if (unmapped.mode === 'other-map' && unmapped.url && depth < MAX_OTHER_MAP_DEPTH) {
      const { url, version } = splitCanonical(unmapped.url);
      const other = await findByUrl<ConceptMap>(repo, 'ConceptMap', url, version);
      if (other) matches.push(...(await translateInMap(repo, other, question, depth + 1)));
    }
  }
  return matches;
}

function forwardIn(group: ConceptMapGroup, code: string): Match[] {
  return (group.element ?? []).filter((e) => e.code === code).flatMap((e) => (e.target ?? []).map((t) => ({
    equivalence: t.equivalence ?? 'equivalent', system: group.target, version: group.targetVersion, code: t.code ?? '', display: t.display,
  }))).filter((m) => m.code || m.equivalence === 'unmatched');
}

function reverseIn(group: ConceptMapGroup, code: string): Match[] {
  return (group.element ?? []).flatMap((e) => (e.target ?? []).filter((t) => t.code === code && e.code).map((t) => ({
    equivalence: REVERSED[t.equivalence ?? ''] ?? t.equivalence ?? 'equivalent', system: group.source, version: group.sourceVersion, code: e.code!, display: e.display,
  })));
}

/** Stored maps that mention the code (as a source, or a target when reverse), narrowed by source/target value set. */
async function candidateMaps(repo: FhirRepository, question: Question, source?: string, target?: string): Promise<ConceptMap[]> {
  const [codeColumn, systemColumn] = question.reverse ? ['target_code', 'target_system'] : ['source_code', 'source_system'];
  const params: unknown[] = [question.code];
  let sql = `SELECT DISTINCT map_id FROM ${repo.schema}.map_element WHERE ${codeColumn} = $1`;
  if (question.system) sql += ` AND (${systemColumn} = $${params.push(question.system)} OR ${systemColumn} IS NULL)`;
  const ids = new Set((await repo.sql.query<{ map_id: string }>(`${sql} LIMIT 100`, params)).rows.map((r) => r.map_id));
  const maps: ConceptMap[] = [];
  // Maps whose groups from the system send codes they do not list somewhere (group.unmapped): they
  // answer for every code of the system, as they do when named by url.
  if (!question.reverse && question.system) {
    const withRules = await repo.searchResources(repo.parseSearch('ConceptMap', [['source-system', escapeSearchValue(question.system)], ['_count', '100']], false));
    for (const map of withRules as ConceptMap[]) {
      if (!ids.has(map.id!) && (map.group ?? []).some((g) => g.unmapped && (!g.source || g.source === question.system))) {
        ids.add(map.id!);
        maps.push(map);
      }
    }
  }
  for (const id of ids) {
    if (maps.some((m) => m.id === id)) continue;
    try {
      maps.push((await repo.read('ConceptMap', id)) as ConceptMap);
    } catch {
      /* deleted meanwhile */
    }
  }
  const scope = (map: ConceptMap, which: 'source' | 'target'): string | undefined =>
    which === 'source' ? map.sourceUri ?? map.sourceCanonical : map.targetUri ?? map.targetCanonical;
  const [sourceScope, targetScope] = question.reverse ? ['target', 'source'] as const : ['source', 'target'] as const;
  return maps.filter((m) => (!source || splitCanonical(scope(m, sourceScope) ?? '').url === splitCanonical(source).url) &&
    (!target || splitCanonical(scope(m, targetScope) ?? '').url === splitCanonical(target).url));
}

export function translateOperation(): FhirOperation {
  return {
    name: 'translate',
    levels: ['type', 'instance'],
    resourceTypes: ['ConceptMap'],
    affectsState: false,
    definitionUrl: 'http://hl7.org/fhir/OperationDefinition/ConceptMap-translate',
    async run({ repo, id, parameters }) {
      const input = new OperationInput(parameters, 'translate', TRANSLATE_PARAMETERS);
      if (input.has('dependency')) throw badParameter('$translate: "dependency" is not supported (maps with dependsOn are matched on the code alone)');
      const reverse = input.boolean('reverse', false);
      // R4: "if a code is provided, a system must be provided".
      if (input.has('code') && !input.string('system')) throw badParameter('$translate: a "code" needs its "system"');
      // The source version: from system|version, the coding's, or "version" (which must agree).
      const codings = codingsToCheck(input, ['system'], 'version');
      // The same for a coding: a code means nothing without its system (it would match every map's code).
      if (codings.some((coding) => !coding.system)) throw badParameter('$translate: a coding needs its "system"');
      const conceptMapVersion = input.string('conceptMapVersion');
      const inline = await input.validResource<ConceptMap>('conceptMap', 'ConceptMap', (resource, type) => repo.validate(resource, type));
      const named = await resolveTarget<ConceptMap>(repo, 'ConceptMap', { id, url: input.string('url'), version: conceptMapVersion, inline, what: 'concept map', operation: 'translate', versionParameter: 'conceptMapVersion' });
      // On the instance (or an inline map) too, conceptMapVersion names the version to use: another one is not it.
      if (named && conceptMapVersion && named.version !== conceptMapVersion) {
        throw unknownTerminology(`concept map ${(named.url ?? `ConceptMap/${id ?? 'inline'}`).slice(0, 200)} is version ${named.version ?? '(none)'}, not ${conceptMapVersion.slice(0, 40)}`);
      }
      const source = input.string('source');
      const target = input.string('target');
      const matches: Match[] = [];
      for (const coding of codings) {
        const question: Question = { code: coding.code!, system: coding.system, version: coding.version, targetSystem: input.string('targetsystem'), reverse };
        const maps = named ? [named] : await candidateMaps(repo, question, source, target);
        for (const map of maps) matches.push(...(await translateInMap(repo, map, question, 0)));
      }
      const positive = matches.filter((m) => m.equivalence !== 'unmatched' && m.equivalence !== 'disjoint');
      const out: ParametersParameter[] = [{ name: 'result', valueBoolean: positive.length > 0 }];
      if (!positive.length) out.push({ name: 'message', valueString: `no mapping found for ${codings.map((c) => `${c.system ?? ''}#${c.code}`).join(', ').slice(0, 300)}` });
      for (const m of matches) {
        out.push({ name: 'match', part: [
          { name: 'equivalence', valueCode: m.equivalence },
          ...(m.code ? [{ name: 'concept', valueCoding: { ...(m.system ? { system: m.system } : {}), ...(m.version ? { version: m.version } : {}), code: m.code, ...(m.display ? { display: m.display } : {}) } }] : []),
          ...(m.source ? [{ name: 'source', valueUri: m.source }] : []),
        ] });
      }
      return { resourceType: 'Parameters', parameter: out } as Parameters;
    },
  };
}
