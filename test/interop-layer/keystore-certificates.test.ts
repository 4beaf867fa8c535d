/** keystore/certificates.ts and pair-check.ts: PEM parsing, OpenHIM's certificate info, which pairs are served. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import selfsigned from 'selfsigned';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { certificateInfo, checkPrivateKeyPem, isEncryptedKey, parseCertificates } from '../../src/services/interop-layer/keystore/certificates.js';
import { judgePair } from '../../src/services/interop-layer/keystore/pair-check.js';
import { KeyUnlocker } from '../../src/services/interop-layer/keystore/key-unlocker.js';
import { unservableKeyReason } from '../../src/services/interop-layer/keystore/key-policy.js';
import { IolError } from '../../src/services/interop-layer/errors.js';

const subject = [
  { name: 'commonName', value: 'lab.example.org' },
  { name: 'countryName', value: 'ZA' },
  { shortName: 'ST', value: 'Western Cape' },
  { name: 'localityName', value: 'Cape Town' },
  { name: 'organizationName', value: 'Jembi' },
  { shortName: 'OU', value: 'HIE' },
];

test('certificate info has OpenHIM\'s fields, from the subject and validity', async () => {
  const pems = await selfsigned.generate(subject, { keyType: 'ec', algorithm: 'sha256' });
  const [cert] = parseCertificates(pems.cert, 'cert');
  const info = certificateInfo(cert!, pems.cert);
  assert.deepEqual(
    { ...info, validity: undefined },
    { commonName: 'lab.example.org', country: 'ZA', state: 'Western Cape', locality: 'Cape Town', organization: 'Jembi', organizationUnit: 'HIE', validity: undefined, data: pems.cert, fingerprint: cert!.fingerprint },
  );
  assert.ok(Date.parse(info.validity.end) > Date.parse(info.validity.start));
});

test('a chain parses in order; OpenSSL\'s subject=/issuer= lines beside the blocks are taken (as OpenHIM\'s chain.pem); a key, a cut block, or nothing is a 400', async () => {
  const [a, b] = await Promise.all([selfsigned.generate([{ name: 'commonName', value: 'a' }], { keyType: 'ec' }), selfsigned.generate([{ name: 'commonName', value: 'b' }], { keyType: 'ec' })]);
  assert.deepEqual(parseCertificates(`${a.cert}\r\n${b.cert}`, 'cert').map((c) => c.subject), ['CN=a', 'CN=b']);
  assert.deepEqual(parseCertificates(`subject=/CN=a\nissuer=/CN=a\n${a.cert}\nsubject=/CN=b\nissuer=/CN=b\n${b.cert}`, 'cert').map((c) => c.subject), ['CN=a', 'CN=b']);
  const cut = b.cert.slice(0, b.cert.indexOf('-----END'));
  for (const bad of ['', 'x', `${a.cert}${cut}`, a.private, `${a.cert}${a.private}`, 7]) {
    assert.throws(() => parseCertificates(bad, 'cert'), (e: IolError) => e.status === 400);
  }
});

const fixture = (name: string) => readFileSync(new URL(`../../../test/security/fixtures/${name}`, import.meta.url), 'utf8');

test('a pair is servable only when its key matches; an encrypted key waits for its passphrase', async () => {
  const unlocker = new KeyUnlocker(10_000);
  const a = await selfsigned.generate([{ name: 'commonName', value: 'a' }], { keyType: 'ec' });
  const b = await selfsigned.generate([{ name: 'commonName', value: 'b' }], { keyType: 'rsa', keySize: 2048, passphrase: 'pw' });
  assert.equal((await judgePair(unlocker, { cert: a.cert, key: a.private })).state, 'servable');
  assert.equal((await judgePair(unlocker, { cert: b.cert, key: a.private })).state, 'waiting');
  assert.equal(isEncryptedKey(b.private), true);
  assert.equal((await judgePair(unlocker, { cert: b.cert, key: b.private, passphrase: null })).state, 'waiting');
  assert.equal((await judgePair(unlocker, { cert: b.cert, key: b.private, passphrase: 'wrong' })).state, 'waiting');
  const served = await judgePair(unlocker, { cert: b.cert, key: b.private, passphrase: 'pw' });
  assert.equal(served.state, 'servable');
  // What the listeners get is the key decrypted, so applying it derives nothing.
  assert.equal(served.state === 'servable' && isEncryptedKey(served.key), false);
  assert.equal(checkPrivateKeyPem(`  ${a.private}  `), `${a.private.trim()}\n`);
  assert.throws(() => checkPrivateKeyPem(a.cert), (e: IolError) => e.status === 400);
});

test('key types clients cannot use are refused: RSA under 2048 bits, curves other than P-256/384/521, Ed25519, DSA, RSA-PSS', () => {
  const unservable = [
    generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey,
    generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey,
    generateKeyPairSync('ed25519').privateKey,
    generateKeyPairSync('dsa', { modulusLength: 1024, divisorLength: 160 }).privateKey,
    generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).privateKey,
  ];
  for (const key of unservable) assert.match(unservableKeyReason(key, 'the key') ?? '', /use RSA of at least 2048 bits, or EC on P-256, P-384 or P-521/, key.asymmetricKeyType);
  for (const namedCurve of ['prime256v1', 'secp384r1', 'secp521r1']) assert.equal(unservableKeyReason(generateKeyPairSync('ec', { namedCurve }).privateKey, 'the key'), undefined);
  assert.equal(unservableKeyReason(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, 'the key'), undefined);
});

test('a UTF-8 byte-order mark and an EC PARAMETERS block (openssl ecparam -genkey) are accepted', async () => {
  const a = await selfsigned.generate([{ name: 'commonName', value: 'a' }], { keyType: 'ec' });
  assert.equal(parseCertificates(`\uFEFF${a.cert}`, 'cert').length, 1);
  assert.equal(checkPrivateKeyPem(`\uFEFF${a.private}`), `${a.private.trim()}\n`);
  const withParameters = fixture('ecparams-p256.key');
  assert.match(withParameters, /EC PARAMETERS/);
  const key = checkPrivateKeyPem(withParameters);
  assert.doesNotMatch(key, /EC PARAMETERS/);
  assert.equal((await judgePair(new KeyUnlocker(10_000), { cert: fixture('ecparams-p256.crt'), key })).state, 'servable');
});

test('a slow encrypted key (5,000,000 PBKDF2 iterations) is decrypted on a worker thread, once', async () => {
  const unlocker = new KeyUnlocker(120_000);
  const delay = monitorEventLoopDelay({ resolution: 20 });
  delay.enable();
  const first = unlocker.unlock(fixture('slow-key.pem'), 'slow');
  const unlocked = await first;
  delay.disable();
  assert.equal(unlocked.state, 'plain');
  // Generous: decrypting on the event loop blocked it for the whole derivation (seconds).
  assert.ok(delay.max < 1e9, `event loop stalled ${Math.round(delay.max / 1e6)} ms`);
  // Asked again (the validity check, a reload, a trusted-list change): the same outcome, no new decryption.
  assert.equal(unlocker.unlock(fixture('slow-key.pem'), 'slow'), first);
  assert.equal((await judgePair(unlocker, { cert: fixture('slow-key.crt'), key: fixture('slow-key.pem'), passphrase: 'slow' })).state, 'servable');
});
