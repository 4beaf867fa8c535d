/**
 * The router's side of ClientCostQuota: refuse a client over its slow-time budget before its
 * body is read (429, Retry-After), and count each request's time when it is done. A client is
 * its _id once authenticated, else its address (anonymous callers of public channels).
 */
import type { IolConfig } from '../../config.js';
import { ClientCostQuota } from '../client-quota.js';
import { halt, textResponse, type Exchange, type RouterDeps } from '../exchange.js';

/** One quota per router configuration (the service, or a router worker process). */
const quotas = new WeakMap<IolConfig, ClientCostQuota>();

function quotaOf(deps: RouterDeps): ClientCostQuota {
  let quota = quotas.get(deps.config);
  if (!quota) {
    quota = new ClientCostQuota(deps.config.limits);
    quotas.set(deps.config, quota);
  }
  return quota;
}

function clientKey(exchange: Exchange): string {
  return exchange.client ? `client:${exchange.client._id}` : `address:${exchange.request.clientIP}`;
}

export function refuseOverQuota(exchange: Exchange, deps: RouterDeps): void {
  const waitMs = quotaOf(deps).retryAfterMs(clientKey(exchange));
  if (waitMs <= 0) return;
  const seconds = Math.max(1, Math.ceil(waitMs / 1000));
  halt(exchange, textResponse(429, `this client's slow requests took more than ${deps.config.limits.routerClientSlowBudgetMs} ms in the last minute (OPENHIM_ROUTER_CLIENT_SLOW_BUDGET_MS); retry in ${seconds} s, and narrow costly searches`, { 'retry-after': String(seconds) }));
}

export function recordClientCost(exchange: Exchange, deps: RouterDeps): void {
  if (!exchange.transaction) return; // refused before routing: it cost nothing upstream
  const durationMs = Number(process.hrtime.bigint() - exchange.startedAt) / 1e6;
  quotaOf(deps).record(clientKey(exchange), durationMs);
}
