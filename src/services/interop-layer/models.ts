/**
 * OpenHIM models with their real field names, validated once at the edge (zod) and trusted
 * inside. Unknown fields are dropped, known fields of the wrong type are a 400.
 */
import semver from 'semver';
import { z } from 'zod';
import { ONE_MAILBOX } from '../../common/email-address.js';

const portSchema = z.coerce.number().int().min(1).max(65535);

/*
 * OpenHIM stores documents through mongoose, which casts what a JSON body gives: "true"/"false"
 * (also "1"/"0", "yes"/"no", 1/0) for a boolean, a numeric string for a number, one value for a
 * list of one. The same documents are accepted here and stored typed; anything else stays a 400.
 */
const TRUE_VALUES: readonly unknown[] = ['true', '1', 'yes', 1];
const FALSE_VALUES: readonly unknown[] = ['false', '0', 'no', 0];
const castBoolean = (value: unknown) => (TRUE_VALUES.includes(value) ? true : FALSE_VALUES.includes(value) ? false : value);
const castNumber = (value: unknown) => (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)) ? Number(value) : value);
const castList = (value: unknown) => (value === undefined || value === null || Array.isArray(value) ? value : [value]);

const storedBoolean = () => z.preprocess(castBoolean, z.boolean());
/** A number as mongoose casts one: a numeric string is that number (OpenHIM's own fixtures send `status: '200'`). */
export const storedNumber = <T extends z.ZodTypeAny>(schema: T) => z.preprocess(castNumber, schema);
const storedList = <T extends z.ZodTypeAny>(item: T) => z.preprocess(castList, z.array(item));

export const routeSchema = z.object({
  _id: z.string().optional(),
  name: z.string().min(1),
  // OpenHIM's kafka routes are refused by validateChannel with their own message (no Kafka producer here).
  type: z.enum(['http', 'tcp', 'mllp']).default('http'),
  status: z.enum(['enabled', 'disabled']).default('enabled'),
  secured: storedBoolean().default(false),
  /** A secured route's trusted certificate (a keystore `/keystore/ca` id), as OpenHIM's route `cert`. */
  cert: z.string().min(1).max(64).optional(),
  // A host name (letters, digits, - _ .) or an IP address: nothing a URL parser could read
  // another way (user@host, a scheme, a path, brackets).
  host: z
    .string()
    .min(1)
    .max(253)
    .regex(/^(?:[A-Za-z0-9_.-]+|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)$/, 'must be a host name or an IP address (an IPv6 address without brackets), with no scheme, user, port or path'),
  port: portSchema,
  path: z.string().regex(/^[^\u0000-\u0020\u007f]*$/, 'must not hold spaces or control characters (CR, LF...)').optional(),
  pathTransform: z.string().optional(),
  primary: storedBoolean().default(false),
  username: z.string().optional(),
  password: z.string().optional(),
  forwardAuthHeader: storedBoolean().default(false),
  waitPrimaryResponse: storedBoolean().default(false),
  statusCodesCheck: z.string().optional(),
});
export type Route = z.infer<typeof routeSchema>;

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'] as const;

/** OpenHIM's ContactUserDef (model/contactGroups.js): who is alerted, by email or sms, how often. */
const contactUserSchema = z.object({
  user: z.string().max(254).regex(ONE_MAILBOX, 'a contact names one user, by their email'),
  method: z.enum(['email', 'sms'], { errorMap: () => ({ message: 'a contact\'s method is email or sms' }) }),
  maxAlerts: z.enum(['no max', '1 per hour', '1 per day'], { errorMap: () => ({ message: "maxAlerts is 'no max', '1 per hour' or '1 per day'" }) }).default('no max'),
});

/**
 * OpenHIM's AlertsDef (model/channels.js) as mongoose stores it: `condition` defaults to status,
 * `status` is text (500 is "500"), `failureRate` a number ("13" is 13), `groups` and `users`
 * lists (empty when not given), each user's `maxAlerts` 'no max' when not given; other fields
 * are dropped. A status alert needs a code or class (OpenHIM stores any text and never matches it).
 */
const alertSchema = z
  .object({
    condition: z.enum(['status', 'auto-retry-max-attempted'], { errorMap: () => ({ message: 'an alert condition is status or auto-retry-max-attempted' }) }).default('status'),
    status: z.preprocess((v) => (typeof v === 'number' ? String(v) : v), z.string().nullable().optional()),
    // As mongoose casts a number: '' is null (a cleared form field), '13' is 13.
    failureRate: z.preprocess((v) => (v === '' ? null : v), storedNumber(z.number({ invalid_type_error: 'failureRate is a percentage, a number from 0 to 100' }).min(0, 'failureRate is a percentage, a number from 0 to 100').max(100, 'failureRate is a percentage, a number from 0 to 100')).nullable().optional()),
    groups: z.array(z.string({ invalid_type_error: 'groups is a list of contact group ids' }), { invalid_type_error: 'groups is a list of contact group ids' }).max(100).default([]),
    users: z.array(contactUserSchema, { invalid_type_error: 'users is a list of {user, method, maxAlerts}' }).max(1000).default([]),
  })
  .superRefine((alert, ctx) => {
    if (alert.condition === 'status' && !/^[1-5](\d\d|xx)$/i.test(alert.status ?? '')) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['status'], message: 'a status alert needs a status: a code such as 500, or a class such as 4xx' });
    }
  });

export const channelSchema = z.object({
  _id: z.string().optional(),
  name: z.string().min(1),
  description: z.string().optional(),
  urlPattern: z.string().min(1),
  type: z.enum(['http', 'tcp', 'tls', 'polling']).default('http'),
  /** A `tcp` channel's own listener (OpenHIM's fields): the router accepts MLLP-framed messages there. */
  tcpHost: z.string().min(1).optional(),
  tcpPort: portSchema.optional(),
  /** A `polling` channel's schedule (OpenHIM's agenda: "5 minutes", or a cron expression; polling/schedule.ts). */
  pollingSchedule: z.string().max(200).optional(),
  /** Left out: every method for an http channel, none otherwise (validateChannel); an empty list matches no method. */
  methods: storedList(z.enum(HTTP_METHODS)).optional(),
  priority: storedNumber(z.number().int().min(1, 'Channel priority cannot be below 1 (= Highest priority)')).optional(),
  status: z.enum(['enabled', 'disabled', 'deleted']).default('enabled'),
  authType: z.enum(['private', 'public']).default('private'),
  allow: storedList(z.string().min(1, 'an allow entry is a client ID or role, not empty')).default([]),
  whitelist: storedList(z.string()).default([]),
  matchContentTypes: storedList(z.string()).default([]),
  matchContentRegex: z.string().optional(),
  /** An XPath on the XML body, or a dotted path into the JSON body, whose result must equal matchContentValue (content-match.ts). */
  matchContentXpath: z.string().optional(),
  matchContentJson: z.string().optional(),
  matchContentValue: z.string().optional(),
  requestBody: storedBoolean().default(true),
  responseBody: storedBoolean().default(true),
  maxBodyAgeDays: storedNumber(z.number().int().min(1).max(36499, "Channel property maxBodyAgeDays has to be a number that's valid (1 to 36499)")).optional(),
  timeout: storedNumber(z.number().int().min(1).max(3_600_000)).optional(),
  isAsynchronousProcess: storedBoolean().default(false),
  routes: z.array(routeSchema).default([]),
  // OpenHIM's AlertsDef (model/channels.js), stored as its mongoose schema stores it: see alertSchema.
  alerts: z.array(alertSchema).max(100, 'a channel has at most 100 alerts').default([]),
  rewriteUrls: storedBoolean().default(false),
  /** With rewriteUrls: also rewrite links to every channel's primary route (OpenHIM's default, true). */
  addAutoRewriteRules: storedBoolean().default(true),
  /** With rewriteUrls: links to fromHost:fromPort are rewritten to toHost:toPort, the path through pathTransform (OpenHIM's RewriteRule). */
  rewriteUrlsConfig: z.array(z.object({
    fromHost: z.string().min(1).max(253),
    toHost: z.string().min(1).max(253),
    fromPort: portSchema,
    toPort: portSchema,
    pathTransform: z.string().optional(),
  })).default([]),
  /** OpenHIM's free-form channel properties, kept as given. */
  properties: z.array(z.record(z.unknown())).optional(),
  autoRetryEnabled: storedBoolean().default(false),
  autoRetryPeriodMinutes: storedNumber(z.number().int().min(1)).default(60),
  autoRetryMaxAttempts: storedNumber(z.number().int().min(0)).optional(),
  txViewAcl: storedList(z.string()).default([]),
  txViewFullAcl: storedList(z.string()).default([]),
  txRerunAcl: storedList(z.string()).default([]),
  updatedBy: z.object({ id: z.string().optional(), name: z.string().optional() }).optional(),
});
export type Channel = Omit<z.infer<typeof channelSchema>, 'methods'> & { _id: string; methods: Array<(typeof HTTP_METHODS)[number]> };
export type ChannelInput = z.input<typeof channelSchema>;

/** OpenHIM's ContactGroup: a named list of contacts, which channel alerts name by `_id`. */
export const contactGroupSchema = z.object({
  group: z.string().min(1),
  users: z
    .array(
      contactUserSchema,
    )
    .default([]),
});

export const clientSchema = z.object({
  _id: z.string().optional(),
  clientID: z.string().min(1),
  name: z.string().min(1),
  clientDomain: z.string().optional(),
  roles: z.array(z.string()).default([]),
  /** Our extension: a plain password, hashed with scrypt and never stored as given. */
  password: z.string().min(1).optional(),
  passwordAlgorithm: z.string().optional(),
  passwordHash: z.string().optional(),
  passwordSalt: z.string().optional(),
  customTokenID: z.string().min(1).optional(),
  certFingerprint: z.string().optional(),
  organization: z.string().optional(),
  softwareName: z.string().optional(),
  description: z.string().optional(),
  location: z.string().optional(),
  contactPerson: z.string().optional(),
  contactPersonEmail: z.string().optional(),
});
export type ClientInput = z.infer<typeof clientSchema>;

/** A client as stored: secrets live beside the public document and never leave through GET. */
export interface Client {
  _id: string;
  clientID: string;
  name: string;
  clientDomain?: string;
  roles: string[];
  certFingerprint?: string;
  organization?: string;
  softwareName?: string;
  description?: string;
  location?: string;
  contactPerson?: string;
  contactPersonEmail?: string;
  passwordAlgorithm?: string;
}

export interface ClientSecrets {
  passwordAlgorithm?: string;
  passwordHash?: string;
  passwordSalt?: string;
  /** sha256 hex of the custom token: the token itself is not kept. */
  customTokenHash?: string;
}

/** An optional field a client may send as null (mongoose stores the null; absent is the same here). */
const unsetWhenNull = <T extends z.ZodTypeAny>(schema: T) => z.preprocess((v) => (v === null ? undefined : v), schema.optional());

export const userSchema = z.object({
  _id: z.string().optional(),
  // No spaces (a look-alike second account), no colon (Basic authentication could not send it), and
  // one mailbox: no list or display-name characters (, ; < > " ( ) [ ] \), since mail goes to it.
  email: z.string().min(3).max(254).regex(ONE_MAILBOX, 'must be one address, local@domain: letters, digits and . # $ & \' * + / = ? ^ _ ` { | } ~ - before the @, a dotted domain after it'),
  firstname: z.string().default(''),
  surname: z.string().default(''),
  groups: storedList(z.string()).default([]),
  msisdn: unsetWhenNull(z.string()),
  dailyReport: unsetWhenNull(storedBoolean()),
  weeklyReport: unsetWhenNull(storedBoolean()),
  settings: unsetWhenNull(z.record(z.unknown())),
  /** OpenHIM's: who authenticates the user (openid: an identity provider; token: the legacy hash scheme). */
  provider: unsetWhenNull(z.enum(['openid', 'local', 'token'], { errorMap: () => ({ message: 'provider is openid, local or token' }) })),
  /**
   * Our extension: a plain password, hashed with scrypt. Empty is none, as OpenHIM reads it (its
   * console sends the user's form with an empty password field when it is not changed).
   */
  password: z.preprocess((v) => (v === '' || v === null ? undefined : v), z.string().min(8).optional()),
  /** OpenHIM console style: sha512(passwordSalt + password). */
  passwordAlgorithm: unsetWhenNull(z.string()),
  passwordHash: unsetWhenNull(z.string()),
  passwordSalt: unsetWhenNull(z.string()),
});
export type UserInput = z.infer<typeof userSchema>;

export interface User {
  _id: string;
  email: string;
  firstname: string;
  surname: string;
  groups: string[];
  msisdn?: string;
  dailyReport?: boolean;
  weeklyReport?: boolean;
  settings?: Record<string, unknown>;
  provider?: string;
  /** Created without a password: locked until the user sets one by the e-mailed link (OpenHIM). */
  locked?: boolean;
}

/**
 * A user from an identity provider (OpenHIM: `provider: 'openid'`; its tests: keycloak) has no
 * password here, and only their contact and settings fields change here (OpenHIM's updateUser).
 */
export const fromIdentityProvider = (user: Pick<User, 'provider'>): boolean => user.provider !== undefined && !['local', 'token'].includes(user.provider);

/** What an update may change on a user from an identity provider: the rest comes from the provider. */
export const IDENTITY_PROVIDER_USER_FIELDS = ['msisdn', 'dailyReport', 'weeklyReport', 'settings'] as const;

export const CONFIG_TYPES = ['string', 'bool', 'number', 'option', 'bigstring', 'map', 'struct', 'password'] as const;

export interface ConfigDef {
  param: string;
  displayName?: string;
  description?: string;
  type: (typeof CONFIG_TYPES)[number];
  values?: string[];
  template?: ConfigDef[];
  array?: boolean;
}

const configDefSchema: z.ZodType<ConfigDef> = z.lazy(() =>
  z.object({
    param: z.string().min(1),
    displayName: z.string().optional(),
    description: z.string().optional(),
    type: z.enum(CONFIG_TYPES),
    values: z.array(z.string()).optional(),
    template: z.array(configDefSchema).optional(),
    array: z.boolean().optional(),
  }),
);

export const mediatorSchema = z.object({
  urn: z.string().min(1),
  version: z.string().refine((v) => semver.valid(v) !== null, 'version must be semver, e.g. 1.0.0'),
  name: z.string().min(1),
  description: z.string().optional(),
  /** Required of a new mediator only (OpenHIM's addMediator): a known one re-registering keeps its own. */
  endpoints: z.array(routeSchema).optional(),
  defaultChannelConfig: z.array(channelSchema).default([]),
  configDefs: z.array(configDefSchema).default([]),
  config: z.record(z.unknown()).optional(),
});
export type MediatorInput = z.infer<typeof mediatorSchema>;

export interface Mediator extends MediatorInput {
  _id: string;
  _uptime?: number;
  _lastHeartbeat?: string;
  _configModifiedTS?: string;
}

export const TRANSACTION_STATUSES = [
  'Processing',
  'Pending Async',
  'Successful',
  'Completed',
  'Completed with error(s)',
  'Failed',
] as const;
export type TransactionStatus = (typeof TRANSACTION_STATUSES)[number];

export interface RecordedRequest {
  host?: string;
  port?: number | string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  querystring: string;
  body?: string;
  /** Our extension: the exact bytes of a body that is not valid UTF-8 (`body` is its UTF-8 decoding). */
  bodyBase64?: string;
  method: string;
  timestamp: string;
  /** Our extension: the stored body was cut at the size cap. */
  bodyTruncated?: boolean;
}

export interface RecordedResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body?: string;
  /** Our extension: the exact bytes of a body that is not valid UTF-8 (`body` is its UTF-8 decoding). */
  bodyBase64?: string;
  timestamp: string;
  bodyTruncated?: boolean;
}

export interface Orchestration {
  name: string;
  group?: string;
  request?: Partial<RecordedRequest>;
  response?: Partial<RecordedResponse>;
  error?: { message: string; stack?: string };
}

export interface RouteRecord {
  name: string;
  /** The mediator that answered the route (its `x-mediator-urn`), as OpenHIM's router records it. */
  mediatorURN?: string;
  request: RecordedRequest;
  response?: RecordedResponse;
  orchestrations?: Orchestration[];
  properties?: Record<string, unknown>;
  error?: { message: string; stack?: string };
}

export interface Transaction {
  _id: string;
  clientID?: string;
  clientIP?: string;
  channelID?: string;
  parentID?: string;
  /** The task that reran this transaction's parent into it (OpenHIM's messageStore sets it on a rerun child). */
  taskID?: string;
  childIDs: string[];
  request: RecordedRequest;
  response?: RecordedResponse;
  routes: RouteRecord[];
  orchestrations: Orchestration[];
  properties?: Record<string, unknown>;
  canRerun: boolean;
  wasRerun?: boolean;
  autoRetry?: boolean;
  autoRetryAttempt?: number;
  error?: { message: string; stack?: string };
  status: TransactionStatus;
}
