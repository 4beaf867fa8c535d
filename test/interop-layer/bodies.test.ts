import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forwardableHeaders } from '../../src/services/interop-layer/router/bodies.js';

test('headers named in Connection are not forwarded upstream, nor are the hop-by-hop ones', () => {
  const out = forwardableHeaders({
    connection: 'keep-alive, X-Secret-Hop',
    'x-secret-hop': 'internal',
    'keep-alive': 'timeout=5',
    'transfer-encoding': 'chunked',
    'content-type': 'application/fhir+json',
    accept: 'application/fhir+xml',
  });
  assert.deepEqual(out, { 'content-type': 'application/fhir+json', accept: 'application/fhir+xml' });
});
