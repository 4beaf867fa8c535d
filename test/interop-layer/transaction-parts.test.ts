/** transaction-parts.ts: routes and orchestrations one transaction stores. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { capOrchestrations, countParts, refuseTooManyParts } from '../../src/services/interop-layer/transaction-parts.js';
import { loggableOrchestrations } from '../../src/services/interop-layer/router/bodies.js';
import { IolError } from '../../src/services/interop-layer/errors.js';
import type { Orchestration } from '../../src/services/interop-layer/models.js';

const orchestrations = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `o${i}` }) as unknown as Orchestration);

test('parts: routes, the transaction\'s orchestrations and each route\'s', () => {
  assert.equal(countParts({ routes: [{ orchestrations: orchestrations(2) }, {}], orchestrations: orchestrations(3) }), 7);
  assert.equal(countParts({}), 0);
  assert.throws(() => refuseTooManyParts({ routes: [{}, {}], orchestrations: orchestrations(1) }, 2), (e: unknown) => e instanceof IolError && e.status === 400);
  refuseTooManyParts({ routes: [{}, {}] }, 2);
});

test('attack: a mediator answer with 20,000 orchestrations is stored cut at the cap, a marker last', () => {
  assert.equal(capOrchestrations(orchestrations(5), 5).length, 5);
  const cut = loggableOrchestrations(orchestrations(20_000), 100);
  assert.equal(cut.length, 100);
  assert.equal(cut[98]!.name, 'o98');
  assert.equal(cut[99]!.name, 'orchestrations cut');
  assert.match((cut[99] as unknown as { error: { message: string } }).error.message, /19901 more orchestrations .*OPENHIM_TRANSACTION_MAX_PARTS = 100/);
});
