/**
 * The registry bench's pre-load, in bulk: for each person the rows the service would have written
 * (the source record and its golden record as the FHIR engine stores a create: resource, history
 * and search-index rows from the engine's own row builder; the blocking keys from the service's
 * matcher; the source→golden link as the linker writes it), loaded by binary COPY into tables whose
 * indexes and keys were dropped first, then built again from their own definitions (so they are
 * what the migrations made), then VACUUM ANALYZE (statistics, visibility map and hint bits, as a
 * database that had been in use for a while would have). The `rid`s are assigned here and the
 * sequence moved past them.
 *
 * Why not the engine's multi-row writer: it keeps ~70 index rows per person in 15 B-trees and a
 * GiST index up to date row by row; at 1M people that took an hour on a loaded machine.
 */
import type { Patient, Resource } from '@medplum/fhirtypes';
import pg from 'pg';
import { CopyBinaryWriter, type CopyData } from '../../src/db/copy-binary.js';
import { CopyIn } from '../../src/db/postgres-copy.js';
import type { Database } from '../../src/db/database.js';
import type { FhirRepository } from '../../src/fhir/repository.js';
import { buildIndexRows } from '../../src/fhir/storage/indexer.js';
import { newGoldenRecord, withGoldenLink } from '../../src/services/client-registry/golden-record.js';
import type { Matcher } from '../../src/services/client-registry/matching/index.js';

/** The tables the pre-load writes; their indexes and keys are dropped during the load. */
const LOADED_TABLES = ['resources', 'history', 'idx_token', 'idx_string', 'idx_date', 'idx_reference', 'idx_uri', 'idx_number', 'idx_quantity', 'blocking', 'source_link'];

/** Where COPY data goes: a connection of its own on PostgreSQL, the database's copyFrom on PGlite. */
interface CopyTarget {
  copy(table: string, columns: readonly string[], data: CopyData): Promise<void>;
  close(): Promise<void>;
}

async function openCopyTarget(db: Database, schema: string, url: string | undefined): Promise<CopyTarget> {
  // PGlite through the driver; PostgreSQL over two connections of its own (the next table's
  // COPY is sent while the server finishes this one).
  if (db.kind === 'pglite' && db.copyFrom) {
    return {
      copy: async (table, columns, data) => {
        await db.copyFrom!(`${schema}.${table} (${columns.join(', ')})`, data);
      },
      close: async () => undefined,
    };
  }
  if (!url) throw new Error('the bulk pre-load needs the PostgreSQL URL');
  const clients = await Promise.all([0, 1].map(async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    return client;
  }));
  let turn = 0;
  return {
    // Two connections: the next table's COPY runs while PostgreSQL finishes this one.
    copy: async (table, columns, data) => {
      const copy = new CopyIn(`COPY ${schema}.${table} (${columns.join(', ')}) FROM STDIN (FORMAT binary)`, data.bytes);
      void clients[turn++ % clients.length]!.query(copy as never);
      await copy.done;
    },
    close: async () => {
      await Promise.all(clients.map((c) => c.end()));
    },
  };
}

interface DroppedIndexes {
  constraints: Array<{ table: string; name: string; definition: string }>;
  indexes: Array<{ name: string; definition: string }>;
}

/** Drops the loaded tables' indexes and primary/unique keys, remembering their definitions. */
async function dropIndexes(db: Database, schema: string): Promise<DroppedIndexes> {
  const constraints = (await db.query<{ table: string; name: string; definition: string }>(
    `SELECT t.relname AS table, c.conname AS name, pg_get_constraintdef(c.oid) AS definition
     FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
     WHERE n.nspname = $1 AND t.relname = ANY($2::text[]) AND c.contype IN ('p', 'u')`, [schema, LOADED_TABLES])).rows;
  const indexes = (await db.query<{ name: string; definition: string }>(
    `SELECT indexname AS name, indexdef AS definition FROM pg_indexes
     WHERE schemaname = $1 AND tablename = ANY($2::text[]) AND NOT (indexname = ANY($3::text[]))`,
    [schema, LOADED_TABLES, constraints.map((c) => c.name)])).rows;
  for (const index of indexes) await db.exec(`DROP INDEX ${schema}.${index.name}`);
  for (const c of constraints) await db.exec(`ALTER TABLE ${schema}.${c.table} DROP CONSTRAINT ${c.name}`);
  return { constraints, indexes };
}

async function buildIndexes(db: Database, schema: string, dropped: DroppedIndexes): Promise<void> {
  // One session builds them all: its maintenance_work_mem sorts each index in memory.
  await db.transaction(async (tx) => {
    await tx.exec(`SET LOCAL maintenance_work_mem = '${db.kind === 'pglite' ? '256MB' : '1GB'}'`);
    for (const c of dropped.constraints) await tx.exec(`ALTER TABLE ${schema}.${c.table} ADD CONSTRAINT ${c.name} ${c.definition}`);
    for (const index of dropped.indexes) await tx.exec(index.definition);
  }, { maintenance: true });
}

/** One batch of people as COPY data, table by table. */
class RowBatch {
  private readonly out = new Map<string, { columns: readonly string[]; writer: CopyBinaryWriter }>();
  people = 0;

  constructor(private readonly repo: FhirRepository, private readonly matcher: Matcher) {}

  private table(name: string, columns: readonly string[]): CopyBinaryWriter {
    let entry = this.out.get(name);
    if (!entry) this.out.set(name, (entry = { columns, writer: new CopyBinaryWriter(1 << 20) }));
    return entry.writer.row(columns.length);
  }

  /** The person's source record (id s-i) and golden record (g-i), as a create stamps them. */
  add(person: Patient, index: number, rid: number, lastUpdated: string): void {
    const sourceId = `s-${index}`;
    const goldenId = `g-${index}`;
    const meta = { versionId: '1', lastUpdated };
    const source: Resource = { ...withGoldenLink({ ...person, id: sourceId }, goldenId), meta };
    const golden = newGoldenRecord(sourceId, person);
    const stamped: Resource = { ...golden, id: goldenId, meta: { ...golden.meta, ...meta } };
    this.resource(source, rid, lastUpdated);
    this.resource(stamped, rid + 1, lastUpdated);
    for (const key of new Set(this.matcher.blockingKeys(person))) this.table('blocking', ['key', 'patient_id']).text(key).text(sourceId);
    this.table('source_link', ['source_id', 'golden_id', 'how']).text(sourceId).text(goldenId).text('new');
    this.people++;
  }

  private resource(resource: Resource, rid: number, lastUpdated: string): void {
    const json = JSON.stringify(resource);
    const at = Date.parse(lastUpdated);
    const type = resource.resourceType;
    this.table('resources', ['rid', 'type', 'id', 'version', 'last_updated', 'deleted', 'content'])
      .int8(rid).text(type).text(resource.id).int4(1).timestamptz(at).bool(false).jsonb(json);
    this.table('history', ['rid', 'type', 'id', 'version', 'last_updated', 'deleted', 'method', 'content'])
      .int8(rid).text(type).text(resource.id).int4(1).timestamptz(at).bool(false).text('create').jsonb(json);
    const rows = buildIndexRows(resource, this.repo.localBaseUrls(), this.repo.definitions);
    if (rows.number.length || rows.quantity.length) throw new Error('the bulk pre-load writes no number or quantity index rows (a Patient has none)');
    for (const [param, system, code, grp] of rows.token) {
      this.table('idx_token', ['rid', 'type', 'param', 'system', 'code', 'grp']).int8(rid).text(type).text(param).text(system).text(code).int4(grp);
    }
    for (const [param, value, folded, grp] of rows.string) {
      this.table('idx_string', ['rid', 'type', 'param', 'value', 'folded', 'grp']).int8(rid).text(type).text(param).text(value).text(folded).int4(grp);
    }
    for (const [param, low, high, grp] of rows.date) {
      this.table('idx_date', ['rid', 'type', 'param', 'low', 'high', 'grp']).int8(rid).text(type).text(param).timestamptz(Date.parse(low)).timestamptz(Date.parse(high)).int4(grp);
    }
    for (const [param, targetType, targetId, reference, grp] of rows.reference) {
      this.table('idx_reference', ['rid', 'type', 'param', 'target_type', 'target_id', 'reference', 'grp'])
        .int8(rid).text(type).text(param).text(targetType).text(targetId).text(reference).int4(grp);
    }
    for (const [param, value, grp] of rows.uri) {
      this.table('idx_uri', ['rid', 'type', 'param', 'value', 'grp']).int8(rid).text(type).text(param).text(value).int4(grp);
    }
  }

  /** Each table's COPY data. */
  finish(): Array<{ table: string; columns: readonly string[]; data: CopyData }> {
    return [...this.out].map(([table, { columns, writer }]) => ({ table, columns, data: writer.finish() }));
  }
}

export interface BulkLoadOptions {
  db: Database;
  /** PostgreSQL's URL (a COPY connection of the loader's own); unused on PGlite. */
  url: string | undefined;
  schema: string;
  /** The bench's engine on the schema (its search parameters and base URLs index the rows). */
  repo: FhirRepository;
  matcher: Matcher;
  people: number;
  /** Person number → the person (the population generator, in order). */
  person(index: number): Patient;
  batch?: number;
  progress?(loaded: number): void;
}

/** Loads people 0..people-1; returns the seconds spent loading rows and building indexes. */
export async function bulkLoad(options: BulkLoadOptions): Promise<{ loadSeconds: number; indexSeconds: number; vacuumSeconds: number }> {
  const { db, schema, repo, matcher } = options;
  const batchSize = options.batch ?? 5_000;
  const first = Number((await db.query<{ n: number }>(`SELECT coalesce(max(rid), 0)::bigint AS n FROM ${schema}.resources`)).rows[0]!.n) + 1;
  const dropped = await dropIndexes(db, schema);
  const target = await openCopyTarget(db, schema, options.url);
  let started = performance.now();
  const lastUpdated = new Date().toISOString();
  let pending: Promise<void> = Promise.resolve();
  try {
    for (let start = 0; start < options.people; start += batchSize) {
      const batch = new RowBatch(repo, matcher);
      for (let i = start; i < Math.min(options.people, start + batchSize); i++) {
        batch.add(options.person(i), i, first + 2 * i, lastUpdated);
        // Let the previous batch's COPY data flow to the server while this one is built.
        if (i % 250 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
      await pending;
      const tables = batch.finish();
      pending = (async () => {
        await Promise.all(tables.map(({ table, columns, data }) => target.copy(table, columns, data)));
      })();
      pending.catch(() => undefined);
      options.progress?.(start + batch.people);
    }
    await pending;
  } finally {
    await target.close();
  }
  const loadSeconds = (performance.now() - started) / 1000;
  await db.query(`SELECT setval(pg_get_serial_sequence('${schema}.resources', 'rid'), $1)`, [first + 2 * options.people]);
  started = performance.now();
  await buildIndexes(db, schema, dropped);
  const indexSeconds = (performance.now() - started) / 1000;
  started = performance.now();
  for (const table of LOADED_TABLES) await db.exec(`VACUUM ANALYZE ${schema}.${table}`);
  const vacuumSeconds = (performance.now() - started) / 1000;
  return { loadSeconds, indexSeconds, vacuumSeconds };
}
