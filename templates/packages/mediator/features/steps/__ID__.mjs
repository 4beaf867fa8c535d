// The package's own steps, next to the generic HTTP steps Instant provides. `this` is the
// harness world: this.fill('${NAME}'), this.send(method, url, body), this.response, this.vars.
import assert from 'node:assert/strict';
import { Then } from '@cucumber/cucumber';

// The interop layer writes its transaction log in batches, so look a few times.
Then('the transaction log soon shows the orchestration {string}', async function (name) {
  const root = `Basic ${Buffer.from(this.fill('${OPENHIM_ROOT_EMAIL}:${OPENHIM_ROOT_PASSWORD}')).toString('base64')}`;
  for (let attempt = 0; attempt < 50; attempt++) {
    const response = await fetch(this.fill('${INTEROP_LAYER_API_URL}/transactions?filterLimit=20&filterRepresentation=full'), { headers: { authorization: root } });
    const transactions = await response.json();
    if (transactions.some((t) => (t.orchestrations ?? []).some((o) => o.name === name))) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.fail(`no transaction with the orchestration "${name}" in the last 20`);
});
