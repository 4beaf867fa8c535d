/**
 * The routing table's reloads (routing-table.ts): a caller that changed a row (the admin API)
 * awaits a reload; when a newer reload (a change notification, the periodic refresh) overtakes
 * it, the caller must still return only once the table holds its change. Otherwise a client
 * created with 201 was refused (401) for a moment on PostgreSQL, where notifications start
 * reloads beside the API's own.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RoutingTable } from '../../src/services/interop-layer/routing-table.js';
import { createLogger } from '../../src/common/logger.js';

type Deferred<T> = { promise: Promise<T>; resolve: (value: T) => void };
function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

const client = (clientID: string) => ({ doc: { _id: `id-${clientID}`, clientID, name: clientID, roles: ['pos'] }, secrets: {} });

test('an overtaken reload returns only after the newest one applied', async () => {
  const reads: Array<Deferred<unknown[]>> = [];
  const stores = {
    channels: { list: async () => [] },
    clients: {
      listWithSecrets: () => {
        const d = deferred<unknown[]>();
        reads.push(d);
        return d.promise;
      },
    },
  };
  const table = new RoutingTable(stores as never, createLogger());
  let apiReturned = false;
  const apiReload = table.reload().then(() => (apiReturned = true)); // the API, after creating client "pos"
  const notified = table.reload(); // a notification's reload, started while the API's runs
  reads[0]!.resolve([client('pos')]);
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(apiReturned, false, 'the API waits for the newer reload instead of returning with the table unchanged');
  reads[1]!.resolve([client('pos')]);
  await Promise.all([apiReload, notified]);
  assert.ok(table.client('pos'), 'the client is in the table when the API answers');
});

test('a reload running at stop() is discarded and does not hang', async () => {
  const read = deferred<unknown[]>();
  const stores = { channels: { list: async () => [] }, clients: { listWithSecrets: () => read.promise } };
  const table = new RoutingTable(stores as never, createLogger());
  const running = table.reload();
  table.stop();
  read.resolve([client('late')]);
  await running;
  assert.equal(table.client('late'), undefined);
});

test('a custom token two clients hold (stored before the API refused it) authenticates neither', () => {
  const table = new RoutingTable(undefined, createLogger());
  const withToken = (clientID: string, customTokenHash: string) => ({ ...client(clientID), secrets: { customTokenHash } });
  table.apply({ channels: [], clients: [withToken('a', 'h1'), withToken('b', 'h1'), withToken('c', 'h1'), withToken('d', 'h2')] as never });
  assert.equal(table.clientByTokenHash('h1'), undefined);
  assert.equal(table.clientByTokenHash('h2')?.client.clientID, 'd');
});
