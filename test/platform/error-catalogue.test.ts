// Every error code the platform and its services throw as an InstantError is in docs/errors.md:
// a user who meets a code finds what it means and what to do.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';

const ROOT = new URL('../../..', import.meta.url).pathname;
const CODE = /'([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)'/g;

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Codes in the first argument of `new InstantError(...)`, literals or the constants they name. */
function thrownCodes(): Set<string> {
  const codes = new Set<string>();
  const constants = new Map<string, string>();
  const files = sources(join(ROOT, 'src')).map((path) => readFileSync(path, 'utf8'));
  for (const text of files) {
    for (const [, name, value] of text.matchAll(/const ([A-Z][A-Z0-9_]*) = '([A-Z][A-Z0-9_]+)'/g)) constants.set(name, value);
  }
  for (const text of files) {
    for (const call of text.matchAll(/new InstantError\(\s*([^,]*(?:\?[^,:]*:[^,]*)?),/g)) {
      const firstArgument = call[1];
      for (const [, code] of firstArgument.matchAll(CODE)) codes.add(code);
      const named = constants.get(firstArgument.trim());
      if (named) codes.add(named);
    }
  }
  return codes;
}

test('every code thrown as an InstantError is documented in docs/errors.md', () => {
  const codes = thrownCodes();
  assert.ok(codes.size > 50, `found ${codes.size} codes: the scan itself broke`);
  for (const known of ['INSTANT_INTERRUPTED', 'INSTANT_SECRETS_CORRUPT', 'INSTANT_BACKUP_EXISTS']) assert.ok(codes.has(known), `the scan finds ${known}`);
  const catalogue = readFileSync(join(ROOT, 'docs/errors.md'), 'utf8');
  const undocumented = [...codes].filter((code) => !new RegExp(`\\b${code}\\b`).test(catalogue));
  assert.deepEqual(undocumented, [], 'codes missing from docs/errors.md');
});
