/**
 * What an attacker's review of the hardened stack found (2026-12-01), each reproduced first:
 * unauthenticated logins with huge user names became huge audit rows; deep JSON cost seconds of
 * parsing before the nesting limit was checked; inverted date ranges answered 500.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { startFhirServer, type FhirTestServer } from '../fhir/support.js';
import { startIol, type Iol } from '../interop-layer/support.js';

for (const driver of testDrivers) {
  describe(`review findings on ${driver}`, () => {
    let iol: Iol;
    let fhir: FhirTestServer;
    before(async () => {
      iol = await startIol(driver);
      fhir = await startFhirServer(driver);
    });
    after(async () => {
      await iol.stop();
      await fhir.close();
    });

    test('a login with a huge user name is refused before it is read, and audits keep at most 256 characters of what callers send', async () => {
      const huge = await fetch(`${iol.api}/authenticate/local`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'u'.repeat(2 * 1024 * 1024), password: 'x' }),
      });
      assert.equal(huge.status, 413);
      const long = await fetch(`${iol.api}/me`, { headers: { authorization: `Basic ${Buffer.from(`${'v'.repeat(8000)}:wrong`).toString('base64')}` } });
      assert.equal(long.status, 401);
      const audits = await iol.call('GET', '/audit-events?filterLimit=20');
      assert.equal(audits.status, 200);
      const longest = Math.max(...JSON.stringify(audits.body).match(/"[^"]*"/g)!.map((s: string) => s.length));
      assert.ok(longest < 400, `an audit string of ${longest} characters`);
    });

    test('deep JSON is refused by a scan before parsing, on the admin API and the FHIR port', async () => {
      const deep = `${'['.repeat(2_000_000)}${']'.repeat(2_000_000)}`;
      const started = Date.now();
      const api = await fetch(`${iol.api}/channels`, { method: 'POST', headers: { authorization: iol.rootAuth, 'content-type': 'application/json' }, body: deep });
      assert.equal(api.status, 400);
      const fhirReply = await fhir.request('POST', 'Patient', { raw: `{"resourceType":"Patient","extension":${deep}}` });
      assert.equal(fhirReply.status, 400);
      assert.match(JSON.stringify(fhirReply.body), /nested deeper/);
      assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
    });

    test('dates that cannot share one interval search fine, and a period ending before it starts is a 400', async () => {
      const spanning = await fhir.request('POST', 'Encounter', { body: { resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, period: { start: '2000-01-01', end: '2030-01-01' } } });
      assert.equal(spanning.status, 201);
      const search = await fhir.request('GET', 'Encounter?date=gt2020&date=lt2010');
      assert.equal(search.status, 200);
      assert.ok((search.body.entry ?? []).some((e: { resource: { id: string } }) => e.resource.id === spanning.body.id), 'a period spanning both matches both');
      const inverted = await fhir.request('POST', 'Encounter', { body: { resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, period: { start: '2024-02-01', end: '2024-01-01' } } });
      assert.equal(inverted.status, 400);
      assert.match(JSON.stringify(inverted.body), /per-1/);
    });
  });
}
