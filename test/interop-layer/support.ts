/** Starts the interop layer on a fresh database with port-0 settings, and a recording upstream. */
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../../src/common/logger.js';
import { ServerLogs } from '../../src/common/server-logs.js';
import { SettingsMap } from '../../src/platform/settings.js';
import type { RunningService } from '../../src/services/service.js';
import { interopLayerService } from '../../src/services/interop-layer/index.js';
import { openDatabase } from '../../src/db/open.js';
import { openTestDatabase, type TestDatabase } from '../support/databases.js';
import { Agent, fetch as undiciFetch } from 'undici';

/**
 * A connection per admin call: the test and the service share one event loop, so a synchronous
 * stretch (a PGlite migration) can let the server's keep-alive timer close a pooled connection
 * just as the next POST is written on it, which fetch does not retry ("fetch failed").
 */
const freshConnections = new Agent({ pipelining: 0 });

export interface Iol {
  t: TestDatabase;
  running: RunningService;
  api: string;
  router: string;
  stateDir: string;
  rootEmail: string;
  rootPassword: string;
  /** Authorization header of the root user (Basic). */
  rootAuth: string;
  settings: Record<string, string>;
  /** Calls the admin API as root with JSON. */
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: any; headers: Headers }>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startIol(driver: 'pglite' | 'postgres', extra: Record<string, string> = {}): Promise<Iol> {
  const t = await openTestDatabase(driver);
  const stateDir = await mkdtemp(join(tmpdir(), 'instant-iol-'));
  const rootPassword = randomBytes(12).toString('base64url');
  // The records GET /logs reads, as a deployed process keeps them.
  const serverLogs = new ServerLogs();
  const settings: Record<string, string> = {
    OPENHIM_API_PORT: '0',
    OPENHIM_ROUTER_HTTP_PORT: '0',
    OPENHIM_ROUTER_HTTPS_PORT: '0',
    OPENHIM_ROOT_PASSWORD: rootPassword,
    OPENHIM_CACHE_REFRESH_MS: '0',
    ...extra,
  };
  const start = () =>
    interopLayerService.start({ name: 'interop-layer', db: t.db, settings: new SettingsMap(settings), logger: createLogger({ extra: [serverLogs] }), serverLogs, stateDir });
  const iol: Iol = {
    t,
    running: await start(),
    api: '',
    router: '',
    stateDir,
    rootEmail: 'root@openhim.org',
    rootPassword,
    rootAuth: `Basic ${Buffer.from(`root@openhim.org:${rootPassword}`).toString('base64')}`,
    settings,
    async call(method, path, body, headers = {}) {
      const res = await undiciFetch(iol.api + path, {
        dispatcher: freshConnections,
        method,
        // JSON errors, as this project's own clients ask for them (api/error-body.ts); OpenHIM's text otherwise.
        headers: { authorization: iol.rootAuth, accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : text;
      } catch {
        /* not JSON */
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async restart() {
      await iol.running.stop();
      iol.running = await start();
      iol.api = iol.running.endpoints.api!;
      iol.router = iol.running.endpoints.router!;
    },
    async stop() {
      await iol.running.stop();
      await t.dispose();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
  iol.api = iol.running.endpoints.api!;
  iol.router = iol.running.endpoints.router!;
  return iol;
}

/** Reopens the test database (simulates a new process after a crash). */
export async function reopen(t: TestDatabase): Promise<void> {
  await t.db.close();
  t.db = await openDatabase(t.location);
}

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export type UpstreamHandler = (req: SeenRequest, res: http.ServerResponse) => void;

export interface Upstream {
  port: number;
  seen: SeenRequest[];
  /** Handlers by path prefix; default answers 200 JSON echoing the path. */
  handle(prefix: string, handler: UpstreamHandler): void;
  close(): Promise<void>;
}

export async function startUpstream(): Promise<Upstream> {
  const seen: SeenRequest[] = [];
  const handlers: Array<[string, UpstreamHandler]> = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const entry = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      seen.push(entry);
      const handler = handlers.find(([prefix]) => entry.url.startsWith(prefix))?.[1];
      if (handler) return handler(entry, res);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, path: entry.url }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    handle(prefix, handler) {
      handlers.unshift([prefix, handler]);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** Polls until fn returns a truthy value (the log is written behind the response). */
export async function eventually<T>(fn: () => Promise<T | undefined | false>, what: string, tries = 100): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const value = await fn();
    if (value) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A task (GET /tasks/:id) once it has reached `status`, as the API answers it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function taskInStatus(iol: Iol, id: string, status: string, what: string, tries?: number): Promise<any> {
  return eventually(async () => {
    const task = (await iol.call('GET', `/tasks/${id}`)).body as { status?: string };
    return task.status === status ? task : undefined;
  }, what, tries);
}

/** Creates a channel allowing the role `clinical` (unless the body says otherwise); returns its `_id`. */
export async function createClinicalChannel(iol: Iol, name: string, body: Record<string, unknown>): Promise<string> {
  const res = await iol.call('POST', '/channels', { name, allow: ['clinical'], ...body });
  if (res.status !== 201) throw new Error(`channel ${name} not created: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body._id;
}

/**
 * Creates channels allowing the role `pos`, each with one primary route to the upstream's port;
 * returns their `_id`s by name.
 */
export async function addPosChannels(iol: Iol, upstreamPort: number, channels: ReadonlyArray<readonly [string, Record<string, unknown>]>): Promise<Record<string, string>> {
  const ids: Record<string, string> = {};
  for (const [name, extra] of channels) {
    const res = await iol.call('POST', '/channels', { name, allow: ['pos'], routes: [{ name: 'p', host: '127.0.0.1', port: upstreamPort, primary: true }], ...extra });
    if (res.status !== 201) throw new Error(`channel ${name}: ${res.status} ${JSON.stringify(res.body)}`);
    ids[name] = res.body._id;
  }
  return ids;
}

const coreConfig = JSON.parse(readFileSync(new URL('../../../packages/core/importer/openhim-config.json', import.meta.url), 'utf8'));

/**
 * The core package's FHIR channel and test client on a test interop layer, the channel's route
 * pointing at a shared health record's listener: how a client reaches the SHR. Returns the
 * router's FHIR base and the client's Authorization header.
 */
export async function routeCoreChannel(iol: Iol, shrFhirEndpoint: string): Promise<{ base: string; auth: Record<string, string> }> {
  const channel = { ...coreConfig.Channels[0], routes: [{ ...coreConfig.Channels[0].routes[0], host: '127.0.0.1', port: Number(new URL(shrFhirEndpoint).port) }] };
  const created = await iol.call('POST', '/channels', channel);
  if (created.status !== 201) throw new Error(`core channel not created: ${created.status} ${JSON.stringify(created.body)}`);
  const client = await iol.call('POST', '/clients', { ...coreConfig.Clients[0], clientID: 'shr-client', password: 'shr-client-secret-1' });
  if (client.status !== 201) throw new Error(`core client not created: ${client.status} ${JSON.stringify(client.body)}`);
  return { base: `${iol.router}/fhir`, auth: { authorization: basic('shr-client', 'shr-client-secret-1') } };
}
