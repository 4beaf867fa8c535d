/**
 * OpenHIM parity: `GET /logs` (OpenHIM v8.5's src/api/logs.js and test/integration/logsAPITests.js):
 * admins read the server's log records in time order, filtered by `from`/`until` (default the last
 * five minutes), `level` and above (default info), `start` and `limit`. The records are the
 * process's own (common/server-logs.ts), redacted as the log is, and bounded in bytes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../src/common/logger.js';
import { ServerLogs } from '../../src/common/server-logs.js';
import { testDrivers } from '../support/databases.js';
import { basic, startIol, type Iol } from './support.js';

describe('the server log records GET /logs reads', () => {
  const window = { from: new Date(0), until: new Date(Date.now() + 60_000), level: 'debug' as const, start: 0, limit: 1000 };

  test('winston\'s shape from pino lines, in order, filtered as OpenHIM filters them', () => {
    const logs = new ServerLogs();
    const logger = createLogger({ extra: [logs], level: 'debug' }).child({ service: 'interop-layer' });
    logger.debug('TEST0');
    logger.warn({ channel: 'c1' }, 'TEST1');
    logger.error('TEST2');
    logger.warn('TEST3');
    logger.info('TEST4');
    logger.fatal('TEST5');
    return new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      const all = logs.query(window);
      assert.deepEqual(all.map((r) => r.message), ['TEST0', 'TEST1', 'TEST2', 'TEST3', 'TEST4', 'TEST5']);
      assert.deepEqual(all.map((r) => r.level), ['debug', 'warn', 'error', 'warn', 'info', 'error']);
      assert.deepEqual(all[1]!.meta, { service: 'interop-layer', channel: 'c1' });
      // winston-mongodb's label, which the OpenHIM console's logs page prints as [label].
      assert.ok(all.every((r) => r.label === 'interop-layer'));
      assert.ok(!Number.isNaN(Date.parse(all[1]!.timestamp)));
      assert.deepEqual(logs.query({ ...window, level: 'warn' }).map((r) => r.message), ['TEST1', 'TEST2', 'TEST3', 'TEST5']);
      assert.deepEqual(logs.query({ ...window, level: 'error' }).map((r) => r.message), ['TEST2', 'TEST5']);
      assert.deepEqual(logs.query({ ...window, level: 'info', limit: 2 }).map((r) => r.message), ['TEST1', 'TEST2']);
      assert.deepEqual(logs.query({ ...window, level: 'info', start: 3 }).map((r) => r.message), ['TEST4', 'TEST5']);
      assert.deepEqual(logs.query({ ...window, until: new Date(0) }), []);
      assert.deepEqual(logs.query({ ...window, from: new Date(Date.now() + 30_000) }), []);
    });
  });

  test('secrets are redacted as in the log; a hostile line never reaches a prototype; memory is bounded', async () => {
    const logs = new ServerLogs(64 * 1024);
    const logger = createLogger({ extra: [logs] });
    logger.info({ password: 'hunter2', headers: { authorization: 'Basic abc' } }, 'login');
    logs.write('{"level":30,"time":1,"msg":"x","__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}\n');
    logs.write('not json at all\n');
    for (let i = 0; i < 2000; i++) logger.info({ filler: 'y'.repeat(500) }, `flood ${i}`);
    logger.info({ huge: 'z'.repeat(100_000) }, 'm'.repeat(10_000));
    await new Promise((resolve) => setImmediate(resolve));
    const all = logs.query(window);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.ok(all.length < 200, `bounded: ${all.length} records kept of 2,000 floods`);
    assert.equal(all.at(-2)!.message, 'flood 1999', 'the newest are kept');
    const last = all.at(-1)!;
    assert.equal(last.message.length, 4096, 'a long message is cut');
    assert.deepEqual(last.meta, { truncated: true, service: undefined });
    const early = new ServerLogs();
    const second = createLogger({ extra: [early] });
    second.info({ password: 'hunter2', headers: { authorization: 'Basic abc' } }, 'login');
    early.write('{"level":30,"time":1,"msg":"x","__proto__":{"polluted":true}}\n');
    early.write('not json at all\n');
    await new Promise((resolve) => setImmediate(resolve));
    const [login, hostile, plain] = early.query(window);
    assert.equal(login!.meta.password, '***');
    assert.deepEqual(login!.meta.headers, { authorization: '***' });
    assert.equal(hostile!.message, 'x');
    assert.equal(Object.getPrototypeOf(hostile!.meta), Object.prototype);
    assert.equal((hostile!.meta as { polluted?: unknown }).polluted, undefined);
    assert.equal(plain!.message, 'not json at all');
  });
});

for (const driver of testDrivers) {
  describe(`OpenHIM GET /logs on ${driver}`, () => {
    let iol: Iol;
    const nonRoot = { email: 'logs-reader@jembi.org', password: 'non-root-password-1' };

    before(async () => {
      iol = await startIol(driver);
      assert.equal((await iol.call('POST', '/users', { ...nonRoot, firstname: 'Non', surname: 'Root', groups: ['viewers'] })).status, 201);
    });
    after(async () => {
      await iol?.stop();
    });

    test('an admin reads the records of the last five minutes at info and above, oldest first', async () => {
      const res = await iol.call('GET', '/logs');
      assert.equal(res.status, 200);
      assert.ok(Array.isArray(res.body));
      const started = res.body.find((r: { message: string }) => r.message === 'interop layer listening');
      assert.ok(started, JSON.stringify(res.body));
      assert.equal(started.level, 'info');
      assert.equal(typeof started.timestamp, 'string');
      assert.ok(started.meta.endpoints);
      assert.ok(res.body.every((r: { label: unknown }) => typeof r.label === 'string' && r.label !== ''), 'each record has a label, as winston-mongodb\'s');
      const times = res.body.map((r: { timestamp: string }) => Date.parse(r.timestamp));
      assert.deepEqual(times, [...times].sort((a, b) => a - b));
      assert.ok(res.body.every((r: { level: string }) => r.level !== 'debug'));
    });

    test('from, until, level, start and limit as OpenHIM reads them', async () => {
      const all = (await iol.call('GET', '/logs')).body as Array<{ message: string }>;
      assert.ok(all.length >= 2);
      assert.deepEqual((await iol.call('GET', '/logs?limit=1')).body, all.slice(0, 1));
      assert.deepEqual((await iol.call('GET', `/logs?start=1&limit=${all.length}`)).body.slice(0, all.length - 1), all.slice(1));
      assert.deepEqual((await iol.call('GET', '/logs?level=error')).body.filter((r: { level: string }) => r.level !== 'error'), []);
      const future = new Date(Date.now() + 3_600_000).toISOString();
      assert.deepEqual((await iol.call('GET', `/logs?from=${future}`)).body, []);
      assert.deepEqual((await iol.call('GET', `/logs?from=2012-01-01T11:00:00Z&until=2012-01-01T11:03:00Z`)).body, []);
      assert.ok((await iol.call('GET', `/logs?from=2012-01-01T11:00:00Z`)).body.length >= all.length);
    });

    test('a bad query is 400 saying which field; a non-admin is refused', async () => {
      for (const query of ['level=verbose', 'from=yesterday', 'until=2026-13-45T99:00:00Z', 'limit=-1', 'limit=1e3', 'start=abc', 'limit=100001', 'level=info&level=warn']) {
        const res = await iol.call('GET', `/logs?${query}`);
        assert.equal(res.status, 400, `${query}: ${JSON.stringify(res.body)}`);
      }
      const refused = await iol.call('GET', '/logs', undefined, { authorization: basic(nonRoot.email, nonRoot.password) });
      assert.equal(refused.status, 403);
    });
  });
}
