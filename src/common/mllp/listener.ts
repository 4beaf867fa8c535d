/**
 * An MLLP listener (the client registry's HL7v2 port, the router's MLLP channels): a TCP server that reads framed HL7v2 messages and writes one framed answer
 * per message, in order (or, `unframed`, a chunk read and its answer as they are). Bounded like the HTTP ports (src/common/connection-guard.ts): a message
 * size cap, a connection cap that first makes room by closing the oldest connection not
 * processing a message, and a deadline to complete each message. A framing problem closes the
 * connection; everything else is answered by `answer`, which must not throw.
 */
import net, { type Socket } from 'node:net';
import tls, { type SecureContextOptions } from 'node:tls';
import type { Logger } from '../logger.js';
import { frameMessage, MllpDecoder, type MllpEvent } from './framing.js';

/** A listener's bounds; `settings` names the settings they come from, for the log. */
export interface MllpLimits {
  maxMessageBytes: number;
  maxConnections: number;
  idleTimeoutMs: number;
  settings: string;
}

export interface MllpListenerOptions {
  host: string;
  port: number;
  limits: MllpLimits;
  logger?: Pick<Logger, 'warn' | 'error'> | undefined;
  /**
   * Listen with TLS (OpenHIM's `tls` channels): the certificate, key and trusted list; client
   * certificates are asked for, not required. The handshake must end within the idle time.
   */
  tls?: SecureContextOptions | undefined;
  /**
   * No MLLP framing (OpenHIM's tcp channels routed to an http route): every chunk the socket reads
   * is one message, and its answer goes back as it is, as OpenHIM's tcpAdapter does.
   */
  unframed?: boolean | undefined;
  /**
   * Another framing than MLLP (syslog's octet counting for ATNA audit messages): a decoder made
   * for each connection, with the listener's message size cap.
   */
  decoder?: ((maxMessageBytes: number) => MessageDecoder) | undefined;
  /** The share of maxConnections one sender address may hold (e.g. 0.25); unset: no per-address share. */
  perAddressShare?: number;
  /** Messages get no answer and the connection stays open (syslog): `answer`'s result is ignored. */
  oneWay?: boolean | undefined;
  /** The URL scheme the listener reports (e.g. `syslog+tls`); by default from the framing and TLS. */
  scheme?: string | undefined;
  /**
   * The answer to one message (an ACK or a query response); undefined: none, the connection is
   * closed. `message` is the payload read as UTF-8; `payload` its bytes, for a receiver that
   * honours another character set (MSH-18), which then answers bytes in it.
   */
  answer(message: string, remote: { address: string; port: number }, payload: Buffer): Promise<string | Buffer | undefined>;
}

/** Time a TLS client has to finish its handshake (or the idle time, when shorter). */
const HANDSHAKE_TIMEOUT_MS = 10_000;

export interface MllpListener {
  url: string;
  port: number;
  close(): Promise<void>;
  /** TLS listeners: new connections get this certificate and trusted list from now on. */
  setSecureContext?(options: SecureContextOptions): void;
}

/** Turns a byte stream into whole messages; a problem closes the connection. */
export interface MessageDecoder {
  push(data: Buffer): MllpEvent[];
}

interface Connection {
  socket: Socket;
  busy: boolean;
}

export async function startMllpListener(options: MllpListenerOptions): Promise<MllpListener> {
  const { limits } = options;
  /** Insertion order is arrival order: the first idle entry is the oldest. */
  const open = new Map<Socket, Connection>();

  /** Open connections per sender address. */
  const perAddress = new Map<string, number>();
  /**
   * With `perAddressShare` (the ATNA ports and the router's tcp channels, whose senders are many systems), one sender address
   * holds at most that share of the cap (at least 2): a flood from one address cannot fill the
   * port. At the cap a newcomer takes the place of a connection of the address holding the most:
   * its oldest idle one, else its oldest (a flood's connections are always busy; the senders it
   * would crowd out are not the ones to go). Without it (a service's own MLLP port, fed by the
   * router) every connection counts alike.
   */
  const shareOfOne = options.perAddressShare ? Math.max(2, Math.ceil(limits.maxConnections * options.perAddressShare)) : Number.POSITIVE_INFINITY;
  const addressOf = (socket: Socket) => socket.remoteAddress ?? '';

  /** The connection that makes room at the cap: the oldest idle one; with a per-address share, one of the address holding the most (idle first). */
  const roomMaker = (newcomer: string): Connection | undefined => {
    if (!options.perAddressShare) return [...open.values()].find((c) => !c.busy);
    let heaviest = '';
    for (const [candidate, count] of perAddress) if (count > (perAddress.get(heaviest) ?? 0)) heaviest = candidate;
    // A newcomer never pushes out the one connection of its own address.
    if (heaviest === newcomer && (perAddress.get(heaviest) ?? 0) <= 1) return undefined;
    const theirs = [...open.values()].filter((c) => addressOf(c.socket) === heaviest);
    return theirs.find((c) => !c.busy) ?? theirs[0];
  };

  const admit = (socket: Socket): Connection | undefined => {
    const address = addressOf(socket);
    if ((perAddress.get(address) ?? 0) >= shareOfOne) {
      // At its share, the address's oldest idle connection (one a sender left open, or a flood's
      // that never sent a byte) makes room: a live sender behind it is never locked out by them.
      const idle = [...open.values()].find((c) => !c.busy && addressOf(c.socket) === address);
      if (!idle) {
        socket.destroy();
        options.logger?.warn({ address, perAddress: shareOfOne }, `MLLP connection refused: that address holds ${shareOfOne} connections already, all busy, its share of ${limits.maxConnections} (${limits.settings})`);
        return undefined;
      }
      open.delete(idle.socket);
      idle.socket.destroy();
    }
    if (open.size >= limits.maxConnections) {
      const victim = roomMaker(address);
      if (!victim) {
        socket.destroy();
        options.logger?.warn({ maxConnections: limits.maxConnections }, `MLLP connection refused: the port holds ${limits.maxConnections} connections, none of which may make room (${limits.settings})`);
        return undefined;
      }
      open.delete(victim.socket);
      victim.socket.destroy();
    }
    const connection: Connection = { socket, busy: false };
    open.set(socket, connection);
    perAddress.set(address, (perAddress.get(address) ?? 0) + 1);
    socket.once('close', () => {
      if (open.get(socket) === connection) open.delete(socket);
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left > 0) perAddress.set(address, left);
      else perAddress.delete(address);
    });
    return connection;
  };

  const serve = (socket: Socket): void => {
    socket.on('error', () => socket.destroy()); // a reset peer is not our failure
    const connection = admit(socket);
    if (!connection) return;
    const decoder: MessageDecoder | undefined = options.unframed ? undefined : (options.decoder?.(limits.maxMessageBytes) ?? new MllpDecoder(limits.maxMessageBytes));
    const waiting: Buffer[] = [];
    let deadline: NodeJS.Timeout | undefined;
    const armDeadline = () => {
      clearTimeout(deadline);
      deadline = setTimeout(() => socket.destroy(), limits.idleTimeoutMs);
      deadline.unref();
    };
    socket.once('close', () => clearTimeout(deadline));
    armDeadline();
    // A sender may shut down its side once it has written its messages (a half-close, as `nc -N`
    // does): the server is half-open so that the answers still go out, then ends its side too.
    let peerEnded = false;
    const endIfAnswered = () => {
      if (peerEnded && !connection.busy && !socket.destroyed) socket.end();
    };
    socket.once('end', () => {
      peerEnded = true;
      endIfAnswered();
    });

    const drain = async (): Promise<void> => {
      if (connection.busy) return;
      connection.busy = true;
      socket.pause(); // one message at a time per connection: the sender waits for each answer
      // Walked by index, emptied at the end: shift() moves the whole queue each time, quadratic for
      // the tens of thousands of tiny messages one read can hold.
      let next = 0;
      while (next < waiting.length && !socket.destroyed) {
        const payload = waiting[next++]!;
        const reply = await options.answer(payload.toString('utf8'), { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 }, payload);
        if (options.oneWay) continue;
        if (reply === undefined) socket.destroy();
        else if (!socket.destroyed) socket.write(options.unframed ? reply : frameMessage(reply));
      }
      waiting.length = 0;
      connection.busy = false;
      armDeadline();
      if (!socket.destroyed) socket.resume();
      endIfAnswered();
    };

    socket.on('data', (data: Buffer) => {
      if (!decoder) {
        if (data.length > limits.maxMessageBytes) {
          options.logger?.warn({ bytes: data.length, remote: socket.remoteAddress }, `TCP message over ${limits.maxMessageBytes} bytes (${limits.settings}): connection closed`);
          socket.destroy();
          return;
        }
        waiting.push(data);
      }
      for (const event of decoder ? decoder.push(data) : []) {
        if (event.kind === 'problem') {
          options.logger?.warn({ problem: event.problem, remote: socket.remoteAddress }, `${options.decoder ? 'framing' : 'MLLP framing'} problem: connection closed`);
          socket.destroy();
          return;
        }
        waiting.push(event.payload);
      }
      if (waiting.length) {
        drain().catch((error: unknown) => {
          options.logger?.error({ err: error }, 'MLLP answer failed: connection closed');
          socket.destroy();
        });
      }
    });
  };

  const server = options.tls
    ? tls.createServer({ ...options.tls, allowHalfOpen: true, requestCert: true, rejectUnauthorized: false, handshakeTimeout: Math.min(limits.idleTimeoutMs, HANDSHAKE_TIMEOUT_MS) }, serve)
    : net.createServer({ allowHalfOpen: true }, serve);
  // A failed handshake (a plain-TCP sender, a bad certificate) ends that connection only.
  server.on('tlsClientError', (_error: Error, socket: Socket) => socket.destroy());
  if (options.tls) {
    // serve() sees a socket only after its handshake: silent sockets that never send a ClientHello
    // are counted here, with the established ones, so they cannot pile up to the file-descriptor
    // limit. Established connections are held to maxConnections by admit(): up to as many more
    // may be in their handshake (bounded in time by HANDSHAKE_TIMEOUT_MS). At the cap a newcomer
    // takes the place of the oldest socket still in its handshake (as the HTTP ports close the
    // oldest idle one): silent sockets cannot keep real senders out, whose handshakes take
    // milliseconds while an attacker's sockets wait to be timed out.
    let sockets = 0;
    const handshaking = new Map<string, Socket>();
    const keyOf = (socket: Socket) => `${socket.remoteAddress}|${socket.remotePort}`;
    server.on('connection', (raw: Socket) => {
      if (sockets >= 2 * limits.maxConnections) {
        const oldest = handshaking.entries().next().value;
        if (!oldest) {
          raw.destroy();
          return;
        }
        handshaking.delete(oldest[0]);
        oldest[1].destroy();
      }
      sockets += 1;
      const key = keyOf(raw);
      handshaking.set(key, raw);
      raw.once('close', () => {
        sockets -= 1;
        if (handshaking.get(key) === raw) handshaking.delete(key);
      });
    });
    server.on('secureConnection', (secured: Socket) => handshaking.delete(keyOf(secured)));
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const shownHost = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  return {
    url: `${options.scheme ?? (options.unframed ? (options.tls ? 'tls' : 'tcp') : options.tls ? 'mllps' : 'mllp')}://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`,
    port,
    ...(options.tls ? { setSecureContext: (context: SecureContextOptions) => (server as tls.Server).setSecureContext(context) } : {}),
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const connection of open.values()) connection.socket.destroy();
      await closed;
    },
  };
}
