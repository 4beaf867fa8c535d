#!/usr/bin/env node
// Runs the whole test suite from dist/: starts a throwaway PostgreSQL on loopback for the
// server-driver tests (unless INSTANT_TEST_DATABASE_URL is given), then node's test runner.
//   node scripts/run-tests.js [path-substring ...] [--record-durations]
// Files start longest first, by scripts/test-durations.json (a file not listed there, e.g. a new
// one, before all others): three at a time (INSTANT_TEST_CONCURRENCY), a long file started last would run alone at the end.
// `node --test` sorts the files it is given by name, so the runner is driven through run().
// --record-durations writes this run's per-file times into that list.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { finished } from 'node:stream/promises';
import { run } from 'node:test';
import { spec, tap } from 'node:test/reporters';
import { startThrowawayPostgres } from './throwaway-postgres.js';

const TEST_ROOT = 'dist/test';
const DURATIONS = new URL('./test-durations.json', import.meta.url);
const CONCURRENCY = Number(process.env.INSTANT_TEST_CONCURRENCY ?? 3);

function findTests(dir) {
  const found = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (entry.endsWith('.test.js')) found.push(path);
  }
  return found.sort();
}

const keyOf = (file) => relative(TEST_ROOT, relative(process.cwd(), file));
const recorded = existsSync(DURATIONS) ? JSON.parse(readFileSync(DURATIONS, 'utf8')) : {};

function longestFirst(files) {
  const seconds = (file) => recorded[keyOf(file)] ?? Infinity;
  return [...files].sort((a, b) => seconds(b) - seconds(a) || a.localeCompare(b));
}

const args = process.argv.slice(2);
const record = args.includes('--record-durations');
const filter = args.filter((arg) => arg !== '--record-durations');
let postgres;
if (!process.env.INSTANT_TEST_DATABASE_URL) {
  postgres = await startThrowawayPostgres();
  if (postgres) {
    process.env.INSTANT_TEST_DATABASE_URL = postgres.url;
    console.log(`# throwaway PostgreSQL ${postgres.version} on ${postgres.url.replace(/:[^:@/]*@/, ':***@')}`);
  } else {
    console.log('# no PostgreSQL server binaries found: the PostgreSQL driver tests will be skipped (.ci/run installs them)');
  }
}

// `instant init` in the CLI tests starts each embedded database from a copy of one initialised
// cluster instead of running PGlite's initdb (~2-3 s of CPU each); see src/db/pglite-template.ts.
if (!process.env.INSTANT_PGLITE_TEMPLATE) process.env.INSTANT_PGLITE_TEMPLATE = await (await import('../dist/test/support/pglite-template.js')).pgliteTemplateDir();

// Test processes live seconds: V8's optimising recompiles of PGlite's WebAssembly would cost them
// about half their CPU and pay back only in long runs (src/db/wasm-tiering.ts). Every process the
// tests start inherits this, `instant` and its background instances included.
process.env.INSTANT_WASM_TIER_UP ??= 'false';
// Nor do they use PostgreSQL's 128 MB buffer pool, which each embedded database sets up at start
// (~0.3-0.7 s of CPU each, a tenth of the suite's; src/db/pglite-settings.ts).
process.env.INSTANT_PGLITE_SHARED_BUFFERS ??= '16MB';

let files = findTests(TEST_ROOT);
if (filter.length) files = files.filter((f) => filter.some((part) => f.includes(part)));
const stream = run({ files: longestFirst(files), concurrency: CONCURRENCY, timeout: 600_000 });
let failed = false;
const failures = [];
const measured = {};
stream.on('test:fail', (data) => {
  if (data.todo) return;
  failed = true;
  // Kept for a summary printed last: CI shows the end of the output, where tap has only counts.
  const cause = data.details?.error?.cause ?? data.details?.error;
  const message = String(cause?.message ?? cause ?? '').split('\n').slice(0, 6).join('\n    ');
  failures.push(`${data.file ? keyOf(data.file) : '?'} > ${data.name}\n    ${message}`);
});
stream.on('test:complete', (data) => {
  // The runner's own entry for a whole file: named after the file.
  if (data.file && resolve(data.name) === data.file) measured[keyOf(data.file)] = Math.round(data.details.duration_ms / 100) / 10;
});
// node --test's default reporter: spec on a terminal, tap otherwise.
const report = stream.compose(process.stdout.isTTY ? new spec() : tap);
report.pipe(process.stdout);
await finished(report);
if (failures.length) console.log(`\n# ${failures.length} failed:\n${failures.map((f) => `# ${f.replace(/\n/g, '\n# ')}`).join('\n')}`);
if (postgres) await postgres.stop();
if (record) {
  const present = new Set(findTests(TEST_ROOT).map(keyOf));
  const merged = Object.entries({ ...recorded, ...measured }).filter(([key]) => present.has(key)).sort(([a], [b]) => a.localeCompare(b));
  writeFileSync(DURATIONS, `${JSON.stringify(Object.fromEntries(merged), null, 2)}\n`);
  console.log(`# per-file durations written to scripts/test-durations.json`);
}
process.exit(failed ? 1 : 0);
