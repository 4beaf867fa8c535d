/**
 * Routes and orchestrations one transaction stores (OPENHIM_TRANSACTION_MAX_PARTS): every part is
 * in the transaction's document, which each page of GET /transactions and GET /events carries, so
 * 20,000 of them made pages of 100 MB. POST and PUT past the cap are refused; a mediator's
 * orchestrations past it are cut, the last kept one a marker saying how many were left out.
 */
import { badRequest } from './errors.js';
import type { Orchestration } from './models.js';

interface WithParts {
  routes?: ReadonlyArray<{ orchestrations?: readonly unknown[] | undefined }> | undefined;
  orchestrations?: readonly unknown[] | undefined;
}

/** Routes, the transaction's orchestrations and each route's. */
export function countParts(tx: WithParts): number {
  const routes = Array.isArray(tx.routes) ? tx.routes : [];
  let count = routes.length + (Array.isArray(tx.orchestrations) ? tx.orchestrations.length : 0);
  for (const route of routes) if (route && Array.isArray(route.orchestrations)) count += route.orchestrations.length;
  return count;
}

/** A 400 when the transaction carries more parts than `max`. */
export function refuseTooManyParts(tx: WithParts, max: number): void {
  const count = countParts(tx);
  if (count > max) throw badRequest(`the transaction has ${count} routes and orchestrations, more than ${max} (OPENHIM_TRANSACTION_MAX_PARTS)`);
}

/** A mediator's orchestrations, at most `max`: past it the first `max - 1` and a marker. */
export function capOrchestrations(orchestrations: Orchestration[], max: number): Orchestration[] {
  if (orchestrations.length <= max) return orchestrations;
  const kept = orchestrations.slice(0, Math.max(0, max - 1));
  const left = orchestrations.length - kept.length;
  const marker = { name: 'orchestrations cut', error: { message: `${left} more orchestrations of the mediator's answer were not stored (OPENHIM_TRANSACTION_MAX_PARTS = ${max})` } } as unknown as Orchestration;
  return [...kept, marker];
}
