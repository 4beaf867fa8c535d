/**
 * Bench IOL: the interop-layer service on an embedded PGlite (or INSTANT_BENCH_DATABASE_URL), with
 * a client and a channel to the upstream whose port is given; bodies stored (the default).
 * WORKERS=N sets OPENHIM_ROUTER_WORKERS (the router in N worker processes); IOL_BENCH_STORE_BODIES=0
 * makes the channel store no bodies.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { openDatabase } from '../../src/db/open.js';
import { createLogger } from '../../src/common/logger.js';
import { SettingsMap } from '../../src/platform/settings.js';
import { interopLayerService } from '../../src/services/interop-layer/index.js';

const upstreamPort = Number(process.env.UPSTREAM_PORT);
const dir = await mkdtemp(join(tmpdir(), 'iol-bench-'));
const db = await openDatabase(process.env.INSTANT_BENCH_DATABASE_URL ? { url: process.env.INSTANT_BENCH_DATABASE_URL } : { dataDir: join(dir, 'pgdata'), thread: process.env.INSTANT_PGLITE_THREAD === 'main' ? 'main' : 'worker' });
const rootPassword = randomBytes(12).toString('base64url');
const running = await interopLayerService.start({
  name: 'interop-layer',
  db,
  logger: createLogger(),
  stateDir: dir,
  settings: new SettingsMap({
    OPENHIM_API_PORT: '0',
    OPENHIM_ROUTER_HTTP_PORT: '0',
    OPENHIM_ROUTER_HTTPS_PORT: '0',
    OPENHIM_ROOT_PASSWORD: rootPassword,
    OPENHIM_MAX_STORED_BODY_BYTES: String(1024 * 1024),
    OPENHIM_ROUTER_WORKERS: process.env.WORKERS ?? '1',
    // On a loaded machine the bench's one client sees requests over 1 s and would be slowed
    // down with 429s by its slow-time budget; the bench measures a well-behaved client.
    OPENHIM_ROUTER_SLOW_REQUEST_MS: '600000',
  }),
});
const auth = `Basic ${Buffer.from(`root@openhim.org:${rootPassword}`).toString('base64')}`;
const post = async (path: string, body: unknown) => {
  const res = await fetch(running.endpoints.api + path, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status !== 201) throw new Error(`${path}: ${res.status} ${await res.text()}`);
};
const clientPassword = randomBytes(12).toString('base64url');
await post('/clients', { clientID: 'bench', name: 'Bench', roles: ['bench-role'], password: clientPassword });
// IOL_BENCH_STORE_BODIES=0: the channel stores no bodies (the log keeps the rest), to show what storing them costs.
const storeBodies = process.env.IOL_BENCH_STORE_BODIES !== '0';
await post('/channels', { name: 'bench', urlPattern: '^/bench', allow: ['bench-role'], requestBody: storeBodies, responseBody: storeBodies, routes: [{ name: 'upstream', host: '127.0.0.1', port: upstreamPort, primary: true }] });
// IOL_BENCH_PROFILE=<file>: CPU profile of the serving period only (start-up excluded).
const profileFile = process.env.IOL_BENCH_PROFILE;
let session: import('node:inspector').Session | undefined;
if (profileFile) {
  const { Session } = await import('node:inspector');
  session = new Session();
  session.connect();
  await new Promise<void>((resolve) => session!.post('Profiler.enable', () => session!.post('Profiler.start', () => resolve())));
}
process.stdout.write(`${JSON.stringify({ router: running.endpoints.router, api: running.endpoints.api, authorization: `Basic ${Buffer.from(`bench:${clientPassword}`).toString('base64')}`, adminAuthorization: auth })}\n`);
process.once('SIGTERM', () => {
  void (async () => {
    if (session && profileFile) {
      const { writeFile } = await import('node:fs/promises');
      const profile = await new Promise<unknown>((resolve) => session!.post('Profiler.stop', (_e, r) => resolve(r.profile)));
      await writeFile(profileFile, JSON.stringify(profile));
    }
    await running.stop();
    await db.close();
    await rm(dir, { recursive: true, force: true });
    process.exit(0);
  })();
});
