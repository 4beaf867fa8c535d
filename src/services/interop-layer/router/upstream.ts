/**
 * Upstream calls with undici: one pooled agent, timeouts per channel, bodies read up to a cap,
 * and failures classified (timeout, unreachable, reset, too large) so the caller gets the right
 * 5xx and the transaction the reason.
 */
import { Agent } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';

export interface UpstreamRequest {
  secured: boolean;
  host: string;
  port: number;
  /** Path with query string. */
  path: string;
  method: string;
  headers: Record<string, string | string[]>;
  body: Buffer | undefined;
  timeoutMs: number;
}

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  timestamp: string;
}

export type UpstreamFailureKind = 'timeout' | 'unreachable' | 'reset' | 'too-large' | 'error';

export class UpstreamFailure extends Error {
  constructor(readonly kind: UpstreamFailureKind, message: string) {
    super(message);
  }

  /** What the client gets: 504 for a timeout, 502 otherwise. */
  get httpStatus(): number {
    return this.kind === 'timeout' ? 504 : 502;
  }
}

export class UpstreamClient {
  private readonly agent: Agent;

  constructor(private readonly maxBodyBytes: number, verifyTls: boolean) {
    this.agent = new Agent({ keepAliveTimeout: 10_000, connections: 128, pipelining: 1, connect: { rejectUnauthorized: verifyTls } });
  }

  async send(req: UpstreamRequest): Promise<UpstreamResponse> {
    const origin = `${req.secured ? 'https' : 'http'}://${req.host.includes(':') ? `[${req.host}]` : req.host}:${req.port}`;
    let res;
    try {
      // origin and path apart: a URL parser would resolve dot segments the channel check never saw.
      res = await this.agent.request({
        origin,
        path: req.path,
        method: req.method as 'GET',
        headers: req.headers,
        body: req.body && req.body.length > 0 ? req.body : null,
        headersTimeout: req.timeoutMs,
        bodyTimeout: req.timeoutMs,
      });
    } catch (error) {
      throw classify(error, origin);
    }
    const body = await readCapped(res.body, this.maxBodyBytes, origin);
    return { status: res.statusCode, headers: res.headers as IncomingHttpHeaders, body, timestamp: new Date().toISOString() };
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}

/**
 * The response body, up to the cap. Events rather than `for await`: the async iterator costs a
 * promise per chunk and an iterator per response, measurable per routed request.
 */
function readCapped(body: Readable, maxBytes: number, origin: string): Promise<Buffer> {
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
    body.once('error', (error) => reject(classify(error, origin)));
    // Destroyed before its end without an error (the connection went away): not a whole body.
    // (It closes after every end too: only then is the error made, an Error per request costs.)
    body.once('close', () => {
      if (!body.readableEnded) reject(new UpstreamFailure('reset', `the upstream ${origin} closed the connection before the end of its answer`));
    });
  });
}

function classify(error: unknown, origin: string): UpstreamFailure {
  const e = error as { code?: string; message?: string; cause?: { code?: string } };
  const code = e.code ?? e.cause?.code ?? '';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new UpstreamFailure('timeout', `the upstream ${origin} did not answer in time`);
  }
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
    return new UpstreamFailure('unreachable', `the upstream ${origin} is unreachable (${code})`);
  }
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET' || code === 'EPIPE' || code === 'UND_ERR_CLOSED') {
    return new UpstreamFailure('reset', `the upstream ${origin} closed the connection (${code})`);
  }
  return new UpstreamFailure('error', `the upstream ${origin} failed: ${e.message ?? String(error)}`);
}
