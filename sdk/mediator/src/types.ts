/**
 * OpenHIM mediator types, as a mediator sends and receives them. The SDK talks to the interop
 * layer over HTTP only, so it has its own types rather than importing the service's.
 */
export type ConfigType = 'string' | 'bool' | 'number' | 'option' | 'bigstring' | 'map' | 'struct' | 'password';

export interface ConfigDef {
  param: string;
  displayName?: string;
  description?: string;
  type: ConfigType;
  values?: string[];
  template?: ConfigDef[];
  array?: boolean;
}

export interface MediatorRoute {
  name: string;
  host: string;
  port: number | string;
  path?: string;
  pathTransform?: string;
  primary?: boolean;
  type?: 'http';
  secured?: boolean;
  username?: string;
  password?: string;
  forwardAuthHeader?: boolean;
  waitPrimaryResponse?: boolean;
  statusCodesCheck?: string;
}

export interface MediatorChannel {
  name: string;
  urlPattern: string;
  description?: string;
  methods?: string[];
  priority?: number;
  authType?: 'private' | 'public';
  allow?: string[];
  whitelist?: string[];
  routes: MediatorRoute[];
  timeout?: number;
  isAsynchronousProcess?: boolean;
  requestBody?: boolean;
  responseBody?: boolean;
  [extra: string]: unknown;
}

/** What POST /mediators takes. */
export interface MediatorRegistration<Config extends Record<string, unknown> = Record<string, unknown>> {
  urn: string;
  version: string;
  name: string;
  description?: string;
  endpoints: MediatorRoute[];
  defaultChannelConfig?: MediatorChannel[];
  configDefs?: ConfigDef[];
  config?: Config;
}

export type TransactionStatus = 'Processing' | 'Pending Async' | 'Successful' | 'Completed' | 'Completed with error(s)' | 'Failed';

export interface OrchestrationRequest {
  host?: string;
  port?: number | string;
  path: string;
  headers?: Record<string, string>;
  querystring?: string;
  body?: string;
  method: string;
  timestamp: string;
}

export interface OrchestrationResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  timestamp: string;
}

export interface Orchestration {
  name: string;
  group?: string;
  request: OrchestrationRequest;
  response?: OrchestrationResponse;
  error?: { message: string; stack?: string };
}

/** The body of an `application/json+openhim` response. */
export interface MediatorResult {
  'x-mediator-urn': string;
  status: TransactionStatus;
  response: OrchestrationResponse;
  orchestrations?: Orchestration[];
  properties?: Record<string, unknown>;
  error?: { message: string; stack?: string };
}
