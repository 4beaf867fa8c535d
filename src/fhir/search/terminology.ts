/**
 * Resolves the token modifiers that need a terminology before a search's SQL is built: `:in` and
 * `:not-in` (the value set's concepts) and `:above` / `:below` (`system|code` and the concepts
 * that subsume it, or that it subsumes). The provider is asynchronous and may be remote, so this
 * runs once per search, between parsing and SQL building; the codes land on the filter
 * (ParamFilter.codes) and sql.ts matches them against the token index. The codes of one search are
 * bounded together by FHIR_SEARCH_MAX_TERMINOLOGY_CODES.
 */
import { LIMITS } from '../../common/limits.js';
import { FhirError, badRequest, tooCostly } from '../outcome.js';
import { withDeadline } from '../terminology/deadline.js';
import type { CodeSet, TerminologyProvider } from '../terminology/provider.js';
import type { Filter, ParamFilter, SearchRequest } from './parse.js';

export const TERMINOLOGY_MODIFIERS = new Set(['in', 'not-in', 'above', 'below']);

/** Whether a filter's values stand for codes a terminology gives. */
export function needsTerminology(filter: ParamFilter): boolean {
  return filter.param.type === 'token' && filter.modifier !== undefined && TERMINOLOGY_MODIFIERS.has(filter.modifier);
}

function* paramFilters(filters: Filter[]): Generator<ParamFilter> {
  for (const filter of filters) {
    if (filter.kind === 'param') yield filter;
    else if (filter.kind !== 'custom') yield* paramFilters([filter.inner]);
  }
}

/** Fills `codes` on every filter of the request that needs them (a no-op when already done). */
export async function resolveTerminology(request: SearchRequest, provider: TerminologyProvider, maxCodes: number, deadlineMs = LIMITS.fhirTerminologyTimeoutMs.default): Promise<void> {
  let used = 0;
  for (const filter of paramFilters(request.filters)) {
    if (!needsTerminology(filter)) continue;
    if (filter.codes) {
      used += filter.codes.reduce((n, set) => n + set.length, 0);
      continue;
    }
    const codes: CodeSet[] = [];
    for (const value of filter.values) {
      const set = await lookUp(provider, filter, value, maxCodes - used, deadlineMs);
      used += set.length;
      if (used > maxCodes) {
        throw tooCostly(`${filter.param.code}:${filter.modifier} expands to more than ${maxCodes} codes in this search; ` +
          `this server allows at most ${maxCodes} (setting ${LIMITS.fhirSearchMaxTerminologyCodes.setting}): use a smaller value set or a narrower code`);
      }
      codes.push(set);
    }
    filter.codes = codes;
  }
}

async function lookUp(provider: TerminologyProvider, filter: ParamFilter, value: string, limit: number, deadlineMs: number): Promise<CodeSet> {
  const what = `${filter.param.code}:${filter.modifier}`;
  const options = { limit: Math.max(limit, 0) };
  if (filter.modifier === 'in' || filter.modifier === 'not-in') {
    if (!value) throw badRequest(`${what} needs the canonical URL of a value set`, 'FHIR_BAD_SEARCH');
    const set = await ask(() => provider.expand(value, options), deadlineMs);
    if (!set) throw new FhirError(400, 'FHIR_UNKNOWN_TERMINOLOGY', `${what}: value set ${value.slice(0, 200)} is unknown to this server's terminology`);
    return set;
  }
  const bar = value.indexOf('|');
  const system = bar < 0 ? '' : value.slice(0, bar);
  const code = bar < 0 ? value : value.slice(bar + 1);
  if (!system || !code) throw badRequest(`${what} needs system|code (subsumption is defined within one code system), got "${value.slice(0, 200)}"`, 'FHIR_BAD_SEARCH');
  const set = await ask(() => filter.modifier === 'below' ? provider.descendants(system, code, options) : provider.ancestors(system, code, options), deadlineMs);
  if (!set) throw new FhirError(400, 'FHIR_UNKNOWN_TERMINOLOGY', `${what}: code ${code.slice(0, 100)} of ${system.slice(0, 200)} is unknown to this server's terminology`);
  return set;
}

/** A provider's own FhirErrors pass; anything else is the provider failing, not the client. */
async function ask(query: () => Promise<CodeSet | undefined>, deadlineMs: number): Promise<CodeSet | undefined> {
  try {
    return await withDeadline(query(), deadlineMs);
  } catch (error) {
    if (error instanceof FhirError) throw error;
    throw new FhirError(503, 'FHIR_UNAVAILABLE', 'the terminology provider failed to answer; retry later');
  }
}
