/**
 * bench:care-services: the care-services registry at 100k locations.
 *
 *   npm run bench:care-services -- [--locations 100000] [--seconds 20] [--clients 4] [--consumer 5000] [--postgres | --database-url URL]
 *
 * 1. Pre-load: a country of 20 regions and 400 districts holding `--locations` facility Locations
 *    spread over about 1,100 x 1,100 km, written by the engine's multi-row writer (as a
 *    transaction bundle writes them, without the per-entry mCSD checks: the data is valid by
 *    construction), then ANALYZE.
 * 2. Searches over HTTP against the service (no router), `--clients` at a time for `--seconds`
 *    each: `near` 10 km and 50 km around random points (ordered by distance), and hierarchy walks
 *    `partof:below` from a district (250 facilities) and from a region (5,000 facilities, first
 *    page). Reports p50/p95 latency and requests/s, and the plan of a near search (the position
 *    index must be used).
 * 3. Update consumer: a second registry (schema cs_mirror, same database) mirrors `--consumer`
 *    Practitioners from the first through ITI-91 `_history`; reports resources/s.
 */
import type { Location, Practitioner, Resource } from '@medplum/fhirtypes';
import { createLogger } from '../../src/common/logger.js';
import { FhirEngine } from '../../src/fhir/engine.js';
import { SettingsMap } from '../../src/platform/settings.js';
import { careServicesService, createCareServicesEngine } from '../../src/services/care-services/index.js';
import { MCSD_TYPES_SYSTEM } from '../../src/services/care-services/mcsd-rules.js';
import { UpdateConsumer } from '../../src/services/care-services/update-consumer.js';
import { openBenchDatabase } from '../support/bench-database.js';
import { seededRandom } from '../fhir/synthetic.js';

const argv = process.argv.slice(2);
const option = (name: string, fallback: number): number => {
  const at = argv.indexOf(`--${name}`);
  return at >= 0 ? Number(argv[at + 1]) : fallback;
};
const LOCATIONS = option('locations', 100_000);
const SECONDS = option('seconds', 20);
const CLIENTS = option('clients', 4);
const CONSUMER = option('consumer', 5_000);
const REGIONS = 20;
const DISTRICTS = 400;
const BATCH = 1_000;
/** The country: latitude -5..-15, longitude 30..40 (about 1,100 km a side). */
const BOX = { lat: -15, lon: 30, size: 10 };

const next = seededRandom(90);
const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
const kind = (code: string) => [{ coding: [{ system: MCSD_TYPES_SYSTEM, code }] }];

const bench = await openBenchDatabase(argv, 'instant-bench-cs-');
const db = bench.db;
console.log(`# care services bench on ${bench.kind}: ${LOCATIONS} locations, ${CLIENTS} clients, ${SECONDS} s per search; machine load ${(await import('node:os')).loadavg()[0]!.toFixed(1)}`);
const service = await careServicesService.start({
  name: 'care-services', db, logger: createLogger(), stateDir: '/tmp',
  settings: new SettingsMap({ CARE_SERVICES_PORT: '0' }),
});
const base = service.endpoints.fhir!;

// 1. Pre-load.
const loadStarted = performance.now();
{
  const bulk = new FhirEngine({ db, schema: 'cs' }); // no interceptors: valid by construction
  const repo = bulk.repository();
  const meta = (): { versionId: string; lastUpdated: string } => ({ versionId: '1', lastUpdated: new Date().toISOString() });
  const tree: Resource[] = [{ resourceType: 'Location', id: 'country', name: 'Benchland', status: 'active', type: kind('jurisdiction'), meta: meta() } as Location];
  for (let r = 0; r < REGIONS; r++) {
    tree.push({ resourceType: 'Location', id: `region-${r}`, name: `Region ${r}`, status: 'active', type: kind('jurisdiction'), partOf: { reference: 'Location/country' }, meta: meta() } as Location);
  }
  for (let d = 0; d < DISTRICTS; d++) {
    tree.push({ resourceType: 'Location', id: `district-${d}`, name: `District ${d}`, status: 'active', type: kind('jurisdiction'), partOf: { reference: `Location/region-${d % REGIONS}` }, meta: meta() } as Location);
  }
  await repo.insertPrepared(tree);
  for (let start = 0; start < LOCATIONS; start += BATCH) {
    const batch: Resource[] = [];
    for (let i = start; i < Math.min(LOCATIONS, start + BATCH); i++) {
      // Districts are tiles of a 20 x 20 grid; a facility lies in its district's tile.
      const d = i % DISTRICTS;
      const tile = BOX.size / 20;
      const latitude = BOX.lat + Math.floor(d / 20) * tile + next() * tile;
      const longitude = BOX.lon + (d % 20) * tile + next() * tile;
      batch.push({ resourceType: 'Location', id: `fac-${i}`, name: `Facility ${i}`, status: 'active', type: kind('facility'),
        partOf: { reference: `Location/district-${d}` }, position: { latitude, longitude }, meta: meta() } as Location);
    }
    await repo.insertPrepared(batch);
    if ((start + BATCH) % 20_000 === 0) console.log(`#   ${start + BATCH} locations loaded`);
  }
  await db.query('ANALYZE cs.resources');
  await db.query('ANALYZE cs.idx_reference');
  await bulk.settle();
}
const loadSeconds = (performance.now() - loadStarted) / 1000;
console.log(`# pre-load: ${LOCATIONS} locations in ${loadSeconds.toFixed(1)} s (${(LOCATIONS / loadSeconds).toFixed(0)}/s)`);

const point = (): string => `${(BOX.lat + 1 + next() * (BOX.size - 2)).toFixed(5)}|${(BOX.lon + 1 + next() * (BOX.size - 2)).toFixed(5)}`;

interface Figures {
  name: string;
  requests: number;
  p50: number;
  p95: number;
  perSecond: number;
  matches: number;
}

async function measure(name: string, url: () => string): Promise<Figures> {
  const latencies: number[] = [];
  let matches = 0;
  const until = performance.now() + SECONDS * 1000;
  const client = async (): Promise<void> => {
    while (performance.now() < until) {
      const started = performance.now();
      const response = await fetch(url());
      const body = (await response.json()) as { entry?: unknown[] };
      if (response.status !== 200) throw new Error(`${name}: ${response.status} ${JSON.stringify(body).slice(0, 300)}`);
      latencies.push(performance.now() - started);
      matches += body.entry?.length ?? 0;
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: CLIENTS }, client));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const figures = { name, requests: latencies.length, p50: percentile(latencies, 50), p95: percentile(latencies, 95), perSecond: latencies.length / seconds, matches: matches / latencies.length };
  console.log(`# ${name}: p50 ${figures.p50.toFixed(1)} ms, p95 ${figures.p95.toFixed(1)} ms, ${figures.perSecond.toFixed(0)} req/s, ${figures.matches.toFixed(1)} matches per page`);
  return figures;
}

// 2. Searches.
const plan = await db.query<Record<string, string>>(`EXPLAIN SELECT r.rid FROM cs.resources r WHERE r.type = 'Location' AND NOT r.deleted
  AND ((r.content->'position'->>'latitude')::float8) BETWEEN -10.1 AND -9.9 AND ((r.content->'position'->>'longitude')::float8) BETWEEN 34.9 AND 35.1`);
const planText = plan.rows.map((row) => Object.values(row)[0]).join('\n');
console.log(`# near plan:\n${planText.split('\n').map((l) => `#   ${l}`).join('\n')}`);
if (!/location_position/.test(planText)) console.log('# WARNING: the near plan does not use the position index');

const results: Figures[] = [];
results.push(await measure('near 10 km', () => `${base}/Location?near=${point()}|10|km&_count=20`));
results.push(await measure('near 50 km', () => `${base}/Location?near=${point()}|50|km&_count=20`));
results.push(await measure('partof:below district', () => `${base}/Location?partof:below=Location/district-${Math.floor(next() * DISTRICTS)}&_count=20`));
results.push(await measure('partof:below region', () => `${base}/Location?partof:below=Location/region-${Math.floor(next() * REGIONS)}&_count=20`));

// 3. Update consumer throughput.
{
  const repo = (await createCareServicesEngine({ db })).repository();
  for (let start = 0; start < CONSUMER; start += BATCH) {
    const batch: Resource[] = [];
    for (let i = start; i < Math.min(CONSUMER, start + BATCH); i++) {
      batch.push({ resourceType: 'Practitioner', id: `hw-${i}`, active: true, name: [{ family: `Worker${i}`, given: ['Bench'] }] } as Practitioner);
    }
    await repo.transaction(async (tx) => {
      for (const resource of batch) await tx.update('Practitioner', resource.id!, resource);
    });
  }
}
const mirror = await createCareServicesEngine({ db }, { schema: 'cs_mirror' });
const consumer = new UpdateConsumer(mirror, { source: base, types: ['Practitioner'] });
const report = await consumer.runOnce();
const consumerRate = report.applied / (report.ms / 1000);
console.log(`# update consumer: ${report.applied} of ${report.read} changes in ${(report.ms / 1000).toFixed(1)} s: ${consumerRate.toFixed(0)} resources/s (${report.failed} failed)`);

console.log(`\n| driver | locations | search | p50 (ms) | p95 (ms) | req/s (${CLIENTS} clients) | matches/page |`);
console.log('|---|---|---|---|---|---|---|');
for (const r of results) console.log(`| ${bench.kind} | ${LOCATIONS} | ${r.name} | ${r.p50.toFixed(1)} | ${r.p95.toFixed(1)} | ${r.perSecond.toFixed(0)} | ${r.matches.toFixed(1)} |`);
console.log(`\n| driver | update consumer: resources mirrored | resources/s |\n|---|---|---|\n| ${bench.kind} | ${report.applied} | ${consumerRate.toFixed(0)} |`);

await consumer.stop();
await service.stop();
await mirror.settle();
await bench.close();
