/**
 * asFhirError: how a database error becomes an HTTP status. A full disk (PostgreSQL class 53,
 * insufficient resources) is the server's state, not the client's fault nor an unknown fault:
 * a 503 to retry that says what is wrong, not an anonymous 500.
 */
import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { asFhirError } from '../../src/fhir/outcome.js';

const pgError = (code: string, message: string) => Object.assign(new Error(message), { code });

test('a full disk (SQLSTATE 53100) is a 503 saying nothing was stored, with the cause', () => {
  const mapped = asFhirError(pgError('53100', 'could not extend file "base/5/16531": No space left on device'));
  assert.equal(mapped.status, 503);
  assert.equal(mapped.code, 'FHIR_UNAVAILABLE');
  assert.match(mapped.message, /out of disk space/);
  assert.match(mapped.message, /nothing of this request was stored/);
  assert.doesNotMatch(mapped.message, /base\/5/, 'no file path of the server');
});

test('the other insufficient-resources errors (out of memory, too many connections) are a 503 too', () => {
  assert.equal(asFhirError(pgError('53200', 'out of memory')).status, 503);
  assert.equal(asFhirError(pgError('53300', 'too many connections')).status, 503);
  assert.equal(asFhirError(pgError('XX000', 'internal')).status, 500);
});
