/** The patient-registration mediator's reading of a visit: local patient references found and rewritten to the enterprise id. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { localPatientsOf, VisitReferenceError, withEnterpriseReferences } from '../../src/services/patient-registration/local-patient-references.js';

const MRN = 'http://clinic.example/mrn';
const encounter = { resourceType: 'Encounter', status: 'finished', subject: { reference: `Patient?identifier=${encodeURIComponent(`${MRN}|P-1`)}` } };
const observation = {
  resourceType: 'Observation', status: 'final', code: { text: 'weight' },
  subject: { identifier: { system: MRN, value: 'P-1' } },
  performer: [{ type: 'Patient', identifier: { system: MRN, value: 'P-2' } }],
  encounter: { reference: 'urn:uuid:1' },
  identifier: [{ system: 'http://clinic.example/obs', value: 'O-1' }],
};

test('conditional and logical references to local patients are found once each', () => {
  assert.deepEqual(localPatientsOf([encounter, observation]), [{ system: MRN, value: 'P-1' }, { system: MRN, value: 'P-2' }]);
});

test('they are rewritten to Patient/<enterprise id>; other references and identifiers are left alone', () => {
  const ids = new Map([[`${MRN}|P-1`, 'E-1'], [`${MRN}|P-2`, 'E-2']]);
  const rewritten = withEnterpriseReferences(observation, ids);
  assert.deepEqual(rewritten.subject, { reference: 'Patient/E-1' });
  assert.deepEqual(rewritten.performer, [{ reference: 'Patient/E-2' }]);
  assert.deepEqual(rewritten.encounter, { reference: 'urn:uuid:1' });
  assert.deepEqual(rewritten.identifier, observation.identifier);
  assert.deepEqual(withEnterpriseReferences(encounter, ids).subject, { reference: 'Patient/E-1' });
});

test('a server id, or an identifier without system, is refused with a reason', () => {
  assert.throws(() => localPatientsOf([{ resourceType: 'Encounter', subject: { reference: 'Patient/123' } }]), VisitReferenceError);
  assert.throws(() => localPatientsOf([{ resourceType: 'Encounter', subject: { identifier: { value: 'P-1' } } }]), /system and value/);
  assert.throws(() => localPatientsOf([{ resourceType: 'Encounter', subject: { reference: 'Patient?identifier=P-1' } }]), /system\|value/);
});

test('a logical reference that is not to a Patient is not a local patient', () => {
  assert.deepEqual(localPatientsOf([{ resourceType: 'Observation', performer: [{ type: 'Practitioner', identifier: { system: 'x', value: 'y' } }] }]), []);
});
