/**
 * Protected identifier domains and the sender's identity, on both drivers: only the domain's
 * owning client may assign its identifiers; the registry knows the client from the router's signed
 * assertion alone (a client's own X-OpenHIM-ClientID is worth nothing, a forged signature is 401),
 * directly and through the router.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { bodyDigest, senderIdentityHeaders, verifySenderIdentity } from '../../src/common/sender-identity.js';
import { testDrivers } from '../support/databases.js';
import { basic, startIol, type Iol } from '../interop-layer/support.js';
import { patient, requestJson, startRegistry, type RegistryUnderTest } from './support.js';

const SECRET = 'test-sender-identity-secret-0123456789';
const NID = 'http://moh.example.org/nid';
const OWNER_EXTENSION = 'http://instant-openhie.org/fhir/StructureDefinition/cr-domain-owner';
const importer = JSON.parse(readFileSync(new URL('../../../packages/client-registry/importer/openhim-config.json', import.meta.url), 'utf8'));

test('a sender assertion verifies only with the secret, for its method, target and body, while fresh', () => {
  const now = Date.now();
  const target = '/clientregistry/fhir/Patient?_format=json';
  const body = Buffer.from('{"resourceType":"Patient"}');
  const headers = senderIdentityHeaders(SECRET, 'moh-client', 'POST', target, body, now);
  const digest = bodyDigest(body);
  assert.deepEqual(verifySenderIdentity(SECRET, headers, 'POST', target, digest, now), { ok: true, clientID: 'moh-client', roles: [], signature: headers['x-instant-sender-signature'], expiresAtMs: now + 5 * 60_000 });
  assert.equal(verifySenderIdentity('another-secret', headers, 'POST', target, digest, now).ok, false);
  assert.equal(verifySenderIdentity(SECRET, headers, 'PUT', target, digest, now).ok, false);
  assert.equal(verifySenderIdentity(SECRET, headers, 'POST', '/clientregistry/fhir/NamingSystem?_format=json', digest, now).ok, false);
  assert.equal(verifySenderIdentity(SECRET, headers, 'POST', '/clientregistry/fhir/Patient', digest, now).ok, false, 'another query');
  assert.equal(verifySenderIdentity(SECRET, headers, 'POST', target, bodyDigest(Buffer.from('{"resourceType":"Patient","id":"x"}')), now).ok, false, 'another body');
  assert.equal(verifySenderIdentity(SECRET, { ...headers, 'x-openhim-clientid': 'other' }, 'POST', target, digest, now).ok, false);
  assert.equal(verifySenderIdentity(SECRET, headers, 'POST', target, digest, now + 10 * 60_000).ok, false, 'stale');
  assert.equal(verifySenderIdentity(SECRET, { 'x-openhim-clientid': 'moh-client' }, 'POST', '/x', digest, now).ok, 'absent', 'an unsigned clientID is no identity');
  assert.equal(verifySenderIdentity(SECRET, { ...headers, 'x-instant-sender-nonce': 'another-nonce-0123456789' }, 'POST', target, digest, now).ok, false, 'another nonce');
  const { 'x-instant-sender-nonce': _nonce, ...withoutNonce } = headers;
  assert.equal(verifySenderIdentity(SECRET, withoutNonce, 'POST', target, digest, now).ok, false, 'no nonce');
  assert.notEqual(senderIdentityHeaders(SECRET, 'moh-client', 'POST', target, body, now)['x-instant-sender-signature'], headers['x-instant-sender-signature'], 'the same request in the same millisecond is signed anew');
});

/** The router's headers for a request as it will be sent (target with query, body bytes). */
const vouch = (client: string, method: string, url: string, body?: unknown, roles: string[] = []) => {
  const u = new URL(url);
  return senderIdentityHeaders(SECRET, client, method, u.pathname + u.search, body === undefined ? undefined : Buffer.from(JSON.stringify(body)), Date.now(), roles);
};

for (const driver of testDrivers) {
  describe(`client registry: protected domains and the sender's identity on ${driver}`, () => {
    let cr: RegistryUnderTest;
    let downgrading: RegistryUnderTest;
    const post = (registry: RegistryUnderTest, path: string, body: unknown, client?: string, extra: Record<string, string> = {}) =>
      requestJson(`${registry.base}/${path}`, 'POST', body, { ...(client ? vouch(client, 'POST', `${registry.base}/${path}`, body) : {}), ...extra });

    before(async () => {
      cr = await startRegistry(driver, { OPENHIM_SENDER_IDENTITY_SECRET: SECRET, CLIENT_REGISTRY_PROTECTED_DOMAINS: `${NID}=moh-client` });
      downgrading = await startRegistry(driver, { OPENHIM_SENDER_IDENTITY_SECRET: SECRET, CLIENT_REGISTRY_PROTECTED_DOMAINS: `${NID}=moh-client`, CLIENT_REGISTRY_PROTECTED_DOMAIN_MODE: 'downgrade' });
    });
    after(async () => {
      await cr.close();
      await downgrading.close();
    });

    test('only the owning client, vouched for by the router, assigns identifiers in a protected domain', async () => {
      const person = patient({ ids: [[NID, 'NID-1']], family: 'Sakala', given: 'Mary', birthDate: '1988-08-08' });
      const anonymous = await post(cr, 'Patient', person);
      assert.equal(anonymous.status, 403, JSON.stringify(anonymous.body));
      assert.match(anonymous.body.issue[0].diagnostics, /protected.*moh-client.*anonymous/);
      const claimed = await post(cr, 'Patient', person, undefined, { 'x-openhim-clientid': 'moh-client' });
      assert.equal(claimed.status, 403, 'a clientID header without the router\'s signature is no identity');
      const forged = await post(cr, 'Patient', person, undefined, { 'x-openhim-clientid': 'moh-client', 'x-instant-sender-timestamp': String(Date.now()), 'x-instant-sender-signature': 'AAAA' });
      assert.equal(forged.status, 401, JSON.stringify(forged.body));
      assert.equal(forged.body.resourceType, 'OperationOutcome');
      const other = await post(cr, 'Patient', person, 'clinic-client');
      assert.equal(other.status, 403);
      assert.match(other.body.issue[0].diagnostics, /client clinic-client/);
      const owner = await post(cr, 'Patient', person, 'moh-client');
      assert.equal(owner.status, 201, JSON.stringify(owner.body));

      // The record is its owner's: another client may not change it (record-owners.ts), even resending the
      // identifier the record already has; the owner may, and add another domain's identifier.
      const update = { ...owner.body, identifier: [...owner.body.identifier, { system: 'urn:test:clinic', value: 'C-9' }] };
      const foreign = await requestJson(`${cr.base}/Patient/${owner.body.id}`, 'PUT', update, vouch('clinic-client', 'PUT', `${cr.base}/Patient/${owner.body.id}`, update));
      assert.equal(foreign.status, 403, JSON.stringify(foreign.body));
      const resent = await requestJson(`${cr.base}/Patient/${owner.body.id}`, 'PUT', update, vouch('moh-client', 'PUT', `${cr.base}/Patient/${owner.body.id}`, update));
      assert.equal(resent.status, 200, JSON.stringify(resent.body));
      assert.equal(((await cr.request('GET', 'Patient?family=sakala&_tag:not=http://instant-openhie.org/fhir/cr-record-type|golden')).body.entry?.length ?? 0), 1, 'nothing of the refused writes was kept');
    });

    test('a captured assertion vouches for its own write once, never for another body or query (401, nothing stored)', async () => {
      const signed = patient({ ids: [[NID, 'NID-R1']], family: 'Replay', given: 'Signed', birthDate: '1991-01-01' });
      const other = patient({ ids: [[NID, 'NID-R2']], family: 'Replay', given: 'Other', birthDate: '1992-02-02' });
      const captured = vouch('moh-client', 'POST', `${cr.base}/Patient`, signed);
      const swapped = await requestJson(`${cr.base}/Patient`, 'POST', other, captured);
      assert.equal(swapped.status, 401, JSON.stringify(swapped.body));
      assert.match(swapped.body.issue[0].diagnostics, /does not match/);
      const queried = await requestJson(`${cr.base}/Patient?_format=json`, 'POST', signed, captured);
      assert.equal(queried.status, 401, 'another query string');
      assert.equal((await cr.request('GET', 'Patient?family=replay')).body.entry?.length ?? 0, 0, 'nothing stored');
      assert.equal((await requestJson(`${cr.base}/Patient`, 'POST', signed, captured)).status, 201, 'the request it was made for passes');
      const replayed = await requestJson(`${cr.base}/Patient`, 'POST', signed, captured);
      assert.equal(replayed.status, 401, 'once');
      assert.match(replayed.body.issue[0].diagnostics, /already used/);
      assert.equal(((await cr.request('GET', 'Patient?family=replay&_tag:not=http://instant-openhie.org/fhir/cr-record-type|golden')).body.entry?.length ?? 0), 1, 'one record, not two');
      const read = vouch('moh-client', 'GET', `${cr.base}/Patient?family=replay`);
      for (let n = 0; n < 2; n++) assert.equal((await requestJson(`${cr.base}/Patient?family=replay`, 'GET', undefined, read)).status, 200, 'a read is not recorded');
    });

    test('downgrade mode keeps another client\'s identifier as secondary', async () => {
      const reply = await post(downgrading, 'Patient', patient({ ids: [[NID, 'NID-2']], family: 'Tembo', given: 'Luka', birthDate: '1977-07-07' }), 'clinic-client');
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      assert.equal(reply.body.identifier[0].use, 'secondary');
      const owned = await post(downgrading, 'Patient', patient({ ids: [[NID, 'NID-3']], family: 'Tembo', given: 'Rose', birthDate: '1979-09-09' }), 'moh-client');
      assert.equal(owned.body.identifier[0].use, undefined);
    });

    test('a NamingSystem names its owner: a steward names it, only that client (or a steward) changes it', async () => {
      const system = {
        resourceType: 'NamingSystem', name: 'ClinicMrn', status: 'active', kind: 'identifier', date: '2024-01-01',
        uniqueId: [{ type: 'uri', value: 'http://clinic.example.org/mrn', preferred: true }], extension: [{ url: OWNER_EXTENSION, valueString: 'clinic-client' }],
      };
      assert.equal((await post(cr, 'NamingSystem', system, 'someone-else')).status, 403, 'a client names no other client as owner');
      assert.equal((await post(cr, 'NamingSystem', system, 'clinic-client')).status, 403, 'nor itself');
      const created = await requestJson(`${cr.base}/NamingSystem`, 'POST', system, vouch('a-steward', 'POST', `${cr.base}/NamingSystem`, system, ['client-registry-steward']));
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const path = `NamingSystem/${created.body.id}`;
      const claim = { ...created.body, extension: [{ url: OWNER_EXTENSION, valueString: 'someone-else' }] };
      const changed = await requestJson(`${cr.base}/${path}`, 'PUT', claim, vouch('someone-else', 'PUT', `${cr.base}/${path}`, claim));
      assert.equal(changed.status, 403);
      assert.equal((await cr.request('DELETE', path)).status, 403, 'nor delete it anonymously');
      const refused = await post(cr, 'Patient', patient({ ids: [['http://clinic.example.org/mrn', 'M-1']], family: 'Phiri', given: 'Ben', birthDate: '1966-06-06' }), 'moh-client');
      assert.equal(refused.status, 403, 'the NamingSystem\'s owner protects its domain');
    });
  });

  describe(`client registry: the router vouches for the client, on ${driver}`, () => {
    let iol: Iol;
    let cr: RegistryUnderTest;

    before(async () => {
      cr = await startRegistry(driver, { OPENHIM_SENDER_IDENTITY_SECRET: SECRET, CLIENT_REGISTRY_PROTECTED_DOMAINS: `${NID}=moh-client` });
      iol = await startIol(driver, { OPENHIM_SENDER_IDENTITY_SECRET: SECRET });
      const channel = { ...importer.Channels[0], routes: [{ ...importer.Channels[0].routes[0], host: '127.0.0.1', port: Number(new URL(cr.base).port) }] };
      assert.equal((await iol.call('POST', '/channels', channel)).status, 201);
      for (const clientID of ['moh-client', 'clinic-client']) {
        assert.equal((await iol.call('POST', '/clients', { ...importer.Clients[0], clientID, name: clientID, password: `${clientID}-password-1` })).status, 201);
      }
    });
    after(async () => {
      await iol.stop();
      await cr.close();
    });

    test('the authenticated client is the sender; a client-sent X-OpenHIM-ClientID changes nothing', async () => {
      const base = `${iol.router}/clientregistry/fhir`;
      const person = patient({ ids: [[NID, 'NID-7']], family: 'Ngoma', given: 'Alice', birthDate: '1993-03-03' });
      const other = await requestJson(`${base}/Patient`, 'POST', person, { authorization: basic('clinic-client', 'clinic-client-password-1'), 'x-openhim-clientid': 'moh-client' });
      assert.equal(other.status, 403, JSON.stringify(other.body));
      assert.match(other.body.issue[0].diagnostics, /client clinic-client/);
      const owner = await requestJson(`${base}/Patient`, 'POST', person, { authorization: basic('moh-client', 'moh-client-password-1') });
      assert.equal(owner.status, 201, JSON.stringify(owner.body));
      // The router signs the target with its query and the body as it sends them: the registry agrees.
      const queried = await requestJson(`${base}/Patient?_format=json`, 'POST', patient({ ids: [[NID, 'NID-8']], family: 'Ngoma', given: 'Bella', birthDate: '1994-04-04' }),
        { authorization: basic('moh-client', 'moh-client-password-1') });
      assert.equal(queried.status, 201, JSON.stringify(queried.body));
      const read = await requestJson(`${base}/Patient/${owner.body.id}?_format=json`, 'GET', undefined, { authorization: basic('moh-client', 'moh-client-password-1') });
      assert.equal(read.status, 200, 'a GET (no body) verifies too');
    });
  });
}
