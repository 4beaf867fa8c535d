/**
 * Two $expand parameters that narrow what an expansion carries (R4 ValueSet-expand):
 * `exclude-system` leaves a code system (or one version of it) out of the members, and
 * `designation` picks which designations come with each member.
 */
import type { CompiledCompose } from '../compose.js';
import { badParameter, type OperationInput, splitCanonical } from '../parameters.js';

/** The system a `designation` token names when it asks for a language (R4: "either a use or a language"). */
const LANGUAGE_SYSTEM = 'urn:ietf:bcp:47';

/**
 * The compose without the members of the code systems `exclude-system` names
 * (`system` or `system|version`, repeatable): listed concepts and stored ones alike, and the
 * systems themselves (so `used-codesystem` does not name them).
 */
export function withoutExcludedSystems(compiled: CompiledCompose, input: OperationInput): CompiledCompose {
  const excluded = input.strings('exclude-system').map((canonical) => {
    const { url, version } = splitCanonical(canonical);
    if (!url) throw badParameter(`$expand: exclude-system takes a code system's url, or url|version, not "${canonical.slice(0, 200)}"`);
    return { url, version };
  });
  if (!excluded.length) return compiled;
  // By url: each listed concept (tens of thousands in an inline value set) is one look-up, not a pass over the list.
  const versionsOf = new Map<string, Set<string | undefined>>();
  for (const { url, version } of excluded) versionsOf.set(url, (versionsOf.get(url) ?? new Set()).add(version));
  const isExcluded = (system: string, version: string | undefined) => {
    const versions = versionsOf.get(system);
    return versions !== undefined && (versions.has(undefined) || versions.has(version));
  };
  const dropped = compiled.systems.filter((s) => isExcluded(s.url, s.version || undefined));
  if (!dropped.length && !compiled.listed.some((c) => isExcluded(c.system, c.version))) return compiled;
  // csids are the store's own integers, never caller text: safe to write into the condition.
  const csids = dropped.map((s) => Math.trunc(Number(s.csid)));
  return {
    ...compiled,
    where: csids.length ? `(${compiled.where}) AND c.csid NOT IN (${csids.join(', ')})` : compiled.where,
    systems: compiled.systems.filter((s) => !dropped.includes(s)),
    listed: compiled.listed.filter((c) => !isExcluded(c.system, c.version)),
  };
}

export interface DesignationLike {
  language?: string;
  useSystem?: string;
  useCode?: string;
}

/**
 * The designations `designation` asks for: each token `system|code` is a language
 * (`urn:ietf:bcp:47|fr`; `fr` also takes `fr-CA`) or a use (`http://snomed.info/sct|900000000000013009`,
 * or `|code` for a use without a system); a bare code is tried as either. Undefined when the
 * parameter is not given: every designation, at includeDesignations.
 */
export function designationFilter(input: OperationInput): ((d: DesignationLike) => boolean) | undefined {
  const tokens = input.strings('designation').map((token) => {
    const bar = token.indexOf('|');
    const system = bar < 0 ? undefined : token.slice(0, bar);
    const code = bar < 0 ? token : token.slice(bar + 1);
    if (!code) throw badParameter(`$expand: designation takes a token system|code naming a language (${LANGUAGE_SYSTEM}|fr) or a use, not "${token.slice(0, 200)}"`);
    return { system, code };
  });
  if (!tokens.length) return undefined;
  const languageMatches = (asked: string, language: string | undefined) => {
    if (!language) return false;
    const have = language.toLowerCase();
    const want = asked.toLowerCase();
    return have === want || (!want.includes('-') && have.split('-')[0] === want);
  };
  return (d) =>
    tokens.some(({ system, code }) => {
      if (system === LANGUAGE_SYSTEM) return languageMatches(code, d.language);
      if (system === undefined) return languageMatches(code, d.language) || d.useCode === code;
      return d.useCode === code && (system === '' ? !d.useSystem : d.useSystem === system);
    });
}
