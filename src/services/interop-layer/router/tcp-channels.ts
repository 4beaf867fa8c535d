/**
 * tcp channels (OpenHIM's channel `type: 'tcp'` with `tcpHost`/`tcpPort`): each enabled one gets a
 * listener of its own. With a primary `mllp` (or `tcp`) route it takes MLLP-framed HL7v2 messages
 * and passes each through the tcpPipeline (pipeline.ts) to that route; the upstream's framed answer
 * goes back to the sender. With a primary `http` route (OpenHIM's only kind: its tcpAdapter) it
 * reads unframed bytes, each chunk one message POSTed to the channel's routes (tcpToHttpPipeline),
 * and writes the primary's answer body back as it is, or OpenHIM's "An internal server error
 * occurred" when the route failed. Either way the message is a transaction in the log like an
 * HTTP request. Listeners
 * follow the routing table: started, moved or stopped after every change of the channels.
 * Bounded per port by OPENHIM_ROUTER_TCP_* (message size, connections, idle time). A message the
 * router cannot route (no route, upstream down, sender not whitelisted) gets no answer: the
 * connection is closed, so the sender sends it again later, as MLLP senders do.
 * `tls` channels are the same over TLS with the keystore's certificate (as OpenHIM's tcpAdapter),
 * which a keystore change replaces for new connections without restarting the listener.
 */
import type { Logger } from '../../../common/logger.js';
import { startMllpListener, type MllpListener } from '../../../common/mllp/listener.js';
import type { CompiledChannel } from '../routing-table.js';
import type { Exchange, RouterDeps } from './exchange.js';
import { runAfterSteps, runRequestSteps, tcpPipeline, tcpToHttpPipeline } from './pipeline.js';
import { HL7V2_CONTENT_TYPE } from './steps/route-to-mllp.js';
import { secureContextOptions, type LiveTls } from '../keystore/live-tls.js';

interface Running {
  address: string;
  listener: MllpListener;
  channel: CompiledChannel;
}

export class TcpChannels {
  private readonly running = new Map<string, Running>();
  private syncing: Promise<void> = Promise.resolve();
  /** Channels already warned about (the table is reloaded every few seconds: warn once). */
  private readonly warned = new Set<string>();

  constructor(private readonly deps: RouterDeps, private readonly logger: Logger, private readonly tls?: LiveTls) {
    tls?.onChange((identity) => {
      for (const { listener } of this.running.values()) listener.setSecureContext?.(secureContextOptions(identity, true));
    });
  }

  /** The URL each channel's listener took, by channel id (for status and tests). */
  urls(): Record<string, string> {
    return Object.fromEntries([...this.running].map(([id, r]) => [id, r.listener.url]));
  }

  /** Listeners for exactly the enabled tcp channels given (one at a time: changes arrive in bursts). */
  sync(channels: readonly CompiledChannel[]): Promise<void> {
    this.syncing = this.syncing.then(() => this.apply(channels)).catch((error: unknown) => this.logger.error({ err: error }, 'tcp channels: could not apply the channel list'));
    return this.syncing;
  }

  async close(): Promise<void> {
    await this.syncing;
    await this.apply([]);
  }

  private async apply(channels: readonly CompiledChannel[]): Promise<void> {
    const wanted = new Map<string, CompiledChannel>();
    for (const compiled of channels) {
      const { channel } = compiled;
      const servable = channel.type === 'tcp' || (channel.type === 'tls' && this.tls?.current());
      if (servable && channel.tcpPort) wanted.set(channel._id, compiled);
      else if (!this.warned.has(channel._id)) {
        this.warned.add(channel._id);
        this.logger.warn({ channel: channel.name }, channel.tcpPort ? 'tls channel: the keystore has no certificate to serve; channel not started' : `${channel.type} channel has no tcpPort: not started`);
      }
    }
    for (const [id, running] of this.running) {
      const next = wanted.get(id);
      if (next && this.addressOf(next) === running.address) {
        running.channel = next; // routes, timeout or whitelist may have changed; the port did not
        continue;
      }
      this.running.delete(id);
      await running.listener.close();
      this.logger.info({ channel: running.channel.channel.name, address: running.address }, 'tcp channel stopped');
    }
    for (const [id, compiled] of wanted) {
      if (this.running.has(id)) continue;
      await this.start(id, compiled);
    }
  }

  private addressOf(compiled: CompiledChannel): string {
    // The type and the framing are part of it: a channel switched between tcp and tls, or between mllp and http routes, gets a new listener.
    return `${compiled.channel.type}:${routedOverHttp(compiled) ? 'http' : 'mllp'}:${compiled.channel.tcpHost ?? this.deps.config.routerHost}:${compiled.channel.tcpPort}`;
  }

  private async start(id: string, compiled: CompiledChannel): Promise<void> {
    const { limits } = this.deps.config;
    const running: Running = { address: this.addressOf(compiled), channel: compiled, listener: undefined as unknown as MllpListener };
    try {
      running.listener = await startMllpListener({
        host: compiled.channel.tcpHost ?? this.deps.config.routerHost,
        port: compiled.channel.tcpPort!,
        limits: { maxMessageBytes: limits.routerTcpMaxMessageBytes, maxConnections: limits.routerTcpMaxConnections, idleTimeoutMs: limits.routerTcpIdleTimeoutMs, settings: 'OPENHIM_ROUTER_TCP_*' },
        logger: this.logger,
        tls: compiled.channel.type === 'tls' && this.tls?.current() ? secureContextOptions(this.tls.current()!, true) : undefined,
        unframed: routedOverHttp(compiled),
        // The router's port faces every clinic's system: one sender address holds a quarter of it at most.
        perAddressShare: 0.25,
        answer: (_message, remote, payload) => this.routeMessage(running.channel, payload, remote.address),
      });
    } catch (error) {
      // Another channel or program holds the port: tried again at every reload, logged once.
      if (!this.warned.has(`${id}@${running.address}`)) {
        this.warned.add(`${id}@${running.address}`);
        this.logger.error({ err: error, channel: compiled.channel.name, address: running.address }, 'tcp channel could not listen (tried again at every routing table reload)');
      }
      return;
    }
    this.running.set(id, running);
    this.logger.info({ channel: compiled.channel.name, url: running.listener.url }, 'tcp channel listening');
  }

  private async routeMessage(channel: CompiledChannel, payload: Buffer, clientIP: string): Promise<Buffer | undefined> {
    const overHttp = routedOverHttp(channel);
    const pipeline = overHttp ? tcpToHttpPipeline : tcpPipeline;
    const exchange: Exchange = {
      request: {
        // As the sender wrote it: an HL7v2 message's character set is MSH-18's, not necessarily UTF-8; raw bytes have no type at all.
        method: 'POST', path: '/', querystring: '', headers: overHttp ? {} : { 'content-type': HL7V2_CONTENT_TYPE }, body: payload,
        clientIP, host: channel.channel.tcpHost ?? this.deps.config.routerHost, port: channel.channel.tcpPort!,
      },
      startedAt: process.hrtime.bigint(),
      channel,
    };
    try {
      await runRequestSteps(pipeline, exchange, this.deps);
      await runAfterSteps(pipeline, exchange, this.deps);
    } catch (error) {
      this.logger.error({ err: error, channel: channel.channel.name }, 'tcp channel message failed');
      return overHttp ? INTERNAL_ERROR : undefined;
    }
    if (exchange.primaryOutcome && !exchange.primaryOutcome.failed) return exchange.response!.body;
    // A refused sender (no transaction) is closed on; a failed route is answered as OpenHIM answers it.
    return overHttp && exchange.transaction ? INTERNAL_ERROR : undefined;
  }
}

/** OpenHIM's answer to a tcp message whose route failed (router.js handleServerError). */
const INTERNAL_ERROR = Buffer.from('An internal server error occurred');

/** The channel's primary route is an http one (a route without a type is http, as in OpenHIM). */
function routedOverHttp(compiled: CompiledChannel): boolean {
  const primary = compiled.channel.routes.find((r) => r.status === 'enabled' && r.primary);
  return primary !== undefined && (primary.type === undefined || primary.type === 'http');
}
