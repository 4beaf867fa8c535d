/**
 * A deadline on a terminology's answer, whatever the provider. Over HTTP the provider has its
 * own; an in-process terminology service asked while the caller holds a transaction on the
 * embedded database (one connection) cannot answer before that transaction ends, and would
 * otherwise be waited on until the transaction budget, or for ever on a database without one.
 */
import { FhirError } from '../outcome.js';

/** `setting` (worth `settingMs`) names the limit that ended the wait, in the 503's message. */
export async function withDeadline<T>(answer: Promise<T>, ms: number, setting = 'FHIR_TERMINOLOGY_TIMEOUT_MS', settingMs = ms): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(noAnswerWithin(settingMs, setting)), ms);
  });
  answer.catch(() => undefined); // a failure after the deadline has no one left to tell
  try {
    return await Promise.race([answer, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The 503 of a wait for the terminology that a deadline ended. */
export function noAnswerWithin(ms: number, setting: string): FhirError {
  return new FhirError(503, 'FHIR_UNAVAILABLE',
    `the terminology service is unavailable (no answer within ${ms} ms, ${setting}); nothing was stored or searched: retry later`);
}
