/**
 * The MLLP listener: a TCP server that reads framed HL7v2 messages and writes one framed answer
 * per message, in order. Bounded like the HTTP ports (src/common/connection-guard.ts): a message
 * size cap, a connection cap that first makes room by closing the oldest connection not
 * processing a message, and a deadline to complete each message. A framing problem closes the
 * connection; everything else is answered by `answer`, which must not throw.
 */
import net, { type Socket } from 'node:net';
import type { Limits } from '../../../common/limits.js';
import type { Logger } from '../../../common/logger.js';
import { frameMessage, MllpDecoder } from './mllp.js';

export type MllpLimits = Pick<Limits, 'mllpMaxMessageBytes' | 'mllpMaxConnections' | 'mllpIdleTimeoutMs'>;

export interface MllpListenerOptions {
  host: string;
  port: number;
  limits: MllpLimits;
  logger?: Pick<Logger, 'warn' | 'error'> | undefined;
  /** The answer to one message (an ACK or a query response). */
  answer(message: string): Promise<string>;
}

export interface MllpListener {
  url: string;
  port: number;
  close(): Promise<void>;
}

interface Connection {
  socket: Socket;
  busy: boolean;
}

export async function startMllpListener(options: MllpListenerOptions): Promise<MllpListener> {
  const { limits } = options;
  /** Insertion order is arrival order: the first idle entry is the oldest. */
  const open = new Map<Socket, Connection>();

  const admit = (socket: Socket): Connection | undefined => {
    if (open.size >= limits.mllpMaxConnections) {
      const victim = [...open.values()].find((c) => !c.busy);
      if (!victim) {
        socket.destroy();
        options.logger?.warn({ maxConnections: limits.mllpMaxConnections }, 'MLLP connection refused: every connection is processing a message (CLIENT_REGISTRY_MLLP_MAX_CONNECTIONS)');
        return undefined;
      }
      open.delete(victim.socket);
      victim.socket.destroy();
    }
    const connection: Connection = { socket, busy: false };
    open.set(socket, connection);
    socket.once('close', () => open.delete(socket));
    return connection;
  };

  const serve = (socket: Socket): void => {
    socket.on('error', () => socket.destroy()); // a reset peer is not our failure
    const connection = admit(socket);
    if (!connection) return;
    const decoder = new MllpDecoder(limits.mllpMaxMessageBytes);
    const waiting: Buffer[] = [];
    let deadline: NodeJS.Timeout | undefined;
    const armDeadline = () => {
      clearTimeout(deadline);
      deadline = setTimeout(() => socket.destroy(), limits.mllpIdleTimeoutMs);
      deadline.unref();
    };
    socket.once('close', () => clearTimeout(deadline));
    armDeadline();

    const drain = async (): Promise<void> => {
      if (connection.busy) return;
      connection.busy = true;
      socket.pause(); // one message at a time per connection: the sender waits for each answer
      while (waiting.length && !socket.destroyed) {
        const reply = await options.answer(waiting.shift()!.toString('utf8'));
        if (!socket.destroyed) socket.write(frameMessage(reply));
      }
      connection.busy = false;
      armDeadline();
      if (!socket.destroyed) socket.resume();
    };

    socket.on('data', (data: Buffer) => {
      for (const event of decoder.push(data)) {
        if (event.kind === 'problem') {
          options.logger?.warn({ problem: event.problem, remote: socket.remoteAddress }, 'MLLP framing problem: connection closed');
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

  const server = net.createServer(serve);
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
    url: `mllp://${shownHost.includes(':') ? `[${shownHost}]` : shownHost}:${port}`,
    port,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const connection of open.values()) connection.socket.destroy();
      await closed;
    },
  };
}
