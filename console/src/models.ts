/** The OpenHIM models as the admin API returns them (the fields the console uses). */

export interface User {
  _id?: string;
  email: string;
  firstname?: string;
  surname?: string;
  groups?: string[];
}

export interface Route {
  _id?: string;
  name: string;
  host: string;
  port: number | string;
  path?: string;
  pathTransform?: string;
  primary?: boolean;
  secured?: boolean;
  username?: string;
  password?: string;
  type?: string;
  status?: 'enabled' | 'disabled';
  forwardAuthHeader?: boolean;
}

export interface Channel {
  _id?: string;
  name: string;
  description?: string;
  urlPattern: string;
  methods?: string[];
  type?: string;
  priority?: number;
  authType?: 'public' | 'private';
  allow?: string[];
  whitelist?: string[];
  routes?: Route[];
  status?: 'enabled' | 'disabled' | 'deleted';
  requestBody?: boolean;
  responseBody?: boolean;
  txViewAcl?: string[];
  txViewFullAcl?: string[];
  txRerunAcl?: string[];
}

export interface Client {
  _id?: string;
  clientID: string;
  name: string;
  roles: string[];
  certFingerprint?: string;
  customTokenSet?: boolean;
  passwordAlgorithm?: string;
  organization?: string;
  description?: string;
}

export interface HttpPart {
  host?: string;
  port?: string | number;
  path?: string;
  querystring?: string;
  method?: string;
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  timestamp?: string;
}

export interface Orchestration {
  name: string;
  request?: HttpPart;
  response?: HttpPart;
  error?: { message?: string };
}

export interface TransactionRoute {
  name: string;
  request?: HttpPart;
  response?: HttpPart;
  orchestrations?: Orchestration[];
  error?: { message?: string };
}

export type TransactionStatus = 'Processing' | 'Failed' | 'Completed' | 'Successful' | 'Completed with error(s)' | 'Pending Async';
export const TRANSACTION_STATUSES: TransactionStatus[] = ['Processing', 'Failed', 'Completed', 'Successful', 'Completed with error(s)', 'Pending Async'];

export interface Transaction {
  _id: string;
  status: TransactionStatus;
  channelID?: string;
  clientID?: string;
  request: HttpPart;
  response?: HttpPart;
  routes?: TransactionRoute[];
  orchestrations?: Orchestration[];
  parentID?: string;
  childIDs?: string[];
  wasRerun?: boolean;
  canRerun?: boolean;
  error?: { message?: string };
}

export interface ConfigDef {
  param: string;
  displayName?: string;
  description?: string;
  type: string;
  values?: string[];
  array?: boolean;
}

export interface Mediator {
  _id?: string;
  urn: string;
  name: string;
  version: string;
  description?: string;
  endpoints?: Route[];
  defaultChannelConfig?: Channel[];
  configDefs?: ConfigDef[];
  config?: Record<string, unknown>;
  _lastHeartbeat?: string;
  _uptime?: number;
}

export interface TaskTransaction {
  tid: string;
  tstatus?: string;
  rerunID?: string;
  rerunStatus?: string;
  error?: string;
}

export interface Task {
  _id: string;
  status: string;
  created?: string;
  completedDate?: string;
  totalTransactions?: number;
  remainingTransactions?: number;
  user?: string;
  transactions?: TaskTransaction[];
}

export interface Role {
  name: string;
  channels?: Array<{ _id: string; name: string }>;
  clients?: Array<{ _id: string; clientID: string }>;
}

export interface Metric {
  total: number;
  avgResp?: number;
  minResp?: number;
  maxResp?: number;
  failed: number;
  successful: number;
  processing: number;
  completed: number;
  completedWErrors: number;
  timestamp?: string;
}

/** A certificate as OpenHIM's keystore API shows it (`/keystore/cert`, each of `/keystore/ca`). */
export interface CertificateInfo {
  _id?: string;
  commonName?: string;
  country?: string;
  state?: string;
  locality?: string;
  organization?: string;
  organizationUnit?: string;
  emailAddress?: string;
  validity: { start: string; end: string };
  data: string;
  fingerprint: string;
}
