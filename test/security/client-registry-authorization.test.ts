/**
 * The client registry review's security findings, reproduced on both drivers (each attack first,
 * then what still works):
 *   1. data-steward operations ($cr-link, $cr-unlink, the review queue, $cr-unmerge) are a
 *      steward's: never a registering client's, never an anonymous caller's on the registry's port
 *      unless CLIENT_REGISTRY_DIRECT_CALLERS=steward;
 *   2. a NamingSystem may not claim an OID or URL another NamingSystem holds (any caller, any form);
 *   3. a source record is changed, deleted or merged only by its owner (the client that registered
 *      it) or a steward, through FHIR REST, PMIR and HL7v2 alike;
 *   4. a domain's owner (and so the owner of its ownerless records) is named by a steward, never
 *      by a client naming itself;
 *   5. PMIR message ids are remembered per sender: a client cannot use up another's.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { senderIdentityHeaders, verifySenderIdentity, bodyDigest } from '../../src/common/sender-identity.js';
import { testDrivers } from '../support/databases.js';
import { goldenOf, namingSystem, patient, requestJson, startRegistry, type RegistryUnderTest } from '../client-registry/support.js';
import { ackOf, hl7, MllpClient } from '../client-registry/hl7v2-support.js';

const SECRET = 'test-sender-identity-secret-authorization-0123';
const STEWARD = 'client-registry-steward';
const NATIONAL = 'http://moh.example.org/nid';
const NATIONAL_OID = '2.16.999.7.1';
const MRN_B = 'http://clinic-b.example.org/mrn';
const OWNER_TAG = 'http://instant-openhie.org/fhir/cr-record-owner';
const NOT_GOLDEN = '_tag:not=http://instant-openhie.org/fhir/cr-record-type|golden';

interface Caller { client?: string; roles?: string[] }
const MOH: Caller = { client: 'moh-client', roles: ['client-registry'] };
const CLINIC_B: Caller = { client: 'clinic-b', roles: ['client-registry'] };
const STEWARD_CLIENT: Caller = { client: 'registry-steward', roles: ['client-registry', STEWARD] };
const ANONYMOUS: Caller = {};

/** The router's headers for this caller and request (roles signed), none for an anonymous caller. */
function vouch(caller: Caller, method: string, url: string, body?: unknown): Record<string, string> {
  if (!caller.client) return {};
  const u = new URL(url);
  return senderIdentityHeaders(SECRET, caller.client, method, u.pathname + u.search, body === undefined ? undefined : Buffer.from(JSON.stringify(body)), Date.now(), caller.roles ?? []);
}

const parameters = (...parameter: unknown[]) => ({ resourceType: 'Parameters', parameter });

test('the roles are signed: a role added to, or dropped from, an assertion breaks it', () => {
  const now = Date.now();
  const signed = senderIdentityHeaders(SECRET, 'clinic-b', 'GET', '/x', undefined, now, ['client-registry']);
  const digest = bodyDigest();
  const check = verifySenderIdentity(SECRET, signed, 'GET', '/x', digest, now);
  assert.equal(check.ok, true);
  assert.deepEqual(check.ok === true && check.roles, ['client-registry']);
  assert.equal(verifySenderIdentity(SECRET, { ...signed, 'x-instant-sender-roles': `client-registry,${STEWARD}` }, 'GET', '/x', digest, now).ok, false, 'a role added');
  const { 'x-instant-sender-roles': _roles, ...dropped } = signed;
  assert.equal(verifySenderIdentity(SECRET, dropped, 'GET', '/x', digest, now).ok, false, 'the roles dropped');
  const none = senderIdentityHeaders(SECRET, 'clinic-b', 'GET', '/x', undefined, now);
  assert.equal(verifySenderIdentity(SECRET, { ...none, 'x-instant-sender-roles': STEWARD }, 'GET', '/x', digest, now).ok, false, 'a role added to an assertion without roles');
});

for (const driver of testDrivers) {
  describe(`client registry authorization on ${driver}`, () => {
    let cr: RegistryUnderTest;
    let trusted: RegistryUnderTest;
    let clinicBSystem: { id: string };
    const call = (registry: RegistryUnderTest, caller: Caller, method: string, path: string, body?: unknown) =>
      requestJson(`${registry.base}/${path}`, method, body, { accept: 'application/fhir+json', ...vouch(caller, method, `${registry.base}/${path}`, body) });
    const as = (caller: Caller, method: string, path: string, body?: unknown) => call(cr, caller, method, path, body);
    const pixOf = async (identifier: string): Promise<string[]> => {
      const pix = await as(MOH, 'GET', `Patient/$ihe-pix?sourceIdentifier=${encodeURIComponent(identifier)}`);
      return (pix.body.parameter ?? []).filter((p: { name: string }) => p.name === 'targetIdentifier').map((p: { valueIdentifier: { system: string; value: string } }) => `${p.valueIdentifier.system}|${p.valueIdentifier.value}`);
    };

    before(async () => {
      cr = await startRegistry(driver, { OPENHIM_SENDER_IDENTITY_SECRET: SECRET });
      trusted = await startRegistry(driver, { OPENHIM_SENDER_IDENTITY_SECRET: SECRET, CLIENT_REGISTRY_DIRECT_CALLERS: 'steward' });
      const national = { ...namingSystem('National', NATIONAL, NATIONAL_OID), extension: [{ url: 'http://instant-openhie.org/fhir/StructureDefinition/cr-domain-owner', valueString: 'moh-client' }] };
      assert.equal((await as(STEWARD_CLIENT, 'POST', 'NamingSystem', national)).status, 201, 'a steward names a domain\'s owner');
      const created = await as(CLINIC_B, 'POST', 'NamingSystem', namingSystem('ClinicB', MRN_B));
      assert.equal(created.status, 201);
      clinicBSystem = created.body;
    });
    after(async () => {
      await cr.close();
      await trusted.close();
    });

    test('finding 1: a clinic cannot $cr-link its record into another person, nor unlink, review or unmerge; stewards can', async () => {
      const victim = await as(MOH, 'POST', 'Patient', patient({ ids: [[NATIONAL, 'V1']], family: 'Victim', given: 'Vera', birthDate: '1960-06-06' }));
      assert.equal(victim.status, 201, JSON.stringify(victim.body));
      const golden = goldenOf(victim.body)!;
      const mine = await as(CLINIC_B, 'POST', 'Patient', patient({ ids: [[MRN_B, 'EVIL']], family: 'Eve', given: 'Evil', birthDate: '1999-12-12' }));
      assert.equal(mine.status, 201);
      const link = parameters({ name: 'golden', valueReference: { reference: `Patient/${golden}` } });
      for (const caller of [CLINIC_B, ANONYMOUS]) {
        const linked = await as(caller, 'POST', `Patient/${mine.body.id}/$cr-link`, link);
        assert.equal(linked.status, 403, JSON.stringify(linked.body));
        assert.match(linked.body.issue[0].diagnostics, /data steward's operation.*client-registry-steward/);
        assert.equal((await as(caller, 'POST', `Patient/${victim.body.id}/$cr-unlink`, parameters())).status, 403);
        assert.equal((await as(caller, 'GET', 'Patient/$cr-review?status=all')).status, 403, 'the review queue is not read');
        assert.equal((await as(caller, 'POST', 'Patient/$cr-review-accept', parameters({ name: 'item', valueString: '1' }))).status, 403);
        assert.equal((await as(caller, 'POST', 'Patient/$cr-review-reject', parameters({ name: 'item', valueString: '1' }))).status, 403);
        assert.equal((await as(caller, 'POST', 'Patient/$cr-unmerge', parameters({ name: 'source-patient', valueReference: { reference: `Patient/${victim.body.id}` } }))).status, 403);
      }
      assert.deepEqual(await pixOf(`${NATIONAL}|V1`), [], 'PIXm for the victim lists no clinic B identifier');
      assert.equal(goldenOf((await as(MOH, 'GET', `Patient/${victim.body.id}`)).body), golden, 'the victim was not unlinked');

      // A steward (the role signed by the router) does all of it.
      assert.equal((await as(STEWARD_CLIENT, 'GET', 'Patient/$cr-review?status=all')).status, 200);
      const stewardLink = await as(STEWARD_CLIENT, 'POST', `Patient/${mine.body.id}/$cr-link`, link);
      assert.equal(stewardLink.status, 200, JSON.stringify(stewardLink.body));
      assert.equal((await as(STEWARD_CLIENT, 'POST', `Patient/${mine.body.id}/$cr-unlink`, parameters())).status, 200);
    });

    test('finding 1: the registry\'s own port is anonymous unless CLIENT_REGISTRY_DIRECT_CALLERS=steward says it is trusted', async () => {
      assert.equal((await call(cr, ANONYMOUS, 'GET', 'Patient/$cr-review')).status, 403);
      assert.equal((await call(trusted, ANONYMOUS, 'GET', 'Patient/$cr-review')).status, 200, 'an operator-trusted port');
      assert.equal((await call(trusted, CLINIC_B, 'GET', 'Patient/$cr-review')).status, 403, 'a client vouched for by the router is what its roles say');
    });

    test('finding 2: no NamingSystem may claim an OID or URL another one holds, in any form, for any caller', async () => {
      const before = await pixOf(`urn:oid:${NATIONAL_OID}|N1`);
      const registered = await as(MOH, 'POST', 'Patient', patient({ ids: [[NATIONAL, 'N1']], family: 'Hijack', given: 'Vera', birthDate: '1961-01-01' }));
      assert.equal(registered.status, 201);
      const claims = [
        { type: 'oid', value: NATIONAL_OID },
        { type: 'oid', value: `urn:oid:${NATIONAL_OID}` },
        { type: 'uri', value: `urn:oid:${NATIONAL_OID}` },
        { type: 'uri', value: `URN:OID:${NATIONAL_OID}` },
        { type: 'oid', value: `Urn:Oid:${NATIONAL_OID}` },
        { type: 'uri', value: NATIONAL },
      ];
      for (const [n, claim] of claims.entries()) {
        for (const caller of [CLINIC_B, ANONYMOUS]) {
          const hijack = { resourceType: 'NamingSystem', name: `Hijack${n}`, status: 'active', kind: 'identifier', date: '2026-01-01', uniqueId: [{ type: 'uri', value: `http://clinicb-${n}.example/x`, preferred: true }, claim] };
          const reply = await as(caller, 'POST', 'NamingSystem', hijack);
          assert.equal(reply.status, 409, `${JSON.stringify(claim)} by ${caller.client ?? 'anonymous'}: ${JSON.stringify(reply.body)}`);
          assert.match(reply.body.issue[0].diagnostics, /already claimed by NamingSystem\//);
        }
      }
      // An update that takes another's OID is refused too; the NamingSystem keeps its own.
      const own = await as(CLINIC_B, 'POST', 'NamingSystem', namingSystem('ClinicBOther', 'http://clinic-b.example.org/other', '2.16.999.7.2'));
      assert.equal(own.status, 201);
      const taking = { ...own.body, uniqueId: [...own.body.uniqueId, { type: 'oid', value: NATIONAL_OID }] };
      assert.equal((await as(CLINIC_B, 'PUT', `NamingSystem/${own.body.id}`, taking)).status, 409);
      // Two in one transaction bundle: the second sees the first.
      const bundle = { resourceType: 'Bundle', type: 'transaction', entry: ['A', 'B'].map((x) => ({ resource: namingSystem(`Twin${x}`, 'http://twins.example.org/id'), request: { method: 'POST', url: 'NamingSystem' } })) };
      assert.equal((await as(CLINIC_B, 'POST', '', bundle)).status, 409);
      // Changing one's own NamingSystem keeps its own names.
      assert.equal((await as(CLINIC_B, 'PUT', `NamingSystem/${own.body.id}`, { ...own.body, description: 'clinic B, second register' })).status, 200);
      assert.deepEqual(await pixOf(`urn:oid:${NATIONAL_OID}|N1`), before, 'PIXm by the national OID answers as before');
      const byOid = await as(MOH, 'POST', 'Patient', patient({ ids: [[`urn:oid:${NATIONAL_OID}`, 'N2']], family: 'Oid', given: 'Form', birthDate: '1962-02-02' }));
      assert.equal(byOid.status, 201, 'the owner still writes by OID');
      assert.equal(byOid.body.identifier[0].system, NATIONAL, 'in the national domain');
      // The urn: and oid: prefixes are case-insensitive: URN:OID: names the same domain, protected as it is.
      const upper = patient({ ids: [[`URN:OID:${NATIONAL_OID}`, 'N3']], family: 'Oid', given: 'Upper', birthDate: '1963-03-03' });
      const byUpper = await as(MOH, 'POST', 'Patient', upper);
      assert.equal(byUpper.status, 201, JSON.stringify(byUpper.body));
      assert.equal(byUpper.body.identifier[0].system, NATIONAL, 'URN:OID: is the national domain');
      const foreign = await as(CLINIC_B, 'POST', 'Patient', patient({ ids: [[`URN:OID:${NATIONAL_OID}`, 'N4']], family: 'Oid', given: 'Foreign', birthDate: '1964-04-04' }));
      assert.equal(foreign.status, 403, 'and protected: another client cannot assign in it by spelling the prefix otherwise');
    });

    test('finding 3: only the record\'s owner or a steward changes, deletes or merges it (REST, PMIR, anonymous feeds)', async () => {
      const rec = await as(MOH, 'POST', 'Patient', patient({ ids: [[NATIONAL, 'P100']], family: 'Owner', given: 'Olga', birthDate: '1950-01-01' }));
      assert.equal(rec.status, 201);
      assert.deepEqual(rec.body.meta.tag.filter((t: { system: string }) => t.system === OWNER_TAG).map((t: { code: string }) => t.code), ['moh-client']);
      const golden = goldenOf(rec.body)!;
      const hijacked = patient({ ids: [[NATIONAL, 'P100']], family: 'Hijacked', given: 'Olga', birthDate: '2000-01-01', gender: 'male' });
      const conditional = `Patient?identifier=${encodeURIComponent(`${NATIONAL}|P100`)}`;
      const mine = await as(CLINIC_B, 'POST', 'Patient', patient({ ids: [[MRN_B, 'M1']], family: 'Mal', given: 'Mark', birthDate: '1988-08-08', gender: 'male' }));
      assert.equal(mine.status, 201);
      const merge = parameters({ name: 'source-patient', valueReference: { reference: `Patient/${rec.body.id}` } }, { name: 'target-patient', valueReference: { reference: `Patient/${mine.body.id}` } });
      const patch = [{ op: 'replace', path: '/birthDate', value: '2000-01-01' }];
      for (const caller of [CLINIC_B, ANONYMOUS]) {
        const put = await as(caller, 'PUT', conditional, hijacked);
        assert.equal(put.status, 403, JSON.stringify(put.body));
        assert.match(put.body.issue[0].diagnostics, /client moh-client's record/);
        assert.equal((await as(caller, 'PUT', `Patient/${rec.body.id}`, { ...hijacked, id: rec.body.id })).status, 403);
        const patched = await requestJson(`${cr.base}/Patient/${rec.body.id}`, 'PATCH', patch, { 'content-type': 'application/json-patch+json', ...vouch(caller, 'PATCH', `${cr.base}/Patient/${rec.body.id}`, patch) });
        assert.equal(patched.status, 403, JSON.stringify(patched.body));
        assert.equal((await as(caller, 'DELETE', `Patient/${rec.body.id}`)).status, 403);
        assert.equal((await as(caller, 'POST', 'Patient/$merge', merge)).status, 403);
        const pmir = pmirMerge(rec.body, mine.body.id);
        const fed = await as(caller, 'POST', '', pmir);
        assert.equal(fed.status, 403, JSON.stringify(fed.body));
        // PIXm ITI-104's "resolve duplicate": the owner's record PUT with a replaced-by link to the caller's.
        const resolve = { ...rec.body, meta: undefined, active: false, link: [{ other: { identifier: { system: MRN_B, value: 'M1' } }, type: 'replaced-by' }] };
        const resolved = await as(caller, 'PUT', conditional, resolve);
        assert.equal(resolved.status, 403, JSON.stringify(resolved.body));
        assert.equal((await as(caller, 'PUT', `Patient/${rec.body.id}`, resolve)).status, 403);
      }
      const stored = (await as(MOH, 'GET', `Patient/${rec.body.id}`)).body;
      assert.equal(stored.name[0].family, 'Owner');
      assert.equal(stored.birthDate, '1950-01-01');
      assert.equal(stored.active, undefined, 'not merged');
      assert.equal((await as(MOH, 'GET', `Patient/${golden}`)).body.name[0].family, 'Owner', 'the golden record keeps its demographics');
      assert.equal((await as(MOH, 'GET', `Patient/$ihe-pix?sourceIdentifier=${encodeURIComponent(`${NATIONAL}|P100`)}`)).status, 200, 'the national id still resolves');

      // The owner changes its record; a client's copy of the owner tag is not believed.
      const claimed = { ...stored, meta: { tag: [{ system: OWNER_TAG, code: 'clinic-b' }] }, name: [{ family: 'Owner', given: ['Olga', 'Maria'] }] };
      const updated = await as(MOH, 'PUT', `Patient/${rec.body.id}`, claimed);
      assert.equal(updated.status, 200, JSON.stringify(updated.body));
      assert.deepEqual(updated.body.meta.tag.filter((t: { system: string }) => t.system === OWNER_TAG).map((t: { code: string }) => t.code), ['moh-client']);
      const forged = await as(CLINIC_B, 'POST', 'Patient', { ...patient({ ids: [[MRN_B, 'M2']], family: 'Forge', given: 'Fay', birthDate: '1977-07-07' }), meta: { tag: [{ system: OWNER_TAG, code: 'moh-client' }] } });
      assert.deepEqual(forged.body.meta.tag.filter((t: { system: string }) => t.system === OWNER_TAG).map((t: { code: string }) => t.code), ['clinic-b'], 'a new record is its sender\'s');
      // $meta-add of an owner tag alone: the registry drops it, so no version is written.
      const metaAdd = await as(MOH, 'POST', `Patient/${rec.body.id}/$meta-add`, parameters({ name: 'meta', valueMeta: { tag: [{ system: OWNER_TAG, code: 'clinic-b' }] } }));
      assert.equal(metaAdd.status, 200, JSON.stringify(metaAdd.body));
      assert.equal((await as(MOH, 'GET', `Patient/${rec.body.id}`)).body.meta.versionId, updated.body.meta.versionId, 'no new version');
      // A steward changes it and the owner stays.
      const steward = await as(STEWARD_CLIENT, 'PUT', `Patient/${rec.body.id}`, { ...updated.body, meta: undefined, gender: 'female' });
      assert.equal(steward.status, 200, JSON.stringify(steward.body));
      assert.deepEqual(steward.body.meta.tag.filter((t: { system: string }) => t.system === OWNER_TAG).map((t: { code: string }) => t.code), ['moh-client']);
      // A steward hands the record to another owner with $meta-add of the owner tag (it was ignored: review finding), and back.
      const ownerTag = (code: string) => parameters({ name: 'meta', valueMeta: { tag: [{ system: OWNER_TAG, code }] } });
      const handed = await as(STEWARD_CLIENT, 'POST', `Patient/${rec.body.id}/$meta-add`, ownerTag('clinic-b'));
      assert.equal(handed.status, 200, JSON.stringify(handed.body));
      const owners = async () => (await as(MOH, 'GET', `Patient/${rec.body.id}`)).body.meta.tag.filter((t: { system: string }) => t.system === OWNER_TAG).map((t: { code: string }) => t.code);
      assert.deepEqual(await owners(), ['clinic-b']);
      assert.equal((await as(STEWARD_CLIENT, 'POST', `Patient/${rec.body.id}/$meta-add`, ownerTag('moh-client'))).status, 200);
      assert.deepEqual(await owners(), ['moh-client']);
      // A clinic merges its own duplicates.
      const dup = await as(CLINIC_B, 'POST', 'Patient', patient({ ids: [[MRN_B, 'M1-dup']], family: 'Mal', given: 'Mark', birthDate: '1988-08-08', gender: 'male' }));
      const own = await as(CLINIC_B, 'POST', 'Patient/$merge', parameters({ name: 'source-patient', valueReference: { reference: `Patient/${dup.body.id}` } }, { name: 'target-patient', valueReference: { reference: `Patient/${mine.body.id}` } }));
      assert.equal(own.status, 200, JSON.stringify(own.body));
    });

    test('finding 3: an HL7v2 feed (no sender: anonymous) cannot update or merge away a client\'s record', async () => {
      const rec = await as(MOH, 'POST', 'Patient', patient({ ids: [[NATIONAL, 'H7']], family: 'Feed', given: 'Fiona', birthDate: '1955-05-05' }));
      assert.equal(rec.status, 201);
      const other = await as(ANONYMOUS, 'POST', 'Patient', patient({ ids: [[MRN_B, 'H7-B']], family: 'Other', given: 'Otto', birthDate: '1966-06-06', gender: 'male' }));
      assert.equal(other.status, 201);
      const mllp = await MllpClient.connect(cr.running.endpoints.mllp!);
      try {
        const update = hl7('ADT^A08^ADT_A01', `PID|1||H7^^^&${NATIONAL_OID}&ISO||Rewritten^Fiona||20000101|M`);
        const updated = ackOf(await mllp.send(update.text));
        assert.notEqual(updated.code, 'AA', 'A08 of a client\'s record');
        assert.match(updated.errorText, /only its owning client or a data steward/);
        const merge = hl7('ADT^A40^ADT_A39', 'EVN|A40|20240101120000', `PID|1||H7-B^^^&${MRN_B}&URI||Other^Otto`, `MRG|H7^^^&${NATIONAL_OID}&ISO`);
        const merged = ackOf(await mllp.send(merge.text));
        assert.notEqual(merged.code, 'AA', 'A40 merging a client\'s record away');
        assert.match(merged.errorText, /only its owning client or a data steward/);
      } finally {
        mllp.close();
      }
      const stored = (await as(MOH, 'GET', `Patient/${rec.body.id}`)).body;
      assert.equal(stored.name[0].family, 'Feed');
      assert.equal(stored.active, undefined);
    });

    test('finding 3: records without a recorded owner (older ones, anonymous registrations)', async () => {
      // Registered without a sender (as every record was before owners were recorded).
      const national = await as(ANONYMOUS, 'POST', 'Patient', patient({ ids: [[MRN_B, 'L0']], family: 'Legacy', given: 'Lena', birthDate: '1940-04-04' }));
      assert.equal(national.status, 201);
      assert.equal(national.body.meta.tag?.some((t: { system: string }) => t.system === OWNER_TAG) ?? false, false);
      const plain = await as(ANONYMOUS, 'POST', 'Patient', patient({ ids: [['http://clinic-b.example.org/other', 'L1']], family: 'Plain', given: 'Paul', birthDate: '1941-04-04', gender: 'male' }));
      assert.equal(plain.status, 201, JSON.stringify(plain.body));
      // No protected domain: callers without a sender (the HL7v2 feed, the registry's port) and stewards change it, clients do not.
      assert.equal((await as(CLINIC_B, 'PUT', `Patient/${plain.body.id}`, { ...plain.body, gender: 'female' })).status, 403);
      assert.equal((await as(ANONYMOUS, 'PUT', `Patient/${plain.body.id}`, { ...plain.body, gender: 'other' })).status, 200);
      // A protected domain's owner owns the records carrying its identifiers: its first change records it.
      const owned = { ...clinicBSystem, extension: [{ url: 'http://instant-openhie.org/fhir/StructureDefinition/cr-domain-owner', valueString: 'clinic-b' }] };
      const protectedNow = await as(STEWARD_CLIENT, 'PUT', `NamingSystem/${clinicBSystem.id}`, owned);
      assert.equal(protectedNow.status, 200, JSON.stringify(protectedNow.body));
      assert.equal((await as(MOH, 'PUT', `Patient/${national.body.id}`, { ...national.body, gender: 'male' })).status, 403);
      assert.equal((await as(ANONYMOUS, 'PUT', `Patient/${national.body.id}`, { ...national.body, gender: 'male' })).status, 403, 'no longer an anonymous caller\'s');
      const adopted = await as(CLINIC_B, 'PUT', `Patient/${national.body.id}`, { ...national.body, gender: 'male' });
      assert.equal(adopted.status, 200, JSON.stringify(adopted.body));
      assert.deepEqual(adopted.body.meta.tag.filter((t: { system: string }) => t.system === OWNER_TAG).map((t: { code: string }) => t.code), ['clinic-b']);
    });

    test('finding 4: no client makes itself owner of a domain, and so of the ownerless records in it; a steward may', async () => {
      const system = `http://anon.example.org/sid-${randomUUID()}`;
      const unowned = await as(ANONYMOUS, 'POST', 'NamingSystem', namingSystem('Anon', system));
      assert.equal(unowned.status, 201);
      // Registered without a sender (the registry's port, HL7v2, the mediator, the demo population).
      const anon = await as(ANONYMOUS, 'POST', 'Patient', patient({ ids: [[system, 'X1']], family: 'Anon', given: 'Ann', birthDate: '1980-01-01' }));
      assert.equal(anon.status, 201, JSON.stringify(anon.body));
      const ownerExtension = (client: string) => [{ url: 'http://instant-openhie.org/fhir/StructureDefinition/cr-domain-owner', valueString: client }];
      // The attack: clinic B names itself the owner of the ownerless domain, then deletes the record.
      const claim = await as(CLINIC_B, 'PUT', `NamingSystem/${unowned.body.id}`, { ...unowned.body, extension: ownerExtension('clinic-b') });
      assert.equal(claim.status, 403, JSON.stringify(claim.body));
      assert.match(claim.body.issue[0].diagnostics, /only by a data steward/);
      assert.equal((await as(ANONYMOUS, 'PUT', `NamingSystem/${unowned.body.id}`, { ...unowned.body, extension: ownerExtension('clinic-b') })).status, 403, 'nor an anonymous caller');
      assert.equal((await as(CLINIC_B, 'DELETE', `Patient/${anon.body.id}`)).status, 403);
      const patch = [{ op: 'replace', path: '/birthDate', value: '2001-01-01' }];
      const patched = await requestJson(`${cr.base}/Patient/${anon.body.id}`, 'PATCH', patch, { 'content-type': 'application/json-patch+json', ...vouch(CLINIC_B, 'PATCH', `${cr.base}/Patient/${anon.body.id}`, patch) });
      assert.equal(patched.status, 403);
      // Nor by creating a NamingSystem naming itself owner (a domain with no NamingSystem yet, or a new one).
      const created = await as(CLINIC_B, 'POST', 'NamingSystem', { ...namingSystem('Mine', `http://clinic-b.example.org/new-${randomUUID()}`), extension: ownerExtension('clinic-b') });
      assert.equal(created.status, 403, JSON.stringify(created.body));
      // The HL7v2 feed (anonymous) still updates its record.
      const mllp = await MllpClient.connect(cr.running.endpoints.mllp!);
      try {
        const ack = ackOf(await mllp.send(hl7('ADT^A08^ADT_A01', `PID|1||X1^^^&${system}&URI||Anon^Ann||19800101|F`).text));
        assert.equal(ack.code, 'AA', ack.errorText);
      } finally {
        mllp.close();
      }
      // A steward names the owner; then that client owns the domain's ownerless records, and may keep
      // the owner as it is when it updates its NamingSystem, but not drop or hand it on.
      const named = await as(STEWARD_CLIENT, 'PUT', `NamingSystem/${unowned.body.id}`, { ...unowned.body, extension: ownerExtension('clinic-b') });
      assert.equal(named.status, 200, JSON.stringify(named.body));
      assert.equal((await as(CLINIC_B, 'PUT', `NamingSystem/${unowned.body.id}`, { ...named.body, description: 'clinic B ids' })).status, 200);
      assert.equal((await as(CLINIC_B, 'PUT', `NamingSystem/${unowned.body.id}`, { ...named.body, extension: ownerExtension('moh-client') })).status, 403);
      assert.equal((await as(CLINIC_B, 'PUT', `NamingSystem/${unowned.body.id}`, { ...named.body, extension: undefined })).status, 403);
      const deleted = await as(CLINIC_B, 'DELETE', `Patient/${anon.body.id}`);
      assert.ok(deleted.status < 300, JSON.stringify(deleted.body));
    });

    test('finding 5: a client cannot squat another sender\'s PMIR message ids; each sender\'s resend is still answered as the first', async () => {
      const id = randomUUID();
      const endpoint = 'http://moh.example.org/fhir';
      const squat = await as(CLINIC_B, 'POST', '', pmirFeed(id, endpoint, patient({ ids: [[MRN_B, `SQ-${id}`]], family: 'Squat', given: 'Sam', birthDate: '1990-09-09', gender: 'male' })));
      assert.equal(squat.status, 200, JSON.stringify(squat.body));
      const anonymousSquat = await as(ANONYMOUS, 'POST', '', pmirFeed(id, endpoint, patient({ ids: [['http://clinic-b.example.org/other', `SQA-${id}`]], family: 'Squat', given: 'Anna', birthDate: '1991-09-09' })));
      assert.equal(anonymousSquat.status, 200, 'anonymous callers have their own ids');
      const feed = pmirFeed(id, endpoint, patient({ ids: [[NATIONAL, `PM-${id}`]], family: 'Feed', given: 'Mary', birthDate: '1970-10-10' }));
      const mine = await as(MOH, 'POST', '', feed);
      assert.equal(mine.status, 200, JSON.stringify(mine.body));
      const resent = await as(MOH, 'POST', '', feed);
      assert.equal(resent.status, 200);
      assert.deepEqual(resent.body.entry[1].resource, mine.body.entry[1].resource, 'the resend is answered as the first');
      const found = await as(MOH, 'GET', `Patient?identifier=${encodeURIComponent(`${NATIONAL}|PM-${id}`)}&${NOT_GOLDEN}`);
      assert.equal(found.body.entry?.length, 1, 'registered once');
      const reused = await as(MOH, 'POST', '', pmirFeed(id, endpoint, patient({ ids: [[NATIONAL, `PM2-${id}`]], family: 'Other', given: 'Otto', birthDate: '1971-10-10', gender: 'male' })));
      assert.equal(reused.status, 409, 'the sender\'s own id on another message');
    });
  });
}

/** A PMIR ITI-93 feed registering one patient, with the given MessageHeader.id and source endpoint. */
function pmirFeed(id: string, endpoint: string, record: unknown): unknown {
  const historyUrl = `urn:uuid:${randomUUID()}`;
  return {
    resourceType: 'Bundle', type: 'message', timestamp: new Date().toISOString(),
    entry: [
      { fullUrl: `urn:uuid:${id}`, resource: { resourceType: 'MessageHeader', id, eventUri: 'urn:ihe:iti:pmir:2019:patient-feed', source: { endpoint }, focus: [{ reference: historyUrl }] } },
      { fullUrl: historyUrl, resource: { resourceType: 'Bundle', type: 'history', entry: [{ fullUrl: `urn:uuid:${randomUUID()}`, resource: record, request: { method: 'POST', url: 'Patient' } }] } },
    ],
  };
}

/** A PMIR ITI-93 feed merging `record` into `targetId` (a PUT with active=false and replaced-by). */
function pmirMerge(record: { id: string }, targetId: string): unknown {
  const id = randomUUID();
  const historyUrl = `urn:uuid:${randomUUID()}`;
  const merged = { ...record, active: false, link: [{ other: { reference: `Patient/${targetId}` }, type: 'replaced-by' }] };
  return {
    resourceType: 'Bundle', type: 'message', timestamp: new Date().toISOString(),
    entry: [
      { fullUrl: `urn:uuid:${id}`, resource: { resourceType: 'MessageHeader', id, eventUri: 'urn:ihe:iti:pmir:2019:patient-feed', source: { endpoint: 'http://clinic-b.example.org/fhir' }, focus: [{ reference: historyUrl }] } },
      { fullUrl: historyUrl, resource: { resourceType: 'Bundle', type: 'history', entry: [{ resource: merged, request: { method: 'PUT', url: `Patient/${record.id}` } }] } },
    ],
  };
}
