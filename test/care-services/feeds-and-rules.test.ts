/**
 * Through the router, on both drivers: the mCSD profile rules on writes (coordinates in range, a
 * facility names an existing Organization, jurisdictions nest without cycles) as 422
 * OperationOutcomes, also inside ITI-130 feed bundles (nothing of a refused transaction is kept);
 * ITI-130 transaction and batch bundles that create, update and delete; ITI-91 `_history?_since`
 * at type and system level, paged.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { CENTRE, kestriaDirectory, kind, requestJson, startThroughRouter, type RoutedCareServices } from './support.js';

const facility = (id: string, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Location', id, status: 'active', name: `Facility ${id}`, type: kind('facility'),
  managingOrganization: { reference: 'Organization/org-fac-1' }, partOf: { reference: 'Location/loc-district-a' },
  position: { latitude: CENTRE.lat, longitude: CENTRE.lon }, ...extra,
});

const issueText = (body: { issue?: Array<{ diagnostics?: string }> }) => (body.issue ?? []).map((i) => i.diagnostics).join(' | ');

for (const driver of testDrivers) {
  describe(`care services rules, ITI-130 and ITI-91 through the router on ${driver}`, () => {
    let cs: RoutedCareServices;

    before(async () => {
      cs = await startThroughRouter(driver);
      assert.equal((await cs.send('POST', '', kestriaDirectory())).status, 200);
    });
    after(async () => cs.close());

    test('out-of-range coordinates are 422 OperationOutcomes naming the element', async () => {
      for (const [position, element] of [[{ latitude: 90.5, longitude: 0 }, 'latitude'], [{ latitude: -91, longitude: 0 }, 'latitude'],
        [{ latitude: 0, longitude: 180.01 }, 'longitude'], [{ latitude: 0, longitude: -200 }, 'longitude']] as const) {
        const reply = await cs.send('PUT', 'Location/bad-position', facility('bad-position', { position }));
        assert.equal(reply.status, 422, JSON.stringify(reply.body));
        assert.equal(reply.body.resourceType, 'OperationOutcome');
        assert.match(issueText(reply.body), new RegExp(`${element} .* out of range`));
      }
      assert.equal((await cs.get('Location/bad-position')).status, 404, 'nothing was stored');
      const edge = await cs.send('PUT', 'Location/edge', facility('edge', { position: { latitude: -90, longitude: 180 } }));
      assert.equal(edge.status, 201, 'the edges of the ranges are valid');
    });

    test('a facility Location must name an existing Organization', async () => {
      const without = await cs.send('PUT', 'Location/no-org', facility('no-org', { managingOrganization: undefined }));
      assert.equal(without.status, 422);
      assert.match(issueText(without.body), /managingOrganization/);
      const missing = await cs.send('PUT', 'Location/ghost-org', facility('ghost-org', { managingOrganization: { reference: 'Organization/nope' } }));
      assert.equal(missing.status, 422);
      assert.match(issueText(missing.body), /Organization\/nope, which does not exist/);
    });

    test('jurisdictions nest: no cycles, a jurisdiction is part of a jurisdiction, parents exist', async () => {
      const region = (await cs.get('Location/loc-region-n')).body;
      const cycle = await cs.send('PUT', 'Location/loc-region-n', { ...region, partOf: { reference: 'Location/loc-district-a' } });
      assert.equal(cycle.status, 422, JSON.stringify(cycle.body));
      assert.match(issueText(cycle.body), /cycle/);
      const self = await cs.send('PUT', 'Location/loc-region-n', { ...region, partOf: { reference: 'Location/loc-region-n' } });
      assert.equal(self.status, 422);
      const orgCycle = await cs.send('PUT', 'Organization/org-moh', { ...(await cs.get('Organization/org-moh')).body, partOf: { reference: 'Organization/org-fac-1' } });
      assert.equal(orgCycle.status, 422);
      const underFacility = await cs.send('PUT', 'Location/j-under-facility', {
        resourceType: 'Location', id: 'j-under-facility', name: 'Not a district', type: kind('jurisdiction'), partOf: { reference: 'Location/loc-fac-1' },
      });
      assert.equal(underFacility.status, 422);
      assert.match(issueText(underFacility.body), /jurisdiction/);
      const orphan = await cs.send('PUT', 'Location/orphan', { resourceType: 'Location', id: 'orphan', name: 'Orphan', partOf: { reference: 'Location/nowhere' } });
      assert.equal(orphan.status, 422);
      assert.equal((await cs.get('Location/loc-region-n')).body.partOf.reference, 'Location/loc-country', 'the refused update left the region as it was');
    });

    test('references on the service\'s own direct base are checked like relative ones', async () => {
      // The indexer treats them as local (hierarchy walks follow them), so the rules must too.
      const direct = cs.cs.direct;
      const region = (await cs.get('Location/loc-region-n')).body;
      const cycle = await cs.send('PUT', 'Location/loc-region-n', { ...region, partOf: { reference: `${direct}/Location/loc-district-a` } });
      assert.equal(cycle.status, 422, JSON.stringify(cycle.body));
      assert.match(issueText(cycle.body), /cycle/);
      const district = (await cs.get('Location/loc-district-a')).body;
      const underFacility = await cs.send('PUT', 'Location/loc-district-a', { ...district, partOf: { reference: `${direct}/Location/loc-fac-2` } });
      assert.equal(underFacility.status, 422, JSON.stringify(underFacility.body));
      const missingParent = await cs.send('PUT', 'Location/direct-orphan', facility('direct-orphan', { partOf: { reference: `${direct}/Location/nope` } }));
      assert.equal(missingParent.status, 422, JSON.stringify(missingParent.body));
      const missingOrg = await cs.send('PUT', 'Location/direct-ghost', facility('direct-ghost', { managingOrganization: { reference: `${direct}/Organization/nope` } }));
      assert.equal(missingOrg.status, 422, JSON.stringify(missingOrg.body));
      const fine = await cs.send('PUT', 'Location/direct-ok', facility('direct-ok', { partOf: { reference: `${direct}/Location/loc-district-a` } }));
      assert.equal(fine.status, 201, JSON.stringify(fine.body));
    });

    test('joining two chains deeper than CARE_SERVICES_HIERARCHY_MAX_DEPTH together is 422', async () => {
      // Two chains of 17 jurisdictions (the default limit is 32): each is fine, one under the other is not.
      const chain = (prefix: string) => Array.from({ length: 17 }, (_, n) => {
        const resource = { resourceType: 'Location', id: `${prefix}-${n}`, status: 'active', name: `${prefix} ${n}`, type: kind('jurisdiction'),
          ...(n ? { partOf: { reference: `Location/${prefix}-${n - 1}` } } : {}) };
        return { resource, request: { method: 'PUT', url: `Location/${prefix}-${n}` } };
      });
      const loaded = await cs.send('POST', '', { resourceType: 'Bundle', type: 'transaction', entry: [...chain('deep-a'), ...chain('deep-b')] });
      assert.equal(loaded.status, 200, JSON.stringify(loaded.body).slice(0, 500));
      const top = (await cs.get('Location/deep-b-0')).body;
      const joined = await cs.send('PUT', 'Location/deep-b-0', { ...top, partOf: { reference: 'Location/deep-a-16' } });
      assert.equal(joined.status, 422, JSON.stringify(joined.body));
      assert.match(issueText(joined.body), /more than 32 levels/);
      const shallow = await cs.send('PUT', 'Location/deep-b-0', { ...top, partOf: { reference: 'Location/deep-a-10' } });
      assert.equal(shallow.status, 200, `11 + 17 levels fit: ${JSON.stringify(shallow.body)}`);
    });

    test('two writes at once cannot make a cycle (A under B and B under A)', async () => {
      const url = (id: string) => `${cs.cs.direct}/Location/${id}`;
      for (let round = 0; round < 6; round++) {
        const [a, b] = [`race-a-${round}`, `race-b-${round}`];
        const node = (id: string, parent: string) => ({ resourceType: 'Location', id, status: 'active', name: id, type: kind('jurisdiction'), partOf: { reference: `Location/${parent}` } });
        assert.equal((await requestJson(url(a), 'PUT', node(a, 'loc-country'))).status, 201);
        assert.equal((await requestJson(url(b), 'PUT', node(b, 'loc-country'))).status, 201);
        const [first, second] = await Promise.all([requestJson(url(a), 'PUT', node(a, b)), requestJson(url(b), 'PUT', node(b, a))]);
        assert.ok(!(first.status === 200 && second.status === 200), `round ${round}: both writes were kept, a cycle: ${first.status} ${second.status}`);
      }
    });

    test('a refused transaction names the entry at fault among creates written together', async () => {
      const post = (resource: Record<string, unknown>) => ({ resource, request: { method: 'POST', url: resource.resourceType } });
      const reply = await cs.send('POST', '', { resourceType: 'Bundle', type: 'transaction', entry: [
        post({ ...facility('x'), id: undefined, name: 'Blame 0' }),
        post({ ...facility('x'), id: undefined, name: 'Blame 1' }),
        post({ ...facility('x'), id: undefined, name: 'Blame 2', managingOrganization: { reference: 'Organization/nope' } }),
      ] });
      assert.equal(reply.status, 422, JSON.stringify(reply.body));
      assert.match(JSON.stringify(reply.body), /transaction failed at entry 2 /);
    });

    test('ITI-130: a transaction feed creates, updates and deletes; a refused entry keeps nothing of it', async () => {
      const feed = {
        resourceType: 'Bundle', type: 'transaction', entry: [
          { fullUrl: 'urn:uuid:6f0c2d8e-4c1a-4a57-9d1e-000000000001', resource: { resourceType: 'Organization', active: true, name: 'Feed Clinic Org', type: kind('facility') }, request: { method: 'POST', url: 'Organization' } },
          { fullUrl: 'urn:uuid:6f0c2d8e-4c1a-4a57-9d1e-000000000002', resource: { ...facility('x'), id: undefined, name: 'Feed Clinic', managingOrganization: { reference: 'urn:uuid:6f0c2d8e-4c1a-4a57-9d1e-000000000001' } }, request: { method: 'POST', url: 'Location' } },
          { resource: { ...(await cs.get('HealthcareService/hs-2')).body, name: 'Antenatal and postnatal care' }, request: { method: 'PUT', url: 'HealthcareService/hs-2' } },
          { request: { method: 'DELETE', url: 'PractitionerRole/role-2' } },
        ],
      };
      const reply = await cs.send('POST', '', feed);
      assert.equal(reply.status, 200, JSON.stringify(reply.body).slice(0, 1000));
      assert.equal(reply.body.type, 'transaction-response');
      assert.deepEqual((reply.body.entry ?? []).map((e: { response: { status: string } }) => e.response.status.slice(0, 3)), ['201', '201', '200', '204']);
      const clinic = (await cs.get('Location?name:exact=Feed Clinic')).body.entry[0].resource;
      assert.match(clinic.managingOrganization.reference, /^Organization\//, 'the urn:uuid became the new Organization');
      assert.equal((await cs.get('HealthcareService/hs-2')).body.name, 'Antenatal and postnatal care');
      assert.equal((await cs.get('PractitionerRole/role-2')).status, 410);

      const refused = await cs.send('POST', '', { resourceType: 'Bundle', type: 'transaction', entry: [
        { resource: facility('feed-ok'), request: { method: 'PUT', url: 'Location/feed-ok' } },
        { resource: facility('feed-bad', { position: { latitude: 123, longitude: 0 } }), request: { method: 'PUT', url: 'Location/feed-bad' } },
      ] });
      assert.equal(refused.status, 422, JSON.stringify(refused.body));
      assert.equal(refused.body.resourceType, 'OperationOutcome');
      assert.equal((await cs.get('Location/feed-ok')).status, 404, 'nothing of the refused transaction is kept');

      const batch = await cs.send('POST', '', { resourceType: 'Bundle', type: 'batch', entry: [
        { resource: facility('batch-ok'), request: { method: 'PUT', url: 'Location/batch-ok' } },
        { resource: facility('batch-bad', { position: { latitude: 0, longitude: 999 } }), request: { method: 'PUT', url: 'Location/batch-bad' } },
      ] });
      assert.equal(batch.status, 200);
      assert.deepEqual((batch.body.entry ?? []).map((e: { response: { status: string } }) => e.response.status.slice(0, 3)), ['201', '422']);
      assert.equal((await cs.get('Location/batch-ok')).status, 200);
    });

    test('ITI-91: _history?_since at type and system level, paged, with deletes', async () => {
      const since = new Date().toISOString();
      await new Promise((resolve) => setTimeout(resolve, 5));
      const ward = (await cs.get('Location/loc-ward')).body;
      assert.equal((await cs.send('PUT', 'Location/loc-ward', { ...ward, name: 'Maternity and Newborn Ward' })).status, 200);
      assert.equal((await cs.send('PUT', 'Location/hist-new', facility('hist-new'))).status, 201);
      assert.equal((await cs.send('DELETE', 'Location/hist-new')).status, 204);
      const prac = (await cs.get('Practitioner/prac-1')).body;
      assert.equal((await cs.send('PUT', 'Practitioner/prac-1', { ...prac, name: [{ family: 'Banda', given: ['Chikondi', 'T.'] }] })).status, 200);

      const typeLevel = await cs.get(`Location/_history?_since=${encodeURIComponent(since)}`);
      assert.equal(typeLevel.status, 200);
      assert.equal(typeLevel.body.type, 'history');
      const changes = (typeLevel.body.entry ?? []).map((e: { request: { method: string; url: string } }) => `${e.request.method} ${e.request.url}`);
      assert.deepEqual(changes.sort(), ['DELETE Location/hist-new', 'PUT Location/hist-new', 'PUT Location/loc-ward'].sort());

      // System level, two per page: every change once, in three pages, through the router.
      const seen: string[] = [];
      let url: string | undefined = `${cs.base}/_history?_since=${encodeURIComponent(since)}&_count=2`;
      let pages = 0;
      while (url) {
        assert.ok(url.startsWith(cs.base), `paging link ${url} goes through the router`);
        const page = (await fetch(url, { headers: cs.auth }).then((r) => r.json())) as { total: number; entry: Array<{ fullUrl: string; response: { etag: string } }>; link: Array<{ relation: string; url: string }> };
        assert.equal(page.total, 4);
        seen.push(...(page.entry ?? []).map((e) => `${e.fullUrl.split('/fhir/')[1]} ${e.response.etag}`));
        url = page.link.find((l) => l.relation === 'next')?.url;
        pages++;
      }
      assert.equal(pages, 2);
      assert.equal(new Set(seen).size, 4);
      assert.ok(seen.some((s) => s.startsWith('Practitioner/prac-1')));
      const none = await cs.get(`Location/_history?_since=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`);
      assert.equal(none.body.total, 0);
      assert.equal((await cs.get('Location/_history?_since=yesterday')).status, 400, 'a bad _since is a 400');
    });
  });
}
