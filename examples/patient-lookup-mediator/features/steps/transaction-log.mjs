// This package's own steps. '@cucumber/cucumber' is provided by `instant test` (no install
// needed); `this` is the harness world (this.fill, this.send, this.response, this.vars).
import assert from 'node:assert/strict';
import { Then } from '@cucumber/cucumber';

// The interop layer writes its transaction log in batches: look a few times.
Then('the transaction log soon shows the orchestrations {string} and {string}', async function (first, second) {
  const root = `Basic ${Buffer.from(this.fill('${OPENHIM_ROOT_EMAIL}:${OPENHIM_ROOT_PASSWORD}')).toString('base64')}`;
  for (let attempt = 0; attempt < 50; attempt++) {
    const response = await fetch(this.fill('${INTEROP_LAYER_API_URL}/transactions?filterLimit=20&filterRepresentation=full'), { headers: { authorization: root } });
    // The mediator's orchestrations in its order; the router adds its own record of the call after them (as OpenHIM).
    const names = (await response.json()).map((t) => `,${(t.orchestrations ?? []).map((o) => o.name).join(',')},`);
    if (names.some((list) => list.includes(`,${first},${second},`))) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.fail(`no transaction with the orchestrations "${first}" then "${second}" in the last 20`);
});
