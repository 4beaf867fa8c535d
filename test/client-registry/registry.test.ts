/**
 * The client registry on both drivers: golden records, the review queue, identifier domains,
 * PIXm, PDQm, $match, manual link/unlink, and bad input answered with 4xx OperationOutcomes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CLIENT_REGISTRY_CAPABILITY_STATEMENTS } from '../../src/services/client-registry/index.js';
import { testDrivers } from '../support/databases.js';
import { CLINIC_A, CLINIC_B, NATIONAL_ID, NATIONAL_ID_OID, goldenOf, namingSystem, patient, startRegistry, type RegistryUnderTest } from './support.js';

const GOLDEN = 'http://instant-openhie.org/fhir/cr-record-type|golden';
const MAIDEN = 'http://hl7.org/fhir/StructureDefinition/patient-mothersMaidenName';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const parts = (parameter: any): Record<string, any> => Object.fromEntries(parameter.part.map((p: any) => [p.name, p.valueString ?? p.valueCode ?? p.valueDecimal ?? p.valueReference?.reference]));

for (const driver of testDrivers) {
  describe(`client registry on ${driver}`, () => {
    let cr: RegistryUnderTest;
    let first: { id: string; golden: string };

    before(async () => {
      // The review queue, $cr-link and $cr-unmerge are a steward's: this registry's port is trusted
      // (CLIENT_REGISTRY_DIRECT_CALLERS=steward); test/security/client-registry-authorization.test.ts
      // covers who else may call them.
      cr = await startRegistry(driver, { CLIENT_REGISTRY_DIRECT_CALLERS: 'steward' });
      for (const [name, url, oid] of [['NationalId', NATIONAL_ID, NATIONAL_ID_OID], ['ClinicA', CLINIC_A], ['ClinicB', CLINIC_B]] as const) {
        const created = await cr.request('POST', 'NamingSystem', namingSystem(name, url, oid));
        assert.equal(created.status, 201, JSON.stringify(created.body));
      }
    });
    after(async () => {
      await cr.close();
    });

    test('a first registration gets a golden record; a duplicate from another clinic links to the same one', async () => {
      const a = await cr.request('POST', 'Patient', patient({ ids: [[CLINIC_A, 'A-001'], [`urn:oid:${NATIONAL_ID_OID}`, 'NID-42']], family: 'Moyo', given: 'Tendai', birthDate: '1990-04-12',
        extension: [{ url: MAIDEN, valueString: 'Chirwa' }] }));
      assert.equal(a.status, 201, JSON.stringify(a.body));
      assert.ok(a.body.identifier.some((i: { system: string }) => i.system === NATIONAL_ID), 'an OID system is stored as the domain URL');
      const golden = goldenOf(a.body);
      assert.ok(golden, 'the source record refers to its golden record');
      first = { id: a.body.id, golden: golden! };
      const goldenRecord = await cr.request('GET', `Patient/${golden}`);
      assert.equal(goldenRecord.status, 200);
      assert.ok(goldenRecord.body.meta.tag.some((t: { code: string }) => t.code === 'golden'));
      assert.deepEqual(goldenRecord.body.link, [{ other: { reference: `Patient/${a.body.id}` }, type: 'seealso' }]);

      const b = await cr.request('POST', 'Patient', patient({ ids: [[CLINIC_B, 'B-777'], [NATIONAL_ID, 'NID-42']], family: 'Moyo', given: 'Tendai', birthDate: '1990-04-12' }));
      assert.equal(b.status, 201, JSON.stringify(b.body));
      assert.equal(goldenOf(b.body), golden, 'the duplicate is linked to the same golden record');
      const after = await cr.request('GET', `Patient/${golden}`);
      assert.deepEqual(after.body.link.map((l: { other: { reference: string } }) => l.other.reference).sort(), [`Patient/${a.body.id}`, `Patient/${b.body.id}`].sort());
      assert.equal(after.body.meta.versionId, '2', 'the golden record keeps its history');

      const explained = await cr.request('GET', `Patient/${b.body.id}/$cr-explain`);
      assert.equal(explained.status, 200);
      const decision = explained.body.parameter.find((p: { name: string }) => p.name === 'decision');
      assert.equal(parts(decision).outcome, 'auto-linked');
      assert.equal(parts(decision).candidate, `Patient/${a.body.id}`);
      assert.equal(typeof parts(decision).score, 'number');
      assert.ok(decision.part.filter((p: { name: string }) => p.name === 'field').length >= 1, 'each field contribution is shown');

      const goldens = await cr.request('GET', `Patient?_tag=${encodeURIComponent(GOLDEN)}&family=moyo`);
      assert.equal((goldens.body.entry?.length ?? 0), 1, 'one person, one golden record');
    });

    test('a probable match lands in review; accepting links it, rejecting keeps its own golden record', async () => {
      const c = await cr.request('POST', 'Patient', patient({ ids: [[CLINIC_B, 'B-900']], family: 'Moyo', given: 'Tendayi', birthDate: '1990-04-12' }));
      assert.equal(c.status, 201, JSON.stringify(c.body));
      const ownGolden = goldenOf(c.body)!;
      assert.notEqual(ownGolden, first.golden, 'a probable match is not linked automatically');
      const queue = await cr.request('GET', 'Patient/$cr-review');
      assert.equal(queue.status, 200);
      const item = queue.body.parameter.map(parts).find((p: Record<string, string>) => p.source === `Patient/${c.body.id}`);
      assert.ok(item, 'the probable match is in the review queue');
      assert.equal(item.golden, `Patient/${first.golden}`);
      assert.equal(item.status, 'open');

      const accepted = await cr.request('POST', 'Patient/$cr-review-accept', { resourceType: 'Parameters', parameter: [{ name: 'item', valueString: item.id }] });
      assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
      const source = await cr.request('GET', `Patient/${c.body.id}`);
      assert.equal(goldenOf(source.body), first.golden, 'accepting links the source to the candidate\'s golden record');
      assert.equal((await cr.request('GET', `Patient/${ownGolden}`)).status, 410, 'the golden record left without sources is deleted');
      const again = await cr.request('POST', 'Patient/$cr-review-accept', { resourceType: 'Parameters', parameter: [{ name: 'item', valueString: item.id }] });
      assert.equal(again.status, 409);
      assert.equal((await cr.request('GET', 'Patient/$cr-review?status=accepted')).body.parameter.length, 1);

      const d = await cr.request('POST', 'Patient', patient({ ids: [[CLINIC_A, 'A-555']], family: 'Moyo', given: 'Tinashe', birthDate: '1990-04-12' }));
      const dGolden = goldenOf(d.body)!;
      const open = (await cr.request('GET', 'Patient/$cr-review')).body.parameter.map(parts).find((p: Record<string, string>) => p.source === `Patient/${d.body.id}`);
      assert.ok(open);
      const rejected = await cr.request('POST', `Patient/$cr-review-reject?item=${open.id}`);
      assert.equal(rejected.status, 200, JSON.stringify(rejected.body));
      assert.equal(goldenOf((await cr.request('GET', `Patient/${d.body.id}`)).body), dGolden, 'rejecting keeps the source\'s own golden record');
      const outcomes = (await cr.request('GET', `Patient/${d.body.id}/$cr-explain`)).body.parameter.filter((p: { name: string }) => p.name === 'decision').map((p: unknown) => parts(p).outcome);
      assert.deepEqual(outcomes, ['new-golden-review', 'review-rejected']);

      // Manual link and unlink, and a golden record with sources cannot be deleted.
      const linked = await cr.request('POST', `Patient/${d.body.id}/$cr-link`, { resourceType: 'Parameters', parameter: [{ name: 'golden', valueReference: { reference: `Patient/${first.golden}` } }] });
      assert.equal(linked.status, 200, JSON.stringify(linked.body));
      assert.equal(goldenOf((await cr.request('GET', `Patient/${d.body.id}`)).body), first.golden);
      const del = await cr.request('DELETE', `Patient/${first.golden}`); assert.equal(del.status, 403, JSON.stringify(del.body));
      const unlinked = await cr.request('POST', `Patient/${d.body.id}/$cr-unlink`);
      assert.equal(unlinked.status, 200, JSON.stringify(unlinked.body));
      const alone = goldenOf((await cr.request('GET', `Patient/${d.body.id}`)).body);
      assert.ok(alone && alone !== first.golden);
      assert.deepEqual((await cr.request('GET', `Patient/${alone}`)).body.link, [{ other: { reference: `Patient/${d.body.id}` }, type: 'seealso' }]);
    });

    test('PIXm $ihe-pix answers every identifier of the person, and the profile\'s error codes', async () => {
      const all = await cr.request('GET', `Patient/$ihe-pix?sourceIdentifier=${encodeURIComponent(`${CLINIC_A}|A-001`)}`);
      assert.equal(all.status, 200, JSON.stringify(all.body));
      assert.equal(all.body.resourceType, 'Parameters');
      const identifiers = all.body.parameter.filter((p: { name: string }) => p.name === 'targetIdentifier').map((p: { valueIdentifier: { system: string; value: string } }) => `${p.valueIdentifier.system}|${p.valueIdentifier.value}`);
      assert.ok(identifiers.includes(`${CLINIC_B}|B-777`) && identifiers.includes(`${NATIONAL_ID}|NID-42`), identifiers.join());
      assert.ok(!identifiers.includes(`${CLINIC_A}|A-001`), 'the source identifier itself is not repeated');
      const targetId = all.body.parameter.find((p: { name: string }) => p.name === 'targetId');
      assert.match(targetId.valueReference.reference, new RegExp(`/Patient/${first.golden}$`));

      const byOid = await cr.request('GET', `Patient/$ihe-pix?sourceIdentifier=${encodeURIComponent(`urn:oid:${NATIONAL_ID_OID}|NID-42`)}&targetSystem=${encodeURIComponent(CLINIC_B)}`);
      assert.equal(byOid.status, 200, JSON.stringify(byOid.body));
      // B-900 is the probable match accepted from review: the same person now.
      type Parameter = { name: string; valueIdentifier?: { value: string } };
      assert.deepEqual(byOid.body.parameter.filter((p: Parameter) => p.name === 'targetIdentifier').sort((x: Parameter, y: Parameter) => x.valueIdentifier!.value.localeCompare(y.valueIdentifier!.value)), [
        { name: 'targetIdentifier', valueIdentifier: { system: CLINIC_B, value: 'B-777' } },
        { name: 'targetIdentifier', valueIdentifier: { system: CLINIC_B, value: 'B-900' } },
      ]);
      assert.equal(byOid.body.parameter.filter((p: Parameter) => p.name === 'targetId').length, 2, 'and the records holding them');

      const unknownDomain = await cr.request('GET', `Patient/$ihe-pix?sourceIdentifier=${encodeURIComponent('http://nowhere.example.org|1')}`);
      assert.equal(unknownDomain.status, 400);
      assert.equal(unknownDomain.body.issue[0].diagnostics, 'sourceIdentifier Assigning Authority not found');
      const unknownPatient = await cr.request('GET', `Patient/$ihe-pix?sourceIdentifier=${encodeURIComponent(`${CLINIC_A}|NOPE`)}`);
      assert.equal(unknownPatient.status, 404);
      assert.equal(unknownPatient.body.issue[0].code, 'not-found');
      const unknownTarget = await cr.request('GET', `Patient/$ihe-pix?sourceIdentifier=${encodeURIComponent(`${CLINIC_A}|A-001`)}&targetSystem=${encodeURIComponent('http://nowhere.example.org')}`);
      assert.equal(unknownTarget.status, 403);
      assert.equal(unknownTarget.body.issue[0].diagnostics, 'targetSystem not found');
      for (const bad of ['', '?sourceIdentifier=no-bar', `?sourceIdentifier=${encodeURIComponent('|x')}`]) {
        const reply = await cr.request('GET', `Patient/$ihe-pix${bad}`);
        assert.equal(reply.status, 400, bad);
        assert.equal(reply.body.resourceType, 'OperationOutcome');
      }
    });

    test('PDQm: mothersMaidenName, birthdate=ap and given:exact', async () => {
      const maiden = await cr.request('GET', 'Patient?mothersMaidenName=chirwa');
      assert.equal(maiden.status, 200, JSON.stringify(maiden.body));
      // The source record and the person's golden record, which carries the mother's maiden name too (ITI-78 2:3.78.4.2.2.2).
      assert.deepEqual((maiden.body.entry ?? []).map((e: { resource: { id: string } }) => e.resource.id).sort(), [first.id, first.golden].sort());
      const approx = await cr.request('GET', `Patient?birthdate=ap1990-04-15&family=moyo&_tag:not=${encodeURIComponent(GOLDEN)}`);
      assert.equal(approx.status, 200, JSON.stringify(approx.body));
      assert.ok((approx.body.entry?.length ?? 0) >= 2, 'an approximate birth date finds the sources');
      assert.ok((approx.body.entry ?? []).every((e: { resource: { meta: { tag?: unknown[] } } }) => !e.resource.meta.tag), '_tag:not leaves the golden records out');
      const exact = await cr.request('GET', 'Patient?given:exact=Tendai');
      assert.ok((exact.body.entry?.length ?? 0) >= 1);
      assert.equal((await cr.request('GET', 'Patient?given:exact=tendai')).body.entry?.length ?? 0, 0, ':exact is case-sensitive');
    });

    test('the CapabilityStatement names the IHE actors the registry is (PIXm Manager, PDQm Supplier with Match)', async () => {
      const capability = await cr.request('GET', 'metadata');
      assert.equal(capability.status, 200);
      assert.deepEqual(capability.body.instantiates, CLIENT_REGISTRY_CAPABILITY_STATEMENTS);
      assert.ok(CLIENT_REGISTRY_CAPABILITY_STATEMENTS.some((url) => url.endsWith('/IHE.PIXm.Manager')));
      assert.ok(CLIENT_REGISTRY_CAPABILITY_STATEMENTS.some((url) => url.endsWith('/IHE.PMIR.PatientIdentityRegistry')));
      // PMIR: the feed it receives, where, and $process-message among the system operations.
      const messaging = capability.body.messaging[0];
      assert.equal(messaging.endpoint[0].protocol.code, 'http');
      assert.equal(messaging.endpoint[0].address, cr.base);
      assert.deepEqual(messaging.supportedMessage, [{ mode: 'receiver', definition: 'https://profiles.ihe.net/ITI/PMIR/MessageDefinition/IHE.PMIR.MessageDefinition' }]);
      assert.ok(capability.body.rest[0].operation.some((op: { name: string }) => op.name === 'process-message'));
    });

    test('$match answers scored entries with the match grade', async () => {
      const query = { resourceType: 'Parameters', parameter: [
        { name: 'resource', resource: patient({ ids: [[NATIONAL_ID, 'NID-42']], family: 'Moyo', given: 'Tendai', birthDate: '1990-04-12' }) },
        { name: 'count', valueInteger: 5 },
      ] };
      const matched = await cr.request('POST', 'Patient/$match', query);
      assert.equal(matched.status, 200, JSON.stringify(matched.body));
      assert.equal(matched.body.type, 'searchset');
      const top = matched.body.entry[0];
      assert.equal(top.search.mode, 'match');
      assert.ok(top.search.score > 0 && top.search.score <= 1);
      assert.deepEqual(top.search.extension, [{ url: 'http://hl7.org/fhir/StructureDefinition/match-grade', valueCode: 'certain' }]);
      assert.equal(goldenOf(top.resource), first.golden);
      // ITI-119 Case 2: one entry per Patient resource found (a person's two source records are two entries).
      const records = new Set((matched.body.entry ?? []).map((e: { resource: { id: string } }) => e.resource.id));
      assert.equal(records.size, (matched.body.entry?.length ?? 0), 'one entry per Patient resource');
      for (const e of matched.body.entry as Array<{ search: { score: number; extension: Array<{ valueCode: string }> } }>) {
        const band = { certain: [0.75, 1], probable: [0.5, 0.75], possible: [0.25, 0.5] }[e.search.extension[0]!.valueCode as 'certain']!;
        assert.ok(e.search.score >= band[0]! && e.search.score <= band[1]!, `a ${e.search.extension[0]!.valueCode} match scored ${e.search.score}`);
      }
      const twoResources = await cr.request('POST', 'Patient/$match', { ...query, parameter: [...query.parameter, query.parameter[0]] });
      assert.equal(twoResources.status, 400, 'two resource parameters (review finding 14)');
      const certainOnly = await cr.request('POST', 'Patient/$match', { ...query, parameter: [...query.parameter, { name: 'onlyCertainMatches', valueBoolean: true }] });
      assert.ok((certainOnly.body.entry?.length ?? 0) >= 1, 'one person\'s records are a certain match');
      assert.ok((certainOnly.body.entry ?? []).every((e: { search: { extension: Array<{ valueCode: string }> } }) => e.search.extension[0]!.valueCode === 'certain'));
      assert.equal((await cr.request('POST', 'Patient/$match', { resourceType: 'Parameters', parameter: [] })).status, 400);
      // ITI-119 Case 9: an invalid Patient, or one with modifiers (PDQm MatchInputPatient), is a 400.
      const asked = query.parameter[0]!.resource as Record<string, unknown>;
      for (const bad of [{ gender: 'banana' }, { birthDate: '1958-02-30' }, { foo: 1 }, { implicitRules: 'http://example.org/rules' },
        { modifierExtension: [{ url: 'http://example.org/not-really', valueBoolean: true }] }]) {
        const refused = await cr.request('POST', 'Patient/$match', { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: { ...asked, ...bad } }] });
        assert.equal(refused.status, 400, `${JSON.stringify(bad)}: ${JSON.stringify(refused.body).slice(0, 200)}`);
        assert.equal(refused.body.resourceType, 'OperationOutcome');
      }
      assert.equal((await cr.request('POST', 'Patient/$match', { ...query, parameter: [query.parameter[0], { name: 'count', valueString: 'many' }] })).status, 400);
    });

    test('$match onlyCertainMatches: certain records of two different people are no certain match (none answered); one person\'s are', async () => {
      const twin = (id: string) => patient({ ids: [[CLINIC_A, id]], family: 'Twindoe', given: 'Sam', birthDate: '2001-02-03', gender: 'male' });
      const a = await cr.request('POST', 'Patient', twin('TW-1'));
      const b = await cr.request('POST', 'Patient', twin('TW-2'));
      const ask = (onlyCertainMatches: boolean) => cr.request('POST', 'Patient/$match', { resourceType: 'Parameters', parameter: [
        { name: 'resource', resource: patient({ ids: [], family: 'Twindoe', given: 'Sam', birthDate: '2001-02-03', gender: 'male' }) },
        { name: 'onlyCertainMatches', valueBoolean: onlyCertainMatches }] });
      // Identical demographics under two clinic ids: linked to one person or not, depending on the rules; made two people here.
      if (goldenOf(b.body) === goldenOf(a.body)) assert.equal((await cr.request('POST', `Patient/${b.body.id}/$cr-unlink`)).status, 200);
      const both = await ask(false);
      assert.equal((both.body.entry?.length ?? 0), 2, 'two people, both found');
      assert.ok((both.body.entry ?? []).every((e: { search: { extension: Array<{ valueCode: string }> } }) => e.search.extension[0]!.valueCode === 'certain'), 'both certain');
      const certain = await ask(true);
      assert.equal(certain.status, 200);
      assert.equal('entry' in certain.body, false, 'which of the two is unknown: no certain match (and no empty list)');
      assert.equal(certain.body.total, 0);
    });

    test('identifier domains: an unknown domain or a missing system is refused with 422 naming it, nothing stored', async () => {
      const unknown = await cr.request('POST', 'Patient', patient({ ids: [['http://rogue.example.org/ids', 'R-1']], family: 'Phiri', given: 'Grace', birthDate: '2001-01-01' }));
      assert.equal(unknown.status, 422);
      assert.equal(unknown.body.resourceType, 'OperationOutcome');
      assert.match(unknown.body.issue[0].diagnostics, /unknown identifier domain "http:\/\/rogue\.example\.org\/ids"/);
      const noSystem = await cr.request('POST', 'Patient', { resourceType: 'Patient', identifier: [{ value: 'X-1' }], name: [{ family: 'Phiri' }] });
      assert.equal(noSystem.status, 422);
      assert.match(noSystem.body.issue[0].diagnostics, /no system/);
      assert.equal((await cr.request('GET', 'Patient?family=phiri')).body.entry?.length ?? 0, 0, 'nothing half-written');
      const bundle = await cr.request('POST', '', { resourceType: 'Bundle', type: 'transaction', entry: [
        { resource: patient({ ids: [[CLINIC_A, 'A-T1']], family: 'Tembo', given: 'Ada', birthDate: '1970-02-02' }), request: { method: 'POST', url: 'Patient' } },
        { resource: patient({ ids: [['http://rogue.example.org/ids', 'R-2']], family: 'Tembo', given: 'Ada', birthDate: '1970-02-02' }), request: { method: 'POST', url: 'Patient' } },
      ] });
      assert.equal(bundle.status, 422, JSON.stringify(bundle.body));
      assert.equal((await cr.request('GET', 'Patient?family=tembo')).body.entry?.length ?? 0, 0, 'a refused transaction leaves no source and no golden record');
    });

    test('bad input to the registry operations is a 4xx OperationOutcome, never a 500', async () => {
      const cases: Array<[string, string, unknown?]> = [
        ['POST', 'Patient/$cr-review-accept', { resourceType: 'Parameters', parameter: [{ name: 'item', valueString: 'abc' }] }],
        ['POST', 'Patient/$cr-review-accept', { resourceType: 'Parameters', parameter: [{ name: 'item', valueString: '999999' }] }],
        ['POST', 'Patient/$cr-review-reject'],
        ['GET', 'Patient/$cr-review?status=sideways'],
        ['GET', 'Patient/$cr-review?_count=-1'],
        ['POST', `Patient/${first.id}/$cr-link`, { resourceType: 'Parameters', parameter: [{ name: 'golden', valueString: first.id }] }],
        ['POST', `Patient/${first.id}/$cr-link`],
        ['POST', `Patient/${first.golden}/$cr-unlink`],
        ['POST', 'Patient/no-such-patient/$cr-unlink'],
        ['GET', `Patient/${first.golden}/$cr-explain`],
        ['GET', 'Patient/$cr-review-accept'],
        ['POST', 'Patient/$match', { resourceType: 'Parameters', parameter: [{ name: 'resource', resource: { resourceType: 'Observation', status: 'final', code: { text: 'x' } } }] }],
      ];
      for (const [method, path, body] of cases) {
        const reply = await cr.request(method, path, body);
        assert.ok(reply.status >= 400 && reply.status < 500, `${method} ${path}: ${reply.status} ${JSON.stringify(reply.body)}`);
        assert.equal(reply.body.resourceType, 'OperationOutcome', `${method} ${path}`);
      }
    });
  });
}
