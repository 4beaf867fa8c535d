/**
 * The router as a visible list of steps (after OpenHIM's koaMiddleware, typed). `request`
 * steps run until one halts; the answer then goes back; `after` steps finish the log off the
 * client's path. Variants are built by swapping steps, e.g. rerun skips authentication.
 */
import type { Exchange, RouterDeps, RouterStep } from './exchange.js';
import { authenticateClient } from './steps/authenticate-client.js';
import { authoriseClient } from './steps/authorise-client.js';
import { matchChannel } from './steps/match-channel.js';
import { recordTransaction } from './steps/record-transaction.js';
import { awaitSecondaryRoutes, routeToUpstreams } from './steps/route-to-upstreams.js';
import { setFinalStatus } from './steps/set-final-status.js';

export interface Pipeline {
  request: readonly RouterStep[];
  after: readonly RouterStep[];
}

export const routerPipeline: Pipeline = {
  request: [authenticateClient, matchChannel, authoriseClient, routeToUpstreams],
  after: [awaitSecondaryRoutes, setFinalStatus, recordTransaction],
};

export async function runRequestSteps(pipeline: Pipeline, exchange: Exchange, deps: RouterDeps): Promise<void> {
  for (const step of pipeline.request) {
    await step(exchange, deps);
    if (exchange.halted) return;
  }
}

export async function runAfterSteps(pipeline: Pipeline, exchange: Exchange, deps: RouterDeps): Promise<void> {
  for (const step of pipeline.after) await step(exchange, deps);
}
