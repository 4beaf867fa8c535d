/**
 * LISTEN on a PostgreSQL channel on a connection of its own (a pool connection may be handed to
 * anyone). A dropped connection is opened again with growing waits; once it is back, the
 * subscriber is told to reload, since what was announced in between is lost.
 */
import pg from 'pg';
import type { NotificationHandlers, Subscription } from './database.js';

const FIRST_RETRY_MS = 100;
const LONGEST_RETRY_MS = 5_000;

export async function listenWithReconnect(url: string, channel: string, handlers: NotificationHandlers): Promise<Subscription> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel)) throw new Error(`invalid channel name "${channel}"`);
  let client: pg.Client | undefined;
  let closed = false;
  let retryMs = FIRST_RETRY_MS;
  let timer: NodeJS.Timeout | undefined;

  const connect = async (): Promise<void> => {
    const next = new pg.Client({ connectionString: url });
    next.on('notification', (message) => {
      if (message.channel === channel) handlers.onNotify(message.payload ?? '');
    });
    // 'error' then 'end' when the server or the network drops the connection.
    next.on('error', () => undefined);
    next.on('end', () => {
      if (client === next) client = undefined;
      if (!closed) scheduleReconnect();
    });
    await next.connect();
    await next.query(`LISTEN ${channel}`);
    if (closed) {
      await next.end().catch(() => undefined);
      return;
    }
    client = next;
  };

  const scheduleReconnect = (): void => {
    if (timer || closed) return;
    timer = setTimeout(() => {
      timer = undefined;
      connect()
        .then(() => {
          retryMs = FIRST_RETRY_MS;
          if (!closed) handlers.onReconnect();
        })
        .catch(() => {
          retryMs = Math.min(LONGEST_RETRY_MS, retryMs * 2);
          scheduleReconnect();
        });
    }, retryMs);
    timer.unref();
  };

  await connect();
  return {
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      const last = client;
      client = undefined;
      await last?.end().catch(() => undefined);
    },
  };
}
