/**
 * Loads every resource of the official R4 examples (npm hl7.fhir.r4.examples) into a fresh FHIR
 * engine, then checks that each accepted one reads back equal apart from meta and is found by a
 * search on each of its own indexed values. Prints a Markdown report (docs/fhir-examples.md).
 *
 *   node dist/bench/fhir/load-examples.js [--database-url URL] [--limit N] [--out docs/fhir-examples.md]
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Resource } from '@medplum/fhirtypes';
import { openDatabase } from '../../src/db/open.js';
import { FhirEngine } from '../../src/fhir/engine.js';
import { FhirError } from '../../src/fhir/outcome.js';
import { INDEXED_TEXT_CHARS, buildIndexRows } from '../../src/fhir/storage/indexer.js';

interface Options { url?: string; limit?: number; out?: string; misses?: string }

function parseArgs(argv: string[]): Options {
  const options: Options = {};
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--database-url') options.url = argv[++i];
    else if (argv[i] === '--limit') options.limit = Number(argv[++i]);
    else if (argv[i] === '--out') options.out = argv[++i];
    else if (argv[i] === '--misses') options.misses = argv[++i];
  }
  return options;
}

export function examplesDir(): string {
  const require = createRequire(import.meta.url);
  return dirname(require.resolve('hl7.fhir.r4.examples/package.json'));
}

/** The example resources, in file-name order (package metadata files skipped). */
export function readExamples(limit?: number): Array<{ file: string; resource: Resource }> {
  const dir = examplesDir();
  const files = readdirSync(dir).filter((f) => f.endsWith('.json') && f !== 'package.json' && !f.startsWith('.')).sort();
  const out: Array<{ file: string; resource: Resource }> = [];
  for (const file of files) {
    const resource = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Resource;
    if (typeof resource?.resourceType !== 'string') continue;
    out.push({ file, resource });
    if (limit && out.length >= limit) break;
  }
  return out;
}

/** JSON with sorted keys, for comparing a resource with what was read back. */
export function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function withoutMeta(resource: Resource): Resource {
  const copy = { ...resource } as Record<string, unknown>;
  const meta = { ...((copy.meta as Record<string, unknown>) ?? {}) };
  delete meta.versionId;
  delete meta.lastUpdated;
  if (Object.keys(meta).length) copy.meta = meta;
  else delete copy.meta;
  return copy as unknown as Resource;
}

const escapeValue = (v: string): string => v.replace(/\\/g, '\\\\').replace(/,/g, '\\,');

/** One search per index row of the resource, each of which must find it. */
export function searchesFor(resource: Resource, baseUrl: string): Array<Array<[string, string]>> {
  const all = buildIndexRows(resource, baseUrl);
  // Composite components ($n rows) are searched through their composite, covered by the test suite.
  const rows = Object.fromEntries(Object.entries(all).map(([k, v]) => [k, (v as unknown[][]).filter((r) => !String(r[0]).includes('$'))])) as unknown as typeof all;
  const id: [string, string] = ['_id', resource.id!];
  const out: Array<Array<[string, string]>> = [];
  for (const [param, system, code] of rows.token) {
    if (param.endsWith(':identifier') || param.endsWith(':of-type')) {
      if (param.endsWith(':of-type')) out.push([id, [param, `${system ?? ''}|${escapeValue(code ?? '')}`]]);
      else if (code) out.push([id, [param, system ? `${escapeValue(system)}|${escapeValue(code)}` : escapeValue(code)]]);
      continue;
    }
    if (code === null) out.push([id, [param, `${escapeValue(system ?? '')}|`]]);
    else if (!code.includes('|')) out.push([id, [param, system ? `${escapeValue(system)}|${escapeValue(code)}` : `|${escapeValue(code)}`]]);
  }
  // A long value is indexed as a key (prefix + hash): search by the folded start instead.
  for (const [param, value, folded] of rows.string) out.push([id, [param, escapeValue(value !== null && value.length < INDEXED_TEXT_CHARS ? value : folded)]]);
  for (const [param, low, high] of rows.date) {
    const q: Array<[string, string]> = [id];
    if (low !== '-infinity') q.push([param, `ge${new Date(low).toISOString()}`]);
    if (high !== 'infinity') q.push([param, `le${new Date(high).toISOString()}`]);
    out.push(q);
  }
  for (const [param, targetType, targetId, reference] of rows.reference) {
    out.push([id, [param, targetType ? `${targetType}/${targetId}` : escapeValue(reference)]]);
  }
  for (const [param, low, high] of rows.number) {
    if (Number.isFinite(low) && Math.abs(low) < 1e300) out.push([id, [param, `ge${low}`]]);
    if (Number.isFinite(high) && Math.abs(high) < 1e300) out.push([id, [param, `le${high}`]]);
  }
  for (const [param, value, system, code] of rows.quantity) {
    out.push([id, [param, `${value}${system || code ? `|${escapeValue(system ?? '')}|${escapeValue(code ?? '')}` : ''}`]]);
  }
  for (const [param, value] of rows.uri) out.push([id, [param, escapeValue(value)]]);
  return out;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const dir = options.url ? undefined : await mkdtemp(join(tmpdir(), 'fhir-examples-'));
  const db = await openDatabase(options.url ? { url: options.url } : { dataDir: dir! });
  const engine = new FhirEngine({ db, schema: 'fhir_examples', baseUrl: 'http://hl7.org/fhir' });
  await db.dropSchema('fhir_examples');
  await engine.migrate();
  const repo = engine.repository();
  const examples = readExamples(options.limit);
  const started = Date.now();
  const rejected: Array<{ file: string; reason: string }> = [];
  const accepted: Resource[] = [];
  for (const { file, resource } of examples) {
    try {
      const id = resource.id ?? file.replace(/\.json$/, '').replace(/[^A-Za-z0-9\-.]/g, '-').slice(0, 64);
      await repo.update(resource.resourceType, id, { ...resource, id });
      accepted.push({ ...resource, id } as Resource);
    } catch (error) {
      const reason = error instanceof FhirError ? `${error.status} ${error.message}` : `crash: ${(error as Error).message}`;
      rejected.push({ file, reason });
    }
  }
  const loadSeconds = (Date.now() - started) / 1000;
  let equal = 0;
  const different: string[] = [];
  let searches = 0;
  const missed: string[] = [];
  const searchStarted = Date.now();
  for (const resource of accepted) {
    const stored = await repo.read(resource.resourceType, resource.id!);
    if (canonical(withoutMeta(stored)) === canonical(withoutMeta(resource))) equal++;
    else different.push(`${resource.resourceType}/${resource.id}`);
    for (const query of searchesFor(resource, engine.baseUrl)) {
      searches++;
      try {
        const bundle = await repo.search(resource.resourceType, query, { strict: true });
        if (!bundle.entry?.some((e) => e.resource?.id === resource.id)) missed.push(`${resource.resourceType}?${new URLSearchParams(query).toString()}`);
      } catch (error) {
        missed.push(`${resource.resourceType}?${new URLSearchParams(query).toString()} → ${(error as Error).message}`);
      }
    }
  }
  const searchSeconds = (Date.now() - searchStarted) / 1000;
  await db.close();
  if (dir) await rm(dir, { recursive: true, force: true });

  const byReason = new Map<string, string[]>();
  for (const r of rejected) {
    const key = r.reason.replace(/[0-9a-f-]{36}/g, '…').slice(0, 240);
    byReason.set(key, [...(byReason.get(key) ?? []), r.file]);
  }
  const lines = [
    '# Official R4 examples in the FHIR engine',
    '',
    `Generated by \`node dist/bench/fhir/load-examples.js\` on ${db.kind === 'pglite' ? 'PGlite' : 'PostgreSQL'}, ${new Date().toISOString().slice(0, 10)}.`,
    'Every resource of the npm package hl7.fhir.r4.examples 4.0.1 is written with PUT (its own id), validated against the R4',
    'StructureDefinitions, read back and compared with the original (ignoring meta.versionId and meta.lastUpdated), and then',
    'searched for with one search per index row it produced (with `_id` and the value: token, string, date range, reference,',
    'number, quantity, uri, `:text`, `:identifier`, `:of-type`).',
    '',
    '| | count |',
    '|---|---|',
    `| example resources | ${examples.length} |`,
    `| accepted | ${accepted.length} |`,
    `| rejected | ${rejected.length} |`,
    `| read back equal apart from meta | ${equal} |`,
    `| read back different | ${different.length} |`,
    `| searches run on own values | ${searches} |`,
    `| searches that did not find the resource | ${missed.length} |`,
    '',
    `Load took ${loadSeconds.toFixed(1)} s (${(accepted.length / loadSeconds).toFixed(0)} writes/s with validation and indexing, one at a time); the searches ${searchSeconds.toFixed(1)} s.`,
    '',
    '## Rejected examples, by reason',
    '',
    ...[...byReason.entries()].sort((a, b) => b[1].length - a[1].length).flatMap(([reason, files]) => [
      `- **${files.length}** × ${reason.replace(/\|/g, '\\|')}`,
      `  - ${files.slice(0, 8).join(', ')}${files.length > 8 ? ', …' : ''}`,
    ]),
    '',
    ...(different.length ? ['## Read back different', '', ...different.slice(0, 50).map((d) => `- ${d}`), ''] : []),
    ...(missed.length ? ['## Searches that missed', '', ...missed.slice(0, 80).map((m) => `- \`${m}\``), ''] : []),
  ];
  if (options.misses) writeFileSync(options.misses, missed.join('\n'));
  const report = lines.join('\n');
  if (options.out) writeFileSync(options.out, report);
  console.log(report);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/dist\//, 'dist/'))) {
  await main();
} else if (process.argv[1]?.endsWith('load-examples.js')) {
  await main();
}
