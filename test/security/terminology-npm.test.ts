/**
 * Attack repros on the NPM package reader: a tar header whose size is negative or not octal made
 * the reader loop forever on one block; a gzip bomb was unpacked synchronously to 512 MiB. Both
 * are now a 400 at once.
 */
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { test } from 'node:test';
import { resourcesOfNpmPackage } from '../../src/services/terminology/content/npm.js';

function tarWithSize(sizeField: string): Buffer {
  const header = Buffer.alloc(512);
  header.write('package/x.json', 0, 'utf8');
  header.write(sizeField, 124);
  header.write('0', 156);
  return Buffer.concat([header, Buffer.alloc(1024)]);
}

const status = (error: unknown) => (error as { status?: number }).status;

test('a negative or non-octal tar size is a 400, not an endless loop', async () => {
  for (const size of ['-1000\0', '-0\0', '99999\0', '0x10\0', '77777777777\0']) {
    await assert.rejects(resourcesOfNpmPackage(gzipSync(tarWithSize(size)), ['CodeSystem'], 'test'), (e) => status(e) === 400, size);
  }
});

test('a gzip bomb stops at the unpacked cap with a 400', async () => {
  const bomb = gzipSync(Buffer.alloc(8 * 1024 * 1024));
  await assert.rejects(resourcesOfNpmPackage(bomb, ['CodeSystem'], 'test', 1024 * 1024), (e) => status(e) === 400);
});
