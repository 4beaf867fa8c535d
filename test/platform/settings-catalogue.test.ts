import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SERVICE_SETTINGS } from '../../src/services/settings-catalogue.js';
import { knownSettingNames, likelyTypo } from '../../src/platform/setting-names.js';
import { repoRoot } from '../support/cli.js';

function sourcesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? sourcesUnder(path) : entry.endsWith('.ts') ? [path] : [];
  });
}

test('every setting a built-in service reads is in the settings catalogue (config lists it, typos of it are caught)', () => {
  for (const service of Object.keys(SERVICE_SETTINGS)) {
    const read = new Set<string>();
    for (const file of sourcesUnder(join(repoRoot, 'src', 'services', service))) {
      for (const match of readFileSync(file, 'utf8').matchAll(/settings\.(?:get|int|bool|require)\('([A-Z0-9_]+)'/g)) read.add(match[1]!);
    }
    const listed = new Set(SERVICE_SETTINGS[service]!.map((s) => s.name));
    const missing = [...read].filter((name) => !listed.has(name));
    assert.deepEqual(missing, [], `${service} reads settings src/services/settings-catalogue.ts does not list`);
  }
});

test('a setting one or two letters off a service setting is reported with the name meant', () => {
  const known = knownSettingNames([]);
  assert.equal(likelyTypo('OPENHIM_API_CORS_ORIGIN', known), 'OPENHIM_API_CORS_ORIGINS');
  assert.equal(likelyTypo('OPENHIM_ROUTER_HTTP_PROT', known), 'OPENHIM_ROUTER_HTTP_PORT');
  assert.equal(likelyTypo('OPENHIM_API_CORS_ORIGINS', known), undefined);
});

test("config shows no fixed default for a setting the service derives from another (the console's URL from CONSOLE_PORT)", async () => {
  const { runInstant, tempProject } = await import('../support/cli.js');
  const result = await runInstant(['config', 'core', '-e', 'CONSOLE_PORT=19000'], { cwd: tempProject() });
  assert.equal(result.code, 0, result.stderr);
  const line = result.stdout.split('\n').find((l) => l.startsWith('OPENHIM_CONSOLE_BASE_URL '));
  assert.ok(line, result.stdout);
  assert.doesNotMatch(line, /:9000/, 'the interop layer serves http://localhost:<CONSOLE_PORT>, here 19000, not 9000');
});
