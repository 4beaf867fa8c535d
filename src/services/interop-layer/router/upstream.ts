/**
 * Upstream calls with undici: one pooled agent, the channel's timeout as a deadline for the whole
 * answer (waiting for a pooled connection, the headers and the whole body: an upstream that
 * trickles or never ends its body must not hold a connection of the pool for ever), bodies read
 * up to a cap, a call abandoned when its caller goes away, and failures classified (timeout,
 * unreachable, reset, too large, cancelled) so the caller gets the right 5xx and the
 * transaction the reason.
 */
import { Agent } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { TlsIdentity } from '../keystore/store.js';

export interface UpstreamRequest {
  secured: boolean;
  host: string;
  port: number;
  /** Path with query string. */
  path: string;
  method: string;
  headers: Record<string, string | string[]>;
  body: Buffer | undefined;
  /** The deadline for the whole answer, from now. */
  timeoutMs: number;
  /** Given a function that abandons the call (the router calls it when the client goes away). */
  onCancel?: ((cancel: () => void) => void) | undefined;
  /** A secured route's `cert`: the keystore's trusted certificate its upstream is checked against (instead of the public roots). */
  caId?: string | undefined;
}

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  timestamp: string;
}

export type UpstreamFailureKind = 'timeout' | 'unreachable' | 'reset' | 'too-large' | 'cancelled' | 'error';

export class UpstreamFailure extends Error {
  constructor(readonly kind: UpstreamFailureKind, message: string) {
    super(message);
  }

  /** What the client gets: 504 for a timeout, 502 otherwise. */
  get httpStatus(): number {
    return this.kind === 'timeout' ? 504 : 502;
  }
}

/** Why a call was aborted (one object each: an Error made per request costs). */
const DEADLINE = { reason: 'deadline' };
const CALLER_GONE = { reason: 'caller gone' };
const EMPTY = Buffer.alloc(0);

/**
 * As OpenHIM (router.js constructOptionsObject): to a secured route the router presents the
 * keystore's certificate and key (an upstream that asks for a client certificate gets it), and
 * checks the upstream against the trusted certificate the route's `cert` names, else the public
 * roots. One agent per trusted certificate in use, made again when the keystore changes.
 */
export class UpstreamClient {
  private readonly agent: Agent;
  private identity: TlsIdentity | undefined;
  private readonly securedAgents = new Map<string, Agent>();

  constructor(private readonly maxBodyBytes: number, private readonly verifyTls: boolean) {
    this.agent = new Agent({ keepAliveTimeout: 10_000, connections: 128, pipelining: 1, connect: { rejectUnauthorized: verifyTls } });
  }

  /** The keystore's identity (the router's certificate, key and trusted list); secured routes use it from now on. */
  useIdentity(identity: TlsIdentity | undefined): void {
    this.identity = identity;
    const old = [...this.securedAgents.values()];
    this.securedAgents.clear();
    for (const agent of old) agent.close().catch(() => undefined);
  }

  private agentFor(req: UpstreamRequest, origin: string): Agent {
    if (!req.secured || (!this.identity && !req.caId)) return this.agent;
    const key = req.caId ?? '';
    let agent = this.securedAgents.get(key);
    if (!agent) {
      const identity = this.identity;
      const index = req.caId ? identity?.caIds?.indexOf(req.caId) ?? -1 : -1;
      if (req.caId && index < 0) throw new UpstreamFailure('error', `the route to ${origin} names trusted certificate ${req.caId.slice(0, 64)}, which the keystore does not hold`);
      agent = new Agent({
        keepAliveTimeout: 10_000, connections: 128, pipelining: 1,
        connect: {
          rejectUnauthorized: this.verifyTls,
          ...(identity ? { cert: identity.cert, key: identity.key, ...(identity.passphrase ? { passphrase: identity.passphrase } : {}) } : {}),
          ...(index >= 0 ? { ca: [identity!.ca[index]!] } : {}),
        },
      });
      this.securedAgents.set(key, agent);
    }
    return agent;
  }

  async send(req: UpstreamRequest): Promise<UpstreamResponse> {
    const origin = `${req.secured ? 'https' : 'http'}://${req.host.includes(':') ? `[${req.host}]` : req.host}:${req.port}`;
    const agent = this.agentFor(req, origin);
    const controller = new AbortController();
    const deadline = setTimeout(() => controller.abort(DEADLINE), req.timeoutMs);
    req.onCancel?.(() => controller.abort(CALLER_GONE));
    try {
      let res;
      try {
        // origin and path apart: a URL parser would resolve dot segments the channel check never saw.
        res = await agent.request({
          origin,
          path: req.path,
          method: req.method as 'GET',
          headers: req.headers,
          body: req.body && req.body.length > 0 ? req.body : null,
          headersTimeout: req.timeoutMs,
          bodyTimeout: req.timeoutMs,
          signal: controller.signal,
        });
      } catch (error) {
        throw classify(error, origin, controller.signal, req.timeoutMs);
      }
      if (res.statusCode < 100 || res.statusCode > 599) {
        // Destroyed unread, undici's body emits an AbortError: heard here, not left uncaught.
        res.body.on('error', () => undefined);
        res.body.destroy();
        throw new UpstreamFailure('error', `the upstream ${origin} answered with status ${res.statusCode}, which HTTP does not have (100-599)`);
      }
      const body = res.statusCode === 304 || res.statusCode === 204 ? discardBody(res.body) : await readCapped(res.body, this.maxBodyBytes, origin, controller.signal, req.timeoutMs);
      return { status: res.statusCode, headers: res.headers as IncomingHttpHeaders, body, timestamp: new Date().toISOString() };
    } finally {
      clearTimeout(deadline);
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.agent.close(), ...[...this.securedAgents.values()].map((agent) => agent.close())]);
  }
}

/**
 * An answer with no body by definition (304, 204: RFC 9110 15.3.5, 15.4.5). A 304's Content-Length
 * is the length of the representation it stands for, which undici 7 takes for a body it then
 * misses: the stream is drained, its error heard, and nothing read.
 */
function discardBody(body: Readable): Buffer {
  body.on('error', () => undefined);
  body.resume();
  return EMPTY;
}

/**
 * The response body, up to the cap. Events rather than `for await`: the async iterator costs a
 * promise per chunk and an iterator per response, measurable per routed request.
 */
function readCapped(body: Readable, maxBytes: number, origin: string, signal: AbortSignal, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    body.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        body.destroy();
        reject(new UpstreamFailure('too-large', `the upstream response is larger than ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    body.once('end', () => resolve(Buffer.concat(chunks, size)));
    // `on`, not `once`: a body destroyed after an error may emit another, which must not go uncaught.
    body.on('error', (error) => reject(classify(error, origin, signal, timeoutMs)));
    // Destroyed before its end without an error (the connection went away): not a whole body.
    // (It closes after every end too: only then is the error made, an Error per request costs.)
    body.once('close', () => {
      if (!body.readableEnded) reject(signal.aborted ? classify(undefined, origin, signal, timeoutMs) : new UpstreamFailure('reset', `the upstream ${origin} closed the connection before the end of its answer`));
    });
  });
}

function classify(error: unknown, origin: string, signal: AbortSignal, timeoutMs: number): UpstreamFailure {
  // The timeout's and the connection errors' messages are OpenHIM's (router.js; Node's own), which its clients and tests read in the log.
  if (signal.aborted && signal.reason === DEADLINE) return new UpstreamFailure('timeout', `Request took longer than ${timeoutMs}ms`);
  if (signal.aborted && signal.reason === CALLER_GONE) return new UpstreamFailure('cancelled', `the client went away before the upstream ${origin} answered; the call was abandoned`);
  const e = (error ?? {}) as { code?: string; message?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code ?? '';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new UpstreamFailure('timeout', `Request took longer than ${timeoutMs}ms`);
  }
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
    return new UpstreamFailure('unreachable', typeof e.message === 'string' && e.message.includes(code) ? e.message : `the upstream ${origin} is unreachable (${code})`);
  }
  if (code === 'ERR_ASSERTION' || code === 'HPE_INVALID_STATUS') {
    return new UpstreamFailure('error', `the upstream ${origin} answered with something that is not valid HTTP (a status line or header undici refuses)`);
  }
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE' || code === 'UND_ERR_CLOSED') {
    return new UpstreamFailure('reset', `the upstream ${origin} closed the connection (${code})`);
  }
  return new UpstreamFailure('error', `the upstream ${origin} failed: ${e.message ?? String(error)}`);
}
