#!/usr/bin/env node
// Runs the whole test suite from dist/: starts a throwaway PostgreSQL on loopback for the
// server-driver tests (unless INSTANT_TEST_DATABASE_URL is given), then node's test runner.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startThrowawayPostgres } from './throwaway-postgres.js';

function findTests(dir) {
  const found = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (entry.endsWith('.test.js')) found.push(path);
  }
  return found.sort();
}

const filter = process.argv.slice(2);
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

let files = findTests('dist/test');
if (filter.length) files = files.filter((f) => filter.some((part) => f.includes(part)));
const child = spawn(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=600000', ...files], {
  stdio: 'inherit',
  env: process.env,
});
const code = await new Promise((resolve) => child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))));
if (postgres) await postgres.stop();
process.exit(code);
