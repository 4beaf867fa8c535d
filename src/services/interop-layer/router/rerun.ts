/**
 * Rerun: replays a stored transaction's request through the router steps that route and log,
 * skipping authentication (the original was authorised), and links parent and child. The
 * stored path is normalised as a live request's is, and must still match the channel (a
 * transaction logged before paths were normalised cannot slip past it); credentials masked
 * in the log are not replayed.
 */
import { dropSenderHeaders } from './steps/drop-sender-headers.js';
import type { Exchange, ServiceDeps } from './exchange.js';
import { runAfterSteps, runRequestSteps, type Pipeline } from './pipeline.js';
import { awaitSecondaryRoutes, routeToUpstreams } from './steps/route-to-upstreams.js';
import { methodNeedsBody, setFinalStatus } from './steps/set-final-status.js';
import { rewriteResponseUrls } from './steps/rewrite-urls.js';
import { recordTransaction } from './steps/record-transaction.js';
import { newObjectId } from '../ids.js';
import { isMasked, withoutMaskedParameters } from './bodies.js';
import { normaliseRequestPath } from './request-path.js';
import type { Transaction } from '../models.js';

const rerunPipeline: Pipeline = {
  headers: [dropSenderHeaders],
  request: [routeToUpstreams, rewriteResponseUrls],
  after: [awaitSecondaryRoutes, setFinalStatus, recordTransaction],
};

export async function rerunTransaction(deps: ServiceDeps, transactionId: string, options: { autoRetryAttempt?: number; taskID?: string } = {}): Promise<string> {
  const original = await deps.transactions.byId(transactionId);
  if (!original) throw new Error(`Transaction ${transactionId} could not be found`);
  // OpenHIM's words (src/tasks.js rerunGetTransaction). A request without a stored body is
  // replayed without one unless its method needs it (messageStore.js: POST, PUT, PATCH).
  const bodyless = original.request.body === undefined && original.request.bodyBase64 === undefined;
  if (!original.canRerun || (bodyless && methodNeedsBody(original.request.method))) {
    throw new Error(`Transaction ${transactionId} cannot be rerun as there isn't enough information about the request`);
  }
  const channel = deps.routing.enabledChannels().find((c) => c.channel._id === original.channelID);
  if (!channel) throw new Error(`the channel of transaction ${transactionId} is missing or disabled`);
  // clientID is the client's _id; transactions logged before that held its clientID.
  const client = original.clientID ? (deps.routing.clientById(original.clientID) ?? deps.routing.client(original.clientID))?.client : undefined;
  const path = normaliseRequestPath(original.request.path);
  if (!path.ok) throw new Error(`transaction ${transactionId} cannot be rerun: ${path.reason}`);
  if (!channel.urlPattern.test(path.path)) throw new Error(`transaction ${transactionId} cannot be rerun: its path ${path.path} does not match its channel`);
  const headers = Object.fromEntries(Object.entries(original.request.headers ?? {}).filter(([, value]) => !isMasked(value)));
  const child: Transaction = {
    ...original,
    _id: newObjectId(),
    parentID: original._id,
    childIDs: [],
    request: { ...original.request, timestamp: new Date().toISOString() },
    routes: [],
    orchestrations: [],
    canRerun: true,
    wasRerun: false,
    autoRetry: false,
    ...(options.autoRetryAttempt ? { autoRetryAttempt: options.autoRetryAttempt } : {}),
    ...(options.taskID ? { taskID: options.taskID } : {}),
    status: 'Processing',
  };
  if (!options.taskID) delete child.taskID; // a rerun of a rerun is not that task's
  delete child.response;
  delete child.error;
  delete child.properties;
  const exchange: Exchange = {
    startedAt: process.hrtime.bigint(),
    request: {
      method: original.request.method,
      path: path.path,
      querystring: withoutMaskedParameters(original.request.querystring),
      headers,
      // The exact bytes: a body that is not UTF-8 is replayed from bodyBase64, not its decoding.
      body: original.request.bodyBase64 !== undefined ? Buffer.from(original.request.bodyBase64, 'base64') : Buffer.from(original.request.body ?? '', 'utf8'),
      clientIP: original.clientIP ?? '',
      host: String(original.request.host ?? ''),
      port: Number(original.request.port ?? 0),
    },
    channel,
    client,
    transaction: child,
  };
  deps.transactions.begin(child);
  await runRequestSteps(rerunPipeline, exchange, deps);
  await runAfterSteps(rerunPipeline, exchange, deps);
  const latest = (await deps.transactions.byId(original._id)) ?? original;
  await deps.transactions.save({ ...latest, childIDs: [...latest.childIDs, child._id], wasRerun: true });
  await deps.transactions.flush();
  return child._id;
}
