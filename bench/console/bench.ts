/**
 * Bench console (`npm run bench:console`): the two figures issue 11 sets.
 *
 * 1. Page weight: the JavaScript (and CSS) of the console's first load, as served (gzip), from
 *    the built dist/console-app. Goal: under 500 KB of compressed JS.
 * 2. Transaction list: 10,000 transactions logged through the router (3 channels, 2 clients,
 *    a tenth failing), then the query the Transactions page makes for each filter change (page
 *    of 21, `simpledetails`, filters by channel, status, client, date range), timed through the
 *    console's /api proxy with a logged-in session, as the browser does. Baseline: the same
 *    query straight to the admin API. Goal: median under 200 ms.
 *
 * Embedded PGlite (worker thread) unless INSTANT_BENCH_DATABASE_URL is set. BENCH_TX sets the
 * number of transactions, BENCH_REPEAT the runs per query.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { createLogger } from '../../src/common/logger.js';
import { openDatabase } from '../../src/db/open.js';
import { SettingsMap } from '../../src/platform/settings.js';
import { consoleService } from '../../src/services/console/index.js';
import { interopLayerService } from '../../src/services/interop-layer/index.js';

const TRANSACTIONS = Number(process.env.BENCH_TX ?? 10_000);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 20);
const CONCURRENCY = 16;
const APP_DIR = fileURLToPath(new URL('../../console-app/', import.meta.url));

async function pageWeight(): Promise<{ js: number; css: number; jsRaw: number }> {
  const assets = join(APP_DIR, 'assets');
  let js = 0;
  let css = 0;
  let jsRaw = 0;
  for (const name of await readdir(assets)) {
    const bytes = await readFile(join(assets, name));
    if (name.endsWith('.js')) {
      js += gzipSync(bytes, { level: 9 }).length;
      jsRaw += bytes.length;
    } else if (name.endsWith('.css')) css += gzipSync(bytes, { level: 9 }).length;
  }
  return { js, css, jsRaw };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function time(repeat: number, call: () => Promise<number>): Promise<{ median: number; p95: number; rows: number }> {
  const times: number[] = [];
  let rows = 0;
  for (let i = 0; i < repeat; i++) {
    const start = performance.now();
    rows = await call();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { median: percentile(times, 50), p95: percentile(times, 95), rows };
}

const weight = await pageWeight();
console.log(`page weight: ${(weight.js / 1024).toFixed(1)} KB of gzip JS (${(weight.jsRaw / 1024).toFixed(1)} KB raw), ${(weight.css / 1024).toFixed(1)} KB of gzip CSS; goal < 500 KB of compressed JS: ${weight.js < 500 * 1024 ? 'met' : 'NOT met'}`);

// An upstream that fails one request in ten.
const upstream = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    const fail = req.url?.includes('fail');
    res.writeHead(fail ? 500 : 200, { 'content-type': 'application/json' });
    res.end(fail ? '{"error":"bench"}' : '{"ok":true}');
  });
});
await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
const upstreamPort = (upstream.address() as AddressInfo).port;

const dir = await mkdtemp(join(tmpdir(), 'console-bench-'));
const db = await openDatabase(process.env.INSTANT_BENCH_DATABASE_URL ? { url: process.env.INSTANT_BENCH_DATABASE_URL } : { dataDir: join(dir, 'pgdata'), thread: 'worker' });
const rootPassword = randomBytes(12).toString('base64url');
const iol = await interopLayerService.start({
  name: 'interop-layer', db, logger: createLogger(), stateDir: dir,
  settings: new SettingsMap({ OPENHIM_API_PORT: '0', OPENHIM_ROUTER_HTTP_PORT: '0', OPENHIM_ROUTER_HTTPS_PORT: '0', OPENHIM_ROOT_PASSWORD: rootPassword, OPENHIM_CACHE_REFRESH_MS: '0' }),
});
const api = iol.endpoints.api!;
const rootAuth = `Basic ${Buffer.from(`root@openhim.org:${rootPassword}`).toString('base64')}`;
const admin = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(api + path, { method, headers: { authorization: rootAuth, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
};
const channelIds: string[] = [];
for (const name of ['lab', 'pharmacy', 'registry']) {
  const channel = await admin('POST', '/channels', { name, urlPattern: `^/${name}/`, allow: ['bench'], routes: [{ name: 'upstream', host: '127.0.0.1', port: upstreamPort, primary: true }] });
  channelIds.push(channel._id);
}
const clientAuth: string[] = [];
const clientIds: string[] = [];
for (const clientID of ['clinic-a', 'clinic-b']) {
  const password = randomBytes(12).toString('base64url');
  const client = await admin('POST', '/clients', { clientID, name: clientID, roles: ['bench'], password });
  clientIds.push(client._id);
  clientAuth.push(`Basic ${Buffer.from(`${clientID}:${password}`).toString('base64')}`);
}

const fillStart = performance.now();
let next = 0;
await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
  while (next < TRANSACTIONS) {
    const i = next++;
    const channel = ['lab', 'pharmacy', 'registry'][i % 3];
    const res = await fetch(`${iol.endpoints.router}/${channel}/${i % 10 === 0 ? 'fail' : 'ok'}/${i}`, { headers: { authorization: clientAuth[i % 2]! } });
    await res.arrayBuffer();
  }
}));
const fillSeconds = (performance.now() - fillStart) / 1000;
console.log(`logged ${TRANSACTIONS} transactions through the router in ${fillSeconds.toFixed(1)} s (${Math.round(TRANSACTIONS / fillSeconds)}/s)`);

const consoleRunning = await consoleService.start({
  name: 'console', db, logger: createLogger(), stateDir: dir,
  settings: new SettingsMap({ CONSOLE_PORT: '0', CONSOLE_API_URL: api }),
});
const consoleUrl = consoleRunning.endpoints.web!;
const login = await fetch(`${consoleUrl}/console/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'root@openhim.org', password: rootPassword }) });
const cookie = login.headers.getSetCookie()[0]!.split(';')[0]!;

const now = Date.now();
const queries: Array<[string, Record<string, unknown> | undefined]> = [
  ['no filter (first page)', undefined],
  ['channel', { channelID: channelIds[1] }],
  ['status Failed', { status: 'Failed' }],
  ['client', { clientID: clientIds[0] }],
  ['channel + status + client', { channelID: channelIds[0], status: 'Successful', clientID: clientIds[1] }],
  ['date range (last 10 min)', { 'request.timestamp': { $gte: new Date(now - 10 * 60_000).toISOString(), $lte: new Date(now).toISOString() } }],
];
const pathFor = (filters: Record<string, unknown> | undefined, page = 0) =>
  `/transactions?filterPage=${page}&filterLimit=21&filterRepresentation=simpledetails${filters ? `&filters=${encodeURIComponent(JSON.stringify(filters))}` : ''}`;
const viaConsole = async (path: string) => ((await (await fetch(`${consoleUrl}/api${path}`, { headers: { cookie, accept: 'application/json' } })).json()) as unknown[]).length;
const direct = async (path: string) => ((await (await fetch(api + path, { headers: { authorization: rootAuth } })).json()) as unknown[]).length;

console.log(`\n| filter | rows | via console median | p95 | admin API direct median | goal < 200 ms |`);
console.log('|---|---|---|---|---|---|');
let allMet = true;
for (const [name, filters] of [...queries, ['channel, page 50', { channelID: channelIds[2] }] as [string, Record<string, unknown>]]) {
  const path = name.includes('page 50') ? pathFor(filters, 50) : pathFor(filters);
  await viaConsole(path); // warm
  const proxied = await time(REPEAT, () => viaConsole(path));
  const straight = await time(REPEAT, () => direct(path));
  const met = proxied.median < 200;
  allMet &&= met;
  console.log(`| ${name} | ${proxied.rows} | ${proxied.median.toFixed(1)} ms | ${proxied.p95.toFixed(1)} ms | ${straight.median.toFixed(1)} ms | ${met ? 'met' : 'NOT met'} |`);
}
console.log(`\ntransaction list on ${TRANSACTIONS} rows: goal ${allMet ? 'met' : 'NOT met'}; page weight goal ${weight.js < 500 * 1024 ? 'met' : 'NOT met'}`);

await consoleRunning.stop();
await iol.stop();
await db.close();
upstream.close();
await rm(dir, { recursive: true, force: true });
