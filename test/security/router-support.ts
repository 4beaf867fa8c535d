/** Raw-socket helpers for the router and port tests: nothing here normalises a path or a header. */
import net from 'node:net';

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The whole text the server sent. */
  text: string;
}

function portOf(baseUrl: string): { host: string; port: number } {
  const url = new URL(baseUrl);
  return { host: url.hostname, port: Number(url.port) };
}

/** Parses the first HTTP response in `text` (without chunked decoding, which the tests avoid). */
export function parseResponse(text: string): RawResponse {
  const end = text.indexOf('\r\n\r\n');
  const head = end >= 0 ? text.slice(0, end) : text;
  const [statusLine, ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0), headers, body: end >= 0 ? text.slice(end + 4) : '', text };
}

/**
 * Sends `request` exactly as written (CRLF line ends added) over a new connection and reads
 * until the server closes it or `timeoutMs` passes. Write `Connection: close` to get a prompt end.
 */
export function rawRequest(baseUrl: string, request: string, timeoutMs = 5_000): Promise<RawResponse> {
  const { host, port } = portOf(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, host, () => socket.write(request));
    let text = '';
    const timer = setTimeout(() => socket.destroy(), timeoutMs);
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parseResponse(text));
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      if (text) resolve(parseResponse(text));
      else reject(error);
    });
  });
}

/** An HTTP/1.1 request text with the given head lines and body. */
export function httpText(method: string, target: string, headers: Record<string, string>, body = ''): string {
  const lines = [`${method} ${target} HTTP/1.1`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

export interface HeldConnection {
  socket: net.Socket;
  /** True once the server closed (or reset) the connection. */
  closed: boolean;
  /** What the server sent. */
  received: string;
}

/** Opens a connection, writes `initial` (maybe nothing) and holds it open, recording its fate. */
export function holdConnection(baseUrl: string, initial = ''): Promise<HeldConnection> {
  const { host, port } = portOf(baseUrl);
  return new Promise((resolve, reject) => {
    const held: HeldConnection = { socket: net.connect(port, host), closed: false, received: '' };
    held.socket.on('data', (chunk: Buffer) => (held.received += chunk.toString('latin1')));
    held.socket.on('close', () => (held.closed = true));
    held.socket.on('error', () => (held.closed = true));
    held.socket.once('connect', () => {
      if (initial) held.socket.write(initial);
      resolve(held);
    });
    held.socket.once('error', reject);
  });
}

export function releaseAll(held: readonly HeldConnection[]): void {
  for (const h of held) h.socket.destroy();
}

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
