/**
 * ValueSet/$expand (type level with url or an inline valueSet, instance level by id; GET and
 * POST): the members of a value set, a page at a time (count, offset, total), narrowed by a
 * ranked text filter, activeOnly, with designations and a display language.
 */
import type { ValueSet, ValueSetExpansionContains, ValueSetExpansionParameter } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import type { Queryable } from '../../../db/database.js';
import type { FhirOperation } from '../../../fhir/operations/registry.js';
import { tooCostly } from '../../../fhir/outcome.js';
import type { FhirRepository } from '../../../fhir/repository.js';
import { compileValueSet, conceptKey, implicitValueSet, type SystemVersionRules } from '../compose.js';
import type { ConceptStore } from '../concept-store.js';
import { expandPage, type ExpansionRow } from '../expansion.js';
import { badParameter, OperationInput, splitCanonical } from '../parameters.js';
import { displayLanguageOf } from './display-language.js';
import { parseDateRange } from '../../../fhir/search/values.js';
import { FhirError } from '../../../fhir/outcome.js';
import { resolveTarget, unknownTerminology } from '../resolve.js';
import { designationFilter, withoutExcludedSystems } from './expand-narrowing.js';

const EXPAND_PARAMETERS = ['url', 'valueSet', 'valueSetVersion', 'context', 'contextDirection', 'filter', 'date', 'offset', 'count',
  'includeDesignations', 'designation', 'includeDefinition', 'activeOnly', 'excludeNested', 'excludeNotForUI', 'excludePostCoordinated',
  'displayLanguage', 'exclude-system', 'system-version', 'check-system-version', 'force-system-version', 'limitedExpansion'];

/** R4 extension on ValueSet.expansion: "the expansion is incomplete, and values other than those listed may be valid". */
const UNCLOSED = 'http://hl7.org/fhir/StructureDefinition/valueset-unclosed';

export interface ExpandSettings {
  store: ConceptStore;
  /** Most members one expansion returns (TERMINOLOGY_MAX_EXPANSION). */
  maxExpansion: number;
}

/** The value set an operation names: instance id, inline `valueSet`, or `url` (+ version), implicit ones included. */
export async function valueSetOf(repo: FhirRepository, input: OperationInput, id: string | undefined, urlParameter = 'url'): Promise<ValueSet> {
  const url = input.string(urlParameter);
  const implicit = url && !id ? implicitValueSet(url) : undefined;
  if (implicit) return implicit;
  const version = input.string('valueSetVersion');
  // Checked as a stored one is (R4 invariants: vsd-3, an include with both concepts and filters, expanded to nothing).
  const inline = await input.validResource<ValueSet>('valueSet', 'ValueSet', (resource, type) => repo.validate(resource, type));
  const valueSet = await resolveTarget<ValueSet>(repo, 'ValueSet', { id, url, version, inline, what: 'value set', operation: input.operationName, versionParameter: 'valueSetVersion' });
  if (!valueSet) throw badParameter(`name the value set: call ValueSet/{id}/$${input.operationName}, or give "${urlParameter}" or "valueSet"`);
  // On the instance (or inline) valueSetVersion names the version to use: another one is not it.
  if ((id || inline) && version && valueSet.version !== version) {
    throw unknownTerminology(`value set ${(valueSet.url ?? (id ? `ValueSet/${id}` : 'given inline')).slice(0, 200)} is version ${valueSet.version ?? '(none)'}, not ${version.slice(0, 40)}`);
  }
  // An inline value set without a compose include (R4: include 1..*) or an expansion defines no content to work on.
  if (inline && !valueSet.compose?.include?.length && !valueSet.expansion) {
    throw badParameter(`$${input.operationName}: the inline valueSet has ${valueSet.compose ? 'a compose without any include' : 'neither a compose nor an expansion'}, so it has no codes; give its compose (include ...)`);
  }
  return valueSet;
}

type Designations = Map<string, Array<{ language?: string; useSystem?: string; useCode?: string; value: string }>>;

async function designationsOf(q: Queryable, schema: string, rows: ExpansionRow[]): Promise<Designations> {
  const out: Designations = new Map();
  if (!rows.length) return out;
  const found = await q.query<{ csid: string; ord: number; language: string | null; use_system: string | null; use_code: string | null; value: string }>(
    `SELECT d.csid, d.ord, d.language, d.use_system, d.use_code, d.value FROM ${schema}.designation d
     JOIN unnest($1::bigint[], $2::int[]) AS k(csid, ord) ON d.csid = k.csid AND d.ord = k.ord`, [rows.map((r) => r.csid), rows.map((r) => r.ord)], { prepare: true });
  for (const d of found.rows) {
    const key = `${d.csid}:${d.ord}`;
    const list = out.get(key) ?? [];
    list.push({ language: d.language ?? undefined, useSystem: d.use_system ?? undefined, useCode: d.use_code ?? undefined, value: d.value });
    out.set(key, list);
  }
  return out;
}

/** A designation in the language asked for (`pt` matches `pt-BR`), if the concept has one. */
export function displayIn(language: string | undefined, designations: Array<{ language?: string; value: string }> | undefined): string | undefined {
  if (!language || !designations) return undefined;
  const wanted = language.toLowerCase();
  return (designations.find((d) => d.language?.toLowerCase() === wanted) ??
    designations.find((d) => d.language?.toLowerCase().split('-')[0] === wanted.split('-')[0]))?.value;
}

export function expandOperation(settings: ExpandSettings): FhirOperation {
  return {
    name: 'expand',
    levels: ['type', 'instance'],
    resourceTypes: ['ValueSet'],
    affectsState: false,
    definitionUrl: 'http://hl7.org/fhir/OperationDefinition/ValueSet-expand',
    async run({ repo, id, parameters, request }) {
      const input = new OperationInput(parameters, 'expand', EXPAND_PARAMETERS);
      const valueSet = await valueSetOf(repo, input, id);
      const filter = input.string('filter');
      const offset = input.integer('offset', 0) ?? 0;
      const asked = input.integer('count', 0);
      const activeOnly = input.boolean('activeOnly', false);
      const excludeNotForUI = input.boolean('excludeNotForUI', false);
      // `designation` names which designations to include, so it asks for them too.
      const wantedDesignation = designationFilter(input);
      const includeDesignations = input.boolean('includeDesignations', false) || wantedDesignation !== undefined;
      const includeDefinition = input.boolean('includeDefinition', false);
      refuseOlderDefinitions(valueSet, input.string('date'));
      const displayLanguage = displayLanguageOf(input, request);
      const count = Math.min(asked ?? settings.maxExpansion, settings.maxExpansion);
      const versionRules = systemVersionRules(input);
      const compiled = withoutExcludedSystems(await compileValueSet(repo, settings.store, valueSet, versionRules), input);
      const page = await expandPage(repo.sql, settings.store.schema, compiled, { filter, activeOnly, selectableOnly: excludeNotForUI, offset, count }, settings.store.totals);
      if (asked === undefined && page.total > settings.maxExpansion) {
        throw tooCostly(`the expansion has ${page.total} members, more than TERMINOLOGY_MAX_EXPANSION (${settings.maxExpansion}) in one answer: ` +
          'page through it with count and offset, or narrow it with filter');
      }
      const designations = includeDesignations || displayLanguage ? await designationsOf(repo.sql, settings.store.schema, page.rows) : new Map() as Designations;
      const systemsById = new Map(compiled.systems.map((s) => [s.csid, s]));
      const contains: ValueSetExpansionContains[] = [
        ...page.listed.map((c) => ({ system: c.system, ...(c.version ? { version: c.version } : {}), code: c.code, ...(c.display ? { display: c.display } : {}) })),
        ...page.rows.map((r) => {
          const stored = designations.get(`${r.csid}:${r.ord}`) ?? [];
          // The compose's own text for the concept (include.concept display, designations) comes before the code system's.
          const system = systemsById.get(r.csid);
          const given = system && compiled.conceptTexts.size ? compiled.conceptTexts.get(conceptKey(system, r.code)) : undefined;
          const givenDesignations = (given?.designation ?? []).map((d) => ({ language: d.language, useSystem: d.use?.system, useCode: d.use?.code, value: d.value }));
          const own = [...givenDesignations, ...stored.filter((d) => !givenDesignations.some((g) => g.value === d.value && g.language === d.language))]
            .filter((d) => !wantedDesignation || wantedDesignation(d));
          const display = displayIn(displayLanguage, givenDesignations) ?? displayIn(displayLanguage, stored) ?? given?.display ?? r.display;
          const entry: ValueSetExpansionContains = { system: r.system, ...(r.version ? { version: r.version } : {}), code: r.code, ...(display ? { display } : {}) };
          if (!r.active) entry.inactive = true;
          if (includeDesignations && own.length) {
            entry.designation = own.map((d) => ({
              ...(d.language ? { language: d.language } : {}),
              ...(d.useCode ? { use: { ...(d.useSystem ? { system: d.useSystem } : {}), code: d.useCode } } : {}),
              value: d.value,
            }));
          }
          return entry;
        }),
      ];
      const echo: ValueSetExpansionParameter[] = [];
      if (filter !== undefined) echo.push({ name: 'filter', valueString: filter });
      if (asked !== undefined) echo.push({ name: 'count', valueInteger: asked });
      echo.push({ name: 'offset', valueInteger: offset });
      if (activeOnly) echo.push({ name: 'activeOnly', valueBoolean: true });
      if (excludeNotForUI) echo.push({ name: 'excludeNotForUI', valueBoolean: true });
      if (includeDesignations) echo.push({ name: 'includeDesignations', valueBoolean: true });
      for (const token of input.strings('designation')) echo.push({ name: 'designation', valueString: token });
      for (const system of input.strings('exclude-system')) echo.push({ name: 'exclude-system', valueUri: system });
      if (includeDefinition) echo.push({ name: 'includeDefinition', valueBoolean: true });
      for (const [name, rules] of [['system-version', versionRules.defaults], ['check-system-version', versionRules.checks], ['force-system-version', versionRules.forced]] as const) {
        for (const [system, version] of rules) echo.push({ name, valueUri: `${system}|${version}` });
      }
      if (displayLanguage) echo.push({ name: 'displayLanguage', valueCode: displayLanguage }); // also when it came from Accept-Language: the expansion says which
      for (const s of compiled.systems) echo.push({ name: 'used-codesystem', valueUri: s.version ? `${s.url}|${s.version}` : s.url });
      // Code systems held only in part (content fragment, example, not-present): the expansion is not all of the value set.
      const partial = compiled.systems.filter((s) => s.content);
      for (const s of partial) echo.push({ name: `warning-${s.content === 'not-present' ? 'not-present' : 'fragment'}`, valueUri: s.version ? `${s.url}|${s.version}` : s.url });
      const unknownTotal = partial.some((s) => s.content === 'not-present' && s.conceptCount === 0);
      const { compose, expansion: _expansion, text: _text, ...header } = valueSet;
      void _expansion; void _text;
      return {
        ...header,
        // includeDefinition: the value set's definition (its compose) comes with the expansion.
        ...(includeDefinition && compose ? { compose } : {}),
        expansion: {
          ...(partial.length ? { extension: [{ url: UNCLOSED, valueBoolean: true }] } : {}),
          identifier: `urn:uuid:${randomUUID()}`,
          timestamp: new Date().toISOString(),
          // R4: total "may be omitted if unknown" — it is, when a code system's concepts are not held at all.
          ...(unknownTotal ? {} : { total: page.total }),
          offset,
          parameter: echo,
          ...(contains.length ? { contains } : {}),
        },
      } as ValueSet;
    },
  };
}

/**
 * R4 $expand's system-version (a default version for includes naming none), check-system-version
 * (an include naming another version is an error) and force-system-version (that version
 * whatever an include names): each `system|version`, repeatable, one per system.
 */
function systemVersionRules(input: OperationInput): SystemVersionRules {
  const read = (name: string): Map<string, string> => {
    const out = new Map<string, string>();
    for (const canonical of input.strings(name)) {
      const { url, version } = splitCanonical(canonical);
      if (!url || !version) throw badParameter(`$expand: ${name} takes system|version (a canonical with its version), not "${canonical.slice(0, 200)}"`);
      if (out.has(url) && out.get(url) !== version) throw badParameter(`$expand: ${name} gives ${url.slice(0, 200)} two versions (${out.get(url)!.slice(0, 40)}, ${version.slice(0, 40)})`);
      out.set(url, version);
    }
    return out;
  };
  return { defaults: read('system-version'), checks: read('check-system-version'), forced: read('force-system-version') };
}

/**
 * `date` asks for the definitions as they were then; "or return an error if this is not possible"
 * (R4 ValueSet-expand): older versions are not kept, so a date before the value set's last change
 * is refused. One at or after it is the definitions as they are.
 */
function refuseOlderDefinitions(valueSet: ValueSet, date: string | undefined): void {
  if (date === undefined) return;
  let asked: { low: Date; high: Date };
  try {
    asked = parseDateRange(date);
  } catch {
    throw badParameter(`date "${date.slice(0, 40)}" is not a FHIR dateTime`);
  }
  const changed = valueSet.meta?.lastUpdated ? Date.parse(valueSet.meta.lastUpdated) : Number.NaN;
  if (Number.isFinite(changed) && asked.high.getTime() < changed) {
    throw new FhirError(400, 'FHIR_NOT_SUPPORTED', `the value set's definition changed at ${valueSet.meta!.lastUpdated}, after date ${date.slice(0, 40)}; earlier definitions are not kept: expand without date, or with a later one`);
  }
}
