/**
 * The FHIR store's tables, created in whichever schema a service gives the engine (the shared
 * health record uses `shr`; the client registry, facility registry and others each their own).
 *
 * resources  one row per resource (current version, or a tombstone after delete)
 * history    every version ever written, including the current one
 * idx_*      search index rows, written in the same transaction as the resource, keyed by the
 *            resource's surrogate `rid`, so a search touches the index rows it matches and then
 *            only the resources it returns.
 */
import { assertSchemaName, type Migration } from '../../db/database.js';
import { INDEXED_TEXT_CHARS } from './indexer.js';

/** SQL for indexer.ts's indexKey(column): the value, or its first characters and SHA-256 when long. */
export function indexKeySql(column: string): string {
  return `CASE WHEN length(${column}) > ${INDEXED_TEXT_CHARS}
    THEN left(${column}, ${INDEXED_TEXT_CHARS - 72}) || '#sha256:' || encode(sha256(convert_to(${column}, 'UTF8')), 'hex')
    ELSE ${column} END`;
}

export function fhirMigrations(schema: string): Migration[] {
  assertSchemaName(schema);
  const s = schema;
  return [
    {
      version: 1,
      name: 'fhir resources, history and search indexes',
      sql: `
        CREATE TABLE ${s}.resources (
          rid bigserial PRIMARY KEY,
          type text NOT NULL,
          id text NOT NULL,
          version integer NOT NULL,
          last_updated timestamptz NOT NULL,
          deleted boolean NOT NULL DEFAULT false,
          content jsonb,
          UNIQUE (type, id)
        );
        CREATE INDEX resources_type_updated ON ${s}.resources (type, last_updated);

        CREATE TABLE ${s}.history (
          rid bigint NOT NULL,
          type text NOT NULL,
          id text NOT NULL,
          version integer NOT NULL,
          last_updated timestamptz NOT NULL,
          deleted boolean NOT NULL DEFAULT false,
          method text NOT NULL,
          content jsonb,
          PRIMARY KEY (type, id, version)
        );
        CREATE INDEX history_updated ON ${s}.history (last_updated);
        CREATE INDEX history_type_updated ON ${s}.history (type, last_updated);

        CREATE TABLE ${s}.idx_token (
          rid bigint NOT NULL, type text NOT NULL, param text NOT NULL,
          system text, code text
        );
        CREATE INDEX idx_token_lookup ON ${s}.idx_token (type, param, code, system);
        CREATE INDEX idx_token_rid ON ${s}.idx_token (rid);

        CREATE TABLE ${s}.idx_string (
          rid bigint NOT NULL, type text NOT NULL, param text NOT NULL,
          value text, folded text NOT NULL
        );
        CREATE INDEX idx_string_lookup ON ${s}.idx_string (type, param, folded text_pattern_ops);
        CREATE INDEX idx_string_rid ON ${s}.idx_string (rid);

        CREATE TABLE ${s}.idx_date (
          rid bigint NOT NULL, type text NOT NULL, param text NOT NULL,
          low timestamptz NOT NULL, high timestamptz NOT NULL
        );
        CREATE INDEX idx_date_low ON ${s}.idx_date (type, param, low);
        CREATE INDEX idx_date_high ON ${s}.idx_date (type, param, high);
        CREATE INDEX idx_date_rid ON ${s}.idx_date (rid);

        CREATE TABLE ${s}.idx_reference (
          rid bigint NOT NULL, type text NOT NULL, param text NOT NULL,
          target_type text, target_id text, reference text NOT NULL
        );
        CREATE INDEX idx_reference_lookup ON ${s}.idx_reference (type, param, target_id, target_type);
        CREATE INDEX idx_reference_raw ON ${s}.idx_reference (type, param, reference);
        CREATE INDEX idx_reference_target ON ${s}.idx_reference (target_type, target_id);
        CREATE INDEX idx_reference_rid ON ${s}.idx_reference (rid);

        CREATE TABLE ${s}.idx_number (
          rid bigint NOT NULL, type text NOT NULL, param text NOT NULL,
          low numeric NOT NULL, high numeric NOT NULL
        );
        CREATE INDEX idx_number_lookup ON ${s}.idx_number (type, param, low);
        CREATE INDEX idx_number_rid ON ${s}.idx_number (rid);

        CREATE TABLE ${s}.idx_quantity (
          rid bigint NOT NULL, type text NOT NULL, param text NOT NULL,
          value numeric NOT NULL, system text, code text, unit text
        );
        CREATE INDEX idx_quantity_lookup ON ${s}.idx_quantity (type, param, value);
        CREATE INDEX idx_quantity_rid ON ${s}.idx_quantity (rid);

        CREATE TABLE ${s}.idx_uri (
          rid bigint NOT NULL, type text NOT NULL, param text NOT NULL,
          value text NOT NULL
        );
        CREATE INDEX idx_uri_lookup ON ${s}.idx_uri (type, param, value);
        CREATE INDEX idx_uri_rid ON ${s}.idx_uri (rid);
      `,
    },
    {
      version: 2,
      name: 'fhir date ranges searchable by overlap',
      // A bounded date search (ge X & lt Y, eq, ap) is an overlap of intervals: neither B-tree on low
      // nor on high narrows it, a GiST index on the range does.
      sql: `CREATE INDEX idx_date_range ON ${s}.idx_date USING gist (tstzrange(low, high, '[]'));`,
    },
    {
      version: 3,
      name: 'fhir composite search parameters',
      // Rows of a composite's components carry the number of the element they came from (grp), so
      // a composite search joins components of the same element, e.g. one Observation.component.
      sql: ['idx_token', 'idx_string', 'idx_date', 'idx_reference', 'idx_number', 'idx_quantity', 'idx_uri']
        .map((table) => `ALTER TABLE ${s}.${table} ADD COLUMN grp integer;`).join('\n'),
    },
    {
      version: 4,
      name: 'fhir result-set snapshots for sorted paging',
      // The ordered rids of a sorted search's result, so its next/previous pages neither skip nor
      // repeat resources when data changes between pages (search/snapshot.ts).
      sql: `
        CREATE TABLE ${s}.search_snapshots (
          id text PRIMARY KEY,
          created_at timestamptz NOT NULL,
          resource_type text NOT NULL,
          rids bigint[] NOT NULL,
          total integer NOT NULL
        );
        CREATE INDEX search_snapshots_created ON ${s}.search_snapshots (created_at);
      `,
    },
    {
      version: 5,
      name: 'fhir index values bounded',
      // Index values are bounded so they fit a B-tree entry (storage/indexer.ts, indexKey and
      // indexedText); rows written before were stored whole when they compressed well enough.
      sql: `
        UPDATE ${s}.idx_token SET code = ${indexKeySql('code')}, system = ${indexKeySql('system')}
          WHERE length(code) > ${INDEXED_TEXT_CHARS} OR length(system) > ${INDEXED_TEXT_CHARS};
        UPDATE ${s}.idx_string SET value = ${indexKeySql('value')}, folded = left(folded, ${INDEXED_TEXT_CHARS})
          WHERE length(value) > ${INDEXED_TEXT_CHARS} OR length(folded) > ${INDEXED_TEXT_CHARS};
        UPDATE ${s}.idx_uri SET value = ${indexKeySql('value')} WHERE length(value) > ${INDEXED_TEXT_CHARS};
        UPDATE ${s}.idx_reference SET reference = ${indexKeySql('reference')} WHERE length(reference) > ${INDEXED_TEXT_CHARS};
      `,
    },
    {
      version: 6,
      name: 'fhir resources of a type in rid order',
      // Searches in the default order walk a type's live resources by rid and probe their filters
      // per row when matches are dense (search/first-page.ts), stopping at the page.
      sql: `CREATE INDEX resources_type_rid ON ${s}.resources (type, rid) WHERE NOT deleted;`,
    },
    {
      version: 7,
      name: 'fhir index rows found by resource and parameter',
      // A walk probes one parameter of one resource: on (rid) alone it read every index row of the
      // resource (15 string rows of a patient) from the heap. (rid, param) also serves the writer's
      // deletes by rid, so it replaces the (rid) index instead of adding to the cost of writes.
      sql: ['idx_token', 'idx_string', 'idx_date', 'idx_reference', 'idx_number', 'idx_quantity', 'idx_uri']
        .map((table) => `CREATE INDEX ${table}_rid_param ON ${s}.${table} (rid, param); DROP INDEX ${s}.${table}_rid;`).join('\n'),
    },
    {
      version: 8,
      name: 'fhir resource sizes',
      // A page stops at FHIR_SEARCH_MAX_PAGE_BYTES (search/page-bytes.ts) by summing sizes before it
      // reads any content; kept by PostgreSQL itself, so no writer can forget it.
      sql: ['resources', 'history']
        .map((table) => `ALTER TABLE ${s}.${table} ADD COLUMN content_bytes integer GENERATED ALWAYS AS (octet_length(content::text)) STORED;`).join('\n'),
    },
  ];
}

/** The index tables by search parameter type. */
export const INDEX_TABLES = ['idx_token', 'idx_string', 'idx_date', 'idx_reference', 'idx_number', 'idx_quantity', 'idx_uri'] as const;
export type IndexTable = (typeof INDEX_TABLES)[number];
