/**
 * The terminology's answers for one request's binding checks: before a write opens its database
 * transaction, the repository asks the provider whether each bound coding of the resource is in
 * its value set (`prefetch`), and the synchronous validation (bindings.ts) then reads the answers
 * here. Asking outside the transaction matters: a remote provider is not waited on while rows are
 * locked, and an in-process terminology service on the embedded database (one connection, which
 * a transaction holds) can answer at all.
 *
 * One object per repository, so per request: a bundle asks each (value set, coding) once.
 */
import type { Resource } from '@medplum/fhirtypes';
import { boundElements, verdictKey, type CodingVerdicts } from '../bindings.js';
import { FhirError } from '../outcome.js';
import { withDeadline } from './deadline.js';
import type { Concept, TerminologyProvider } from './provider.js';

/** Questions asked at once; a slow terminology costs about one timeout, not one per coding. */
const PARALLEL_QUESTIONS = 8;

export class BindingVerdicts {
  private readonly answers = new Map<string, boolean | undefined>();

  /**
   * `deadlineMs` bounds each question whatever the provider: an in-process terminology asked
   * inside a write's transaction on the embedded database (one connection, which the transaction
   * holds) cannot answer before the transaction ends; a 503 then ends the wait.
   */
  constructor(private readonly validateCode: CodeValidation, private readonly deadlineMs: number) {}

  /** The provider's verdicts gathered so far (bindings.ts reads them). */
  get verdicts(): CodingVerdicts {
    return this.answers;
  }

  /**
   * Asks the provider about every bound coding of a resource not asked yet; throws 503 when it
   * cannot answer. Whether anything was asked (the resource then needs validating again).
   */
  async prefetch(resource: Resource): Promise<boolean> {
    const questions = new Map<string, { valueSet: string; coding: Concept }>();
    for (const element of boundElements(resource)) {
      for (const coding of element.codings) {
        const key = verdictKey(element.valueSet, coding);
        if (!this.answers.has(key)) questions.set(key, { valueSet: element.valueSet, coding });
      }
    }
    const pending = [...questions];
    let failed: unknown;
    const worker = async (): Promise<void> => {
      // After one failure no new question starts: the write fails anyway.
      for (let next = pending.shift(); next && failed === undefined; next = pending.shift()) {
        const [key, { valueSet, coding }] = next;
        try {
          this.answers.set(key, await withDeadline(this.validateCode(valueSet, coding), this.deadlineMs));
        } catch (error) {
          failed ??= error;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_QUESTIONS, pending.length) }, worker));
    if (failed !== undefined) throw unavailable(failed);
    return questions.size > 0;
  }
}

/** A provider's own FhirErrors pass (its 503 says which service); anything else is the provider failing. */
function unavailable(error: unknown): FhirError {
  if (error instanceof FhirError) return error;
  return new FhirError(503, 'FHIR_UNAVAILABLE', 'the terminology service failed to answer whether a code is in its bound value set; ' +
    'the write was not stored: retry later');
}

export type CodeValidation = (valueSetUrl: string, coding: Concept) => Promise<boolean | undefined>;

/**
 * The provider's validateCode as it is now (read once per repository, so per request), or
 * undefined when it has none: bindings are then judged by the core value sets alone.
 */
export function codeValidationOf(provider: TerminologyProvider | undefined): CodeValidation | undefined {
  const validate = provider?.validateCode;
  return validate ? validate.bind(provider) : undefined;
}
