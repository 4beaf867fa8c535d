/**
 * How long one large transaction holds the event loop (what every other request on the process
 * waits): an 11 MB transaction of 100 Patients with 3,000 identifiers each, on the embedded
 * database in its worker thread, with the event loop's worst delay measured while it runs.
 *
 *   node dist/bench/fhir/transaction-stall.js [--entries 100] [--identifiers 3000]
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startFhirServer } from '../../test/fhir/support.js';

const argv = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const at = argv.indexOf(name);
  return at >= 0 ? argv[at + 1] : undefined;
};
const entries = Number(arg('--entries') ?? 100);
const identifiers = Number(arg('--identifiers') ?? 3000);

// The embedded target runs PGlite in a worker: its queries do not hold this event loop.
const server = await startFhirServer('pglite-worker' as Parameters<typeof startFhirServer>[0], { bodyLimit: 64 * 1024 * 1024 });
const entry = (i: number): Record<string, unknown> => ({
  fullUrl: `urn:uuid:00000000-0000-0000-0000-${String(i).padStart(12, '0')}`,
  resource: { resourceType: 'Patient', identifier: Array.from({ length: identifiers }, (_, k) => ({ system: 'urn:s', value: `v${i}-${k}` })) },
  request: { method: 'POST', url: 'Patient' },
});
const body = JSON.stringify({ resourceType: 'Bundle', type: 'transaction', entry: Array.from({ length: entries }, (_, i) => entry(i)) });
const delay = monitorEventLoopDelay({ resolution: 10 });
delay.enable();
const start = performance.now();
const response = await fetch(`${server.base}/`, { method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body });
await response.text();
const took = performance.now() - start;
delay.disable();
console.log(`transaction of ${entries} entries (${(body.length / 1e6).toFixed(1)} MB): ${response.status} in ${took.toFixed(0)} ms; ` +
  `worst event-loop delay ${(delay.max / 1e6).toFixed(0)} ms`);
await server.close();
