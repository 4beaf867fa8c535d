/**
 * The router as a visible list of steps (after OpenHIM's koaMiddleware, typed). `headers` steps
 * run on the request line and headers alone, before the body is read (so a caller refused there
 * never sends, nor holds memory for, a body); `request` steps run on the whole request until one
 * halts; the answer then goes back; `after` steps finish the log off the client's path. Variants
 * are built by swapping steps, e.g. rerun skips authentication.
 */
import type { Exchange, RouterDeps, RouterStep } from './exchange.js';
import { authenticateClient } from './steps/authenticate-client.js';
import { authoriseClient } from './steps/authorise-client.js';
import { recordClientCost, refuseOverQuota } from './steps/client-quota.js';
import { dropSenderHeaders } from './steps/drop-sender-headers.js';
import { dropOwnSessionCookies } from './steps/drop-own-session-cookies.js';
import { matchChannel } from './steps/match-channel.js';
import { normalisePath } from './steps/normalise-path.js';
import { recordTransaction } from './steps/record-transaction.js';
import { refuseUnauthenticated } from './steps/refuse-unauthenticated.js';
import { awaitSecondaryRoutes, routeToUpstreams } from './steps/route-to-upstreams.js';
import { setFinalStatus } from './steps/set-final-status.js';
import { rewriteResponseUrls } from './steps/rewrite-urls.js';
import { decodeForClient } from './steps/decode-for-client.js';
import { compressForClient } from './steps/compress-for-client.js';
import { acceptTcpSender, routeToMllp } from './steps/route-to-mllp.js';

export interface Pipeline {
  headers: readonly RouterStep[];
  request: readonly RouterStep[];
  after: readonly RouterStep[];
}

export const routerPipeline: Pipeline = {
  headers: [normalisePath, dropSenderHeaders, dropOwnSessionCookies, authenticateClient, refuseUnauthenticated, refuseOverQuota],
  request: [matchChannel, authoriseClient, routeToUpstreams, decodeForClient, rewriteResponseUrls, compressForClient],
  after: [awaitSecondaryRoutes, recordClientCost, setFinalStatus, recordTransaction],
};

/** A tcp channel's message (tcp-channels.ts): no HTTP head, no client; the log as for HTTP. */
export const tcpPipeline: Pipeline = {
  headers: [],
  request: [acceptTcpSender, routeToMllp],
  after: [setFinalStatus, recordTransaction],
};

/** A tcp channel whose primary route is http (OpenHIM's tcp -> http): the message is POSTed to the routes as an HTTP request's body would be. */
export const tcpToHttpPipeline: Pipeline = {
  headers: [],
  request: [acceptTcpSender, routeToUpstreams],
  after: [awaitSecondaryRoutes, setFinalStatus, recordTransaction],
};

/**
 * Runs the steps in order until one halts. Synchronous steps run without an `await` each: every
 * await of a non-promise still costs a promise and a microtask turn, and most steps are
 * synchronous. Returns a promise only once a step has returned one.
 */
function runSteps(steps: readonly RouterStep[], exchange: Exchange, deps: RouterDeps, from = 0): void | Promise<void> {
  for (let i = from; i < steps.length; i++) {
    const pending = steps[i]!(exchange, deps);
    if (pending) return pending.then(() => (exchange.halted ? undefined : runSteps(steps, exchange, deps, i + 1)));
    if (exchange.halted) return;
  }
}

/** Steps that need only the request line and headers; the body is empty while they run. */
export function runHeaderSteps(pipeline: Pipeline, exchange: Exchange, deps: RouterDeps): void | Promise<void> {
  return runSteps(pipeline.headers, exchange, deps);
}

export function runRequestSteps(pipeline: Pipeline, exchange: Exchange, deps: RouterDeps): void | Promise<void> {
  return runSteps(pipeline.request, exchange, deps);
}

/** Every after step, whatever the others did (they finish the log). */
export function runAfterSteps(pipeline: Pipeline, exchange: Exchange, deps: RouterDeps, from = 0): void | Promise<void> {
  const steps = pipeline.after;
  for (let i = from; i < steps.length; i++) {
    const pending = steps[i]!(exchange, deps);
    if (pending) return pending.then(() => runAfterSteps(pipeline, exchange, deps, i + 1));
  }
}
