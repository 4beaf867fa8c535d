/**
 * The patient-registration mediator acts for the clinic the router vouched for (a review's
 * finding, reproduced first): it called the client registry without a sender, so its
 * registrations had no owner, and a clinic that sent another clinic's patient identifier got that
 * patient's records back (a conditional create answers the record it matches). Now, through the
 * router with the sender identity secret set:
 * - a registration is recorded as the clinic's (the registry's record-owner tag);
 * - another clinic sending that identifier gets 403 and nothing of the record;
 * - the router's assertion is checked by the mediator (a forged one is 401) and used once (a
 *   captured request played again is 401: a visit replayed would be stored twice), in no other
 *   spelling either (a reviewer replayed one with `=` appended);
 * - a visit for another clinic's patient, or for a record registered without an owner, is 403,
 *   and a visit's answer carries the visit's own entries only (it carried the golden record's
 *   demographics: a reviewer read another clinic's patient that way);
 * - a caller without an assertion (the mediator's own port) is 401 while the secret is set.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { SettingsMap } from '../../src/platform/settings.js';
import { createLogger } from '../../src/common/logger.js';
import { bodyDigest, senderIdentityHeaders, verifySenderIdentity } from '../../src/common/sender-identity.js';
import { patientRegistrationService } from '../../src/services/patient-registration/index.js';
import { sharedHealthRecordService } from '../../src/services/shared-health-record/index.js';
import { openTestDatabase, type TestDatabase } from '../support/databases.js';
import { RECORD_OWNER_SYSTEM } from '../../src/services/client-registry/record-owners.js';
import { UsedSignaturesInMemory } from '../../src/common/used-signatures-in-memory.js';
import type { RunningService } from '../../src/services/service.js';
import { basic, startIol, type Iol } from '../interop-layer/support.js';
import { startRegistry, type RegistryUnderTest } from '../client-registry/support.js';
import { freePort } from '../support/cli.js';

const SECRET = 'test-sender-identity-secret-registration-0123';
const MRN = 'http://clinic-a.example.org/mrn';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('patient registration acts for the clinic the router vouched for', () => {
  let iol: Iol;
  let registry: RegistryUnderTest;
  let mediator: RunningService;
  let record: RunningService;
  let recordDatabase: TestDatabase;
  const clinicA = { id: 'clinic-a', password: `pw-${randomUUID()}` };
  const clinicB = { id: 'clinic-b', password: `pw-${randomUUID()}` };

  before(async () => {
    iol = await startIol('pglite', { OPENHIM_SENDER_IDENTITY_SECRET: SECRET });
    registry = await startRegistry('pglite', { OPENHIM_SENDER_IDENTITY_SECRET: SECRET });
    recordDatabase = await openTestDatabase('pglite');
    record = await sharedHealthRecordService.start({ name: 'shared-health-record', db: recordDatabase.db, logger: createLogger(), stateDir: iol.stateDir, settings: new SettingsMap({ FHIR_DATASTORE_PORT: '0' }) });
    const registryUrl = new URL(registry.base);
    const recordUrl = new URL(record.endpoints.fhir!);
    const api = new URL(iol.api);
    mediator = await patientRegistrationService.start({
      name: 'patient-registration', db: undefined as never, logger: createLogger(), stateDir: iol.stateDir,
      settings: new SettingsMap({
        PATIENT_REGISTRATION_PORT: '0',
        CLIENT_REGISTRY_HOST: registryUrl.hostname, CLIENT_REGISTRY_PORT: registryUrl.port,
        FHIR_DATASTORE_HOST: recordUrl.hostname, FHIR_DATASTORE_PORT: recordUrl.port,
        OPENHIM_API_HOST: api.hostname, OPENHIM_API_PORT: api.port,
        OPENHIM_ROOT_EMAIL: iol.rootEmail, OPENHIM_ROOT_PASSWORD: iol.rootPassword,
        OPENHIM_SENDER_IDENTITY_SECRET: SECRET,
      }),
    });
    for (const clinic of [clinicA, clinicB]) {
      const created = await iol.call('POST', '/clients', { clientID: clinic.id, name: clinic.id, roles: ['patient-registration'], password: clinic.password });
      assert.equal(created.status, 201, JSON.stringify(created.body));
    }
  });

  after(async () => {
    await mediator?.stop();
    await record?.stop();
    await recordDatabase?.dispose();
    await registry?.close();
    await iol?.stop();
  });

  /** POST /registration/<what> through the router as a clinic; the router's channel cache may lag a moment. */
  async function send(what: 'Patient' | 'visit', clinic: { id: string; password: string }, body: unknown): Promise<{ status: number; body: Json }> {
    for (let attempt = 0; ; attempt++) {
      const response = await fetch(`${iol.router}/registration/${what}`, {
        method: 'POST', headers: { authorization: basic(clinic.id, clinic.password), 'content-type': 'application/fhir+json' }, body: JSON.stringify(body),
      });
      const text = await response.text();
      if (response.status === 404 && attempt < 50) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      return { status: response.status, body: text ? JSON.parse(text) as Json : {} };
    }
  }

  const register = (clinic: { id: string; password: string }, body: unknown) => send('Patient', clinic, body);
  const visitOf = (value: string) => ({
    resourceType: 'Bundle', type: 'transaction', entry: [{
      resource: { resourceType: 'Encounter', status: 'finished', class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }, subject: { reference: `Patient?identifier=${encodeURIComponent(`${MRN}|${value}`)}` } },
      request: { method: 'POST', url: 'Encounter' },
    }],
  });
  const person = (value: string) => ({
    resourceType: 'Patient', identifier: [{ system: MRN, value }], name: [{ family: 'Mwale', given: ['Chifundo'] }], gender: 'female', birthDate: '1987-03-14',
  });
  const parameter = (answer: Json, name: string): Json => (answer.parameter as Json[]).find((p) => p.name === name)!;

  test('a registration through the router is the clinic\'s own record in the registry; registering again is answered to that clinic', async () => {
    const value = `A-${randomUUID().slice(0, 8)}`;
    const first = await register(clinicA, person(value));
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const source = parameter(first.body, 'patient').resource as Json;
    const owners = (source.meta?.tag ?? []).filter((t: Json) => t.system === RECORD_OWNER_SYSTEM).map((t: Json) => t.code);
    assert.deepEqual(owners, [clinicA.id], 'the registry recorded the clinic as the owner');
    const again = await register(clinicA, person(value));
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(parameter(again.body, 'outcome').valueCode, 'already-registered');
  });

  test('another clinic sending that identifier gets 403 and nothing of the record', async () => {
    const value = `A-${randomUUID().slice(0, 8)}`;
    assert.equal((await register(clinicA, person(value))).status, 201);
    const probe = await register(clinicB, { ...person(value), name: [{ family: 'Anyone' }] });
    assert.equal(probe.status, 403, JSON.stringify(probe.body));
    assert.equal(probe.body.resourceType, 'OperationOutcome');
    const text = JSON.stringify(probe.body);
    assert.doesNotMatch(text, /Mwale|Chifundo|1987-03-14/, 'none of the record is shown');
    assert.match(text, /registered in the client registry by another client/);
  });

  test('the mediator refuses a forged assertion and one played again (401), and takes a caller without one as anonymous', async () => {
    const url = new URL(mediator.endpoints.http!);
    const body = JSON.stringify(person(`A-${randomUUID().slice(0, 8)}`));
    const post = (headers: Record<string, string>) => fetch(`${url.origin}/registration/Patient`, { method: 'POST', headers: { 'content-type': 'application/fhir+json', ...headers }, body });

    const forged = senderIdentityHeaders('not-the-secret-0123456789abcdef', clinicA.id, 'POST', '/registration/Patient', Buffer.from(body));
    const refused = await post(forged);
    assert.equal(refused.status, 401, await refused.text());

    const vouched = senderIdentityHeaders(SECRET, clinicA.id, 'POST', '/registration/Patient', Buffer.from(body), Date.now(), ['patient-registration']);
    const once = await post(vouched);
    // Called directly, the mediator answers as to the router: application/json+openhim, the clinic's answer inside.
    assert.equal((await once.json() as { response: { status: number } }).response.status, 201);
    const replay = await post(vouched);
    assert.equal(replay.status, 401, 'a captured request played again');
    assert.match(await replay.text(), /already used/);

    const anonymous = await fetch(`${url.origin}/registration/Patient`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(person(`N-${randomUUID().slice(0, 8)}`)) });
    assert.equal(anonymous.status, 401, 'no assertion: not through the router');
    assert.match(await anonymous.text(), /through the interoperability layer's router/);
  });

  test('a visit is answered with its own entries; another clinic\'s visit for that patient is 403 and writes nothing', async () => {
    const value = `A-${randomUUID().slice(0, 8)}`;
    assert.equal((await register(clinicA, person(value))).status, 201);
    const own = await send('visit', clinicA, visitOf(value));
    assert.equal(own.status, 200, JSON.stringify(own.body));
    assert.equal(own.body.entry.length, 1, 'one entry: the Encounter');
    assert.equal(own.body.entry[0].response.status, '201 Created');
    assert.doesNotMatch(JSON.stringify(own.body), /Mwale|Chifundo/, 'the golden record\'s demographics are not in the answer');
    const encounters = async () => ((await (await fetch(`${record.endpoints.fhir}/Encounter?_summary=count`)).json()) as Json).total as number;
    const before = await encounters();
    const probe = await send('visit', clinicB, visitOf(value));
    assert.equal(probe.status, 403, JSON.stringify(probe.body));
    assert.doesNotMatch(JSON.stringify(probe.body), /Mwale|Chifundo|1987-03-14/);
    assert.equal(await encounters(), before, 'nothing written');
  });

  test('a record registered without an owner (on the registry\'s own port) is refused to every clinic, by registration and by visit', async () => {
    const value = `P-${randomUUID().slice(0, 8)}`;
    const direct = await fetch(`${registry.base}/Patient`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: JSON.stringify(person(value)) });
    assert.equal(direct.status, 201);
    for (const [what, body] of [['Patient', person(value)], ['visit', visitOf(value)]] as const) {
      const answer = await send(what, clinicB, body);
      assert.equal(answer.status, 403, `${what}: ${JSON.stringify(answer.body)}`);
      assert.match(JSON.stringify(answer.body), /without an owner/);
      assert.doesNotMatch(JSON.stringify(answer.body), /Mwale|Chifundo/);
    }
  });
});

test('the mediator remembers the assertions it took until they expire, and refuses a client past its share rather than forget one', () => {
  const used = new UsedSignaturesInMemory(3, 5);
  const now = 1_000_000;
  assert.equal(used.use('clinic-a', 'a', now + 10, now), 'recorded');
  assert.equal(used.use('clinic-a', 'a', now + 10, now), 'used');
  assert.equal(used.use('clinic-a', 'b', now + 10, now), 'recorded');
  assert.equal(used.use('clinic-a', 'c', now + 20, now), 'recorded');
  assert.equal(used.use('clinic-a', 'd', now + 20, now), 'full', 'three unexpired ones: a fourth is refused, none forgotten');
  assert.equal(used.use('clinic-b', 'e', now + 20, now), 'recorded', 'another client is not locked out');
  assert.equal(used.use('clinic-b', 'f', now + 20, now), 'recorded');
  assert.equal(used.use('clinic-c', 'g', now + 20, now), 'full', 'five in all');
  assert.equal(used.use('clinic-a', 'a', now + 10, now + 5), 'used');
  assert.equal(used.use('clinic-a', 'd', now + 20, now + 15), 'recorded', 'a and b expired and were dropped');
  assert.equal(used.size, 4);
});

test('an assertion is taken in its one canonical spelling only: padding, stray characters or other last bits are refused', () => {
  const body = Buffer.from('{}');
  const headers = senderIdentityHeaders(SECRET, 'clinic-a', 'POST', '/registration/visit', body);
  const check = (signature: string) => verifySenderIdentity(SECRET, { ...headers, 'x-instant-sender-signature': signature }, 'POST', '/registration/visit', bodyDigest(body));
  const given = headers['x-instant-sender-signature']!;
  assert.equal(check(given).ok, true);
  // The last of 43 characters carries 4 bits of the 256: its 2 low bits decode to nothing.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const sameBytes = given.slice(0, -1) + alphabet[alphabet.indexOf(given.at(-1)!) ^ 1]!;
  assert.deepEqual(Buffer.from(sameBytes, 'base64url'), Buffer.from(given, 'base64url'), 'another spelling of the same bytes');
  for (const variant of [`${given}=`, `${given}==`, `${given}.`, `!${given}`, sameBytes]) assert.equal(check(variant).ok, false, JSON.stringify(variant));
});
