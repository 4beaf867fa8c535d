import { parseCorsOrigins, type CorsPolicy } from './api/cors.js';
import type { Settings } from '../service.js';
import { readLimits, type Limits } from '../../common/limits.js';
import { InstantError } from '../../common/errors.js';

export type RouterAuthType = 'basic' | 'token' | 'jwt' | 'mutual-tls';

/** The interop layer's settings, read once from ctx.settings at start. */
export interface IolConfig {
  apiHost: string;
  apiPort: number;
  /** Extra DNS names or IPs for the generated certificate (e.g. a container service name). */
  certHostNames: string[];
  /** Serve the admin API over HTTPS with the interop layer's certificate. */
  apiTls: boolean;
  routerHost: string;
  routerHttpPort: number;
  /** 0 disables the HTTPS router. */
  routerHttpsPort: number;
  /**
   * Router processes sharing the router's ports (OPENHIM_ROUTER_WORKERS, default 1): 1 runs the
   * router in the service's own process; N > 1 runs it in N worker processes (router/workers/),
   * one core each, while the service keeps the admin API and the one transaction-log writer.
   */
  routerWorkers: number;
  rootEmail: string;
  rootPassword: string;
  /** Router client authentication types switched on. */
  routerAuthTypes: Set<RouterAuthType>;
  jwt: {
    secret?: string;
    publicKey?: string;
    jwksUrl?: string;
    algorithms?: string[];
    audience?: string;
    issuer?: string;
    /** Refuse tokens without `exp` (OPENHIM_JWT_REQUIRE_EXP, default true). */
    requireExp: boolean;
  };
  /** Largest request or response body the router accepts, in bytes. */
  routerMaxBodyBytes: number;
  /** Answers of at least this many bytes are compressed for clients that ask (OPENHIM_ROUTER_COMPRESS_MIN_BYTES; OpenHIM's 8); 0 is off. */
  routerCompressMinBytes: number;
  /** Bytes of request and response bodies the router holds at once; past it new requests get 503. */
  routerMaxInflightBytes: number;
  /** Bodies stored per transaction are cut at this size and marked truncated. */
  maxStoredBodyBytes: number;
  /** Default upstream timeout when the channel sets none. */
  defaultTimeoutMs: number;
  /** Write-behind: flush the transaction log at least this often. */
  flushIntervalMs: number;
  /** Keep at most this many transactions (oldest deleted first); 0 = no cap. */
  maxTransactions: number;
  /** Verify upstream TLS certificates of secured routes. */
  upstreamTlsVerify: boolean;
  /** Accept the OpenHIM legacy token headers (needs a sha512 hash per user). */
  legacyTokenAuth: boolean;
  /** Reload channels and clients from the database this often (other instances' changes). */
  cacheRefreshMs: number;
  sessionTtlMs: number;
  /** Admin login throttling (limits loginMaxFailures*, loginWindowMs; api/login-throttle.ts). */
  login: { maxFailures: number; maxFailuresPerAddress: number; maxFailuresPerUser: number; windowMs: number };
  /** A client must send its whole request (headers and body) within this time, else 408. */
  routerRequestTimeoutMs: number;
  /** How often failed transactions are checked for auto-retry. */
  autoRetryIntervalMs: number;
  /** filterLimit of the admin API's lists is lowered to this (OPENHIM_API_MAX_FILTER_LIMIT). */
  apiMaxFilterLimit: number;
  /**
   * host[:port] clients use to reach the router. When set, upstreams get it as X-Forwarded-Host
   * whatever Host a client sends; unset, the Host a client sent is used when it is a plain
   * host[:port], else the listener's own address.
   */
  routerPublicHost?: string | undefined;
  /** E-mail (set-password links): the SMTP server, the sender, the console the links open, token lifetimes. */
  mail: { smtpUrl?: string | undefined; from: string; consoleUrl: string; instanceName: string; newUserExpiryMs: number; passwordResetExpiryMs: number };
  /** The SMS gateway's HTTP API, a URL template with {to} and {text} (OPENHIM_SMS_URL; OpenHIM's smsGateway). */
  smsUrl?: string | undefined;
  /** How often channel alerts are checked (OPENHIM_ALERTS_POLL_MS; OpenHIM's alerts.pollPeriodMinutes); 0 is off. */
  alertsPollMs: number;
  /** The ATNA audit repository's syslog ports (OPENHIM_AUDIT_UDP_PORT, _TCP_PORT, _TLS_PORT); 0 is off. */
  auditPorts: { udp: number; tcp: number; tls: number };
  /** OPENHIM_CONSOLE_BASE_URL: where the OpenHIM console serves its own modules (GET /importmaps). */
  consoleBaseUrl: string;
  /**
   * Key of the HMAC with which the router vouches for the client it authenticated to upstreams
   * (OPENHIM_SENDER_IDENTITY_SECRET; src/common/sender-identity.ts); unset: no assertion is sent.
   */
  senderIdentitySecret?: string | undefined;
  /** Origins the admin API answers (OPENHIM_API_CORS_ORIGINS; api/cors.ts). */
  apiCors: CorsPolicy;
  /** Every limit (src/common/limits.ts): HTTP timeouts and connection caps of each port, bodies. */
  limits: Limits;
  /** Replicas (replicas/): how often this one says it is alive, and when silence means it is dead. */
  replicaHeartbeatMs: number;
  replicaDeadAfterMs: number;
  /**
   * What a mutual-TLS client certificate must be besides matching a client's certFingerprint:
   * `keystore` (OpenHIM) signed by, or itself, a certificate of the keystore's trusted list
   * (`/keystore/ca`) or a public root; `pinned` the fingerprint alone (the handshake proves the
   * client holds the key), as before the keystore existed.
   */
  tlsClientTrust: 'keystore' | 'pinned';
}

const MAX_ROUTER_WORKERS = 64;

export function readIolConfig(settings: Settings): IolConfig {
  const authTypes = (settings.get('OPENHIM_ROUTER_AUTH_TYPES') ?? 'basic,token,jwt,mutual-tls')
    .split(',')
    .map((s) => s.trim())
    .filter((s): s is RouterAuthType => ['basic', 'token', 'jwt', 'mutual-tls'].includes(s));
  const algorithms = settings.get('OPENHIM_JWT_ALGORITHMS');
  const limits = readLimits(settings);
  const routerWorkers = settings.int('OPENHIM_ROUTER_WORKERS', 1);
  if (routerWorkers < 1 || routerWorkers > MAX_ROUTER_WORKERS) {
    throw new InstantError('INSTANT_SETTING_INVALID', `setting OPENHIM_ROUTER_WORKERS="${routerWorkers}" is out of range`, `use 1 to ${MAX_ROUTER_WORKERS} (about one per core)`);
  }
  const replicaHeartbeatMs = settings.int('OPENHIM_REPLICA_HEARTBEAT_MS', 5_000);
  const replicaDeadAfterMs = settings.int('OPENHIM_REPLICA_DEAD_AFTER_MS', 30_000);
  if (replicaHeartbeatMs < 100 || replicaDeadAfterMs < 2 * replicaHeartbeatMs) {
    throw new InstantError('INSTANT_SETTING_INVALID', `OPENHIM_REPLICA_HEARTBEAT_MS=${replicaHeartbeatMs} and OPENHIM_REPLICA_DEAD_AFTER_MS=${replicaDeadAfterMs} do not fit`,
      'the heartbeat is at least 100 ms and a replica is declared dead after at least two missed heartbeats');
  }
  const tlsClientTrust = settings.get('OPENHIM_TLS_CLIENT_TRUST') || 'keystore';
  if (tlsClientTrust !== 'keystore' && tlsClientTrust !== 'pinned') {
    throw new InstantError('INSTANT_SETTING_INVALID', `setting OPENHIM_TLS_CLIENT_TRUST="${tlsClientTrust}" is not known`, 'use keystore (OpenHIM: the trusted list) or pinned (the fingerprint alone)');
  }
  return {
    apiHost: settings.get('OPENHIM_API_HOST') || '127.0.0.1',
    apiPort: settings.int('OPENHIM_API_PORT', 8080),
    apiTls: settings.bool('OPENHIM_API_TLS', false),
    apiCors: parseCorsOrigins(settings.get('OPENHIM_API_CORS_ORIGINS')),
    certHostNames: (settings.get('OPENHIM_CERT_HOSTNAMES') ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    routerHost: settings.get('OPENHIM_ROUTER_HOST') || '127.0.0.1',
    routerHttpPort: settings.int('OPENHIM_ROUTER_HTTP_PORT', 5001),
    routerHttpsPort: settings.int('OPENHIM_ROUTER_HTTPS_PORT', 5000),
    routerWorkers,
    senderIdentitySecret: settings.get('OPENHIM_SENDER_IDENTITY_SECRET') || undefined,
    rootEmail: settings.get('OPENHIM_ROOT_EMAIL') || 'root@openhim.org',
    rootPassword: settings.require('OPENHIM_ROOT_PASSWORD'),
    routerAuthTypes: new Set(authTypes),
    jwt: {
      secret: settings.get('OPENHIM_JWT_SECRET') || undefined,
      publicKey: settings.get('OPENHIM_JWT_PUBLIC_KEY') || undefined,
      jwksUrl: settings.get('OPENHIM_JWT_JWKS_URL') || undefined,
      algorithms: algorithms ? algorithms.split(',').map((s) => s.trim()) : undefined,
      audience: settings.get('OPENHIM_JWT_AUDIENCE') || undefined,
      issuer: settings.get('OPENHIM_JWT_ISSUER') || undefined,
      requireExp: settings.bool('OPENHIM_JWT_REQUIRE_EXP', true),
    },
    routerMaxBodyBytes: limits.routerMaxBodyBytes,
    routerCompressMinBytes: settings.int('OPENHIM_ROUTER_COMPRESS_MIN_BYTES', 8),
    routerMaxInflightBytes: limits.routerMaxInflightBytes,
    maxStoredBodyBytes: limits.maxStoredBodyBytes,
    defaultTimeoutMs: settings.int('OPENHIM_ROUTER_TIMEOUT_MS', 60_000),
    flushIntervalMs: settings.int('OPENHIM_TX_FLUSH_MS', 50),
    maxTransactions: settings.int('OPENHIM_MAX_TRANSACTIONS', 0),
    upstreamTlsVerify: settings.bool('OPENHIM_UPSTREAM_TLS_VERIFY', true),
    legacyTokenAuth: settings.bool('OPENHIM_LEGACY_TOKEN_AUTH', true),
    cacheRefreshMs: settings.int('OPENHIM_CACHE_REFRESH_MS', 5000),
    sessionTtlMs: settings.int('OPENHIM_SESSION_TTL_MS', 2 * 60 * 60_000),
    login: {
      maxFailures: limits.loginMaxFailures,
      maxFailuresPerAddress: limits.loginMaxFailuresPerAddress,
      maxFailuresPerUser: limits.loginMaxFailuresPerUser,
      windowMs: limits.loginWindowMs,
    },
    routerRequestTimeoutMs: limits.routerRequestTimeoutMs,
    autoRetryIntervalMs: settings.int('OPENHIM_AUTO_RETRY_INTERVAL_MS', 60_000),
    apiMaxFilterLimit: limits.apiMaxFilterLimit,
    routerPublicHost: settings.get('OPENHIM_ROUTER_PUBLIC_HOST') || undefined,
    mail: {
      smtpUrl: settings.get('OPENHIM_SMTP_URL') || undefined,
      from: settings.get('OPENHIM_EMAIL_FROM') || 'openhim@localhost',
      // As OpenHIM's alerts.consoleURL: where the e-mailed links open.
      // The console this deployment runs (CONSOLE_PORT) when neither is set, so links follow a moved port.
      consoleUrl: (settings.get('OPENHIM_CONSOLE_URL') || settings.get('OPENHIM_CONSOLE_BASE_URL') || `http://localhost:${settings.get('CONSOLE_PORT') || '9000'}`).replace(/\/+$/, ''),
      instanceName: settings.get('OPENHIM_INSTANCE_NAME') || 'Instant OpenHIE',
      newUserExpiryMs: settings.int('OPENHIM_NEW_USER_EXPIRY_MS', 7 * 24 * 60 * 60_000),
      passwordResetExpiryMs: settings.int('OPENHIM_PASSWORD_RESET_EXPIRY_MS', 60 * 60_000),
    },
    smsUrl: settings.get('OPENHIM_SMS_URL') || undefined,
    alertsPollMs: settings.int('OPENHIM_ALERTS_POLL_MS', 60_000),
    auditPorts: { udp: settings.int('OPENHIM_AUDIT_UDP_PORT', 0), tcp: settings.int('OPENHIM_AUDIT_TCP_PORT', 0), tls: settings.int('OPENHIM_AUDIT_TLS_PORT', 0) },
    // Where the OpenHIM console serves its own modules (GET /importmaps), without a trailing slash.
    consoleBaseUrl: (settings.get('OPENHIM_CONSOLE_BASE_URL') || `http://localhost:${settings.get('CONSOLE_PORT') || '9000'}`).replace(/\/+$/, ''),
    limits,
    replicaHeartbeatMs,
    replicaDeadAfterMs,
    tlsClientTrust,
  };
}
