/**
 * The transaction's final status, as OpenHIM defines it: a mediator's status wins; else a
 * failed or 5xx primary is Failed; a failed or 5xx other route makes it Completed with
 * error(s); a 2xx primary with all routes 2xx is Successful (Pending Async on an asynchronous
 * channel); anything else is Completed.
 */
import type { Exchange, RouterDeps } from '../exchange.js';
import { bodyIsCut, loggableHeaders } from '../bodies.js';
import { primaryOutcomeOf } from './route-to-upstreams.js';
import { reachedMaxAttempts } from '../../retry-attempts.js';

export function setFinalStatus(exchange: Exchange, deps: RouterDeps): void {
  const tx = exchange.transaction;
  if (!tx) return;
  const channel = exchange.channel!.channel;
  const cap = deps.config.maxStoredBodyBytes;
  const response = exchange.response;
  // The bodies themselves go to the log as bytes (recordTransaction): only whether they are cut here.
  const requestCut = bodyIsCut(exchange.request.body, channel.requestBody, cap);
  if (requestCut) tx.request.bodyTruncated = true;
  // As OpenHIM's messageStore.js (60-75): a request whose body is not stored can be rerun unless
  // its method carries one (POST, PUT, PATCH); a body cut at the cap never.
  if (requestCut || (!channel.requestBody && methodNeedsBody(exchange.request.method))) tx.canRerun = false;
  if (response) {
    tx.response = {
      status: response.status,
      headers: loggableHeaders(response.headers),
      timestamp: new Date().toISOString(),
      ...(bodyIsCut(response.body, channel.responseBody, cap) ? { bodyTruncated: true } : {}),
    };
  }
  const primary = primaryOutcomeOf(exchange);
  const primaryStatus = primary?.status;
  const routeFailed = tx.routes.some((r) => r.error || (r.response && r.response.status >= 500));
  const routesOk = tx.routes.every((r) => !r.error && r.response && r.response.status >= 200 && r.response.status < 300);
  if (exchange.mediatorStatus) tx.status = exchange.mediatorStatus;
  else if (!primary || primary.failed || primaryStatus === undefined || primaryStatus >= 500) tx.status = 'Failed';
  else if (routeFailed) tx.status = 'Completed with error(s)';
  else if (primaryStatus >= 200 && primaryStatus < 300 && routesOk) tx.status = channel.isAsynchronousProcess ? 'Pending Async' : 'Successful';
  else tx.status = 'Completed';
  if (tx.status === 'Failed' && channel.autoRetryEnabled && tx.canRerun) tx.autoRetry = !reachedMaxAttempts(tx.autoRetryAttempt, channel);
}

/** Methods whose rerun needs the stored body (OpenHIM's messageStore.js: POST, PUT, PATCH). */
export function methodNeedsBody(method: string): boolean {
  return method === 'POST' || method === 'PUT' || method === 'PATCH';
}
