/**
 * checkRequiredBindings (src/fhir/bindings.ts) on its own, against the core R4 value sets: which
 * codes satisfy a required or extensible binding, and which resources are looked into.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Resource } from '@medplum/fhirtypes';
import { checkRequiredBindings } from '../../src/fhir/bindings.js';
import { loadDefinitions } from '../../src/fhir/definitions.js';

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any
const CS = 'http://terminology.hl7.org/CodeSystem/condition-clinical';
const condition = (clinicalStatus: Json): Json => ({ resourceType: 'Condition', subject: { reference: 'Patient/p1' }, clinicalStatus });
const issues = (resource: Json) => {
  loadDefinitions();
  return checkRequiredBindings(resource as Resource).map((i) => `${i.severity} ${i.expression?.[0]}: ${i.details?.text}`);
};

test('required: a code of the set passes; outside it, with no system, or text only, is an error', () => {
  assert.deepEqual(issues(condition({ coding: [{ system: CS, code: 'active' }] })), []);
  assert.deepEqual(issues(condition({ coding: [{ code: 'x' }, { system: CS, code: 'active' }] })), []);
  assert.match(issues(condition({ coding: [{ system: CS, code: 'banana' }] }))[0]!, /^error Condition.clinicalStatus: .*banana is not in the required/);
  assert.match(issues(condition({ coding: [{ code: 'active' }] }))[0]!, /^error Condition.clinicalStatus: code "active" has no system/);
  assert.match(issues(condition({ text: 'active' }))[0]!, /^error Condition.clinicalStatus: no code provided, and a code is required from the value set/);
  assert.match(issues(condition({ coding: [{ system: CS, display: 'Active' }] }))[0]!, /no code provided/);
});

test('extensible: outside the set or with no system is a warning, text alone is fine', () => {
  const obs = (interpretation: Json): Json => ({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, interpretation: [interpretation] });
  assert.deepEqual(issues(obs({ text: 'odd' })), []);
  assert.match(issues(obs({ coding: [{ code: 'H' }] }))[0]!, /^warning Observation.interpretation\[0\]: code "H" has no system/);
});

test('contained resources and resources inside a Bundle or Parameters are checked too', () => {
  const bad = condition({ coding: [{ system: CS, code: 'banana' }] });
  assert.match(issues({ resourceType: 'Encounter', status: 'finished', contained: [{ id: 'c', ...bad }] })[0]!, /Encounter\.contained\[0\]\.clinicalStatus/);
  assert.match(issues({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: bad }] })[0]!, /Bundle\.entry\[0\]\.resource\.clinicalStatus/);
  assert.match(issues({ resourceType: 'Parameters', parameter: [{ name: 'r', resource: bad }] })[0]!, /Parameters\.parameter\[0\]\.resource\.clinicalStatus/);
  // A resource type that is not one is not looked into (and validation refuses it elsewhere).
  assert.deepEqual(issues({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'constructor', clinicalStatus: { text: 'x' } } }] }), []);
});
