/**
 * What the service and its router worker processes say to each other over the cluster's IPC
 * channel (advanced serialisation: Buffers arrive as Uint8Arrays). The channel is the two
 * processes' own pipe: client secrets travel in routing snapshots, never in a log line.
 */
import type { RoutingSnapshot } from '../../routing-table.js';
import type { TransactionRow } from '../../store/transactions.js';
import type { AuditInput } from '../../store/audits.js';
import type { TlsIdentity } from '../../keystore/store.js';

export interface WorkerInit {
  type: 'init';
  /** The service's settings (secrets included), read by the worker as the service reads them. */
  settings: Record<string, string>;
  logLevel: string;
  /** Log a line per request (containers: `instant serve`), as the service does. */
  accessLog?: boolean;
  /** The keystore's certificate, key and trusted list, for the HTTPS listener. */
  certificate?: TlsIdentity | undefined;
  /** The worker's share of the router's body budget and connection cap (the totals stay the service's limits). */
  share: number;
  snapshot: RoutingSnapshot;
}

export type PrimaryMessage = WorkerInit | { type: 'routing'; snapshot: RoutingSnapshot } | { type: 'tls'; tls: TlsIdentity } | { type: 'stop' };

/** What a worker's requests produced since its last report: sent once per turn of its event loop. */
export interface WorkerReport {
  type: 'report';
  rows: TransactionRow[];
  /** [channel name, status, seconds] per finished transaction. */
  observations: Array<[string, string, number]>;
  authFailures: number;
  audits: AuditInput[];
}

export type WorkerMessage =
  /** Its listener is in place (a message sent before would be lost): send the init now. */
  | { type: 'ready' }
  | { type: 'listening'; http: string; https?: string | undefined }
  | { type: 'failed'; message: string }
  | WorkerReport
  | { type: 'log'; line: string }
  | { type: 'stopped' };
