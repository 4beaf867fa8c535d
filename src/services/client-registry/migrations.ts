/**
 * The registry's own tables, in the engine's schema beside the FHIR tables (so they commit with
 * the FHIR write that changed them). Versions start at 1001 to stay clear of the engine's
 * migrations, which share the schema's migration record.
 *
 * blocking      blocking keys of each source Patient (indexed by key: candidates of a registration)
 * source_link   each source Patient's golden record, and how it got there
 * decision      every match decision: best candidate, score, grade, each field's contribution
 * review        probable matches waiting for a person (open, accepted, rejected)
 * merge         each merge of a source record into another (what unmerge restores)
 * domains_version  one row, bumped by trigger in the transaction of every NamingSystem write: a
 *               registration compares it with its cached identifier domains (identifier-domains.ts)
 * used_sender_signatures  the router's sender assertions already accepted for a write (replays refused)
 * pmir_message  PMIR ITI-93 messages applied (MessageHeader.id, body digest, answer): a resend is answered as the first
 */
import type { Migration } from '../../db/database.js';

export function registryMigrations(schema: string): Migration[] {
  return [
    {
      version: 1001,
      name: 'client registry: blocking keys, golden links, decisions, review queue',
      sql: `
        CREATE TABLE ${schema}.blocking (
          key text NOT NULL,
          patient_id text NOT NULL,
          PRIMARY KEY (patient_id, key)
        );
        CREATE INDEX blocking_key ON ${schema}.blocking (key);
        CREATE TABLE ${schema}.source_link (
          source_id text PRIMARY KEY,
          golden_id text NOT NULL,
          how text NOT NULL,
          linked_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX source_link_golden ON ${schema}.source_link (golden_id);
        CREATE TABLE ${schema}.decision (
          id bigserial PRIMARY KEY,
          source_id text NOT NULL,
          candidate_id text,
          golden_id text,
          score double precision,
          grade text,
          outcome text NOT NULL,
          fields jsonb NOT NULL DEFAULT '[]',
          decided_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX decision_source ON ${schema}.decision (source_id);
        CREATE TABLE ${schema}.review (
          id bigserial PRIMARY KEY,
          source_id text NOT NULL,
          candidate_id text NOT NULL,
          golden_id text NOT NULL,
          decision_id bigint NOT NULL,
          score double precision NOT NULL,
          status text NOT NULL DEFAULT 'open',
          created_at timestamptz NOT NULL DEFAULT now(),
          resolved_at timestamptz
        );
        CREATE INDEX review_open ON ${schema}.review (status, id);
      `,
    },
    {
      version: 1002,
      name: 'client registry: merges (what unmerge restores)',
      sql: `
        CREATE TABLE ${schema}.merge (
          id bigserial PRIMARY KEY,
          source_id text NOT NULL,
          target_id text NOT NULL,
          previous_golden_id text,
          previous_active boolean,
          merged_at timestamptz NOT NULL DEFAULT now(),
          unmerged_at timestamptz
        );
        CREATE INDEX merge_source ON ${schema}.merge (source_id, id);
      `,
    },
    {
      version: 1003,
      name: 'client registry: identifier domains version (bumped with every NamingSystem write)',
      // A trigger, not the writer: every write of a NamingSystem row (API, PMIR, restore) bumps it.
      // The WHEN clauses keep Patient writes from calling the function at all.
      sql: `
        CREATE TABLE ${schema}.domains_version (
          single boolean PRIMARY KEY DEFAULT true CHECK (single),
          version bigint NOT NULL
        );
        INSERT INTO ${schema}.domains_version (version) VALUES (1);
        CREATE FUNCTION ${schema}.bump_domains_version() RETURNS trigger LANGUAGE plpgsql AS $fn$
        BEGIN
          UPDATE ${schema}.domains_version SET version = version + 1;
          RETURN NULL;
        END
        $fn$;
        CREATE TRIGGER naming_system_written AFTER INSERT OR UPDATE ON ${schema}.resources
          FOR EACH ROW WHEN (NEW.type = 'NamingSystem') EXECUTE FUNCTION ${schema}.bump_domains_version();
        CREATE TRIGGER naming_system_deleted AFTER DELETE ON ${schema}.resources
          FOR EACH ROW WHEN (OLD.type = 'NamingSystem') EXECUTE FUNCTION ${schema}.bump_domains_version();
        CREATE TRIGGER resources_truncated AFTER TRUNCATE ON ${schema}.resources
          FOR EACH STATEMENT EXECUTE FUNCTION ${schema}.bump_domains_version();
      `,
    },
    {
      version: 1004,
      name: 'client registry: sender assertions already used for a write',
      sql: `
        CREATE TABLE ${schema}.used_sender_signatures (
          key text PRIMARY KEY,
          expires_at timestamptz NOT NULL
        );
        CREATE INDEX used_sender_signatures_expires ON ${schema}.used_sender_signatures (expires_at);
      `,
    },
    {
      version: 1005,
      name: 'client registry: PMIR messages applied (a resent message is answered as the first)',
      sql: `
        CREATE TABLE ${schema}.pmir_message (
          message_id text PRIMARY KEY,
          body_digest text NOT NULL,
          response jsonb,
          received_at timestamptz NOT NULL DEFAULT now()
        );
      `,
    },
    {
      version: 1006,
      name: 'client registry: PMIR messages purged by age',
      sql: `CREATE INDEX pmir_message_received_at ON ${schema}.pmir_message (received_at);`,
    },
    {
      version: 1007,
      name: 'client registry: Patient changes queued for subscriptions (PMIR ITI-94)',
      sql: `
        -- Each Patient change, written in the change's transaction; the subscription loop takes
        -- them in order and tells the subscribers whose criteria match.
        CREATE TABLE ${schema}.subscription_outbox (
          id bigserial PRIMARY KEY,
          patient_id text NOT NULL,
          version_id text,
          action text NOT NULL,
          -- The base the change came through (the router's, for a client behind it): the links sent point back that way.
          base_url text
        );
      `,
    },
  ];
}
