/** keystore/certificates.ts: PEM parsing, OpenHIM's certificate info, key/certificate matching. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import selfsigned from 'selfsigned';
import { certificateInfo, checkPrivateKeyPem, isEncryptedKey, keyMatchesCertificate, parseCertificates } from '../../src/services/interop-layer/keystore/certificates.js';
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

test('a chain parses in order; text beside the blocks, or none, is a 400', async () => {
  const [a, b] = await Promise.all([selfsigned.generate([{ name: 'commonName', value: 'a' }], { keyType: 'ec' }), selfsigned.generate([{ name: 'commonName', value: 'b' }], { keyType: 'ec' })]);
  assert.deepEqual(parseCertificates(`${a.cert}\r\n${b.cert}`, 'cert').map((c) => c.subject), ['CN=a', 'CN=b']);
  for (const bad of ['', 'x', `${a.cert}trailing`, a.private, 7]) {
    assert.throws(() => parseCertificates(bad, 'cert'), (e: IolError) => e.status === 400);
  }
});

test('a key matches its certificate only; an encrypted key needs its passphrase', async () => {
  const a = await selfsigned.generate([{ name: 'commonName', value: 'a' }], { keyType: 'ec' });
  const b = await selfsigned.generate([{ name: 'commonName', value: 'b' }], { keyType: 'rsa', keySize: 2048, passphrase: 'pw' });
  assert.equal(keyMatchesCertificate(a.private, null, a.cert), true);
  assert.equal(keyMatchesCertificate(a.private, null, b.cert), false);
  assert.equal(isEncryptedKey(b.private), true);
  assert.equal(keyMatchesCertificate(b.private, null, b.cert), false);
  assert.equal(keyMatchesCertificate(b.private, 'wrong', b.cert), false);
  assert.equal(keyMatchesCertificate(b.private, 'pw', b.cert), true);
  assert.equal(checkPrivateKeyPem(`  ${a.private}  `), `${a.private.trim()}\n`);
  assert.throws(() => checkPrivateKeyPem(a.cert), (e: IolError) => e.status === 400);
});
