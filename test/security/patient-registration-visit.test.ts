/**
 * Attack round of 2026-12-04: the patient-registration mediator writes a clinic's visit to the
 * shared health record with its own access (it calls the record directly, not through the router),
 * so it must write only what a visit is: new resources about the clinic's registered patients. A
 * clinic client with the role `patient-registration` alone used to overwrite (PUT) or delete any
 * resource of the record through a visit's entries, file data under any patient by an absolute
 * URL or a `Patient?_id=` search, and read any resource back through a conditional create.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MediatorResponseBuilder } from '@instant-openhie/mediator-sdk';
import { recordVisit } from '../../src/services/patient-registration/visit.js';
import type { RegistrationConfig } from '../../src/services/patient-registration/config.js';

const MRN = 'http://clinic.example/mrn';
const config: RegistrationConfig = {
  clientRegistryBaseUrl: 'http://registry.invalid/clientregistry/fhir',
  sharedHealthRecordBaseUrl: 'http://record.invalid/fhir',
  enterpriseIdSystem: 'http://instant-openhie.org/fhir/sid/enterprise-id',
};
const subject = { reference: `Patient?identifier=${encodeURIComponent(`${MRN}|P-1`)}` };
const encounter = { resource: { resourceType: 'Encounter', status: 'finished', class: { code: 'AMB' }, subject }, request: { method: 'POST', url: 'Encounter' } };

/** A builder whose upstreams answer as a registry that knows P-1 (enterprise id E-1) and a record that takes every transaction. */
function fakeUpstreams() {
  const calls: Array<{ name: string; method: string; path: string; body?: string }> = [];
  const builder = {
    property() { return builder; },
    async orchestrate(name: string, request: { method: string; path: string; body?: string }, _call: unknown) {
      calls.push({ name, method: request.method, path: request.path, ...(request.body ? { body: request.body } : {}) });
      if (name.startsWith('resolve')) return { status: 200, body: JSON.stringify({ resourceType: 'Parameters', parameter: [{ name: 'targetId', valueReference: { reference: 'Patient/E-1' } }] }) };
      if (name.startsWith('read golden')) return { status: 200, body: JSON.stringify({ resourceType: 'Patient', id: 'E-1', name: [{ family: 'Banda' }] }) };
      return { status: 200, body: JSON.stringify({ resourceType: 'Bundle', type: 'transaction-response', entry: [] }) };
    },
  };
  const written = () => calls.filter((c) => c.name.startsWith('write'));
  return { builder: builder as unknown as MediatorResponseBuilder, written };
}

async function visit(...entries: unknown[]) {
  const upstreams = fakeUpstreams();
  const answer = await recordVisit({ resourceType: 'Bundle', type: 'transaction', entry: [encounter, ...entries] }, config, upstreams.builder);
  return { answer, written: upstreams.written() };
}

function assertRefused(result: Awaited<ReturnType<typeof visit>>, pattern: RegExp): void {
  assert.equal(result.answer.status, 422, JSON.stringify(result.answer.body));
  assert.match(JSON.stringify(result.answer.body), pattern);
  assert.equal(result.written.length, 0, 'nothing is written to the shared health record');
}

test('a visit of new resources about a registered patient is written, its patient reference rewritten', async () => {
  const { answer, written } = await visit({ resource: { resourceType: 'Observation', status: 'final', code: { text: 'weight' }, subject }, request: { method: 'POST', url: 'Observation' } });
  assert.equal(answer.status, 200);
  assert.equal(written.length, 1);
  assert.match(written[0]!.body!, /"reference":"Patient\/E-1"/);
});

test('a visit entry that updates, patches or deletes a record of the shared health record is refused before anything is written', async () => {
  const observation = { resourceType: 'Observation', id: 'o5', status: 'entered-in-error', code: { text: 'x' }, subject };
  assertRefused(await visit({ resource: observation, request: { method: 'PUT', url: 'Observation/o5' } }), /entry 1 is PUT Observation\/o5/);
  assertRefused(await visit({ resource: { resourceType: 'Basic', code: { text: 'x' } }, request: { method: 'DELETE', url: 'Observation/o6' } }), /DELETE/);
  assertRefused(await visit({ resource: observation, request: { method: 'PUT', url: 'Observation?code=x' } }), /PUT/);
  assertRefused(await visit({ resource: { resourceType: 'Parameters' }, request: { method: 'PATCH', url: 'Observation/o5' } }), /PATCH/);
  assertRefused(await visit({ resource: observation, request: { method: 'POST', url: 'Observation/o5' } }), /POST Observation\/o5/);
  assertRefused(await visit({ resource: observation, request: { method: 'POST', url: 'Encounter' } }), /POST Encounter/);
  assertRefused(await visit({ resource: observation }), /entry 1 has no request/);
});

test('a conditional create (which answers another record when it matches) is refused', async () => {
  const observation = { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject };
  assertRefused(await visit({ resource: observation, request: { method: 'POST', url: 'Observation', ifNoneExist: '_id=o5' } }), /ifNoneExist/);
  assertRefused(await visit({ resource: observation, request: { method: 'POST', url: 'Observation', ifMatch: 'W/"1"' } }), /ifMatch/);
});

test('a patient named any other way than by the clinic\'s identifier is refused: absolute URL, search, relative path, history', async () => {
  for (const reference of [
    'http://record.invalid/fhir/Patient/big',
    'https://elsewhere.example/fhir/Patient/big',
    'Patient?_id=big',
    'Patient?name=Banda',
    './Patient/big',
    'Patient/big/_history/1',
    'Pati%65nt/big',
  ]) {
    const observation = { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject: { reference } };
    assertRefused(await visit({ resource: observation, request: { method: 'POST', url: 'Observation' } }), /clinic's identifier/);
  }
  const performer = { resourceType: 'Observation', status: 'final', code: { text: 'x' }, subject, performer: [{ reference: 'http://record.invalid/fhir/Patient/big' }] };
  assertRefused(await visit({ resource: performer, request: { method: 'POST', url: 'Observation' } }), /clinic's identifier/);
});
