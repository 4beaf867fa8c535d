/**
 * The terminology of this process: engines that take PROCESS_TERMINOLOGY (the shared health
 * record) ask the terminology service, for their searches and the bound codings of their writes,
 * when one runs in the process and registered itself, and
 * the core R4 terminology otherwise, or when the service does not know a value set or code
 * system. Services never import each other; both meet here, in the engine they share.
 */
import { CORE_TERMINOLOGY } from './core-provider.js';
import type { CodeSet, Concept, TerminologyProvider, TerminologyQueryOptions } from './provider.js';

let registered: TerminologyProvider | undefined;

/** Makes a provider the process's terminology; the returned function withdraws it (on stop). */
export function registerProcessTerminology(provider: TerminologyProvider): () => void {
  registered = provider;
  return () => {
    if (registered === provider) registered = undefined;
  };
}

/** The provider registered now, if any. */
export function processTerminologyProvider(): TerminologyProvider | undefined {
  return registered;
}

/**
 * A provider that asks `current()` first (when there is one) and the core R4 terminology for what
 * it does not know. validateCode is the current provider's (its undefined answers: the binding
 * check asks the core value sets itself, bindings.ts), absent when there is none.
 */
export function fallingBackToCore(current: () => TerminologyProvider | undefined): TerminologyProvider {
  const ask = async (question: (p: TerminologyProvider) => Promise<CodeSet | undefined>): Promise<CodeSet | undefined> => {
    const service = current();
    if (service) {
      const answer = await question(service);
      if (answer !== undefined) return answer;
    }
    return question(CORE_TERMINOLOGY);
  };
  return {
    expand: (url: string, options: TerminologyQueryOptions) => ask((p) => p.expand(url, options)),
    descendants: (system: string, code: string, options: TerminologyQueryOptions) => ask((p) => p.descendants(system, code, options)),
    ancestors: (system: string, code: string, options: TerminologyQueryOptions) => ask((p) => p.ancestors(system, code, options)),
    // Read per request (a repository is made per request): without a current provider that
    // validates codes there is nothing to ask, and writes skip the asking altogether.
    get validateCode() {
      const provider = current();
      return provider?.validateCode ? (url: string, coding: Concept) => provider.validateCode!(url, coding) : undefined;
    },
  };
}

export const PROCESS_TERMINOLOGY: TerminologyProvider = fallingBackToCore(() => registered);
