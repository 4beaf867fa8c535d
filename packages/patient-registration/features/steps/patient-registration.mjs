// This package's own steps. '@cucumber/cucumber' is provided by `instant test`; `this` is the
// harness world (this.fill, this.vars, this.response).
import assert from 'node:assert/strict';
import { randomInt, randomUUID } from 'node:crypto';
import { Given, Then } from '@cucumber/cucumber';

// Registrations are conditional on the clinic's identifier, and people registered by an earlier
// run must not match this run's: a fresh identifier, birth date and phone per scenario keep
// `instant test` repeatable against the same stack.
Given('a fresh identifier suffix {string} and birth date {string}', function (suffix, birthDate) {
  this.vars[suffix] = randomUUID().slice(0, 8);
  const day = new Date(Date.UTC(1940, 0, 1) + randomInt(0, 65 * 365) * 86_400_000);
  this.vars[birthDate] = day.toISOString().slice(0, 10);
  this.vars.PHONE = String(randomInt(10_000_000, 99_999_999));
});

// The interop layer writes its transaction log in batches: look a few times.
Then('the transaction log soon shows a request to {string} with the orchestrations:', async function (path, table) {
  const expected = table.raw().map((row) => row[0]);
  const root = `Basic ${Buffer.from(this.fill('${OPENHIM_ROOT_EMAIL}:${OPENHIM_ROOT_PASSWORD}')).toString('base64')}`;
  let seen = [];
  for (let attempt = 0; attempt < 50; attempt++) {
    const response = await fetch(this.fill('${INTEROP_LAYER_API_URL}/transactions?filterLimit=20&filterRepresentation=full'), { headers: { authorization: root } });
    const transactions = (await response.json()).filter((t) => t.request?.path === path);
    seen = transactions.map((t) => (t.orchestrations ?? []).map((o) => o.name));
    if (seen.some((names) => expected.every((name) => names.includes(name)))) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.fail(`no transaction to ${path} with the orchestrations ${expected.join(', ')} in the last 20 (seen: ${JSON.stringify(seen)})`);
});
