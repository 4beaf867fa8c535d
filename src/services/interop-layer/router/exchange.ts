/**
 * One message through the router: what came in, what the steps decided, what goes back.
 * Steps read and write an Exchange; none of them sees a socket, so the same steps serve the
 * HTTP and HTTPS listeners and the rerun of a stored transaction.
 */
import type { ConcurrencyGate } from '../concurrency-gate.js';
import type { IncomingHttpHeaders } from 'node:http';
import type { Client, Transaction, TransactionStatus } from '../models.js';
import type { CompiledChannel } from '../routing-table.js';
import type { IolDeps } from '../deps.js';
import type { IolConfig } from '../config.js';
import type { Logger } from '../../../common/logger.js';
import type { RoutingTable } from '../routing-table.js';
import type { VerificationCache } from '../passwords.js';
import type { TransactionLog } from '../store/transactions.js';
import type { AuditInput } from '../store/audits.js';
import type { RouterMetrics } from '../metrics.js';
import type { UpstreamClient } from './upstream.js';
import type { JwtVerifier } from './jwt.js';

export interface RouterRequest {
  method: string;
  path: string;
  /** Without the leading `?`. */
  querystring: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  clientIP: string;
  host: string;
  port: number;
  /** The address of the listener the request arrived on. */
  listenerAddress?: string | undefined;
  /** Arrived over the HTTPS listener. */
  secure?: boolean;
  /** SHA-1 fingerprint of the client certificate presented over TLS, if any. */
  peerFingerprint?: string | undefined;
  /** The peer certificate chains to the keystore's trusted list or a public root (socket.authorized). */
  peerTrusted?: boolean | undefined;
}

export interface RouterResponse {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
  /**
   * For an answer that has no body by definition (to HEAD, or a 304): the upstream's
   * Content-Length, the length of the representation it stands for (RFC 9110 8.6), relayed as
   * it came; null when it sent none. Undefined for every other answer (its body's length is sent).
   */
  representationLength?: string | null | undefined;
  /** The router's own answer (not an upstream's): a FHIR client gets it as an OperationOutcome (fhir-errors.ts). */
  own?: true | undefined;
}

export interface Exchange {
  readonly request: RouterRequest;
  /** process.hrtime.bigint() at arrival. */
  readonly startedAt: bigint;
  client?: Client | undefined;
  /** Why the credentials offered were refused, when they were. */
  authFailure?: string | undefined;
  channel?: CompiledChannel | undefined;
  /** Set once the request is authorised: only then is a transaction logged. */
  transaction?: Transaction | undefined;
  /** Status a mediator asked for (application/json+openhim). */
  mediatorStatus?: TransactionStatus | undefined;
  /** How the primary route answered: its status, or that it failed (no answer). */
  primaryOutcome?: { status?: number | undefined; failed: boolean } | undefined;
  /** Set by any step: the answer, which also ends the request steps. It is what the log stores. */
  response?: RouterResponse | undefined;
  /** The answer as sent, when it differs from `response` (compressed for the client: compress-for-client.ts). */
  clientResponse?: RouterResponse | undefined;
  /** Set by a step that ends the request early (no route ran). */
  halted?: boolean;
  /** Abandons the primary route's call (set while it runs; the listener calls it when the client goes away). */
  cancelPrimary?: (() => void) | undefined;
}

/**
 * What the router's steps use, and no more: the service gives its own objects; a router worker
 * process (router/workers/) gives stand-ins that pass the log, audits and counts to the service.
 */
export interface RouterDeps {
  config: IolConfig;
  logger: Logger;
  routing: RoutingTable;
  verified: VerificationCache;
  /** Bounds bcrypt client verifications in this process (OPENHIM_CLIENT_BCRYPT_MAX_CONCURRENT). */
  bcryptGate: ConcurrencyGate;
  transactions: Pick<TransactionLog, 'begin' | 'finish'>;
  audits: { record(input: AuditInput): unknown };
  metrics: Pick<RouterMetrics, 'countAuthFailure' | 'observe'>;
  upstream: UpstreamClient;
  jwt?: JwtVerifier | undefined;
}

/** The service's own deps: the admin API's, and the router's for rerun and auto-retry. */
export type ServiceDeps = IolDeps & RouterDeps;

/** A step of the pipeline: may add to the exchange, or set `response` and `halted` to stop. */
export type RouterStep = (exchange: Exchange, deps: RouterDeps) => Promise<void> | void;

export function textResponse(status: number, message: string, headers: Record<string, string> = {}): RouterResponse {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8', ...headers }, body: Buffer.from(message), own: true };
}

export function halt(exchange: Exchange, response: RouterResponse): void {
  exchange.response = response;
  exchange.halted = true;
}
