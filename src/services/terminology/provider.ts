/**
 * The terminology service as the FHIR engine's TerminologyProvider (src/fhir/terminology): what
 * `:in`, `:not-in`, `:above` and `:below` on another engine's tokens, and the binding checks of
 * its writes (`validateCode`), ask, answered from this service's tables in process. Unknown value sets and codes are `undefined` (the engine then asks
 * the core terminology, and says "unknown" if that does not know them either).
 */
import type { ValueSet } from '@medplum/fhirtypes';
import type { FhirEngine } from '../../fhir/engine.js';
import { FhirError } from '../../fhir/outcome.js';
import type { CodeSet, Concept, TerminologyProvider, TerminologyQueryOptions } from '../../fhir/terminology/provider.js';
import { compileValueSet, implicitValueSet } from './compose.js';
import type { ConceptStore } from './concept-store.js';
import { expandPage, findMember } from './expansion.js';
import { splitCanonical } from './parameters.js';
import { findByUrl } from './resolve.js';

export class TerminologyServiceProvider implements TerminologyProvider {
  constructor(private readonly engine: FhirEngine, private readonly store: ConceptStore) {}

  /** The value set at a canonical URL (or an implicit `?fhir_vs` one), undefined when unknown. */
  private async valueSetAt(valueSetUrl: string): Promise<ValueSet | undefined> {
    const { url, version } = splitCanonical(valueSetUrl);
    return implicitValueSet(valueSetUrl) ?? (await findByUrl<ValueSet>(this.engine.repository(), 'ValueSet', url, version));
  }

  async expand(valueSetUrl: string, options: TerminologyQueryOptions): Promise<CodeSet | undefined> {
    const repo = this.engine.repository();
    const valueSet = await this.valueSetAt(valueSetUrl);
    if (!valueSet) return undefined;
    try {
      const compiled = await compileValueSet(repo, this.store, valueSet);
      const page = await expandPage(repo.sql, this.store.schema, compiled, { activeOnly: false, offset: 0, count: options.limit + 1 });
      return [...page.listed, ...page.rows].slice(0, options.limit + 1).map((c) => ({ system: c.system, code: c.code }));
    } catch (error) {
      // The other engine's client asked a search: a value set we cannot expand is its 400.
      if (error instanceof FhirError && error.status < 500) throw new FhirError(400, 'FHIR_UNKNOWN_TERMINOLOGY', `value set ${valueSetUrl.slice(0, 200)}: ${error.message}`);
      throw error;
    }
  }

  async validateCode(valueSetUrl: string, coding: Concept): Promise<boolean | undefined> {
    const repo = this.engine.repository();
    const valueSet = await this.valueSetAt(valueSetUrl);
    if (!valueSet) return undefined;
    try {
      const compiled = await compileValueSet(repo, this.store, valueSet);
      return (await findMember(repo.sql, this.store.schema, compiled, coding.system, coding.code)) !== undefined;
    } catch (error) {
      // A value set this service cannot evaluate (a filter on a code system it lacks) is one it does not know.
      if (error instanceof FhirError && error.status < 500) return undefined;
      throw error;
    }
  }

  descendants(system: string, code: string, options: TerminologyQueryOptions): Promise<CodeSet | undefined> {
    return this.closure(system, code, 'ancestor', options.limit);
  }

  ancestors(system: string, code: string, options: TerminologyQueryOptions): Promise<CodeSet | undefined> {
    return this.closure(system, code, 'descendant', options.limit);
  }

  private async closure(url: string, code: string, from: 'ancestor' | 'descendant', limit: number): Promise<CodeSet | undefined> {
    const q = this.engine.db;
    const system = await this.store.findSystem(q, url);
    if (!system) return undefined;
    const concept = await this.store.concept(q, system, code);
    if (!concept) return undefined;
    const to = from === 'ancestor' ? 'descendant' : 'ancestor';
    const rows = await q.query<{ code: string }>(
      `SELECT c.code FROM ${this.store.schema}.closure x JOIN ${this.store.schema}.concept c ON c.csid = x.csid AND c.ord = x.${to}
       WHERE x.csid = $1 AND x.${from} = $2 ORDER BY x.depth, c.ord LIMIT $3`, [system.csid, concept.ord, limit + 1]);
    return rows.rows.map((r) => ({ system: url, code: r.code }));
  }
}
