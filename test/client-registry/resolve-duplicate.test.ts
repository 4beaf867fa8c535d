/**
 * PIXm ITI-104 "Resolve Patient duplicate" (2:3.104.4.2) on both drivers, with the profile's own
 * example: the Patient Identity Source PUTs the duplicate (conditional update by its identifier)
 * with a `replaced-by` link naming the survivor by identifier; the manager merges them, and PIXm
 * answers with the survivor from then on.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDrivers } from '../support/databases.js';
import { goldenOf, namingSystem, startRegistry, type RegistryUnderTest } from './support.js';

const RED_OID = '1.3.6.1.4.1.21367.13.20.1000';
const RED = `urn:oid:${RED_OID}`;
const q = encodeURIComponent;

/** PIXm's example patients (Patient-MohrAlice-Red, Patient-MaidenAlice-Red), in the RED domain. */
const mohr = (mrn: string, given: string, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Patient',
  identifier: [{ system: RED, value: mrn }],
  active: true,
  name: [{ family: 'MOHR', given: [given] }],
  gender: 'female',
  birthDate: '1958-01-30',
  ...extra,
});

/** The profile's "resolve duplicate" body: IHERED-m94 replaced by IHERED-994 (2:3.104.4.2.5). */
const resolved = (duplicate: string, survivor: Record<string, unknown>) => mohr(duplicate, 'MAIDEN', {
  active: false,
  link: [{ other: survivor, type: 'replaced-by' }],
});

for (const driver of testDrivers) {
  describe(`client registry: PIXm ITI-104 resolve duplicate on ${driver}`, () => {
    let cr: RegistryUnderTest;
    const feed = async (mrn: string, body: Record<string, unknown>) => cr.request('PUT', `Patient?identifier=${q(`${RED}|${mrn}`)}`, body);
    const register = async (mrn: string, given: string) => {
      const reply = await feed(mrn, mohr(mrn, given));
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      return reply.body as { id: string; link?: Array<{ type: string; other: { reference: string } }> };
    };
    const pix = (mrn: string) => cr.request('GET', `Patient/$ihe-pix?sourceIdentifier=${q(`${RED}|${mrn}`)}`);

    before(async () => {
      cr = await startRegistry(driver);
      const red = { ...namingSystem('IHERED', 'http://ihe-red.example.org/mrn', RED_OID) };
      assert.equal((await cr.request('POST', 'NamingSystem', red)).status, 201);
    });
    after(async () => {
      await cr.close();
    });

    test("the profile's example: a conditional PUT of the duplicate with replaced-by (by identifier) merges it into the survivor", async () => {
      const survivor = await register('IHERED-994', 'ALICE');
      const duplicate = await register('IHERED-m94', 'MAIDEN');
      const reply = await feed('IHERED-m94', resolved('IHERED-m94', { identifier: { system: RED, value: 'IHERED-994' } }));
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.equal(reply.body.id, duplicate.id, 'the answer is the duplicate as it now stands');
      assert.equal(reply.body.active, false);
      const replacedBy = reply.body.link.find((l: { type: string }) => l.type === 'replaced-by');
      assert.equal(replacedBy?.other.reference, `Patient/${survivor.id}`, JSON.stringify(reply.body.link));
      assert.deepEqual(replacedBy.other.identifier, { system: RED, value: 'IHERED-994' }, 'the identifier the source named the survivor by is kept beside the reference');
      assert.equal(reply.headers.get('etag'), `W/"${reply.body.meta.versionId}"`);
      assert.match(reply.headers.get('location') ?? '', new RegExp(`/Patient/${duplicate.id}/_history/${reply.body.meta.versionId}$`));
      assert.equal(goldenOf(reply.body), goldenOf(survivor), "the duplicate's golden link moved to the survivor's person");
      const replaces = (await cr.request('GET', `Patient/${survivor.id}`)).body;
      assert.ok(replaces.link.some((l: { type: string; other: { reference: string } }) => l.type === 'replaces' && l.other.reference === `Patient/${duplicate.id}`));
      assert.equal(replaces.active, true, 'the survivor stays active');

      // PIXm: the duplicate's identifier is deprecated (no identifiers); the survivor's no longer lists the duplicate.
      const old = await pix('IHERED-m94');
      assert.equal(old.status, 200, JSON.stringify(old.body));
      assert.equal(old.body.parameter, undefined, JSON.stringify(old.body));
      const current = await pix('IHERED-994');
      assert.equal(current.status, 200);
      assert.ok(!JSON.stringify(current.body).includes(duplicate.id), JSON.stringify(current.body));

      // A resend (the answer was lost) changes nothing: same version, 200.
      const again = await feed('IHERED-m94', resolved('IHERED-m94', { identifier: { system: RED, value: 'IHERED-994' } }));
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.equal(again.body.meta.versionId, reply.body.meta.versionId);
      // The same link with other content: a write to a merged record (409), not a resend that drops the change.
      const changed = await feed('IHERED-m94', { ...resolved('IHERED-m94', { identifier: { system: RED, value: 'IHERED-994' } }), name: [{ family: 'CHANGED', given: ['MAIDEN'] }] });
      assert.equal(changed.status, 409, JSON.stringify(changed.body));
      // Made active again with its link: a write to a merged record (409), not a resend.
      const reactivated = await feed('IHERED-m94', { ...resolved('IHERED-m94', { identifier: { system: RED, value: 'IHERED-994' } }), active: true });
      assert.equal(reactivated.status, 409, JSON.stringify(reactivated.body));
    });

    test('by id and by reference; a survivor named both ways must be the same record', async () => {
      const survivor = await register('IHERED-R1', 'ROSE');
      const duplicate = await register('IHERED-R2', 'ROSA');
      const wrong = await cr.request('PUT', `Patient/${duplicate.id}`, { ...resolved('IHERED-R2', { reference: `Patient/${survivor.id}`, identifier: { system: RED, value: 'IHERED-m94' } }), id: duplicate.id });
      assert.equal(wrong.status, 422, JSON.stringify(wrong.body));
      assert.equal(wrong.body.resourceType, 'OperationOutcome');
      const reply = await cr.request('PUT', `Patient/${duplicate.id}`, { ...resolved('IHERED-R2', { reference: `${cr.base}/Patient/${survivor.id}` }), id: duplicate.id });
      assert.equal(reply.status, 200, JSON.stringify(reply.body));
      assert.equal(reply.body.active, false);
      assert.equal(goldenOf(reply.body), goldenOf(survivor));
    });

    test('a survivor no record holds, the duplicate itself, or a record already merged elsewhere: refused, nothing written', async () => {
      const duplicate = await register('IHERED-N1', 'NORA');
      const before = (await cr.request('GET', `Patient/${duplicate.id}`)).body;
      for (const [status, survivor] of [
        [422, { identifier: { system: RED, value: 'IHERED-NOBODY' } }],
        [422, { identifier: { system: RED, value: 'IHERED-N1' } }],
        [422, { identifier: { value: 'no-system' } }],
        [422, { reference: 'Patient/../x' }],
        [422, {}],
      ] as Array<[number, Record<string, unknown>]>) {
        const reply = await feed('IHERED-N1', resolved('IHERED-N1', survivor));
        assert.equal(reply.status, status, `${JSON.stringify(survivor)}: ${JSON.stringify(reply.body)}`);
        assert.equal(reply.body.resourceType, 'OperationOutcome');
      }
      const twoLinks = await feed('IHERED-N1', { ...mohr('IHERED-N1', 'NORA'), link: [{ other: { reference: 'Patient/a' }, type: 'replaced-by' }, { other: { reference: 'Patient/b' }, type: 'replaced-by' }] });
      assert.equal(twoLinks.status, 400, JSON.stringify(twoLinks.body));
      assert.deepEqual((await cr.request('GET', `Patient/${duplicate.id}`)).body, before, 'nothing was written');

      // Merged into one record, the duplicate cannot be merged into another.
      const first = await register('IHERED-N2', 'NORAH');
      const second = await register('IHERED-N3', 'NORAA');
      assert.equal((await feed('IHERED-N1', resolved('IHERED-N1', { identifier: { system: RED, value: 'IHERED-N2' } }))).status, 200);
      const elsewhere = await feed('IHERED-N1', resolved('IHERED-N1', { identifier: { system: RED, value: 'IHERED-N3' } }));
      assert.equal(elsewhere.status, 409, JSON.stringify(elsewhere.body));
      assert.ok(first.id && second.id);
    });

    test('chained merges: a record merged into one that is merged in turn follows it to the survivor\'s person', async () => {
      // Three different people by their demographics, so that only the merges link them.
      const person = (mrn: string, family: string, birthDate: string) => ({ ...mohr(mrn, 'C'), name: [{ family, given: ['C'] }], birthDate });
      const registerAs = async (mrn: string, family: string, birthDate: string) => (await feed(mrn, person(mrn, family, birthDate))).body as { id: string };
      const x = await registerAs('IHERED-C1', 'XANDER', '1971-01-01');
      const y = await registerAs('IHERED-C2', 'YATES', '1982-02-02');
      const z = await registerAs('IHERED-C3', 'ZULU', '1993-03-03');
      const merge = (dup: string, family: string, birthDate: string, into: string) =>
        feed(dup, { ...person(dup, family, birthDate), active: false, link: [{ other: { identifier: { system: RED, value: into } }, type: 'replaced-by' }] });
      assert.equal((await merge('IHERED-C2', 'YATES', '1982-02-02', 'IHERED-C1')).status, 200);
      const xGolden = goldenOf((await cr.request('GET', `Patient/${x.id}`)).body)!;
      assert.equal(goldenOf((await cr.request('GET', `Patient/${y.id}`)).body), xGolden);
      assert.equal((await merge('IHERED-C1', 'XANDER', '1971-01-01', 'IHERED-C3')).status, 200);
      const zGolden = goldenOf((await cr.request('GET', `Patient/${z.id}`)).body);
      assert.equal(goldenOf((await cr.request('GET', `Patient/${y.id}`)).body), zGolden, 'Y followed X to Z\'s golden record');
      assert.equal((await cr.request('GET', `Patient/${xGolden}`)).status, 410, 'X\'s old golden record, left with no record, is gone');
    });

    test('a duplicate the registry does not hold yet is registered, then merged (201)', async () => {
      const survivor = await register('IHERED-S1', 'SARAH');
      const reply = await feed('IHERED-S2', resolved('IHERED-S2', { identifier: { system: RED, value: 'IHERED-S1' } }));
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      assert.equal(reply.body.active, false);
      assert.equal(goldenOf(reply.body), goldenOf(survivor));
    });
  });
}
