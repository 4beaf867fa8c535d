/**
 * One guard for every HTTP port (admin API, router, FHIR services): header, request and
 * keep-alive timeouts, a header size cap, and a cap on open connections per port.
 *
 * At the cap a new connection makes room rather than being refused: the oldest connection
 * that holds no request being processed is closed (idle keep-alive, headers still arriving,
 * or a body still arriving: `req.complete` false). Only when every open connection has a
 * complete request in progress is the new one refused. So slow or idle connections can never
 * lock out a client that sends its request promptly, and file descriptors stay bounded.
 */
import http, { type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { newRequestId, requestIdOf } from './request-id.js';
import type { Limits } from './limits.js';
import type { Logger } from './logger.js';

export type HttpLimits = Pick<Limits, 'httpHeadersTimeoutMs' | 'httpRequestTimeoutMs' | 'httpKeepAliveTimeoutMs' | 'httpMaxConnections' | 'httpMaxHeaderBytes' | 'httpMaxHeaderCount'>;

export interface GuardedServerOptions {
  limits: HttpLimits;
  /** Names the port in log lines, e.g. `router http`. */
  name: string;
  logger?: Logger | undefined;
  /** TLS options: an HTTPS server. */
  tls?: https.ServerOptions | undefined;
  /**
   * Requests with `Expect: 100-continue` go here instead of `listener`, which then decides
   * whether to answer 100 Continue (res.writeContinue). Unset: Node answers 100 at once.
   */
  onCheckContinue?: RequestListener | undefined;
}

interface TrackedConnection {
  socket: Socket;
  /** Requests on this connection whose response has not finished. */
  active: Set<IncomingMessage>;
}

/** How often refusals are logged at most (one line per burst, not one per connection). */
const REFUSAL_LOG_INTERVAL_MS = 10_000;

/** Keeps open connections in arrival order and picks the one to close when the port is full. */
export class ConnectionGuard {
  /** Insertion order is arrival order: the first evictable entry is the oldest. */
  private readonly open = new Map<Socket, TrackedConnection>();
  /** The same entries by peer address: a TLS request's socket wraps the raw one we track. */
  private readonly byPeer = new Map<string, TrackedConnection>();
  private refusedSinceLog = 0;
  private evictedSinceLog = 0;
  private lastLog = 0;

  constructor(private readonly maxConnections: number, private readonly name: string, private readonly logger?: Logger) {}

  get size(): number {
    return this.open.size;
  }

  /** A new connection: admitted (making room if needed) or destroyed. */
  admit(socket: Socket): void {
    const peer = peerKey(socket);
    if (!peer) return; // already gone
    if (this.open.size >= this.maxConnections) {
      const victim = this.oldestEvictable();
      if (!victim) {
        socket.destroy();
        this.refusedSinceLog++;
        this.logPressure();
        return;
      }
      this.forget(victim);
      victim.socket.destroy();
      this.evictedSinceLog++;
      this.logPressure();
    }
    const entry: TrackedConnection = { socket, active: new Set() };
    this.open.set(socket, entry);
    this.byPeer.set(peer, entry);
    socket.once('close', () => {
      if (this.open.get(socket) === entry) this.forget(entry);
    });
  }

  /** A request arrived (its headers are complete); it counts as in progress until answered. */
  track(req: IncomingMessage, res: ServerResponse): void {
    const peer = peerKey(req.socket);
    const entry = peer ? this.byPeer.get(peer) : undefined;
    if (!entry) return;
    entry.active.add(req);
    res.once('close', () => entry.active.delete(req));
  }

  private oldestEvictable(): TrackedConnection | undefined {
    for (const entry of this.open.values()) {
      if (entry.active.size === 0) return entry;
      for (const req of entry.active) if (!req.complete) return entry;
    }
    return undefined;
  }

  private forget(entry: TrackedConnection): void {
    this.open.delete(entry.socket);
    const peer = peerKey(entry.socket);
    if (peer && this.byPeer.get(peer) === entry) this.byPeer.delete(peer);
  }

  private logPressure(): void {
    const now = Date.now();
    if (!this.logger || now - this.lastLog < REFUSAL_LOG_INTERVAL_MS) return;
    this.lastLog = now;
    this.logger.warn(
      { port: this.name, open: this.open.size, maxConnections: this.maxConnections, evicted: this.evictedSinceLog, refused: this.refusedSinceLog },
      'connection cap reached: closed idle or slow connections, and refused new ones when every connection was busy (INSTANT_HTTP_MAX_CONNECTIONS)',
    );
    this.evictedSinceLog = 0;
    this.refusedSinceLog = 0;
  }
}

function peerKey(socket: Socket): string | undefined {
  const { remoteAddress, remotePort } = socket;
  return remoteAddress && remotePort ? `${remoteAddress}|${remotePort}` : undefined;
}

/** Node's server options for the limits: timeouts checked often enough to matter. */
export function httpServerOptions(limits: HttpLimits): http.ServerOptions {
  const requestTimeout = limits.httpRequestTimeoutMs;
  // Node refuses a headers timeout longer than the request timeout.
  const headersTimeout = Math.min(limits.httpHeadersTimeoutMs, requestTimeout);
  return {
    headersTimeout,
    requestTimeout,
    keepAliveTimeout: limits.httpKeepAliveTimeoutMs,
    // Node's own check (names and values only) stops a huge head early; requestHeadBytes is exact.
    maxHeaderSize: limits.httpMaxHeaderBytes,
    // Node checks the two timeouts on this interval (default 30 s, far coarser than they are).
    connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(headersTimeout / 2))),
  };
}

/**
 * The size of a request's line and headers as written without optional whitespace: `METHOD
 * target HTTP/1.1` CRLF, `name: value` CRLF for each header, CRLF. Node's `maxHeaderSize` counts
 * only names and values (not the `: `, line ends or the request line), so many short headers
 * used to pass a 16 KiB cap with over 20 KB; this is the count the cap is held to.
 */
export function requestHeadBytes(req: IncomingMessage): number {
  let bytes = Buffer.byteLength(req.method ?? '') + 1 + Buffer.byteLength(req.url ?? '') + 1 + `HTTP/${req.httpVersion}`.length + 2;
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) bytes += Buffer.byteLength(raw[i]!) + 2 + Buffer.byteLength(raw[i + 1]!) + 2;
  return bytes + 2;
}

interface HeadProblem { status: 400 | 431; message: string }

/** Why a request's head is refused, if it is: 431 past a cap, 400 for a head RFC 9112 forbids. */
function headProblem(req: IncomingMessage, limits: HttpLimits): HeadProblem | undefined {
  // Node keeps at least maxHeadersCount (= the cap + 1) headers, so more than the cap shows here.
  if (req.rawHeaders.length / 2 > limits.httpMaxHeaderCount) return { status: 431, message: `more than ${limits.httpMaxHeaderCount} headers (INSTANT_HTTP_MAX_HEADER_COUNT)` };
  if (requestHeadBytes(req) > limits.httpMaxHeaderBytes) return { status: 431, message: `request line and headers over ${limits.httpMaxHeaderBytes} bytes (INSTANT_HTTP_MAX_HEADER_BYTES)` };
  // RFC 9112 3.2: more than one Host is a 400 (Node would keep the first and drop the rest).
  if (countHeader(req.rawHeaders, 'host') > 1) return { status: 400, message: 'more than one Host header' };
  return undefined;
}

function countHeader(raw: readonly string[], name: string): number {
  let count = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === name.length && raw[i]!.toLowerCase() === name) count++;
  return count;
}

/** 431 (or 400) and close, for a request whose head is refused (its body is never read). */
function refuseHead(res: ServerResponse, problem: HeadProblem): void {
  res.shouldKeepAlive = false;
  res.writeHead(problem.status, { 'content-type': 'text/plain; charset=utf-8', connection: 'close', 'x-request-id': requestIdOf(res.req) });
  res.end(problem.message);
}

/** Node's answers to bytes its parser refuses, by its error code: [status, reason phrase, what to do]. */
const PARSER_REFUSALS: Record<string, readonly [number, string, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'the request line and headers are larger than this port accepts'],
  HPE_CHUNK_EXTENSIONS_OVERFLOW: [413, 'Payload Too Large', 'the chunk extensions are larger than this port accepts'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'the request did not arrive in time'],
};
const NOT_HTTP: readonly [number, string, string] = [400, 'Bad Request', 'the request is not valid HTTP/1.1'];

/**
 * What Node does for a request its parser refuses (a 400, 431, 413 or 408, then the connection
 * closed), with what every other answer carries: an X-Request-Id and a message saying why.
 * Nothing is written once an answer on the connection has begun (it would corrupt it).
 */
function answerParserRefusal(error: NodeJS.ErrnoException, socket: Duplex): void {
  const inFlight = (socket as { _httpMessage?: ServerResponse })._httpMessage;
  if (error.code !== 'ECONNRESET' && socket.writable && !inFlight?.headersSent) {
    const [status, reason, message] = PARSER_REFUSALS[error.code ?? ''] ?? NOT_HTTP;
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(message)}\r\n` +
        `X-Request-Id: ${newRequestId()}\r\nConnection: close\r\n\r\n${message}`,
    );
  }
  socket.destroy();
}

/** An HTTP or HTTPS server with the limits applied and its connections guarded. */
export function createGuardedServer(listener: RequestListener, options: GuardedServerOptions): http.Server {
  const guard = new ConnectionGuard(options.limits.httpMaxConnections, options.name, options.logger);
  const serverOptions = httpServerOptions(options.limits);
  const tracked: RequestListener = (req, res) => {
    guard.track(req, res);
    const problem = headProblem(req, options.limits);
    if (problem) return refuseHead(res, problem);
    listener(req, res);
  };
  const server: http.Server = options.tls
    ? https.createServer({ ...serverOptions, handshakeTimeout: serverOptions.headersTimeout, ...options.tls }, tracked)
    : http.createServer(serverOptions, tracked);
  // Node silently drops headers past maxHeadersCount; one more than the cap makes an excess visible.
  server.maxHeadersCount = options.limits.httpMaxHeaderCount + 1;
  server.on('connection', (socket: Socket) => guard.admit(socket));
  server.on('clientError', answerParserRefusal);
  const onCheckContinue = options.onCheckContinue;
  if (onCheckContinue) {
    server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => {
      guard.track(req, res);
      const problem = headProblem(req, options.limits);
      if (problem) return refuseHead(res, problem);
      onCheckContinue(req, res);
    });
  }
  return server;
}
