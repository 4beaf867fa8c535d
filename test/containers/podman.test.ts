/**
 * The container targets end to end on podman: the image is built (on a local Debian base, as no
 * registry is reachable), core is deployed through podman-compose and through `podman kube play`,
 * the core package's features run against each (on Compose, down and up keep the data), then each
 * is destroyed and leaves nothing behind.
 * Skipped where podman, podman-compose or mmdebstrap is missing; every podman call has a time limit.
 */
import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { runEngine } from '../../src/targets/containers/engine-command.js';
import { freePort, runInstant, tempProject } from '../support/cli.js';
import { buildTestImages, podmanUnavailable, type TestImages } from './support/podman-images.js';

const unavailable = await podmanUnavailable();
const skip = unavailable ? `podman tests skipped: ${unavailable}` : false;
let images: TestImages;

before(async () => {
  if (!skip) images = await buildTestImages();
});

/** GETs a URL until it answers 200 (the services start again after up), with a bound. */
async function waitForAnswer(url: string, authorization: string): Promise<unknown> {
  const deadline = Date.now() + 180_000;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { headers: { authorization }, signal: AbortSignal.timeout(5000) });
      if (response.ok) return response.json();
      last = `HTTP ${response.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${url} did not answer 200 within 180 s (${last})`);
}

/**
 * The services connect as `instant`, which owns the database and is no superuser; the
 * superuser (`postgres`) is the database container's alone. Asked inside the database container.
 */
async function assertServicesUseApplicationRole(project: string): Promise<void> {
  const names = (await runEngine('podman', ['ps', '--format', '{{.Names}}'], { timeoutMs: 60_000 })).stdout.split('\n');
  const postgres = names.find((name) => name.startsWith(project) && /postgres/.test(name) && !name.endsWith('-infra'));
  assert.ok(postgres, `a postgres container of ${project} among ${names.join(', ')}`);
  const sql = [
    "select rolname || ':' || rolsuper || ':' || rolcreatedb || ':' || rolcreaterole from pg_roles where rolname = 'instant'",
    "select 'owner:' || datdba::regrole from pg_database where datname = 'instant'",
    "select 'clients:' || coalesce(string_agg(distinct usename, ','), '') from pg_stat_activity where datname = 'instant' and backend_type = 'client backend' and pid <> pg_backend_pid()",
  ].flatMap((query) => ['-c', query]);
  const answer = await runEngine('podman', ['exec', postgres!, 'psql', '-U', 'postgres', '-d', 'instant', '-tA', ...sql], { timeoutMs: 60_000 });
  assert.deepEqual(answer.stdout.trim().split('\n'), ['instant:false:false:false', 'owner:instant', 'clients:instant']);
}

/**
 * init run again re-runs the import job: a channel the operator disabled in the console stays
 * disabled (the job keeps its record in the interop layer), and init says so.
 */
async function assertInitAgainKeepsOperatorChange(dir: string, apiPort: number, initArgs: string[]): Promise<void> {
  const get = async (name: string) => (await runInstant(['config', '--get', name], { cwd: dir })).stdout.trim();
  const scheme = (await get('OPENHIM_API_TLS')) === 'true' ? 'https' : 'http';
  const authorization = `Basic ${Buffer.from(`${await get('OPENHIM_ROOT_EMAIL')}:${await get('OPENHIM_ROOT_PASSWORD')}`).toString('base64')}`;
  const api = (method: string, path: string, body?: unknown) => fetch(`${scheme}://127.0.0.1:${apiPort}${path}`, {
    method, headers: { authorization, 'content-type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const channels = async () => (await (await api('GET', '/channels')).json()) as Array<{ _id: string; name: string; status: string }>;
  const channel = (await channels())[0]!;
  assert.equal((await api('PUT', `/channels/${channel._id}`, { status: 'disabled' })).status, 200);
  const again = await runInstant(initArgs, { cwd: dir, timeoutMs: 900_000 });
  assert.equal(again.code, 0, `init again failed:\n${again.stdout}\n${again.stderr}`);
  const said = again.stdout + again.stderr;
  assert.ok(said.includes(`channel "${channel.name}" was changed since it was imported (status): kept`), `init names the kept change:\n${said}`);
  assert.equal((await channels()).find((c) => c._id === channel._id)?.status, 'disabled', 'the operator\'s change is kept');
}

async function deployTestDestroy(target: 'compose' | 'kubernetes', deployer: 'podman-compose' | 'podman-kube'): Promise<void> {
  const dir = tempProject(`instant-${deployer}-`);
  const project = dir.split('/').at(-1)!.toLowerCase().replace(/[^a-z0-9-]+/g, '-');
  const [api, router] = [await freePort(), await freePort()];
  const ports = ['-e', `OPENHIM_API_PORT=${api}`, '-e', `OPENHIM_ROUTER_HTTP_PORT=${router}`, '-e', 'OPENHIM_ROUTER_HTTPS_PORT=0'];
  try {
    const init = await runInstant(['init', 'core', '-t', target, '--deployer', deployer, '--image', images.instant, '--postgres-image', images.postgres, ...ports], { cwd: dir, timeoutMs: 900_000 });
    assert.equal(init.code, 0, `init failed:\n${init.stdout}\n${init.stderr}`);
    assert.match(init.stdout, new RegExp(`interop-layer router: http://127.0.0.1:${router}`));
    await assertServicesUseApplicationRole(project);
    const status = await runInstant(['status'], { cwd: dir, timeoutMs: 120_000 });
    assert.match(status.stdout, /interop-layer\s+healthy/);
    const features = await runInstant(['test', 'core'], { cwd: dir, timeoutMs: 300_000 });
    assert.equal(features.code, 0, `the core features failed on ${deployer}:\n${features.stdout}\n${features.stderr}`);
    assert.match(features.stdout, /(\d+) scenarios \(\1 passed\)/);
    const logs = await runInstant(['logs', 'interop-layer', '-n', '50'], { cwd: dir, timeoutMs: 120_000 });
    assert.match(logs.stdout, /"msg":"request"/, 'the services log requests as JSON lines with their ids');
    if (target === 'compose') {
      // down keeps the database volume: after up, what the features stored is still there.
      assert.equal((await runInstant(['down'], { cwd: dir, timeoutMs: 300_000 })).code, 0);
      const up = await runInstant(['up'], { cwd: dir, timeoutMs: 600_000 });
      assert.equal(up.code, 0, `up failed:\n${up.stdout}\n${up.stderr}`);
      const password = (await runInstant(['config', '--get', 'CORE_TEST_CLIENT_PASSWORD'], { cwd: dir })).stdout.trim();
      const search = await waitForAnswer(`http://127.0.0.1:${router}/fhir/Patient?identifier=urn:instant:test:national-id|CORE-FEATURE-001`, `Basic ${Buffer.from(`core-test-client:${password}`).toString('base64')}`);
      assert.ok((search as { total: number }).total >= 1, 'the patient created before down is found after up');
      await assertInitAgainKeepsOperatorChange(dir, api, ['init', 'core', '-t', target, '--deployer', deployer, '--image', images.instant, '--postgres-image', images.postgres, ...ports]);
    }
  } finally {
    const destroy = await runInstant(['destroy', '-y'], { cwd: dir, timeoutMs: 600_000 });
    assert.equal(destroy.code, 0, `destroy failed:\n${destroy.stdout}\n${destroy.stderr}`);
  }
  assert.ok(!existsSync(join(dir, '.instant')));
  const left = await runEngine('podman', ['ps', '-a', '--format', '{{.Names}}'], { timeoutMs: 60_000 });
  const leftVolumes = await runEngine('podman', ['volume', 'ls', '--format', '{{.Name}}'], { timeoutMs: 60_000 });
  // Compose names containers after the project; podman kube play after the pods (<component>-pod-0, instant-import).
  const ours = (text: string) => text.split('\n').filter((name) => name.startsWith(project) || name.includes('-pod-0') || name.startsWith('instant-import'));
  assert.deepEqual(ours(left.stdout), [], 'no container of the project is left');
  assert.deepEqual(ours(leftVolumes.stdout), [], 'no volume of the project is left');
}

test('core through podman-compose: deployed from the image, features pass, destroyed', { skip }, async () => {
  await deployTestDestroy('compose', 'podman-compose');
});

test('core through podman kube play (Kubernetes manifests): deployed, features pass, destroyed', { skip }, async () => {
  await deployTestDestroy('kubernetes', 'podman-kube');
});
