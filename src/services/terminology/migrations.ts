/**
 * The terminology service's own tables, in the engine's schema beside the FHIR tables, so a
 * CodeSystem write and its concepts commit together. Versions start at 1001 to stay clear of the
 * engine's migrations, which share the schema's migration record.
 *
 * code_system   one row per CodeSystem url + version (the FHIR resource that carries it, its size)
 * concept       the concepts of each code system version, numbered `ord` within it (1..n), with
 *               the display folded to lower case without accents (`norm`) for text filters
 * designation   other displays of a concept (language, use)
 * property      property values of a concept (as text), for $lookup and filters `=`, `in`, `exists`
 *               (1003: indexed by md5(value), so a 20,000-character value is stored, not a 500)
 * parent        direct is-a links (child ord -> parent ord), for $lookup's parent/child
 * closure       every (ancestor, descendant) pair with its distance, the concept itself at 0: is-a,
 *               descendent-of and $subsumes are one index probe, never a walk
 * word          each word of each display (C collation, so a prefix is a range scan of the index):
 *               the text filter of $expand without pg_trgm, which PGlite lacks; with the word's
 *               position (0: the display starts with it) and the display's length, so a search of
 *               whole code systems ranks and counts its matches without reading the concepts
 *               (1002: position and length ride in the primary key's leaf entries, so that search is
 *               an index-only scan rather than one heap page read per matching word)
 * map_element   one row per source -> target mapping of each ConceptMap, for $translate both ways
 * content_load  bundles of content loaded at init (the core R4 definitions), so a restart skips them
 */
import type { Migration } from '../../db/database.js';

export function terminologyMigrations(schema: string): Migration[] {
  return [
    {
      version: 1001,
      name: 'terminology: code systems, concepts, closure, words, concept maps',
      sql: `
        CREATE TABLE ${schema}.code_system (
          csid bigserial PRIMARY KEY,
          url text NOT NULL,
          version text NOT NULL DEFAULT '',
          resource_id text NOT NULL,
          name text,
          hierarchy_meaning text,
          case_sensitive boolean NOT NULL DEFAULT true,
          concept_count integer NOT NULL DEFAULT 0,
          loaded_at timestamptz NOT NULL DEFAULT now(),
          UNIQUE (url, version)
        );
        CREATE INDEX code_system_resource ON ${schema}.code_system (resource_id);
        CREATE TABLE ${schema}.concept (
          csid bigint NOT NULL,
          ord integer NOT NULL,
          code text NOT NULL,
          display text,
          norm text COLLATE "C",
          definition text,
          active boolean NOT NULL DEFAULT true,
          PRIMARY KEY (csid, ord)
        );
        CREATE UNIQUE INDEX concept_code ON ${schema}.concept (csid, code);
        CREATE INDEX concept_lower_code ON ${schema}.concept (csid, lower(code));
        CREATE TABLE ${schema}.designation (
          csid bigint NOT NULL,
          ord integer NOT NULL,
          language text,
          use_system text,
          use_code text,
          value text NOT NULL
        );
        CREATE INDEX designation_concept ON ${schema}.designation (csid, ord);
        CREATE TABLE ${schema}.property (
          csid bigint NOT NULL,
          ord integer NOT NULL,
          code text NOT NULL,
          type text NOT NULL,
          value text NOT NULL
        );
        CREATE INDEX property_concept ON ${schema}.property (csid, ord);
        CREATE INDEX property_value ON ${schema}.property (csid, code, value);
        CREATE TABLE ${schema}.parent (
          csid bigint NOT NULL,
          child integer NOT NULL,
          parent integer NOT NULL,
          PRIMARY KEY (csid, child, parent)
        );
        CREATE INDEX parent_parent ON ${schema}.parent (csid, parent);
        CREATE TABLE ${schema}.closure (
          csid bigint NOT NULL,
          ancestor integer NOT NULL,
          descendant integer NOT NULL,
          depth smallint NOT NULL,
          PRIMARY KEY (csid, ancestor, descendant)
        );
        CREATE INDEX closure_descendant ON ${schema}.closure (csid, descendant, ancestor);
        CREATE TABLE ${schema}.word (
          csid bigint NOT NULL,
          word text COLLATE "C" NOT NULL,
          ord integer NOT NULL,
          pos smallint NOT NULL,
          len smallint NOT NULL,
          PRIMARY KEY (csid, word, ord)
        );
        CREATE TABLE ${schema}.map_element (
          map_id text NOT NULL,
          map_url text,
          map_version text,
          source_system text,
          source_version text,
          source_code text NOT NULL,
          source_display text,
          target_system text,
          target_version text,
          target_code text,
          target_display text,
          equivalence text NOT NULL,
          comment text
        );
        CREATE INDEX map_element_source ON ${schema}.map_element (source_code, source_system);
        CREATE INDEX map_element_target ON ${schema}.map_element (target_code, target_system);
        CREATE INDEX map_element_map ON ${schema}.map_element (map_id);
        CREATE TABLE ${schema}.content_load (
          name text PRIMARY KEY,
          version text NOT NULL,
          resources integer NOT NULL,
          concepts integer NOT NULL,
          loaded_at timestamptz NOT NULL DEFAULT now()
        );
      `,
    },
    {
      version: 1002,
      name: 'terminology: word position and length in the word index (index-only text search)',
      sql: `
        ALTER TABLE ${schema}.word DROP CONSTRAINT word_pkey,
          ADD CONSTRAINT word_pkey PRIMARY KEY (csid, word, ord) INCLUDE (pos, len);
      `,
    },
    {
      version: 1003,
      name: 'terminology: property values indexed by their hash (a long value fits no index entry)',
      sql: `
        DROP INDEX ${schema}.property_value;
        CREATE INDEX property_value_hash ON ${schema}.property (csid, code, md5(value));
      `,
    },
    {
      version: 1004,
      name: 'terminology: a code system version\'s content (fragment, example, not-present: what it holds is not all of it)',
      sql: `
        ALTER TABLE ${schema}.code_system ADD COLUMN content text;
      `,
    },
  ];
}
