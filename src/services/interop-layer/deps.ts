import type { Mailer } from '../../common/mailer.js';
import type { SmsGateway } from '../../common/sms-gateway.js';
import type { Database } from '../../db/database.js';
import type { Logger } from '../../common/logger.js';
import type { IolConfig } from './config.js';
import type { VerificationCache } from './passwords.js';
import type { AuditLog } from './store/audits.js';
import type { ChannelStore, ClientStore, ContactGroupStore, MediatorStore } from './store/entities.js';
import type { TransactionLog } from './store/transactions.js';
import type { UserStore } from './store/users.js';
import type { RoutingTable } from './routing-table.js';
import type { RouterMetrics } from './metrics.js';
import type { KeystoreStore } from './keystore/store.js';
import type { LiveTls } from './keystore/live-tls.js';
import type { ServerLogs } from '../../common/server-logs.js';

/** Everything the admin API and the router share, built once at start (no global state). */
export interface IolDeps {
  config: IolConfig;
  db: Database;
  logger: Logger;
  users: UserStore;
  clients: ClientStore;
  channels: ChannelStore;
  mediators: MediatorStore;
  contactGroups: ContactGroupStore;
  transactions: TransactionLog;
  audits: AuditLog;
  routing: RoutingTable;
  metrics: RouterMetrics;
  /** Successful password checks, so repeated Basic auth does not pay scrypt each time. */
  verified: VerificationCache;
  startedAt: Date;
  /** Server key the users' token salts are derived from (passwords.ts tokenSalt). */
  tokenSaltKey: Buffer;
  /** This replica's id (replicas/membership.ts): what it claims and logs is marked with it. */
  replicaId?: string;
  /** The server certificate, key and trusted certificates (OpenHIM's keystore). */
  keystore: KeystoreStore;
  /** What the TLS listeners serve now, following the keystore. */
  tls: LiveTls;
  /** E-mail to people (set-password links); `configured` false without OPENHIM_SMTP_URL. */
  mailer: Mailer;
  /** Text messages to people (SMS alerts); `configured` false without OPENHIM_SMS_URL. */
  sms: SmsGateway;
  /** Polls a channel now (POST /channels/:id/trigger): the transaction made, and whether its primary route failed. */
  poll?: (channelId: string) => Promise<{ transactionId?: string; failed: boolean } | undefined>;
  /** The process's recent log records (GET /logs); absent when the process keeps none. */
  serverLogs?: ServerLogs | undefined;
  /** Re-sends a stored transaction through the router (rerun). */
  rerun?: (transactionId: string, taskID?: string) => Promise<string>;
}
