/**
 * The interoperability layer: an OpenHIM-compatible admin API and router in one service, with
 * its transaction log, audit and mediator registry in schema `iol`. See docs/interop-layer.md.
 */
import { ConcurrencyGate } from './concurrency-gate.js';
import type { RunningService, ServiceContext, ServiceDefinition } from '../service.js';
import { listenOn } from '../../common/http-app.js';
import { InstantError } from '../../common/errors.js';
import { buildApiApp } from './api/app.js';
import { runAutoRetries } from './auto-retry.js';
import { readIolConfig, type IolConfig } from './config.js';
import type { IolDeps } from './deps.js';
import { newObjectId } from './ids.js';
import { RouterMetrics } from './metrics.js';
import { iolMigrations } from './migrations.js';
import { hashPassword, legacyUserHash, tokenSalt, VerificationCache } from './passwords.js';
import { RoutingTable } from './routing-table.js';
import { KeystoreStore } from './keystore/store.js';
import { LiveTls } from './keystore/live-tls.js';
import { seedKeystore } from './keystore/seed.js';
import { TcpChannels } from './router/tcp-channels.js';
import { startAuditServers, type AuditServers } from './atna/audit-servers.js';
import { createMailer } from '../../common/mailer.js';
import { createSmsGateway } from '../../common/sms-gateway.js';
import { AlertRunner } from './alerts.js';
import { PollingChannels, pollChannel } from './polling/polling-channels.js';
import { createJwtVerifier } from './router/jwt.js';
import { rerunTransaction } from './router/rerun.js';
import { BodyBudget } from '../../common/body-budget.js';
import { listenHttp, listenHttps, type RouterListener } from './router/server.js';
import { UpstreamClient } from './router/upstream.js';
import { RouterWorkerPool } from './router/workers/pool.js';
import type { ServiceDeps } from './router/exchange.js';
import { AuditLog } from './store/audits.js';
import { ChannelStore, ClientStore, ContactGroupStore, MediatorStore } from './store/entities.js';
import { TransactionLog } from './store/transactions.js';
import { UserStore } from './store/users.js';
import { serverKey } from './store/server-keys.js';
import { ReplicaMembership } from './replicas/membership.js';
import { followChanges } from './replicas/change-feed.js';
import type { Subscription } from '../../db/database.js';
import { takeLease } from './replicas/leases.js';
import { pruneExpired, reapDeadReplicas } from './replicas/reaper.js';

export type { IolConfig } from './config.js';

const RETENTION_INTERVAL_MS = 60 * 60_000;

/** Creates the root user on first start; an existing root keeps the password it has now. */
async function ensureRootUser(deps: IolDeps, config: IolConfig): Promise<boolean> {
  if (await deps.users.byEmail(config.rootEmail)) return false;
  const salt = tokenSalt(deps.tokenSaltKey, config.rootEmail);
  try {
    await insertRootUser(deps, config, salt);
  } catch (error) {
    // Another replica starting at the same moment created it first.
    if ((error as { code?: unknown }).code === '23505') return false;
    throw error;
  }
  return true;
}

async function insertRootUser(deps: IolDeps, config: IolConfig, salt: string): Promise<void> {
  await deps.users.insert(
    { _id: newObjectId(), email: config.rootEmail, firstname: 'Super', surname: 'User', groups: ['admin'] },
    {
      scryptHash: await hashPassword(config.rootPassword),
      legacySalt: config.legacyTokenAuth ? salt : null,
      legacyHash: config.legacyTokenAuth ? legacyUserHash(salt, config.rootPassword) : null,
    },
  );
}

export const interopLayerService: ServiceDefinition = {
  name: 'interop-layer',
  description: 'Interoperability layer: OpenHIM-compatible admin API and router, transaction log, audit, mediators',
  schemas: ['iol'],

  async start(ctx: ServiceContext): Promise<RunningService> {
    const config = readIolConfig(ctx.settings);
    const { db, logger } = ctx;
    await db.migrate('iol', iolMigrations);
    const channels = new ChannelStore(db);
    const clients = new ClientStore(db);
    // Several replicas may share the database (replicas/): this one's row, beaten every heartbeat.
    const membership = new ReplicaMembership(db, logger);
    const keystore = new KeystoreStore(db);
    await membership.join(config.replicaHeartbeatMs);
    const deps: ServiceDeps = {
      config,
      db,
      logger,
      users: new UserStore(db),
      clients,
      channels,
      mediators: new MediatorStore(db),
      contactGroups: new ContactGroupStore(db),
      transactions: new TransactionLog(db, logger, config.flushIntervalMs, undefined, membership.id),
      audits: new AuditLog(db, logger, config.flushIntervalMs),
      routing: new RoutingTable({ channels, clients }, logger),
      metrics: new RouterMetrics(),
      verified: new VerificationCache(),
      bcryptGate: new ConcurrencyGate(config.limits.clientBcryptMaxConcurrent),
      startedAt: new Date(),
      tokenSaltKey: await serverKey(db, 'token-salt'),
      upstream: new UpstreamClient(config.routerMaxBodyBytes, config.upstreamTlsVerify),
      jwt: config.routerAuthTypes.has('jwt') ? createJwtVerifier(config.jwt) : undefined,
      replicaId: membership.id,
      keystore,
      tls: new LiveTls(keystore, logger, config.limits.keystoreKeyDecryptTimeoutMs),
      mailer: createMailer(config.mail.smtpUrl, config.mail.from, logger),
      sms: createSmsGateway(config.smsUrl),
      serverLogs: ctx.serverLogs,
    };
    deps.rerun = (id, taskID) => rerunTransaction(deps, id, taskID ? { taskID } : {});

    // What dead replicas (or, embedded, the last run) left in Processing: Failed, and their tasks requeued.
    const reap = async () => {
      const reaped = await reapDeadReplicas(db, membership.id, config.replicaDeadAfterMs);
      if (reaped.failedTransactions > 0) logger.warn({ count: reaped.failedTransactions }, 'transactions left in Processing by a stopped replica were marked Failed');
      if (reaped.requeuedTasks > 0) logger.warn({ count: reaped.requeuedTasks }, 'rerun tasks of a stopped replica were queued again');
    };
    let changes: Subscription | undefined;
    // A start that fails leaves no listening connection or heartbeat behind.
    const stopEarly = async () => {
      await changes?.close();
      await membership.leave();
      await deps.transactions.stop();
      await deps.audits.stop();
    };
    try {
      await reap();
      if (await ensureRootUser(deps, config)) logger.info({ user: config.rootEmail }, 'created the root user of the interop layer');
      changes = await followChanges(
        db,
        { reloadRouting: () => deps.routing.reload(), forgetVerifications: () => deps.verified.clear(), reloadTls: () => deps.tls.reload() },
        logger,
      );
      await deps.routing.reload();
      // The listeners serve the keystore (made from the generated certificate on first start).
      if (await seedKeystore(keystore, ctx.stateDir, config)) logger.info('keystore created from the generated router certificate');
      // Secured routes present the keystore's certificate and trust its list (upstream.ts), kept in step.
      deps.tls.onChange((identity) => deps.upstream.useIdentity(identity));
      await deps.tls.reload();
      deps.upstream.useIdentity(deps.tls.current());
      if ((config.routerHttpsPort > 0 || config.apiTls) && !deps.tls.current()) {
        throw new InstantError('IOL_KEYSTORE_INVALID', `the keystore's certificate and key cannot be served, so HTTPS cannot start: ${deps.tls.refusedBecause() ?? 'they do not match'}`,
          'set OPENHIM_ROUTER_HTTPS_PORT=0 and OPENHIM_API_TLS=false, start, and replace them with POST /keystore/cert and /keystore/key');
      }
    } catch (error) {
      await stopEarly();
      throw error;
    }
    const certificate = config.routerHttpsPort > 0 || config.apiTls ? deps.tls.current() : undefined;
    deps.routing.startRefreshing(config.cacheRefreshMs);
    // The safety net beside the change feed, as for the routing table.
    const tlsTimer = config.cacheRefreshMs > 0 ? setInterval(() => void deps.tls.reload().catch(() => undefined), config.cacheRefreshMs) : undefined;
    tlsTimer?.unref();
    // Housekeeping once per heartbeat across replicas (whoever takes the lease): reap, prune.
    let housekeeping = false;
    const housekeepingTimer = setInterval(() => {
      if (housekeeping) return;
      housekeeping = true;
      takeLease(db, 'housekeeping', membership.id, config.replicaHeartbeatMs)
        .then(async (mine) => {
          if (!mine) return;
          await reap();
          await pruneExpired(db);
        })
        .catch((error: unknown) => logger.warn({ err: { message: (error as Error)?.message } }, 'replica housekeeping failed'))
        .finally(() => {
          housekeeping = false;
        });
    }, config.replicaHeartbeatMs);
    housekeepingTimer.unref();
    // Polling channels run on their schedules in this process, one replica per run (a lease).
    const pollingChannels = new PollingChannels(deps, logger, (channelId, intervalMs) => takeLease(db, `poll:${channelId}`, membership.id, Math.max(500, Math.floor(intervalMs / 2))));
    deps.routing.onChange(() => pollingChannels.sync(deps.routing.enabledPollingChannels()));
    pollingChannels.sync(deps.routing.enabledPollingChannels());
    deps.poll = async (channelId) => {
      const channel = [...deps.routing.enabledPollingChannels(), ...deps.routing.enabledChannels()].find((c) => c.channel._id === channelId);
      return channel ? pollChannel(deps, channel, new Date()) : undefined;
    };
    // tcp and tls channels listen in this process (not in router workers), following every channel change.
    const tcpChannels = new TcpChannels(deps, logger, deps.tls);
    deps.routing.onChange(() => void tcpChannels.sync(deps.routing.enabledTcpChannels()));
    await tcpChannels.sync(deps.routing.enabledTcpChannels());

    // Once per interval across replicas: whoever takes the lease applies it.
    const applyRetention = async () => {
      try {
        if (!(await takeLease(db, 'retention', membership.id, RETENTION_INTERVAL_MS - 60_000))) return;
        await deps.transactions.flush();
        const result = await deps.transactions.applyRetention(await channels.list(true), config.maxTransactions);
        if (result.culled || result.deleted) logger.info(result, 'transaction log retention applied');
      } catch (error) {
        logger.warn({ err: error }, 'transaction log retention failed');
      }
    };
    await applyRetention();
    const retentionTimer = setInterval(() => void applyRetention(), RETENTION_INTERVAL_MS);
    retentionTimer.unref();

    // Channel alerts, once per interval across replicas (a lease); a run never overlaps the last.
    const alerts = new AlertRunner(deps);
    let alerting = false;
    const alertTimer = config.alertsPollMs > 0
      ? setInterval(() => {
          if (alerting) return;
          alerting = true;
          takeLease(db, 'alerts', membership.id, config.alertsPollMs)
            .then((mine) => (mine ? alerts.runOnce() : undefined))
            .catch((error: unknown) => logger.warn({ err: { message: (error as Error)?.message } }, 'alert run failed'))
            .finally(() => {
              alerting = false;
            });
        }, config.alertsPollMs)
      : undefined;
    alertTimer?.unref();

    let retrying = false;
    const autoRetryTimer = setInterval(() => {
      if (retrying) return;
      retrying = true;
      runAutoRetries(deps)
        .catch((error: unknown) => logger.warn({ err: error }, 'auto-retry run failed'))
        .finally(() => {
          retrying = false;
        });
    }, config.autoRetryIntervalMs);
    autoRetryTimer.unref();

    const api = buildApiApp(deps, config.apiTls ? certificate : undefined);
    const listeners: RouterListener[] = [];
    let auditServers: AuditServers | undefined;
    const stopAll = async () => {
      clearInterval(retentionTimer);
      clearInterval(autoRetryTimer);
      clearInterval(housekeepingTimer);
      clearInterval(tlsTimer);
      clearInterval(alertTimer);
      pollingChannels.close();
      alerts.stop();
      // An alert run may be waiting on a silent mail server: it is given two seconds, not its budget.
      const alertsGiveUpAt = Date.now() + 2000;
      while (retrying || housekeeping || (alerting && Date.now() < alertsGiveUpAt)) await new Promise((resolve) => setTimeout(resolve, 20));
      deps.routing.stop();
      await changes?.close();
      await Promise.allSettled([api.close(), tcpChannels.close(), ...listeners.map((l) => l.close()), auditServers?.close()]);
      await deps.transactions.stop();
      await deps.audits.stop();
      await deps.upstream.close();
      deps.mailer.close();
      // Last: what it logged is flushed, so nothing of it is left for the reaper.
      await membership.leave();
    };
    try {
      const apiUrl = await listenOn(api, config.apiHost, config.apiPort, config.apiTls ? 'https' : 'http');
      if (config.routerWorkers > 1) {
        // Several cores: the router runs in worker processes sharing its ports (router/workers/).
        // The keystore's identity always: the workers' HTTPS listeners serve it, their secured routes present it (upstream.ts).
        const pool = new RouterWorkerPool(deps, { count: config.routerWorkers, settings: ctx.settings.entries(), certificate: deps.tls.current() });
        const urls = await pool.start();
        listeners.push({ url: urls.http, close: () => pool.stop() });
        if (urls.https) listeners.push({ url: urls.https, close: async () => undefined });
      } else {
        const budget = new BodyBudget(config.routerMaxInflightBytes);
        listeners.push(await listenHttp(deps, config.routerHost, config.routerHttpPort, budget));
        if (certificate && config.routerHttpsPort > 0) {
          const https = await listenHttps(deps, config.routerHost, config.routerHttpsPort, certificate, budget);
          deps.tls.onChange((identity) => https.setTls?.(identity));
          listeners.push(https);
        }
      }
      const endpoints: Record<string, string> = { api: apiUrl, router: listeners[0]!.url };
      if (listeners[1]) endpoints.routerHttps = listeners[1].url;
      // The ATNA audit repository's syslog ports, when set (off by default, as OpenHIM's).
      const { udp, tcp, tls: auditTls } = config.auditPorts;
      if (udp > 0 || tcp > 0 || auditTls > 0) {
        const { auditMaxMessageBytes, auditMaxConnections, auditIdleTimeoutMs, auditMaxMessagesPerSecond } = config.limits;
        auditServers = await startAuditServers(
          { host: config.routerHost, udpPort: udp, tcpPort: tcp, tlsPort: auditTls, maxMessageBytes: Math.min(auditMaxMessageBytes, 1024 * 1024), maxConnections: auditMaxConnections, idleTimeoutMs: auditIdleTimeoutMs, maxMessagesPerSecond: auditMaxMessagesPerSecond },
          deps.audits,
          deps.tls,
          logger,
        );
        Object.assign(endpoints, auditServers.urls);
      }
      logger.info({ endpoints }, 'interop layer listening');
      // The certificate served (generated and self-signed, or the admin's from the keystore): the
      // platform's own clients (readiness, importers, status, the test harness) trust it, as
      // openhim-mediator-utils' trustSelfSigned does, and follow each replacement (common/trust.ts).
      const servesTls = Boolean(certificate && (config.apiTls || listeners[1]));
      const trust = servesTls
        ? { trustedCertificates: [certificate!.cert], watchTrustedCertificates: (listener: (pems: string[]) => void) => void deps.tls.onChange((identity) => listener([identity.cert])) }
        : {};
      return { endpoints, healthUrl: `${apiUrl}/health`, stop: stopAll, metrics: deps.metrics.registry, ...trust };
    } catch (error) {
      await stopAll();
      throw error;
    }
  },
};
