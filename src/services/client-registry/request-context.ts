/**
 * Who is writing, for the registry's rules deep inside a write (interceptors see a repository, not
 * the HTTP request): the sender the router vouched for, and whether the write is the registry's
 * own. Golden records, `refer`/`replaced-by` links and merges are the registry's alone; a client's
 * write that carries them is refused (the golden-tag bypass: a Patient sent with the golden tag
 * used to skip matching and stand as a person of its own).
 */
import { AsyncLocalStorage } from 'node:async_hooks';

/** The role that makes a sender a data steward (docs/client-registry.md, "Who may do what"). */
export const STEWARD_ROLE = 'client-registry-steward';

export interface RegistryCall {
  /** The clientID the router authenticated (verified signature), undefined when anonymous. */
  sender?: string;
  /**
   * A data steward: a sender the router vouched for with STEWARD_ROLE, or an unsigned HTTP caller
   * when CLIENT_REGISTRY_DIRECT_CALLERS=steward. Stewards link, unlink, merge, unmerge, review, and
   * change any source record.
   */
  steward?: boolean;
  /** true inside the registry's own writes (linking, merging). */
  internal: boolean;
}

const calls = new AsyncLocalStorage<RegistryCall>();

/** Runs a client's request with its sender known to every write it causes. */
export function asSender<T>(sender: string | undefined, fn: () => Promise<T>, steward = false): Promise<T> {
  return calls.run({ sender, steward, internal: false }, fn);
}

/** Runs the registry's own writes (golden records, links, merges): the rules for clients do not apply. */
export function asRegistry<T>(fn: () => Promise<T>): Promise<T> {
  return calls.run({ ...(calls.getStore() ?? {}), internal: true }, fn);
}

/** Runs a client's write from inside registry code (e.g. a PMIR entry): the client rules apply again. */
export function asClientWrite<T>(fn: () => Promise<T>): Promise<T> {
  return calls.run({ ...(calls.getStore() ?? {}), internal: false }, fn);
}

export function isRegistryWrite(): boolean {
  return calls.getStore()?.internal === true;
}

export function currentSender(): string | undefined {
  return calls.getStore()?.sender;
}

export function isSteward(): boolean {
  return calls.getStore()?.steward === true;
}

/** Who is calling, for a refusal's message. */
export function callerName(): string {
  const sender = currentSender();
  return sender ? `client ${sender}` : 'an anonymous caller (not vouched for by the router)';
}
