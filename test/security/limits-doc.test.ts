import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DEFAULT_LIMITS, LIMITS, readLimits } from '../../src/common/limits.js';
import { SettingsMap } from '../../src/platform/settings.js';
import { isInstantError } from '../../src/common/errors.js';

const doc = readFileSync(new URL('../../../docs/security.md', import.meta.url), 'utf8');

test('docs/security.md lists every limit with its setting', () => {
  const missing = Object.values(LIMITS).filter((limit) => !doc.includes(`\`${limit.setting}\``)).map((limit) => limit.setting);
  assert.deepEqual(missing, [], 'limits declared in src/common/limits.ts but not documented');
});

test('limits come from settings, fall back to their defaults, and refuse values below their minimum', () => {
  assert.deepEqual(readLimits(new SettingsMap({})), DEFAULT_LIMITS);
  assert.equal(readLimits(new SettingsMap({ FHIR_SEARCH_MAX_COUNT: '50' })).fhirSearchMaxCount, 50);
  assert.throws(() => readLimits(new SettingsMap({ FHIR_SEARCH_MAX_COUNT: '0' })), (e: unknown) => isInstantError(e) && e.code === 'INSTANT_SETTING_INVALID' && /FHIR_SEARCH_MAX_COUNT/.test(e.message));
  assert.throws(() => readLimits(new SettingsMap({ INSTANT_HTTP_MAX_CONNECTIONS: 'many' })), (e: unknown) => isInstantError(e) && e.code === 'INSTANT_SETTING_INVALID');
});
