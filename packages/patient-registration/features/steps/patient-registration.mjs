// This package's own steps. '@cucumber/cucumber' is provided by `instant test`; `this` is the
// harness world (this.fill, this.vars, this.response).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Given, Then } from '@cucumber/cucumber';

// Registrations are conditional on the clinic's identifier: a fresh one per run keeps `instant test` repeatable.
Given('a fresh identifier suffix {string}', function (name) {
  this.vars[name] = randomUUID().slice(0, 8);
});

// The interop layer writes its transaction log in batches: look a few times.
Then('the transaction log soon shows a request to {string} with the orchestrations:', async function (path, table) {
  const expected = table.raw().map((row) => row[0]);
  const root = `Basic ${Buffer.from(this.fill('${OPENHIM_ROOT_EMAIL}:${OPENHIM_ROOT_PASSWORD}')).toString('base64')}`;
  let seen = [];
  for (let attempt = 0; attempt < 50; attempt++) {
    const response = await fetch(this.fill('${INTEROP_LAYER_API_URL}/transactions?filterLimit=20'), { headers: { authorization: root } });
    const transactions = (await response.json()).filter((t) => t.request?.path === path);
    seen = transactions.map((t) => (t.orchestrations ?? []).map((o) => o.name));
    if (seen.some((names) => expected.every((name) => names.includes(name)))) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.fail(`no transaction to ${path} with the orchestrations ${expected.join(', ')} in the last 20 (seen: ${JSON.stringify(seen)})`);
});
