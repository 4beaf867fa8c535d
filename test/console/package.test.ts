/**
 * The console package deployed with the real CLI on the embedded database (`instant init console`,
 * which brings the interoperability layer), proved by its Gherkin features (`instant test console`).
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { freePort, runInstant, tempProject } from '../support/cli.js';

const cwd = tempProject('instant-console-');

after(async () => {
  await runInstant(['destroy', '--yes'], { cwd });
});

test('console deploys with the interoperability layer, prints where it is, and passes its features', async () => {
  const ports = {
    OPENHIM_API_PORT: await freePort(),
    OPENHIM_ROUTER_HTTP_PORT: await freePort(),
    OPENHIM_ROUTER_HTTPS_PORT: await freePort(),
    CONSOLE_PORT: await freePort(),
  };
  const init = await runInstant(['init', 'console', '-d', ...Object.entries(ports).flatMap(([name, port]) => ['-e', `${name}=${port}`])], { cwd });
  assert.equal(init.code, 0, init.stdout + init.stderr);
  assert.match(init.stdout, new RegExp(`Web console: http://127\\.0\\.0\\.1:${ports.CONSOLE_PORT}`));
  const features = await runInstant(['test', 'console'], { cwd });
  assert.equal(features.code, 0, features.stdout + features.stderr);
  assert.match(features.stdout, /3 scenarios \(3 passed\)/);
  // The embedded stack tells the console what it runs: the packages, and where each service listens.
  const password = (await runInstant(['config', '--get', 'OPENHIM_ROOT_PASSWORD'], { cwd })).stdout.trim();
  const consoleUrl = `http://127.0.0.1:${ports.CONSOLE_PORT}`;
  const login = await fetch(`${consoleUrl}/console/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'root@openhim.org', password }) });
  assert.equal(login.status, 200);
  const cookie = login.headers.getSetCookie().find((c) => c.startsWith('console.session='))!.split(';')[0]!;
  const text = await (await fetch(`${consoleUrl}/console/deployment`, { headers: { cookie } })).text();
  const deployment = JSON.parse(text) as { known: boolean; target: string; packages: Array<{ id: string; services: string[] }>; services: Array<{ name: string; package: string; endpoints: Record<string, string> }> };
  assert.equal(deployment.target, 'embedded');
  assert.deepEqual(deployment.packages.map((p) => [p.id, p.services]), [['interoperability-layer', ['interop-layer']], ['console', ['console']]]);
  assert.equal(deployment.services.find((s) => s.name === 'interop-layer')?.endpoints.api, `http://127.0.0.1:${ports.OPENHIM_API_PORT}`);
  assert.equal(deployment.services.find((s) => s.name === 'console')?.endpoints.web, consoleUrl);
  assert.ok(!text.includes(password), 'no secret in the answer');
});
