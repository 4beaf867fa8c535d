/**
 * Talking to the interop layer's admin API as a mediator: register (201), heartbeat with
 * config delivery, fetch config, install default channels. Basic auth by default; the legacy
 * token headers (after GET /authenticate/:username) when `auth: 'token'`.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Agent, request, type Dispatcher } from 'undici';
import type { MediatorRegistration } from './types.js';

export interface MediatorClientOptions {
  /** Admin API base URL, e.g. http://127.0.0.1:8080. */
  apiURL: string;
  username: string;
  password: string;
  urn: string;
  auth?: 'basic' | 'token';
  /** Accept a self-signed API certificate (HTTPS APIs only). */
  trustSelfSigned?: boolean;
  timeoutMs?: number;
}

export class MediatorApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'MediatorApiError';
  }
}

export interface MediatorClientEvents<Config> {
  config: [Config];
  error: [Error];
}

export class MediatorClient<Config extends Record<string, unknown> = Record<string, unknown>> extends EventEmitter<MediatorClientEvents<Config>> {
  private readonly dispatcher: Dispatcher;
  private salt: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly startedAt = Date.now();

  constructor(private readonly options: MediatorClientOptions) {
    super();
    this.dispatcher = new Agent({ connect: { rejectUnauthorized: !options.trustSelfSigned } });
  }

  private async authHeaders(): Promise<Record<string, string>> {
    const { username, password } = this.options;
    if (this.options.auth !== 'token') {
      return { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` };
    }
    if (!this.salt) {
      const res = await this.call('GET', `/authenticate/${encodeURIComponent(username)}`, undefined, false);
      this.salt = (res as { salt: string }).salt;
    }
    const ts = new Date().toISOString();
    const passhash = createHash('sha512').update(this.salt + password).digest('hex');
    const token = createHash('sha512').update(passhash + this.salt + ts).digest('hex');
    return { 'auth-username': username, 'auth-ts': ts, 'auth-salt': this.salt, 'auth-token': token };
  }

  private async call(method: 'GET' | 'POST' | 'PUT', path: string, body?: unknown, authenticate = true): Promise<unknown> {
    const headers: Record<string, string> = authenticate ? await this.authHeaders() : {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await request(this.options.apiURL.replace(/\/$/, '') + path, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      dispatcher: this.dispatcher,
      headersTimeout: this.options.timeoutMs ?? 30_000,
      bodyTimeout: this.options.timeoutMs ?? 30_000,
    });
    const text = await res.body.text();
    if (res.statusCode >= 400) {
      let message = text;
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? text;
      } catch {
        /* plain text */
      }
      throw new MediatorApiError(res.statusCode, `${method} ${path} answered ${res.statusCode}: ${message}`);
    }
    if (!text) return undefined;
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }

  /** POST /mediators: registers this mediator (or a newer version of it). */
  async register(registration: MediatorRegistration<Config>): Promise<void> {
    if (registration.urn !== this.options.urn) throw new Error(`registration urn ${registration.urn} is not this client's urn ${this.options.urn}`);
    await this.call('POST', '/mediators', registration);
  }

  /** One heartbeat; resolves to the config when the interop layer sent it (changed, or asked for). */
  async heartbeat(forceConfig = false): Promise<Config | undefined> {
    const uptime = (Date.now() - this.startedAt) / 1000;
    const body = await this.call('POST', `/mediators/${encodeURIComponent(this.options.urn)}/heartbeat`, { uptime, ...(forceConfig ? { config: true } : {}) });
    return body && typeof body === 'object' ? (body as Config) : undefined;
  }

  /** The current config (a heartbeat with `config: true`). */
  async fetchConfig(): Promise<Config> {
    return (await this.heartbeat(true)) ?? ({} as Config);
  }

  /** Beats every `intervalMs` (OpenHIM's default is 10 s); emits `config` when it changes. */
  startHeartbeat(intervalMs = 10_000): this {
    this.stopHeartbeat();
    const beat = () => {
      this.heartbeat().then(
        (config) => {
          if (config) this.emit('config', config);
        },
        (error: Error) => this.emit('error', error),
      );
    };
    beat();
    this.timer = setInterval(beat, intervalMs);
    this.timer.unref();
    return this;
  }

  stopHeartbeat(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** POST /mediators/:urn/channels: installs default channels by name ([] = all). */
  async installChannels(names: string[] = []): Promise<void> {
    await this.call('POST', `/mediators/${encodeURIComponent(this.options.urn)}/channels`, names);
  }

  async close(): Promise<void> {
    this.stopHeartbeat();
    await this.dispatcher.close();
  }
}
