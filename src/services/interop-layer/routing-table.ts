/**
 * The router's view of channels and clients, held in memory so that the request path reads no
 * table. Reloaded after every admin change in this process and every `cacheRefreshMs` for
 * changes made through another instance. Router worker processes hold the same table, built
 * from the snapshots the service sends them (`onChange`, `apply`): they read no table either.
 */
import type { Logger } from '../../common/logger.js';
import { boundedRegExp } from '../../common/bounded-regexp.js';
import type { Channel, Client, ClientSecrets } from './models.js';
import { compileContentValueTest, type ContentValueTest } from './content-match.js';
import type { ChannelStore, ClientStore } from './store/entities.js';

export interface CompiledChannel {
  channel: Channel;
  urlPattern: RegExp;
  contentRegex?: RegExp | undefined;
  /** matchContentXpath / matchContentJson with matchContentValue; undefined when the channel has neither. */
  contentValueTest?: ContentValueTest | undefined;
  methods: Set<string>;
}

export interface ClientEntry {
  client: Client;
  secrets: ClientSecrets;
}

/** The rows a table is built from: what a router worker process receives after each change. */
export interface RoutingSnapshot {
  channels: Channel[];
  clients: Array<{ doc: Client; secrets: ClientSecrets }>;
}

export class RoutingTable {
  private channels: CompiledChannel[] = [];
  private tcp: CompiledChannel[] = [];
  private polling: CompiledChannel[] = [];
  private byClientId = new Map<string, ClientEntry>();
  private byId = new Map<string, ClientEntry>();
  private byTokenHash = new Map<string, ClientEntry>();
  private byFingerprint = new Map<string, ClientEntry>();
  private timer: NodeJS.Timeout | undefined;
  private version = 0;
  private readonly listeners: Array<(snapshot: RoutingSnapshot) => void> = [];
  /** The role/clientID collisions last logged, so a refresh every few seconds does not repeat them. */
  private reportedCollisions = '';
  /** The clients sharing a custom token, last logged. */
  private reportedSharedTokens = '';

  /** Without stores (a router worker), the table changes only through `apply`. */
  constructor(
    private readonly stores: { channels: ChannelStore; clients: ClientStore } | undefined,
    private readonly logger: Logger,
  ) {}

  /**
   * Reads the rows and applies them. Only the newest reload applies (an older one may have read
   * the tables before a change); one that is overtaken waits for the newest, so a caller that
   * changed a row (the admin API) returns only once the table holds its change.
   */
  async reload(): Promise<void> {
    if (!this.stores) return;
    const version = ++this.version;
    const run = this.load(version);
    this.newestReload = { version, run };
    await run;
  }

  private newestReload: { version: number; run: Promise<void> } | undefined;

  private async load(version: number): Promise<void> {
    const stores = this.stores!;
    const [channels, clients] = await Promise.all([stores.channels.list(), stores.clients.listWithSecrets()]);
    if (version !== this.version) {
      // Overtaken by a newer reload (not by stop()): wait for it.
      const newest = this.newestReload;
      if (newest && newest.version > version) await newest.run;
      return;
    }
    const snapshot: RoutingSnapshot = { channels, clients };
    this.apply(snapshot);
    for (const listener of this.listeners) listener(snapshot);
  }

  /** Called with the rows of every reload (the router workers' copy). */
  onChange(listener: (snapshot: RoutingSnapshot) => void): void {
    this.listeners.push(listener);
  }

  /** Builds the table from rows; a malformed row is skipped and logged, never fatal. */
  apply({ channels, clients }: RoutingSnapshot): void {
    const compiled: CompiledChannel[] = [];
    const tcp: CompiledChannel[] = [];
    const polling: CompiledChannel[] = [];
    for (const channel of channels) {
      if (!channel || channel.status !== 'enabled') continue;
      if (channel.type === 'tcp' || channel.type === 'tls' || channel.type === 'polling') {
        if (Array.isArray(channel.routes)) (channel.type === 'polling' ? polling : tcp).push({ channel, urlPattern: /^$/, methods: new Set() });
        continue;
      }
      if (channel.type !== 'http') continue;
      try {
        if (!Array.isArray(channel.routes)) throw new Error('routes is not a list');
        compiled.push({
          channel,
          urlPattern: boundedRegExp(channel.urlPattern),
          contentRegex: channel.matchContentRegex ? boundedRegExp(channel.matchContentRegex) : undefined,
          contentValueTest: compileContentValueTest(channel),
          methods: new Set(Array.isArray(channel.methods) ? channel.methods : []),
        });
      } catch (error) {
        this.logger.warn({ err: { message: (error as Error).message }, channel: String(channel.name) }, 'channel is malformed (pattern, routes or methods): skipped by the router');
      }
    }
    // Lower priority wins; channels without one come after; ties keep the order the channels were made in (OpenHIM's utils.js).
    compiled.sort((a, b) => (a.channel.priority ?? Number.MAX_SAFE_INTEGER) - (b.channel.priority ?? Number.MAX_SAFE_INTEGER));
    const byClientId = new Map<string, ClientEntry>();
    const byId = new Map<string, ClientEntry>();
    const byTokenHash = new Map<string, ClientEntry>();
    const byFingerprint = new Map<string, ClientEntry>();
    const clientIds = new Set(clients.map((row) => row?.doc?.clientID));
    const collisions: string[] = [];
    const sharedTokens = new Set<string>();
    const sharedTokenClients: string[] = [];
    for (const { doc, secrets } of clients) {
      // One malformed client row is skipped, not a reason to keep a stale table for everyone.
      if (!doc || typeof doc.clientID !== 'string' || !secrets || typeof secrets !== 'object') {
        this.logger.warn({ client: typeof doc?.clientID === 'string' ? doc.clientID : undefined }, 'client row is malformed: skipped by the router');
        continue;
      }
      const entry = { client: withoutClientIdRoles(doc, clientIds, collisions), secrets };
      byClientId.set(doc.clientID, entry);
      if (typeof doc._id === 'string') byId.set(doc._id, entry);
      if (typeof secrets.customTokenHash === 'string' && secrets.customTokenHash) {
        // A token two clients hold (stored before the API refused it) names neither: it authenticates no one.
        if (byTokenHash.has(secrets.customTokenHash) || sharedTokens.has(secrets.customTokenHash)) {
          byTokenHash.delete(secrets.customTokenHash);
          sharedTokens.add(secrets.customTokenHash);
          sharedTokenClients.push(doc.clientID);
        } else byTokenHash.set(secrets.customTokenHash, entry);
      }
      if (typeof doc.certFingerprint === 'string' && doc.certFingerprint) byFingerprint.set(normaliseFingerprint(doc.certFingerprint), entry);
    }
    const collisionKey = collisions.join(',');
    if (collisionKey && collisionKey !== this.reportedCollisions) {
      this.logger.warn({ roles: collisions.slice(0, 20) }, 'clients hold roles named like other clients (stored before the API refused it): the router ignores those roles; change the clients (PUT /clients/:id)');
    }
    this.reportedCollisions = collisionKey;
    const sharedKey = sharedTokenClients.join(',');
    if (sharedKey && sharedKey !== this.reportedSharedTokens) {
      this.logger.warn({ clients: sharedTokenClients.slice(0, 20) }, 'clients share a custom token (stored before the API refused it): that token authenticates none of them; give each its own (PUT /clients/:id)');
    }
    this.reportedSharedTokens = sharedKey;
    this.channels = compiled;
    this.tcp = tcp;
    this.polling = polling;
    this.byClientId = byClientId;
    this.byId = byId;
    this.byTokenHash = byTokenHash;
    this.byFingerprint = byFingerprint;
  }

  /** Reloads every `intervalMs`, one reload at a time; a failed reload keeps the last table and is logged. */
  startRefreshing(intervalMs: number): void {
    if (intervalMs <= 0) return;
    let refreshing = false;
    let failures = 0;
    this.timer = setInterval(() => {
      if (refreshing) return;
      refreshing = true;
      this.reload()
        .then(() => {
          if (failures > 0) this.logger.info({ failures }, 'routing table refresh works again');
          failures = 0;
        })
        .catch((error: unknown) => {
          // The first failure and every tenth: a database that is down should not flood the log.
          if (failures++ % 10 === 0) this.logger.warn({ err: { message: (error as Error)?.message }, failures }, 'routing table refresh failed; the router keeps its last table');
        })
        .finally(() => {
          refreshing = false;
        });
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.version++; // a reload still running is discarded
  }

  enabledChannels(): readonly CompiledChannel[] {
    return this.channels;
  }

  /** Enabled tcp and tls channels: they take messages on their own ports (router/tcp-channels.ts), never HTTP requests. */
  enabledTcpChannels(): readonly CompiledChannel[] {
    return this.tcp;
  }

  /** Enabled polling channels: the router calls their routes on their schedule (polling/), never on a request. */
  enabledPollingChannels(): readonly CompiledChannel[] {
    return this.polling;
  }

  client(clientID: string): ClientEntry | undefined {
    return this.byClientId.get(clientID);
  }

  /** A client by its `_id`, as transactions name it (OpenHIM's clientID field). */
  clientById(id: string): ClientEntry | undefined {
    return this.byId.get(id);
  }

  clientByTokenHash(hash: string): ClientEntry | undefined {
    return this.byTokenHash.get(hash);
  }

  clientByFingerprint(fingerprint: string): ClientEntry | undefined {
    return this.byFingerprint.get(normaliseFingerprint(fingerprint));
  }
}

/**
 * The client as the router authorises it: a role named like another client's clientID is
 * dropped, since `allow` naming that client would otherwise let this one in too (the API
 * refuses such roles now; rows stored before may still hold them). `collisions` collects them.
 */
function withoutClientIdRoles(doc: Client, clientIds: ReadonlySet<unknown>, collisions: string[]): Client {
  if (!Array.isArray(doc.roles)) return { ...doc, roles: [] };
  const clashing = doc.roles.filter((role) => role !== doc.clientID && clientIds.has(role));
  if (clashing.length === 0) return doc;
  for (const role of clashing) collisions.push(`${doc.clientID}:${role}`);
  return { ...doc, roles: doc.roles.filter((role) => !clashing.includes(role)) };
}

export function normaliseFingerprint(value: string): string {
  return value.replace(/[^0-9a-f]/gi, '').toUpperCase();
}
