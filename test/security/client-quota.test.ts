/**
 * The attacker review after issue 7: one authenticated client repeating budget-length requests
 * held the embedded database, and the exchange, for as long as it kept sending. The router now
 * counts each client's slow time per minute and refuses a client past its budget with 429,
 * leaving every other client, and that client's fast requests until then, untouched.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientCostQuota } from '../../src/services/interop-layer/router/client-quota.js';
import { addPosChannels, basic, startIol, startUpstream, type Iol, type Upstream } from '../interop-layer/support.js';

test('the quota counts only slow requests, per client, per minute', () => {
  let now = 0;
  const quota = new ClientCostQuota({ routerSlowRequestMs: 1000, routerClientSlowBudgetMs: 20_000 }, () => now);
  for (let i = 0; i < 1000; i++) quota.record('busy', 50);
  assert.equal(quota.retryAfterMs('busy'), 0, 'a thousand fast requests cost nothing');
  quota.record('costly', 10_000);
  assert.equal(quota.retryAfterMs('costly'), 0, 'within the budget');
  now = 5_000;
  quota.record('costly', 10_000);
  assert.equal(quota.retryAfterMs('costly'), 55_000, 'past the budget until the minute that began with its first slow request is over');
  assert.equal(quota.retryAfterMs('other'), 0, 'another client is not affected');
  now = 60_000;
  assert.equal(quota.retryAfterMs('costly'), 0, 'a new minute, a new budget');
});

describe('a client over its slow-time budget is refused through the router; others are served', () => {
  let iol: Iol;
  let up: Upstream;
  before(async () => {
    up = await startUpstream();
    up.handle('/slow', (_req, res) => setTimeout(() => res.end('slow'), 400));
    iol = await startIol('pglite', { OPENHIM_ROUTER_SLOW_REQUEST_MS: '200', OPENHIM_ROUTER_CLIENT_SLOW_BUDGET_MS: '1000' });
    await addPosChannels(iol, up.port, [['all', { urlPattern: '^/(slow|fast)$' }]]);
    for (const clientID of ['greedy', 'polite']) {
      assert.equal((await iol.call('POST', '/clients', { clientID, name: clientID, roles: ['pos'], password: `${clientID}-password-1` })).status, 201);
    }
  });
  after(async () => {
    await iol?.stop();
    await up?.close();
  });

  test('after about a second of slow requests the greedy client gets 429 with Retry-After; the polite one does not', async () => {
    const as = (clientID: string, path: string) => fetch(`${iol.router}${path}`, { headers: { authorization: basic(clientID, `${clientID}-password-1`) } });
    let refused: { retryAfter: string | null; text: string } | undefined;
    for (let i = 0; i < 10 && !refused; i++) {
      const res = await as('greedy', '/slow');
      const text = await res.text();
      if (res.status === 429) refused = { retryAfter: res.headers.get('retry-after'), text };
      else assert.equal(res.status, 200);
    }
    assert.ok(refused, 'the greedy client was refused within 10 slow requests');
    assert.ok(Number(refused.retryAfter) >= 1);
    assert.match(refused.text, /OPENHIM_ROUTER_CLIENT_SLOW_BUDGET_MS/);
    const seen = up.seen.length;
    assert.equal((await as('greedy', '/fast')).status, 429, 'refused whatever it asks, before anything is routed');
    assert.equal(up.seen.length, seen, 'nothing reached the upstream');
    assert.equal((await as('polite', '/fast')).status, 200, 'another client is served');
    assert.equal((await as('polite', '/slow')).status, 200);
  });
});
