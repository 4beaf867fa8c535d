/**
 * The router's view of channels and clients, held in memory so that the request path reads no
 * table. Reloaded after every admin change in this process and every `cacheRefreshMs` for
 * changes made through another instance.
 */
import type { Logger } from '../../common/logger.js';
import type { Channel, Client, ClientSecrets } from './models.js';
import type { ChannelStore, ClientStore } from './store/entities.js';

export interface CompiledChannel {
  channel: Channel;
  urlPattern: RegExp;
  contentRegex?: RegExp | undefined;
  methods: Set<string>;
}

export interface ClientEntry {
  client: Client;
  secrets: ClientSecrets;
}

export class RoutingTable {
  private channels: CompiledChannel[] = [];
  private byClientId = new Map<string, ClientEntry>();
  private byTokenHash = new Map<string, ClientEntry>();
  private byFingerprint = new Map<string, ClientEntry>();
  private timer: NodeJS.Timeout | undefined;
  private version = 0;

  constructor(
    private readonly channelStore: ChannelStore,
    private readonly clientStore: ClientStore,
    private readonly logger: Logger,
  ) {}

  async reload(): Promise<void> {
    const version = ++this.version;
    const [channels, clients] = await Promise.all([this.channelStore.list(), this.clientStore.listWithSecrets()]);
    if (version !== this.version) return;
    const compiled: CompiledChannel[] = [];
    for (const channel of channels) {
      if (channel.status !== 'enabled' || channel.type !== 'http') continue;
      try {
        compiled.push({
          channel,
          urlPattern: new RegExp(channel.urlPattern),
          contentRegex: channel.matchContentRegex ? new RegExp(channel.matchContentRegex) : undefined,
          methods: new Set(channel.methods),
        });
      } catch (error) {
        this.logger.warn({ err: error, channel: channel.name }, 'channel has an invalid pattern: skipped');
      }
    }
    // Lower priority wins; channels without one come after, in name order (stable).
    compiled.sort((a, b) => (a.channel.priority ?? Number.MAX_SAFE_INTEGER) - (b.channel.priority ?? Number.MAX_SAFE_INTEGER));
    const byClientId = new Map<string, ClientEntry>();
    const byTokenHash = new Map<string, ClientEntry>();
    const byFingerprint = new Map<string, ClientEntry>();
    for (const { doc, secrets } of clients) {
      const entry = { client: doc, secrets };
      byClientId.set(doc.clientID, entry);
      if (secrets.customTokenHash) byTokenHash.set(secrets.customTokenHash, entry);
      if (doc.certFingerprint) byFingerprint.set(normaliseFingerprint(doc.certFingerprint), entry);
    }
    this.channels = compiled;
    this.byClientId = byClientId;
    this.byTokenHash = byTokenHash;
    this.byFingerprint = byFingerprint;
  }

  startRefreshing(intervalMs: number): void {
    if (intervalMs <= 0) return;
    this.timer = setInterval(() => {
      this.reload().catch((error: unknown) => this.logger.warn({ err: error }, 'routing table refresh failed'));
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  enabledChannels(): readonly CompiledChannel[] {
    return this.channels;
  }

  client(clientID: string): ClientEntry | undefined {
    return this.byClientId.get(clientID);
  }

  clientByTokenHash(hash: string): ClientEntry | undefined {
    return this.byTokenHash.get(hash);
  }

  clientByFingerprint(fingerprint: string): ClientEntry | undefined {
    return this.byFingerprint.get(normaliseFingerprint(fingerprint));
  }
}

export function normaliseFingerprint(value: string): string {
  return value.replace(/[^0-9a-f]/gi, '').toUpperCase();
}
