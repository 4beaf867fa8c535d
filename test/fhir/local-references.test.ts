/**
 * Which absolute references point into this server (storage/indexer.ts parseReference): the
 * configured bases, compared as RFC 3986 compares URLs: scheme and host without regard to case,
 * the path with it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseReference } from '../../src/fhir/storage/indexer.js';

const BASES = ['http://127.0.0.1:23447/fhir', 'http://localhost:23447/fhir'];

test('an absolute reference under a configured base is local, in any case of scheme and host', () => {
  for (const reference of ['Patient/p1', 'http://127.0.0.1:23447/fhir/Patient/p1', 'HTTP://LOCALHOST:23447/fhir/Patient/p1', 'http://LocalHost:23447/fhir/Patient/p1/_history/2']) {
    assert.deepEqual(parseReference(reference, BASES), { targetType: 'Patient', targetId: 'p1', local: 'Patient/p1' }, reference);
  }
  for (const reference of ['http://evil.example/fhir/Patient/p1', 'http://localhost:23447/FHIR/Patient/p1', 'http://localhost:23448/fhir/Patient/p1']) {
    assert.equal(parseReference(reference, BASES), undefined, reference);
  }
});

test('other spellings of a configured address are local too: IPv4 shorthand, IPv6 in full, an explicit default port', () => {
  const bases = ['http://127.0.0.1:23447/fhir', 'http://[::1]:23447/fhir', 'https://him.example.org/fhir'];
  for (const reference of [
    'http://127.1:23447/fhir/Patient/p1',
    'http://0x7f.0.0.1:23447/fhir/Patient/p1',
    'http://[0:0:0:0:0:0:0:1]:23447/fhir/Patient/p1',
    'https://him.example.org:443/fhir/Patient/p1',
    'https://HIM.Example.ORG/fhir/Patient/p1',
  ]) {
    assert.deepEqual(parseReference(reference, bases), { targetType: 'Patient', targetId: 'p1', local: 'Patient/p1' }, reference);
  }
  for (const reference of [
    'http://127.0.0.2:23447/fhir/Patient/p1',
    'https://him.example.org:8443/fhir/Patient/p1',
    'http://him.example.org/fhir/Patient/p1',
    'http://[::2]:23447/fhir/Patient/p1',
    'http://127.1:23447/other/Patient/p1',
  ]) {
    assert.equal(parseReference(reference, bases), undefined, reference);
  }
});
