/**
 * Module resolve hooks (node:module register), run in Node's loader thread. Registered by
 * package-imports.ts; resolution of every other specifier is untouched.
 */
interface ResolveContext {
  parentURL?: string;
  conditions: string[];
  importAttributes?: Record<string, string>;
}
type NextResolve = (specifier: string, context?: Partial<ResolveContext>) => Promise<{ url: string; format?: string | null; shortCircuit?: boolean }>;

/** Always the CLI's copy: cucumber keeps its step registry in module state. */
const ALWAYS_FROM_CLI = ['@cucumber/cucumber'];
/** The package's own copy when installed (a pinned version), else the CLI's. */
const FALLBACK_TO_CLI = ['@instant-openhie/mediator-sdk'];

let cliURL = '';

export function initialize(data: { cliURL: string }): void {
  cliURL = data.cliURL;
}

function isOneOf(specifier: string, names: string[]): boolean {
  return names.some((name) => specifier === name || specifier.startsWith(`${name}/`));
}

export async function resolve(specifier: string, context: ResolveContext, nextResolve: NextResolve): ReturnType<NextResolve> {
  if (isOneOf(specifier, ALWAYS_FROM_CLI)) return nextResolve(specifier, { ...context, parentURL: cliURL });
  try {
    return await nextResolve(specifier, context);
  } catch (error) {
    if ((error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' && isOneOf(specifier, FALLBACK_TO_CLI)) {
      return nextResolve(specifier, { ...context, parentURL: cliURL });
    }
    throw error;
  }
}
