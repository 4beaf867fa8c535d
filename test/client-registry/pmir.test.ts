/**
 * PMIR ITI-93 Mobile Patient Identity Feed on both drivers: create, update, merge, the
 * mother/newborn RelatedPerson case, the response message, and a wrong feed applied not at all.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { testDrivers } from '../support/databases.js';
import { goldenOf, patient, startRegistry, type RegistryUnderTest } from './support.js';

const EVENT = 'urn:ihe:iti:pmir:2019:patient-feed';

function feed(entries: unknown[], event = EVENT): { id: string; bundle: unknown } {
  const id = randomUUID();
  const historyUrl = `urn:uuid:${randomUUID()}`;
  return {
    id,
    bundle: {
      resourceType: 'Bundle', type: 'message', timestamp: new Date().toISOString(),
      entry: [
        { fullUrl: `urn:uuid:${id}`, resource: { resourceType: 'MessageHeader', id, eventUri: event, source: { endpoint: 'http://clinic.example.org/fhir' }, focus: [{ reference: historyUrl }] } },
        { fullUrl: historyUrl, resource: { resourceType: 'Bundle', type: 'history', entry: entries } },
      ],
    },
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const header = (body: any) => body.entry[0].resource;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const focus = (body: any) => (body.entry ?? []).find((e: { fullUrl: string }) => e.fullUrl === (header(body).focus?.[0]?.reference ?? header(body).response.details?.reference)).resource;

for (const driver of testDrivers) {
  describe(`client registry: PMIR ITI-93 feed on ${driver}`, () => {
    let cr: RegistryUnderTest;
    let created: string;

    before(async () => {
      cr = await startRegistry(driver);
    });
    after(async () => {
      await cr.close();
    });

    test('a create is answered by a response message (ok) naming the new record, linked to a golden record', async () => {
      const message = feed([{ fullUrl: 'urn:uuid:p1', resource: patient({ ids: [['urn:test:pmir-clinic', 'P-1']], family: 'Mwale', given: 'Joseph', birthDate: '1982-03-04' }), request: { method: 'POST', url: 'Patient' } }]);
      const reply = await cr.request('POST', '', message.bundle);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.equal(reply.body.type, 'message');
      assert.equal(header(reply.body).resourceType, 'MessageHeader');
      assert.deepEqual(header(reply.body).response, { identifier: message.id, code: 'ok' });
      // IHE PMIR 1.5 IHE.PMIR.MessageHeader.Response: the response event, a source endpoint, no destination.
      assert.equal(header(reply.body).eventUri, 'urn:ihe:iti:pmir:2019:patient-feed-response');
      assert.deepEqual(header(reply.body).meta.profile, ['https://profiles.ihe.net/ITI/PMIR/StructureDefinition/IHE.PMIR.MessageHeader.Response']);
      assert.equal(header(reply.body).definition, 'https://profiles.ihe.net/ITI/PMIR/MessageDefinition/IHE.PMIR.MessageDefinition.Response');
      assert.ok(header(reply.body).source.endpoint);
      assert.equal(header(reply.body).destination, undefined);
      assert.equal(focus(reply.body).type, 'transaction-response');
      const location = focus(reply.body).entry[0].response.location as string;
      created = /Patient\/([^/]+)/.exec(location)![1]!;
      const stored = await cr.request('GET', `Patient/${created}`);
      assert.equal(stored.status, 200);
      assert.ok(goldenOf(stored.body), 'the fed record has a golden record');
    });

    test('the feed is also taken at FHIR messaging\'s endpoint, [base]/$process-message', async () => {
      const message = feed([{ fullUrl: 'urn:uuid:p9', resource: patient({ ids: [['urn:test:pmir-clinic', 'P-9']], family: 'Banda', given: 'Ruth', birthDate: '1990-01-02' }), request: { method: 'POST', url: 'Patient' } }]);
      const reply = await cr.request('POST', '$process-message', message.bundle);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.deepEqual(header(reply.body).response, { identifier: message.id, code: 'ok' });
    });

    test('$process-message also takes the message as its "content" parameter in a Parameters body (R4 MessageHeader-process-message)', async () => {
      const message = feed([{ fullUrl: 'urn:uuid:p10', resource: patient({ ids: [['urn:test:pmir-clinic', 'P-10']], family: 'Zulu', given: 'Thandi', birthDate: '1993-05-06' }), request: { method: 'POST', url: 'Patient' } }]);
      const reply = await cr.request('POST', '$process-message', { resourceType: 'Parameters', parameter: [{ name: 'content', resource: message.bundle }] });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.deepEqual(header(reply.body).response, { identifier: message.id, code: 'ok' });
      const found = await cr.request('GET', `Patient?identifier=${encodeURIComponent('urn:test:pmir-clinic|P-10')}`);
      assert.equal(found.body.total, 1, JSON.stringify(found.body));
      // Not a message: still refused (no content, or two).
      for (const parameter of [[], [{ name: 'content', resource: message.bundle }, { name: 'content', resource: message.bundle }]]) {
        const refused = await cr.request('POST', '$process-message', { resourceType: 'Parameters', parameter });
        assert.equal(refused.status, 400, JSON.stringify(refused.body));
        assert.equal(refused.body.resourceType, 'OperationOutcome');
      }
    });

    test('$process-message with async=true (query or parameter) is a 400 not-supported, and nothing is applied: the registry answers synchronously', async () => {
      const message = feed([{ fullUrl: 'urn:uuid:p11', resource: patient({ ids: [['urn:test:pmir-clinic', 'P-11']], family: 'Moyo', given: 'Tendai', birthDate: '1994-07-08' }), request: { method: 'POST', url: 'Patient' } }]);
      const byQuery = await cr.request('POST', '$process-message?async=true', message.bundle);
      assert.equal(byQuery.status, 400, JSON.stringify(byQuery.body));
      assert.equal(byQuery.body.issue[0].code, 'not-supported');
      const byParameter = await cr.request('POST', '$process-message', { resourceType: 'Parameters', parameter: [{ name: 'content', resource: message.bundle }, { name: 'async', valueBoolean: true }] });
      assert.equal(byParameter.status, 400, JSON.stringify(byParameter.body));
      const found = await cr.request('GET', `Patient?identifier=${encodeURIComponent('urn:test:pmir-clinic|P-11')}`);
      assert.equal(found.body.total, 0);
      assert.equal((await cr.request('POST', '$process-message?async=false', message.bundle)).status, 200);
    });

    test('update and merge: a PUT updates; a PUT with active=false and replaced-by merges', async () => {
      const other = await cr.request('POST', 'Patient', patient({ ids: [['urn:test:pmir-clinic', 'P-2']], family: 'Lungu', given: 'Ruth', birthDate: '1991-12-12' }));
      const current = (await cr.request('GET', `Patient/${created}`)).body;
      const update = feed([{ resource: { ...current, telecom: [{ system: 'phone', value: '+260 977 000 111' }] }, request: { method: 'PUT', url: `Patient/${created}` } }]);
      const updated = await cr.request('POST', '', update.bundle);
      assert.equal(updated.status, 200, JSON.stringify(updated.body));
      assert.equal((await cr.request('GET', `Patient/${created}`)).body.telecom[0].value, '+260 977 000 111');

      const merge = feed([{ resource: { ...current, active: false, link: [{ other: { reference: `Patient/${other.body.id}` }, type: 'replaced-by' }] }, request: { method: 'PUT', url: `Patient/${created}` } }]);
      const merged = await cr.request('POST', '', merge.bundle);
      assert.equal(merged.status, 200, JSON.stringify(merged.body));
      const source = (await cr.request('GET', `Patient/${created}`)).body;
      assert.equal(source.active, false);
      // The merge's entry says what any update's says: the version written, its ETag and time.
      const answered = focus(merged.body).entry[0].response;
      assert.equal(answered.location, `${cr.base}/Patient/${created}/_history/${source.meta.versionId}`);
      assert.equal(answered.etag, `W/"${source.meta.versionId}"`);
      assert.equal(answered.lastModified, source.meta.lastUpdated);
      assert.equal(goldenOf(source), goldenOf(other.body), 'merged into the survivor\'s golden record');
      const outcomes = (await cr.request('GET', `Patient/${created}/$cr-explain`)).body.parameter.filter((p: { name: string }) => p.name === 'decision')
        .map((p: { part: Array<{ name: string; valueCode?: string }> }) => p.part.find((x) => x.name === 'outcome')!.valueCode);
      assert.ok(outcomes.includes('merged (PMIR ITI-93)'), outcomes.join());
    });

    test('unmerge attempt (a PUT dropping replaced-by): that entry is answered 405, correlated; the others are applied (ITI-93 2:3.93.4.1.3)', async () => {
      const merged = (await cr.request('GET', `Patient/${created}`)).body; // merged by the test above
      assert.ok(merged.link.some((l: { type: string }) => l.type === 'replaced-by'));
      const unmerged = { ...merged, active: true, link: merged.link.filter((l: { type: string }) => l.type !== 'replaced-by') };
      const message = feed([
        { resource: patient({ ids: [['urn:test:pmir-clinic', 'P-405']], family: 'Nkhoma', given: 'Esther', birthDate: '1988-08-08' }), request: { method: 'POST', url: 'Patient' } },
        { fullUrl: `Patient/${created}`, resource: unmerged, request: { method: 'PUT', url: `Patient/${created}` } },
      ]);
      const reply = await cr.request('POST', '', message.bundle);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.equal(header(reply.body).response.identifier, message.id);
      const [created405, unmerge] = focus(reply.body).entry;
      assert.match(created405.response.status, /^201/);
      assert.match(unmerge.response.status, /^405/);
      assert.match(JSON.stringify(unmerge.response.outcome), /unmerge/);
      const still = (await cr.request('GET', `Patient/${created}`)).body;
      assert.equal(still.active, false, 'the record stays merged');
      assert.ok(still.link.some((l: { type: string }) => l.type === 'replaced-by'));
      assert.equal(((await cr.request('GET', `Patient?identifier=${encodeURIComponent('urn:test:pmir-clinic|P-405')}`)).body.entry?.length ?? 0), 1, 'the other entry is applied');
    });

    test('a Patient linking itself (seealso) is refused 422, in a feed (by fullUrl or id) and in a FHIR write (review finding 15)', async () => {
      const selfByFullUrl = feed([{ fullUrl: 'urn:uuid:self-1', resource: { ...patient({ ids: [['urn:test:pmir-clinic', 'SELF-1']], family: 'Selfie', given: 'Ann', birthDate: '1999-09-09' }), link: [{ other: { reference: 'urn:uuid:self-1' }, type: 'seealso' }] }, request: { method: 'POST', url: 'Patient' } }]);
      const refused = await cr.request('POST', '', selfByFullUrl.bundle);
      assert.equal(refused.status, 422, JSON.stringify(refused.body));
      assert.equal(header(refused.body).response.code, 'fatal-error');
      assert.match(JSON.stringify(focus(refused.body)), /references the Patient itself/);
      const stored = await cr.request('POST', 'Patient', patient({ ids: [['urn:test:pmir-clinic', 'SELF-2']], family: 'Selfie', given: 'Bea', birthDate: '1998-08-08' }));
      const selfById = feed([{ resource: { ...stored.body, link: [...stored.body.link, { other: { reference: `Patient/${stored.body.id}` }, type: 'seealso' }] }, request: { method: 'PUT', url: `Patient/${stored.body.id}` } }]);
      assert.equal((await cr.request('POST', '', selfById.bundle)).status, 422);
      const put = await cr.request('PUT', `Patient/${stored.body.id}`, { ...stored.body, link: [...stored.body.link, { other: { reference: `Patient/${stored.body.id}` }, type: 'seealso' }] });
      assert.equal(put.status, 422, JSON.stringify(put.body));
    });

    test('mother and newborn: the newborn Patient links to a RelatedPerson for the mother, references resolved', async () => {
      const message = feed([
        { fullUrl: 'urn:uuid:baby', resource: { ...patient({ ids: [['urn:test:pmir-clinic', 'BABY-1']], family: 'Mwale', given: 'Baby', birthDate: '2024-06-01' }), link: [{ other: { reference: 'urn:uuid:mom' }, type: 'seealso' }] }, request: { method: 'POST', url: 'Patient' } },
        { fullUrl: 'urn:uuid:mom', resource: {
          resourceType: 'RelatedPerson', patient: { reference: 'urn:uuid:baby' },
          relationship: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-RoleCode', code: 'MTH' }] }],
          identifier: [{ system: 'urn:test:pmir-clinic', value: 'MOM-1' }], name: [{ family: 'Mwale', given: ['Chipo'] }],
        }, request: { method: 'POST', url: 'RelatedPerson' } },
      ]);
      const reply = await cr.request('POST', '', message.bundle);
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      const [babyAt, momAt] = focus(reply.body).entry.map((e: { response: { location: string } }) => e.response.location);
      const babyId = /Patient\/([^/]+)/.exec(babyAt)![1];
      const momId = /RelatedPerson\/([^/]+)/.exec(momAt)![1];
      const baby = (await cr.request('GET', `Patient/${babyId}`)).body;
      assert.ok(baby.link.some((l: { type: string; other: { reference: string } }) => l.type === 'seealso' && l.other.reference === `RelatedPerson/${momId}`));
      assert.ok(goldenOf(baby), 'the newborn gets its own golden record');
      const mom = (await cr.request('GET', `RelatedPerson/${momId}`)).body;
      assert.equal(mom.patient.reference, `Patient/${babyId}`);
      assert.equal(((await cr.request('GET', `RelatedPerson?patient=Patient/${babyId}`)).body.entry?.length ?? 0), 1);
    });

    test('a wrong feed is a fatal-error message with an OperationOutcome, and nothing of it is kept', async () => {
      const message = feed([
        { resource: patient({ ids: [['urn:test:pmir-clinic', 'HALF-1']], family: 'Halfway', given: 'Ann', birthDate: '1999-01-01' }), request: { method: 'POST', url: 'Patient' } },
        { resource: { resourceType: 'Patient', identifier: [{ value: 'no-system' }], name: [{ family: 'Halfway' }] }, request: { method: 'POST', url: 'Patient' } },
      ]);
      const reply = await cr.request('POST', '', message.bundle);
      assert.equal(reply.status, 422, JSON.stringify(reply.body));
      assert.equal(reply.body.type, 'message');
      assert.equal(header(reply.body).response.code, 'fatal-error');
      assert.equal(header(reply.body).response.identifier, message.id);
      assert.equal(focus(reply.body).resourceType, 'OperationOutcome');
      assert.equal((await cr.request('GET', 'Patient?family=halfway')).body.entry?.length ?? 0, 0, 'the feed is one transaction');

      const golden = feed([{ resource: { ...patient({ ids: [], family: 'Forged', given: 'G', birthDate: '2000-01-01' }), meta: { tag: [{ system: 'http://instant-openhie.org/fhir/cr-record-type', code: 'golden' }] } }, request: { method: 'POST', url: 'Patient' } }]);
      assert.equal((await cr.request('POST', '', golden.bundle)).status, 403, 'the golden tag is refused in a feed too');
      const wrongEvent = await cr.request('POST', '', feed([], 'urn:example:other-event').bundle);
      assert.equal(wrongEvent.status, 400);
      assert.equal(header(wrongEvent.body).response.code, 'fatal-error');
      const noHeader = await cr.request('POST', '', { resourceType: 'Bundle', type: 'message', entry: [] });
      assert.equal(noHeader.status, 400);
      const observation = await cr.request('POST', '', feed([{ resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' } }, request: { method: 'POST', url: 'Observation' } }]).bundle);
      assert.equal(observation.status, 400, 'a PMIR feed carries Patient and RelatedPerson only');
    });
  });
}
