/** client-passwords.ts alone: which stored hashes verify, and what is refused when stored. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { clientHashToStore, schemeOf, verifyClientPassword } from '../../src/services/interop-layer/client-passwords.js';
import { ConcurrencyGate } from '../../src/services/interop-layer/concurrency-gate.js';
import { IolError } from '../../src/services/interop-layer/errors.js';

const OPENHIM_BCRYPT = '$2a$10$w8GyqInkl72LMIQNpMM/fenF6VsVukyya.c6fh/GRtrKq05C2.Zgy';

test('schemes: scrypt, bcrypt, any digest node:crypto computes; nothing else', () => {
  assert.equal(schemeOf('scrypt'), 'scrypt');
  assert.equal(schemeOf('bcrypt'), 'bcrypt');
  for (const name of ['sha512', 'sha256', 'sha1', 'md5']) assert.equal(schemeOf(name), 'crypto', name);
  assert.equal(schemeOf('rot13'), undefined);
  assert.equal(schemeOf(undefined), undefined);
});

test('stored as given: a bcrypt hash keeps its case; no algorithm and a bcrypt shape is bcrypt, else sha512', () => {
  assert.deepEqual(clientHashToStore(undefined, OPENHIM_BCRYPT, undefined, 14), { passwordAlgorithm: 'bcrypt', passwordHash: OPENHIM_BCRYPT, passwordSalt: '' });
  const sha512 = createHash('sha512').update('pw').update('salt').digest('hex').toUpperCase();
  assert.deepEqual(clientHashToStore(undefined, sha512, 'salt', 14), { passwordAlgorithm: 'sha512', passwordHash: sha512, passwordSalt: 'salt' });
});

test('refused when stored: a hash bcryptjs cannot verify ($2x$, $2$, bad alphabet), a digest that is not hex of its length, an empty hash', () => {
  const refused = (fn: () => unknown, pattern: RegExp) => assert.throws(fn, (error: unknown) => error instanceof IolError && error.status === 400 && pattern.test(error.message));
  refused(() => clientHashToStore('bcrypt', '$2x$04$abcdefghijklmnopqrstuu5Wq6CqvZ2Xh4FhXfWzGzk3CqQ1yYz1W', undefined, 10), /not a bcrypt hash/);
  refused(() => clientHashToStore('bcrypt', OPENHIM_BCRYPT.replace('$2a$', '$2$'), undefined, 10), /not a bcrypt hash/);
  refused(() => clientHashToStore('bcrypt', OPENHIM_BCRYPT.replace('w8Gy', 'w8G!'), undefined, 10), /not a bcrypt hash/);
  for (const y of ['$2b$', '$2y$']) assert.equal(clientHashToStore('bcrypt', OPENHIM_BCRYPT.replace('$2a$', y), undefined, 10).passwordAlgorithm, 'bcrypt');
  refused(() => clientHashToStore('sha512', 'abc', 'salt', 10), /128 hexadecimal/);
  refused(() => clientHashToStore('md5', 'z'.repeat(32), 'salt', 10), /32 hexadecimal/);
  refused(() => clientHashToStore(undefined, 'ABCDEF', 'salt', 10), /sha512.*128 hexadecimal/);
  refused(() => clientHashToStore('sha256', '', 'salt', 10), /empty/);
  refused(() => clientHashToStore('bcrypt', '', undefined, 10), /empty/);
});

test('a stored hash bcryptjs would throw on ($2x$, written past the API) is a failed login, not an error', async () => {
  assert.equal(await verifyClientPassword({ passwordAlgorithm: 'bcrypt', passwordHash: '$2x$04$abcdefghijklmnopqrstuu5Wq6CqvZ2Xh4FhXfWzGzk3CqQ1yYz1W' }, 'x', 10), false);
  assert.equal(await verifyClientPassword({ passwordAlgorithm: 'bcrypt', passwordHash: '$2a$04$abcdefghijklmnopqrstu!5Wq6CqvZ2Xh4FhXfWzGzk3CqQ1yYz1W' }, 'x', 10), false);
});

test('refused when stored: a bcrypt cost past the maximum, a malformed bcrypt hash, an unknown algorithm, scrypt given as a hash', () => {
  const refused = (fn: () => unknown, pattern: RegExp) => assert.throws(fn, (error: unknown) => error instanceof IolError && error.status === 400 && pattern.test(error.message));
  refused(() => clientHashToStore('bcrypt', OPENHIM_BCRYPT.replace('$10$', '$31$'), undefined, 14), /cost factor 31 is outside 4\.\.14/);
  refused(() => clientHashToStore('bcrypt', OPENHIM_BCRYPT.replace('$10$', '$15$'), undefined, 14), /cost factor 15/);
  refused(() => clientHashToStore('bcrypt', '$2a$10$short', undefined, 14), /not a bcrypt hash/);
  refused(() => clientHashToStore('rot13', 'x', undefined, 14), /rot13/);
  refused(() => clientHashToStore('scrypt', 'scrypt$1$1$1$a$b', undefined, 14), /scrypt/);
});

test('verification: OpenHIM\'s bcrypt vector, a hex digest in either case, and a stored cost past the maximum never verifying', async () => {
  assert.equal(await verifyClientPassword({ passwordAlgorithm: 'bcrypt', passwordHash: OPENHIM_BCRYPT }, 'password', 14), true);
  assert.equal(await verifyClientPassword({ passwordAlgorithm: 'bcrypt', passwordHash: OPENHIM_BCRYPT }, 'password', 9), false);
  assert.equal(await verifyClientPassword({ passwordAlgorithm: 'bcrypt', passwordHash: OPENHIM_BCRYPT.toLowerCase() }, 'password', 14), false);
  const md5 = createHash('md5').update('pw').update('salt').digest('hex');
  assert.equal(await verifyClientPassword({ passwordAlgorithm: 'md5', passwordHash: md5.toUpperCase(), passwordSalt: 'salt' }, 'pw', 14), true);
  assert.equal(await verifyClientPassword({ passwordAlgorithm: 'md5', passwordHash: md5, passwordSalt: 'salt' }, 'pw2', 14), false);
  assert.equal(await verifyClientPassword({ passwordAlgorithm: 'rot13', passwordHash: 'x' }, 'x', 14), false);
});

test('bcrypt verifications past the gate\'s bound fail at once instead of queueing on the event loop', async () => {
  const gate = new ConcurrencyGate(1);
  const secrets = { passwordAlgorithm: 'bcrypt', passwordHash: OPENHIM_BCRYPT };
  const [first, second] = await Promise.all([verifyClientPassword(secrets, 'password', 10, gate), verifyClientPassword(secrets, 'password', 10, gate)]);
  assert.equal(first, true);
  assert.equal(second, false); // not started: the slot was taken
  assert.equal(await verifyClientPassword(secrets, 'password', 10, gate), true); // the slot is free again
});

test('OpenHIM\'s own bcrypt hashes (cost 10) are within the default maximum cost', async () => {
  const { LIMITS } = await import('../../src/common/limits.js');
  assert.equal(LIMITS.clientBcryptMaxCost.default, 10);
});
