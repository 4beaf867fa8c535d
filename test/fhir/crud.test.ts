import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { testDrivers } from '../support/databases.js';
import { startFhirServer, type FhirTestServer } from './support.js';

const patient = (family: string, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Patient', name: [{ family, given: ['Ann'] }], gender: 'female', birthDate: '1980-05-02', ...extra,
});

for (const driver of testDrivers) {
  describe(`FHIR REST interactions (${driver})`, () => {
    let s: FhirTestServer;
    before(async () => {
      s = await startFhirServer(driver);
    });
    after(async () => {
      await s.close();
    });

    test('create assigns id and version, read returns it with ETag and Last-Modified', async () => {
      const created = await s.request('POST', 'Patient', { body: patient('Create', { id: 'ignored-client-id' }) });
      assert.equal(created.status, 201);
      assert.match(created.headers.get('content-type') ?? '', /application\/fhir\+json/);
      const id = created.body.id as string;
      assert.notEqual(id, 'ignored-client-id');
      assert.equal(created.body.meta.versionId, '1');
      assert.equal(created.headers.get('etag'), 'W/"1"');
      assert.equal(created.headers.get('location'), `${s.base}/Patient/${id}/_history/1`);
      const read = await s.request('GET', `Patient/${id}`);
      assert.equal(read.status, 200);
      assert.equal(read.body.name[0].family, 'Create');
      assert.equal(read.headers.get('etag'), 'W/"1"');
      assert.equal(read.headers.get('last-modified'), new Date(created.body.meta.lastUpdated).toUTCString());
      const head = await s.request('HEAD', `Patient/${id}`);
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('etag'), 'W/"1"');
      assert.equal(head.body, undefined);
      const unchanged = await s.request('GET', `Patient/${id}`, { headers: { 'if-none-match': 'W/"1"' } });
      assert.equal(unchanged.status, 304);
      assert.equal((await s.request('GET', `Patient/${id}`, { headers: { 'if-none-match': 'W/"0"' } })).status, 200);
      const since = await s.request('GET', `Patient/${id}`, { headers: { 'if-modified-since': read.headers.get('last-modified')! } });
      assert.equal(since.status, 304);
    });

    test('update creates a new version; vread returns each version; If-Match stale gives 412', async () => {
      const created = await s.request('POST', 'Patient', { body: patient('Versions') });
      const id = created.body.id;
      const updated = await s.request('PUT', `Patient/${id}`, { body: { ...created.body, gender: 'male' }, headers: { 'if-match': 'W/"1"' } });
      assert.equal(updated.status, 200);
      assert.equal(updated.body.meta.versionId, '2');
      const stale = await s.request('PUT', `Patient/${id}`, { body: { ...created.body, gender: 'other' }, headers: { 'if-match': 'W/"1"' } });
      assert.equal(stale.status, 412);
      assert.equal(stale.body.resourceType, 'OperationOutcome');
      assert.equal((await s.request('GET', `Patient/${id}/_history/1`)).body.gender, 'female');
      assert.equal((await s.request('GET', `Patient/${id}/_history/2`)).body.gender, 'male');
      assert.equal((await s.request('GET', `Patient/${id}/_history/3`)).status, 404);
      assert.equal((await s.request('GET', `Patient/${id}`)).body.gender, 'male');
    });

    test('update with a client id creates the resource (update-as-create)', async () => {
      const put = await s.request('PUT', 'Patient/client-chosen-1', { body: patient('Chosen', { id: 'client-chosen-1' }) });
      assert.equal(put.status, 201);
      assert.equal(put.body.id, 'client-chosen-1');
      assert.equal((await s.request('GET', 'Patient/client-chosen-1')).status, 200);
      const mismatch = await s.request('PUT', 'Patient/client-chosen-2', { body: patient('Chosen', { id: 'other' }) });
      assert.equal(mismatch.status, 400);
    });

    test('delete makes reads 410 and keeps history; recreating continues the version sequence', async () => {
      const created = await s.request('POST', 'Patient', { body: patient('Deleted') });
      const id = created.body.id;
      assert.equal((await s.request('DELETE', `Patient/${id}`)).status, 204);
      assert.equal((await s.request('GET', `Patient/${id}`)).status, 410);
      const history = await s.request('GET', `Patient/${id}/_history`);
      assert.equal(history.body.total, 2);
      assert.equal(history.body.entry[0].request.method, 'DELETE');
      const search = await s.request('GET', `Patient?family=Deleted`);
      assert.equal(search.body.entry?.length ?? 0, 0);
      const again = await s.request('PUT', `Patient/${id}`, { body: patient('Deleted', { id }) });
      assert.equal(again.status, 201);
      assert.equal(again.body.meta.versionId, '3');
    });

    test('JSON Patch changes the resource, a failed test op changes nothing', async () => {
      const created = await s.request('POST', 'Patient', { body: patient('Patched') });
      const id = created.body.id;
      const ops = [{ op: 'replace', path: '/gender', value: 'other' }, { op: 'add', path: '/name/0/given/-', value: 'Beth' }];
      const patched = await s.request('PATCH', `Patient/${id}`, { raw: JSON.stringify(ops), headers: { 'content-type': 'application/json-patch+json' } });
      assert.equal(patched.status, 200);
      assert.equal(patched.body.gender, 'other');
      assert.deepEqual(patched.body.name[0].given, ['Ann', 'Beth']);
      const failing = [{ op: 'test', path: '/gender', value: 'male' }, { op: 'replace', path: '/gender', value: 'female' }];
      const rejected = await s.request('PATCH', `Patient/${id}`, { raw: JSON.stringify(failing), headers: { 'content-type': 'application/json-patch+json' } });
      assert.equal(rejected.status, 422);
      const invalid = await s.request('PATCH', `Patient/${id}`, {
        raw: JSON.stringify([{ op: 'replace', path: '/birthDate', value: 'not a date' }]), headers: { 'content-type': 'application/json-patch+json' },
      });
      assert.equal(invalid.status, 400);
      assert.equal((await s.request('GET', `Patient/${id}`)).body.gender, 'other');
    });

    test('conditional create returns the existing match instead of creating twice', async () => {
      const headers = { 'if-none-exist': 'identifier=urn:test|cc-1' };
      const body = patient('Conditional', { identifier: [{ system: 'urn:test', value: 'cc-1' }] });
      const first = await s.request('POST', 'Patient', { body, headers });
      const second = await s.request('POST', 'Patient', { body, headers });
      assert.equal(first.status, 201);
      assert.equal(second.status, 200);
      assert.equal(second.body.id, first.body.id);
      const found = await s.request('GET', 'Patient?identifier=urn:test|cc-1&_total=accurate');
      assert.equal(found.body.total, 1);
      // The query copied from a search URL, type and all (as HAPI takes it); another type is a 400.
      const typed = await s.request('POST', 'Patient', { body, headers: { 'if-none-exist': 'Patient?identifier=urn:test|cc-1' } });
      assert.equal(typed.status, 200, JSON.stringify(typed.body));
      assert.equal(typed.body.id, first.body.id);
      const otherType = await s.request('POST', 'Patient', { body, headers: { 'if-none-exist': 'Observation?identifier=urn:test|cc-1' } });
      assert.equal(otherType.status, 400);
      assert.equal((await s.request('GET', 'Patient?identifier=urn:test|cc-1&_total=accurate')).body.total, 1);
    });

    test('conditional update and delete act on the single match; several matches give 412', async () => {
      const body = patient('CondUpdate', { identifier: [{ system: 'urn:test', value: 'cu-1' }] });
      const created = await s.request('PUT', 'Patient?identifier=urn:test|cu-1', { body });
      assert.equal(created.status, 201);
      const updated = await s.request('PUT', 'Patient?identifier=urn:test|cu-1', { body: { ...body, gender: 'male' } });
      assert.equal(updated.status, 200);
      assert.equal(updated.body.id, created.body.id);
      assert.equal(updated.body.meta.versionId, '2');
      await s.request('POST', 'Patient', { body: patient('Twin', { identifier: [{ system: 'urn:test', value: 'twin' }] }) });
      await s.request('POST', 'Patient', { body: patient('Twin', { identifier: [{ system: 'urn:test', value: 'twin' }] }) });
      assert.equal((await s.request('PUT', 'Patient?identifier=urn:test|twin', { body })).status, 412);
      assert.equal((await s.request('DELETE', 'Patient?identifier=urn:test|cu-1')).status, 204);
      assert.equal((await s.request('GET', `Patient/${created.body.id}`)).status, 410);
    });

    test('history at type and system level honours _count, _since and _at', async () => {
      const a = await s.request('POST', 'Practitioner', { body: { resourceType: 'Practitioner', name: [{ family: 'One' }] } });
      const between = new Date(Date.parse(a.body.meta.lastUpdated) + 1).toISOString();
      await new Promise((r) => setTimeout(r, 5));
      const b = await s.request('PUT', `Practitioner/${a.body.id}`, { body: { ...a.body, name: [{ family: 'Two' }] } });
      const type = await s.request('GET', 'Practitioner/_history?_count=1');
      assert.equal(type.body.type, 'history');
      assert.equal((type.body.entry?.length ?? 0), 1);
      assert.equal(type.body.total, 2);
      assert.ok(type.body.link.some((l: { relation: string }) => l.relation === 'next'));
      const since = await s.request('GET', `Practitioner/_history?_since=${encodeURIComponent(b.body.meta.lastUpdated)}`);
      assert.equal((since.body.entry?.length ?? 0), 1);
      assert.equal(since.body.entry[0].resource.name[0].family, 'Two');
      // A date alone is its first moment, in UTC; a time without a zone stays 400.
      const today = b.body.meta.lastUpdated.slice(0, 10);
      const tomorrow = new Date(Date.parse(today) + 86_400_000).toISOString().slice(0, 10);
      assert.equal((await s.request('GET', `Practitioner/_history?_since=${today}`)).body.total, 2);
      assert.equal((await s.request('GET', `Practitioner/_history?_since=${tomorrow}`)).body.total, 0);
      assert.equal((await s.request('GET', 'Practitioner/_history?_since=2024-01-01T10:00:00')).status, 400);
      assert.equal((await s.request('GET', `Practitioner/_history?_since=${tomorrow}&_since=${today}`)).status, 400, 'given twice: which one?');
      const at = await s.request('GET', `Practitioner/${a.body.id}/_history?_at=${encodeURIComponent(between)}`);
      assert.equal((at.body.entry?.length ?? 0), 1);
      assert.equal(at.body.entry[0].resource.meta.versionId, '1');
      const system = await s.request('GET', '_history?_count=3');
      assert.equal((system.body.entry?.length ?? 0), 3);
    });

    test('through a proxy (X-Forwarded-Host/Proto) links point back through the proxy', async () => {
      const headers = { 'x-forwarded-host': 'router.example.org:5001', 'x-forwarded-proto': 'https' };
      const created = await s.request('POST', 'Patient', { body: patient('Proxied'), headers });
      assert.equal(created.headers.get('location'), `https://router.example.org:5001/fhir/Patient/${created.body.id}/_history/1`);
      const search = await s.request('GET', 'Patient?family=Proxied', { headers });
      assert.match(search.body.link[0].url, /^https:\/\/router\.example\.org:5001\/fhir\/Patient\?/);
      assert.equal(search.body.entry[0].fullUrl, `https://router.example.org:5001/fhir/Patient/${created.body.id}`);
      // Whether the proxy's absolute URL is this server is configuration, never the request's say:
      // unconfigured, a reference under it stays absolute (found by its text), configured it is local.
      const proxied = `https://router.example.org:5001/fhir/Patient/${created.body.id}`;
      const observation = { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference: proxied } };
      assert.equal((await s.request('POST', 'Observation', { headers, body: observation })).status, 201);
      assert.equal((await s.request('GET', `Observation?subject=Patient/${created.body.id}`)).body.total, 0);
      assert.equal((await s.request('GET', `Observation?subject=${encodeURIComponent(proxied)}`)).body.total, 1);
      s.engine.setLocalBaseUrls(['https://router.example.org:5001/fhir']);
      try {
        assert.equal((await s.request('POST', 'Observation', { body: observation })).status, 201);
        const bySubject = await s.request('GET', `Observation?subject=Patient/${created.body.id}`);
        assert.equal((bySubject.body.entry?.length ?? 0), 1, 'the one written once the proxy is configured');
      } finally {
        s.engine.setLocalBaseUrls([]);
      }
      const bad = await s.request('GET', 'Patient?family=Proxied', { headers: { 'x-forwarded-host': 'evil"><script>' } });
      assert.ok(bad.body.link[0].url.startsWith(s.base), 'an unusable forwarded host is ignored');
    });

    test('Prefer return=minimal and return=OperationOutcome', async () => {
      const minimal = await s.request('POST', 'Patient', { body: patient('Minimal'), headers: { prefer: 'return=minimal' } });
      assert.equal(minimal.status, 201);
      assert.equal(minimal.body, undefined);
      assert.ok(minimal.headers.get('location'));
      const outcome = await s.request('POST', 'Patient', { body: patient('Outcome'), headers: { prefer: 'return=OperationOutcome' } });
      assert.equal(outcome.body.resourceType, 'OperationOutcome');
      assert.equal(outcome.body.issue[0].severity, 'information');
      // A create whose If-None-Exist matched wrote nothing: the outcome does not say "updated".
      const matched = await s.request('POST', 'Patient', {
        body: patient('Outcome'), headers: { prefer: 'return=OperationOutcome', 'if-none-exist': `_id=${outcome.headers.get('location')!.split('/').at(-3)}` },
      });
      assert.equal(matched.status, 200);
      assert.match(matched.body.issue[0].diagnostics, /If-None-Exist matched/, JSON.stringify(matched.body));
    });

    test('an invalid resource is rejected with an OperationOutcome naming the element', async () => {
      const bad = await s.request('POST', 'Patient', { body: { resourceType: 'Patient', birthDate: 'yesterday', name: [{ given: 'Ann' }] } });
      assert.equal(bad.status, 400);
      const expressions = bad.body.issue.flatMap((i: { expression?: string[] }) => i.expression ?? []);
      assert.ok(expressions.includes('Patient.birthDate'), JSON.stringify(bad.body));
      assert.ok(expressions.includes('Patient.name[0].given'), JSON.stringify(bad.body)); // a list, even with one item (json-shape.ts)
      const unknown = await s.request('POST', 'Observation', { body: { resourceType: 'Observation', code: { text: 'x' } } });
      assert.equal(unknown.status, 400, 'status is required');
      const badCode = await s.request('POST', 'Patient', { body: { resourceType: 'Patient', gender: 'zzz', name: [{ use: 'official', family: 'x' }] } });
      assert.equal(badCode.status, 400, 'gender is bound to a required value set');
      const bound = badCode.body.issue.filter((i: { code: string }) => i.code === 'code-invalid').map((i: { expression: string[] }) => i.expression[0]);
      assert.deepEqual(bound, ['Patient.gender']);
      const badCoding = await s.request('POST', 'Observation', {
        body: { resourceType: 'Observation', status: 'final', code: { text: 'x' }, valueQuantity: { value: 1, comparator: '<<' } },
      });
      assert.equal(badCoding.status, 400);
    });

    test('$validate reports problems without storing anything', async () => {
      const ok = await s.request('POST', 'Patient/$validate', { body: patient('Valid') });
      assert.equal(ok.status, 200);
      assert.equal(ok.body.issue[0].severity, 'information');
      const bad = await s.request('POST', 'Patient/$validate', { body: { resourceType: 'Patient', birthDate: 'x' } });
      assert.equal(bad.status, 200);
      assert.ok(bad.body.issue.some((i: { severity: string }) => i.severity === 'error'));
      const search = await s.request('GET', 'Patient?family=Valid');
      assert.equal(search.body.entry?.length ?? 0, 0);
    });

    test('$validate mode (Resource-validate): an unknown mode is a 400; update needs the id in the URL; delete asks of a stored resource', async () => {
      const P = (mode: string, resource?: unknown) => ({ resourceType: 'Parameters', parameter: [{ name: 'mode', valueCode: mode }, ...(resource ? [{ name: 'resource', resource }] : [])] });
      const bogus = await s.request('POST', 'Patient/$validate', { body: P('bogus', patient('Mode')) });
      assert.equal(bogus.status, 400);
      assert.equal(bogus.body.resourceType, 'OperationOutcome');
      const created = await s.request('POST', 'Patient', { body: patient('Mode') });
      const id = created.body.id as string;
      const errors = (body: { issue: Array<{ severity: string }> }) => body.issue.filter((i) => i.severity === 'error');
      assert.deepEqual(errors((await s.request('POST', 'Patient/$validate', { body: P('create', patient('Mode')) })).body), []);
      assert.deepEqual(errors((await s.request('POST', `Patient/${id}/$validate`, { body: P('update', { ...patient('Mode'), id }) })).body), []);
      assert.equal(errors((await s.request('POST', `Patient/${id}/$validate`, { body: P('update', { ...patient('Mode'), id: 'another' }) })).body).length, 1);
      assert.equal(errors((await s.request('POST', 'Patient/$validate', { body: P('update', patient('Mode')) })).body).length, 1, 'an update without an id');
      const deletable = await s.request('POST', `Patient/${id}/$validate`, { body: P('delete') });
      assert.equal(deletable.status, 200);
      assert.deepEqual(errors(deletable.body), []);
      assert.equal((await s.request('POST', 'Patient/never-stored/$validate', { body: P('delete') })).status, 404);
      assert.equal((await s.request('POST', 'Patient/$validate', { body: P('delete') })).status, 400);
      assert.equal((await s.request('GET', `Patient/${id}`)).status, 200, 'nothing was deleted');
    });

    test('a Binary or an Attachment over 1 MB is stored (base64Binary is not a string bounded at 1 MB); bad base64 of that size is still refused', async () => {
      const bytes = Buffer.alloc(1_200_000, 7);
      const data = bytes.toString('base64');
      const binary = await s.request('POST', 'Binary', { body: { resourceType: 'Binary', contentType: 'application/pdf', data } });
      assert.equal(binary.status, 201, JSON.stringify(binary.body).slice(0, 300));
      assert.equal((await s.request('GET', `Binary/${binary.body.id}`, { headers: { accept: 'application/fhir+json' } })).body.data, data);
      const document = await s.request('POST', 'DocumentReference', { body: { resourceType: 'DocumentReference', status: 'current', content: [{ attachment: { contentType: 'application/pdf', data } }] } });
      assert.equal(document.status, 201, JSON.stringify(document.body).slice(0, 300));
      const bad = await s.request('POST', 'Binary', { body: { resourceType: 'Binary', contentType: 'application/pdf', data: `${data.slice(0, -4)}!!!!` } });
      assert.equal(bad.status, 400);
      const text = await s.request('POST', 'Patient', { body: { resourceType: 'Patient', name: [{ text: 'x'.repeat(1_100_000) }] } });
      assert.equal(text.status, 400, 'a string stays bounded at 1 MB');
    });

    test('Binary over REST (binary.html): its own content is posted and put as is, and read as is unless a FHIR format is asked for', async () => {
      const pdf = Buffer.from([0x25, 0x50, 0x44, 0x46, 0xff, 0xfe, 0x00, 0x01, 0x80, 0x0a]); // not UTF-8
      const posted = await fetch(`${s.base}/Binary`, { method: 'POST', headers: { 'content-type': 'application/pdf', accept: 'application/fhir+json' }, body: pdf });
      assert.equal(posted.status, 201, await posted.clone().text());
      const created = (await posted.json()) as { resourceType: string; id: string; contentType: string; data: string };
      assert.equal(created.resourceType, 'Binary');
      assert.equal(created.contentType, 'application/pdf');
      assert.deepEqual(Buffer.from(created.data, 'base64'), pdf);
      const raw = await fetch(`${s.base}/Binary/${created.id}`);
      assert.equal(raw.status, 200);
      assert.equal(raw.headers.get('content-type'), 'application/pdf');
      assert.equal(raw.headers.get('x-content-type-options'), 'nosniff');
      assert.match(raw.headers.get('content-security-policy') ?? '', /sandbox/);
      assert.equal(raw.headers.get('etag'), 'W/"1"');
      assert.deepEqual(Buffer.from(await raw.arrayBuffer()), pdf);
      for (const asFhir of [{ accept: 'application/fhir+json' }, { accept: 'application/json' }]) {
        const resource = await fetch(`${s.base}/Binary/${created.id}`, { headers: asFhir });
        assert.equal(((await resource.json()) as { contentType: string }).contentType, 'application/pdf');
      }
      assert.match(await (await fetch(`${s.base}/Binary/${created.id}?_format=xml`)).text(), /<Binary xmlns="http:\/\/hl7.org\/fhir"/);
      const replaced = await fetch(`${s.base}/Binary/${created.id}`, { method: 'PUT', headers: { 'content-type': 'image/png' }, body: Buffer.from([1, 2, 3]) });
      assert.equal(replaced.status, 200, await replaced.clone().text());
      const second = await fetch(`${s.base}/Binary/${created.id}`);
      assert.equal(second.headers.get('content-type'), 'image/png');
      assert.deepEqual(Buffer.from(await second.arrayBuffer()), Buffer.from([1, 2, 3]));
      const version1 = await fetch(`${s.base}/Binary/${created.id}/_history/1`);
      assert.deepEqual(Buffer.from(await version1.arrayBuffer()), pdf, 'vread too');
      // Only Binary takes raw content; a missing one is a FHIR 404.
      assert.equal((await fetch(`${s.base}/Patient`, { method: 'POST', headers: { 'content-type': 'application/pdf' }, body: pdf })).status, 415);
      const missing = await fetch(`${s.base}/Binary/nope`);
      assert.equal(missing.status, 404);
      assert.equal(((await missing.json()) as { resourceType: string }).resourceType, 'OperationOutcome');
    });

    test('Binary takes the Resource-level search parameters (search.html#all): _id, _lastUpdated, _tag; conditional create and update on them', async () => {
      const tagged = { resourceType: 'Binary', contentType: 'text/plain', data: 'eA==', meta: { tag: [{ system: 'urn:t', code: 'bin-tag' }] } };
      assert.equal((await s.request('PUT', 'Binary/bin-search-1', { body: { ...tagged, id: 'bin-search-1' } })).status, 201);
      assert.equal((await s.request('PUT', 'Binary/bin-search-2', { body: { resourceType: 'Binary', id: 'bin-search-2', contentType: 'text/plain' } })).status, 201);
      const ids = (reply: { body: { entry?: Array<{ resource: { id: string } }> } }) => (reply.body.entry ?? []).map((e) => e.resource.id).sort();
      const strict = { prefer: 'handling=strict' };
      const byId = await s.request('GET', 'Binary?_id=bin-search-1', { headers: strict });
      assert.equal(byId.status, 200, JSON.stringify(byId.body));
      assert.deepEqual(ids(byId), ['bin-search-1']);
      assert.deepEqual(ids(await s.request('GET', 'Binary?_tag=urn:t|bin-tag', { headers: strict })), ['bin-search-1']);
      assert.deepEqual(ids(await s.request('GET', 'Binary?_lastUpdated=gt2000-01-01&_id=bin-search-1,bin-search-2', { headers: strict })), ['bin-search-1', 'bin-search-2']);
      const again = await s.request('POST', 'Binary', { body: { resourceType: 'Binary', contentType: 'text/plain' }, headers: { 'if-none-exist': '_id=bin-search-2' } });
      assert.equal(again.status, 200, 'the existing Binary, not a new one');
      assert.equal(again.body.id, 'bin-search-2');
      const conditional = await s.request('PUT', 'Binary?_id=bin-search-2', { body: { resourceType: 'Binary', contentType: 'image/png' } });
      assert.equal(conditional.status, 200, JSON.stringify(conditional.body));
      assert.equal(conditional.body.meta.versionId, '2');
      const metadata = await s.request('GET', 'metadata');
      const binary = metadata.body.rest[0].resource.find((r: { type: string }) => r.type === 'Binary');
      assert.ok(binary.searchParam.some((p: { name: string }) => p.name === '_id'), 'listed in the CapabilityStatement');
    });

    test('$validate with a profile: R4\'s own (vital signs) are checked; an unknown profile is an error, never "valid"', async () => {
      const P = (resource: unknown, profile: string) => ({ resourceType: 'Parameters', parameter: [{ name: 'resource', resource }, { name: 'profile', valueUri: profile }] });
      const bodyweight = 'http://hl7.org/fhir/StructureDefinition/bodyweight';
      const minimal = { resourceType: 'Observation', status: 'final', code: { text: 'weight' } };
      const errors = (body: { issue: Array<{ severity: string; diagnostics?: string }> }) => body.issue.filter((i) => i.severity === 'error');
      const againstBodyweight = await s.request('POST', 'Observation/$validate', { body: P(minimal, bodyweight) });
      assert.equal(againstBodyweight.status, 200);
      assert.ok(errors(againstBodyweight.body).length >= 1, 'a minimal Observation is no body weight (subject, effective, category...)');
      const weight = {
        resourceType: 'Observation', status: 'final',
        category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'vital-signs' }] }],
        code: { coding: [{ system: 'http://loinc.org', code: '29463-7' }] }, subject: { reference: 'Patient/p1' }, effectiveDateTime: '2024-01-01',
        valueQuantity: { value: 70, unit: 'kg', system: 'http://unitsofmeasure.org', code: 'kg' },
      };
      const valid = await s.request('POST', 'Observation/$validate', { body: P(weight, bodyweight) });
      assert.deepEqual(errors(valid.body), [], JSON.stringify(valid.body));
      const unknown = await s.request('POST', 'Observation/$validate', { body: P(weight, 'http://example.org/StructureDefinition/unknown') });
      assert.equal(unknown.status, 200);
      assert.match(errors(unknown.body)[0]?.diagnostics ?? '', /not known to this server/);
      const wrongType = await s.request('POST', 'Patient/$validate', { body: P({ resourceType: 'Patient' }, bodyweight) });
      assert.ok(errors(wrongType.body).length >= 1);
      const base = await s.request('POST', 'Patient/$validate', { body: P({ resourceType: 'Patient' }, 'http://hl7.org/fhir/StructureDefinition/Patient') });
      assert.deepEqual(errors(base.body), []);
    });

    test('metadata is a CapabilityStatement listing types, search parameters and operations', async () => {
      const cs = await s.request('GET', 'metadata');
      assert.equal(cs.status, 200);
      assert.equal(cs.body.resourceType, 'CapabilityStatement');
      assert.equal(cs.body.fhirVersion, '4.0.1');
      const patientResource = cs.body.rest[0].resource.find((r: { type: string }) => r.type === 'Patient');
      assert.ok(patientResource.searchParam.some((p: { name: string }) => p.name === 'birthdate'));
      assert.ok(patientResource.operation.some((o: { name: string }) => o.name === 'validate'));
      assert.ok(cs.body.rest[0].resource.length > 140);
    });
  });
}
