/**
 * The seam registries hang their rules on: code that runs around every write of an engine,
 * inside the write's database transaction (a client registry links golden records, a facility
 * registry checks hierarchies, an insurance service adjudicates). A `before` hook may return a
 * changed resource or throw a FhirError to refuse the write; an `after` hook sees what was
 * stored, and may write more through the repository it is given — all of it commits or rolls
 * back with the write.
 */
import type { Resource } from '@medplum/fhirtypes';
import type { FhirRepository } from './repository.js';

export type WriteAction = 'create' | 'update' | 'patch' | 'delete';

export interface WriteEvent {
  action: WriteAction;
  type: string;
  id: string;
  /** The resource about to be stored (undefined for a delete). */
  resource?: Resource;
  /** The current version, when there is one (update, patch, delete). */
  previous?: Resource;
  /** A repository bound to the write's transaction. */
  repo: FhirRepository;
}

export interface WriteInterceptor {
  /** Names the interceptor in logs and errors. */
  name: string;
  /** Resource types it watches; all when omitted. */
  types?: readonly string[];
  before?(event: WriteEvent): Promise<Resource | void> | Resource | void;
  after?(event: WriteEvent & { stored?: Resource }): Promise<void> | void;
  /**
   * Its hooks read what earlier writes stored (e.g. matching a record against those before it): a
   * transaction's creates are then each written before the next one's hooks run, instead of all in
   * one statement after every `before`.
   */
  readsEarlierWrites?: boolean;
  /**
   * Creates a caller writes together and vouches independent of each other (a bulk load:
   * `insertPrepared`'s `independent`) come here in one call instead of `before` for each: checks
   * that can ask the database once for all of them. It may refuse (throw), not change them.
   */
  beforeCreates?(events: WriteEvent[]): Promise<void> | void;
  /**
   * Those creates once written come here in one call instead of `after` for each, for hooks
   * that write rows of their own in bulk. It must do for each what `after` would.
   */
  afterCreates?(events: Array<WriteEvent & { stored?: Resource }>): Promise<void> | void;
}

function watches(interceptor: WriteInterceptor, type: string): boolean {
  return !interceptor.types || interceptor.types.includes(type);
}

/** Runs the `before` hooks in order; each sees the resource as the previous one left it. */
export async function runBeforeWrite(interceptors: readonly WriteInterceptor[], event: WriteEvent): Promise<Resource | undefined> {
  let resource = event.resource;
  for (const interceptor of interceptors) {
    if (!interceptor.before || !watches(interceptor, event.type)) continue;
    const changed = await interceptor.before({ ...event, resource });
    if (changed) resource = changed;
  }
  return resource;
}

export async function runAfterWrite(interceptors: readonly WriteInterceptor[], event: WriteEvent & { stored?: Resource }): Promise<void> {
  for (const interceptor of interceptors) {
    if (interceptor.after && watches(interceptor, event.type)) await interceptor.after(event);
  }
}

/**
 * The `before` hooks of independent creates: an interceptor's `beforeCreates` once with all it
 * watches, or its `before` for each (`blame` names the resource at fault). Returns each resource
 * as the hooks left it.
 */
export async function runBeforeCreates(interceptors: readonly WriteInterceptor[], events: WriteEvent[],
  blame: <T>(index: number, fn: () => Promise<T>) => Promise<T>): Promise<Array<Resource | undefined>> {
  const resources = events.map((event) => event.resource);
  for (const interceptor of interceptors) {
    const watched = events.flatMap((event, n) => (watches(interceptor, event.type) ? [n] : []));
    if (!watched.length) continue;
    if (interceptor.beforeCreates) {
      await interceptor.beforeCreates(watched.map((n) => ({ ...events[n]!, resource: resources[n] })));
      continue;
    }
    const before = interceptor.before?.bind(interceptor);
    if (!before) continue;
    for (const n of watched) {
      const changed = await blame(n, async () => before({ ...events[n]!, resource: resources[n] }));
      if (changed) resources[n] = changed;
    }
  }
  return resources;
}

/** The `after` hooks of independent creates: an interceptor's `afterCreates` once with all it watches, or its `after` for each. */
export async function runAfterCreates(interceptors: readonly WriteInterceptor[], events: Array<WriteEvent & { stored?: Resource }>): Promise<void> {
  for (const interceptor of interceptors) {
    const watched = events.filter((event) => watches(interceptor, event.type));
    if (!watched.length) continue;
    if (interceptor.afterCreates) await interceptor.afterCreates(watched);
    else if (interceptor.after) for (const event of watched) await interceptor.after(event);
  }
}
