/**
 * The terminology's answers for one request's binding checks: before a write opens its database
 * transaction, the repository asks the provider whether each bound coding of the resource is in
 * its value set (`prefetch`), and the synchronous validation (bindings.ts) then reads the answers
 * here. Asking outside the transaction matters: a remote provider is not waited on while rows are
 * locked, and an in-process terminology service on the embedded database (one connection, which
 * a transaction holds) can answer at all.
 *
 * One object per repository, so per request: a bundle asks each (value set, coding) once, and
 * the caps hold for the whole request (a batch or transaction counts all its entries): codings
 * per element, distinct questions, and the time spent waiting for answers, all questions together.
 */
import type { Resource } from '@medplum/fhirtypes';
import { boundElements, verdictKey, type CodingVerdicts } from '../bindings.js';
import { LIMITS, type Limits } from '../../common/limits.js';
import { FhirError, tooCostly } from '../outcome.js';
import { noAnswerWithin, withDeadline } from './deadline.js';
import type { Concept, TerminologyProvider } from './provider.js';

/** Questions asked at once; a slow terminology costs about one timeout, not one per coding. */
const PARALLEL_QUESTIONS = 8;

export type BindingLimits = Pick<Limits, 'fhirTerminologyTimeoutMs' | 'fhirBindingMaxCodingsPerElement' | 'fhirBindingMaxQuestions' | 'fhirBindingDeadlineMs'>;

export class BindingVerdicts {
  private readonly answers = new Map<string, boolean | undefined>();
  /** Time this request has waited for answers so far (FHIR_BINDING_DEADLINE_MS bounds it). */
  private waitedMs = 0;

  /**
   * `fhirTerminologyTimeoutMs` bounds each question whatever the provider: an in-process
   * terminology asked inside a write's transaction on the embedded database (one connection,
   * which the transaction holds) cannot answer before the transaction ends; a 503 then ends the wait.
   */
  constructor(private readonly validateCode: CodeValidation, private readonly limits: BindingLimits) {}

  /** The provider's verdicts gathered so far (bindings.ts reads them). */
  get verdicts(): CodingVerdicts {
    return this.answers;
  }

  /**
   * Asks the provider about every bound coding of a resource not asked yet; throws 400 past the
   * caps (before asking anything), 503 when it cannot answer in time. Whether anything was asked
   * (the resource then needs validating again).
   */
  async prefetch(resource: Resource): Promise<boolean> {
    const questions = this.questionsFor(resource);
    if (!questions.size) return false;
    const started = Date.now();
    try {
      await this.ask([...questions.values()]);
    } finally {
      this.waitedMs += Date.now() - started;
    }
    return true;
  }

  /** The resource's questions not asked yet, within the caps. */
  private questionsFor(resource: Resource): Map<string, Question> {
    const questions = new Map<string, Question>();
    const perElement = this.limits.fhirBindingMaxCodingsPerElement;
    for (const element of boundElements(resource)) {
      if (element.codingCount > perElement) {
        throw tooCostly(`${element.path} has ${element.codingCount} codings; a bound element may have at most ${perElement} ` +
          `(setting ${LIMITS.fhirBindingMaxCodingsPerElement.setting})`);
      }
      for (const coding of element.codings) {
        const key = verdictKey(element.valueSet, coding);
        if (!this.answers.has(key)) questions.set(key, { key, valueSet: element.valueSet, coding });
      }
    }
    const max = this.limits.fhirBindingMaxQuestions;
    if (this.answers.size + questions.size > max) {
      throw tooCostly(`the request asks the terminology about more than ${max} distinct bound codings ` +
        `(setting ${LIMITS.fhirBindingMaxQuestions.setting}): send fewer distinct codes per request`);
    }
    return questions;
  }

  private async ask(pending: Question[]): Promise<void> {
    const deadline = Date.now() + this.limits.fhirBindingDeadlineMs - this.waitedMs;
    let failed: unknown;
    const worker = async (): Promise<void> => {
      // After one failure no new question starts: the write fails anyway.
      for (let next = pending.shift(); next && failed === undefined; next = pending.shift()) {
        const left = deadline - Date.now();
        if (left <= 0) {
          failed ??= noAnswerWithin(this.limits.fhirBindingDeadlineMs, LIMITS.fhirBindingDeadlineMs.setting);
          break;
        }
        // The request's whole budget ends a question sooner than its own timeout when less is left.
        const whole = left < this.limits.fhirTerminologyTimeoutMs;
        try {
          const answer = this.validateCode(next.valueSet, next.coding);
          this.answers.set(next.key, await (whole
            ? withDeadline(answer, left, LIMITS.fhirBindingDeadlineMs.setting, this.limits.fhirBindingDeadlineMs)
            : withDeadline(answer, this.limits.fhirTerminologyTimeoutMs)));
        } catch (error) {
          failed ??= error;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_QUESTIONS, pending.length) }, worker));
    if (failed !== undefined) throw unavailable(failed);
  }
}

interface Question {
  key: string;
  valueSet: string;
  coding: Concept;
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
