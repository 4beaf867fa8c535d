import type { Migration } from '../../db/database.js';

/** Schema iol: one row per entity, the OpenHIM document in jsonb, secrets and query keys beside it. */
export const iolMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'users, clients, channels, mediators, transactions, audits, tasks, contact groups',
    sql: `
      CREATE TABLE iol.users (
        id text PRIMARY KEY,
        email text NOT NULL UNIQUE,
        doc jsonb NOT NULL,
        scrypt_hash text,
        legacy_salt text,
        legacy_hash text,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE iol.clients (
        id text PRIMARY KEY,
        client_id text NOT NULL UNIQUE,
        doc jsonb NOT NULL,
        secrets jsonb NOT NULL DEFAULT '{}',
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE iol.channels (
        id text PRIMARY KEY,
        name text NOT NULL UNIQUE,
        doc jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE iol.mediators (
        urn text PRIMARY KEY,
        doc jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE TABLE iol.transactions (
        id text PRIMARY KEY,
        channel_id text,
        client_id text,
        status text NOT NULL,
        request_ts timestamptz NOT NULL,
        request_path text NOT NULL,
        response_status integer,
        parent_id text,
        bodies_culled boolean NOT NULL DEFAULT false,
        doc jsonb NOT NULL
      );
      CREATE INDEX transactions_ts ON iol.transactions (request_ts DESC);
      CREATE INDEX transactions_channel_ts ON iol.transactions (channel_id, request_ts DESC);
      CREATE INDEX transactions_status ON iol.transactions (status);
      CREATE INDEX transactions_client ON iol.transactions (client_id, request_ts DESC);
      CREATE TABLE iol.audits (
        id text PRIMARY KEY,
        recorded timestamptz NOT NULL,
        action text NOT NULL,
        outcome text NOT NULL,
        doc jsonb NOT NULL
      );
      CREATE INDEX audits_recorded ON iol.audits (recorded DESC);
      CREATE TABLE iol.tasks (
        id text PRIMARY KEY,
        status text NOT NULL,
        created timestamptz NOT NULL DEFAULT now(),
        doc jsonb NOT NULL
      );
      CREATE TABLE iol.contact_groups (
        id text PRIMARY KEY,
        grp text NOT NULL UNIQUE,
        doc jsonb NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'transaction bodies compressed beside the document',
    sql: `
      ALTER TABLE iol.transactions ADD COLUMN bodies bytea;
      -- Already gzip-compressed by the router: no second compression by TOAST.
      ALTER TABLE iol.transactions ALTER COLUMN bodies SET STORAGE EXTERNAL;
    `,
  },
  {
    version: 3,
    name: 'server keys shared by every instance (the token-salt key)',
    sql: `
      CREATE TABLE iol.server_keys (
        name text PRIMARY KEY,
        key bytea NOT NULL
      );
    `,
  },
  {
    version: 4,
    name: 'replicas: heartbeats, leases, sessions, login throttles and used tokens in the database; change notifications',
    sql: `
      -- Each running instance (replica) of the service, with its last heartbeat (replicas/membership.ts).
      CREATE TABLE iol.replicas (
        id text PRIMARY KEY,
        host text NOT NULL,
        pid integer NOT NULL,
        started_at timestamptz NOT NULL DEFAULT now(),
        heartbeat_at timestamptz NOT NULL DEFAULT now()
      );
      -- A background job runs once per period across replicas: whoever takes the lease (replicas/leases.ts).
      CREATE TABLE iol.leases (
        name text PRIMARY KEY,
        holder text NOT NULL,
        expires_at timestamptz NOT NULL
      );
      -- The replica that logged a transaction: its Processing rows are orphans once it is dead.
      ALTER TABLE iol.transactions ADD COLUMN replica_id text;
      CREATE INDEX transactions_processing ON iol.transactions (replica_id) WHERE status = 'Processing';
      -- The replica working a rerun task; a dead replica's task goes back to the queue.
      ALTER TABLE iol.tasks ADD COLUMN claimed_by text;
      -- Admin sessions, by the sha256 of the cookie value (a dump does not hand out live sessions).
      CREATE TABLE iol.sessions (
        id_hash text PRIMARY KEY,
        email text NOT NULL,
        stamp text NOT NULL,
        expires_at timestamptz NOT NULL
      );
      CREATE INDEX sessions_expires ON iol.sessions (expires_at);
      -- Token headers already used (replay check), until their auth-ts can no longer be accepted.
      CREATE TABLE iol.used_tokens (
        key text PRIMARY KEY,
        expires_at timestamptz NOT NULL
      );
      CREATE INDEX used_tokens_expires ON iol.used_tokens (expires_at);
      -- Login throttling counters (api/login-throttle.ts) and the addresses users logged in from.
      CREATE TABLE iol.login_failures (
        key text PRIMARY KEY,
        failures integer NOT NULL,
        window_ends timestamptz NOT NULL
      );
      CREATE TABLE iol.known_addresses (
        pair text PRIMARY KEY,
        expires_at timestamptz NOT NULL
      );
      -- Every committed change to what the routers and authenticators cache is announced on
      -- channel iol_changes (payload: the table), whoever made it: the API of any replica, an
      -- importer, a restore (replicas/change-feed.ts).
      CREATE FUNCTION iol.announce_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
      BEGIN
        PERFORM pg_notify('iol_changes', TG_TABLE_NAME);
        RETURN NULL;
      END
      $fn$;
      CREATE TRIGGER channels_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON iol.channels
        FOR EACH STATEMENT EXECUTE FUNCTION iol.announce_change();
      CREATE TRIGGER clients_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON iol.clients
        FOR EACH STATEMENT EXECUTE FUNCTION iol.announce_change();
      CREATE TRIGGER users_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON iol.users
        FOR EACH STATEMENT EXECUTE FUNCTION iol.announce_change();
    `,
  },
  {
    version: 5,
    name: 'transaction rows under a page stay whole and uncompressed',
    sql: `
      -- A row over ~2 KB used to be compressed by TOAST (pglz); in the embedded database, where
      -- PostgreSQL runs as WebAssembly, that was a large part of each logged request's cost.
      -- Rows now stay whole up to a page; bodies over 8 KB arrive compressed from the router.
      ALTER TABLE iol.transactions SET (toast_tuple_target = 8160);
    `,
  },
  {
    version: 6,
    name: 'keystore: the server certificate and key, and the trusted certificates (OpenHIM /keystore)',
    sql: `
      -- One row: the certificate and key the router's HTTPS (and the API's) serve (keystore/).
      -- The key is kept here only, in the instance's own schema; no endpoint or log returns it.
      -- cert/key/passphrase are what the API was given (replaced one at a time, as in OpenHIM);
      -- served_* the last of those that matched, which the listeners serve, so a restart between
      -- a new certificate and its key still serves the old pair.
      CREATE TABLE iol.keystore (
        id integer PRIMARY KEY CHECK (id = 1),
        cert jsonb NOT NULL,
        key text NOT NULL,
        passphrase text,
        served_cert text NOT NULL,
        served_key text NOT NULL,
        served_passphrase text,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
      -- Trusted certificates: what mutual TLS client authentication trusts (OpenHIM keystore.ca).
      CREATE TABLE iol.keystore_ca (
        id text PRIMARY KEY,
        fingerprint text NOT NULL UNIQUE,
        doc jsonb NOT NULL,
        added_at timestamptz NOT NULL DEFAULT now()
      );
      -- Every replica serves the new certificate as soon as it changes (replicas/change-feed.ts).
      CREATE TRIGGER keystore_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON iol.keystore
        FOR EACH STATEMENT EXECUTE FUNCTION iol.announce_change();
      CREATE TRIGGER keystore_ca_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON iol.keystore_ca
        FOR EACH STATEMENT EXECUTE FUNCTION iol.announce_change();
    `,
  },
  {
    version: 7,
    name: 'transaction documents as json text; the response time in a column of its own',
    sql: `
      -- The router writes a row per request. Turning each document into jsonb (parsing it into
      -- its binary form) was about a fifth of a row's cost in the embedded database, where
      -- PostgreSQL runs as WebAssembly; json keeps the text once checked. What queries read from
      -- the document is a few fields (the properties filter, the auto-retry flag, the audit's
      -- method and address), cast to jsonb where an operator needs it. /metrics reads the
      -- response time from response_ms (rows written before this have none: read from the document).
      ALTER TABLE iol.transactions ALTER COLUMN doc TYPE json USING doc::json, ADD COLUMN response_ms bigint;
    `,
  },
  {
    version: 8,
    name: 'visualizers (OpenHIM /visualizers)',
    sql: `
      -- The OpenHIM console's visualizer settings: the document as OpenHIM's model has it, its
      -- name unique (OpenHIM's index).
      CREATE TABLE iol.visualizers (
        id text PRIMARY KEY,
        name text NOT NULL UNIQUE,
        doc jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 9,
    name: 'channels: an empty methods list now matches no method (OpenHIM); http channels stored with none take every method',
    sql: `
      -- Until now an http channel without methods took every method. The router now reads an
      -- empty list as OpenHIM does (no method), so channels saved under the old rule keep working.
      UPDATE iol.channels
         SET doc = jsonb_set(doc, '{methods}', '["GET","HEAD","POST","PUT","DELETE","CONNECT","OPTIONS","TRACE","PATCH"]'::jsonb)
       WHERE COALESCE(doc->>'type', 'http') = 'http'
         AND (doc->'methods' IS NULL OR doc->'methods' = '[]'::jsonb);
    `,
  },
  {
    version: 10,
    name: 'channel audit trail (OpenHIM ChannelAudits): a JSON Patch per change',
    sql: `
      -- GET /channels/:id/audits: each change to a channel as JSON Patch ops, newest first.
      CREATE TABLE iol.channel_audits (
        id text PRIMARY KEY,
        channel_id text NOT NULL,
        recorded timestamptz NOT NULL,
        doc jsonb NOT NULL
      );
      CREATE INDEX channel_audits_by_channel ON iol.channel_audits (channel_id, recorded DESC, id DESC);
    `,
  },
  {
    version: 11,
    name: 'app registry (OpenHIM /apps and /importmaps)',
    sql: `
      -- The console apps OpenHIM registers (its micro-frontends and links): the document as
      -- OpenHIM's model has it, name and url each unique (OpenHIM's indexes).
      CREATE TABLE iol.apps (
        id text PRIMARY KEY,
        name text NOT NULL UNIQUE,
        url text NOT NULL UNIQUE,
        doc jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 12,
    name: 'audits: the ATNA record as received (OpenHIM POST /audits, the audit repository)',
    sql: `
      -- An ATNA audit record (RFC 3881 / DICOM, as OpenHIM stores it) is kept as received beside
      -- its FHIR AuditEvent in doc; NULL for the audits this service writes itself.
      ALTER TABLE iol.audits ADD COLUMN atna jsonb;
    `,
  },
  {
    version: 13,
    name: 'set-password tokens (OpenHIM /password-reset-request and /token/:token)',
    sql: `
      -- A new user's set-password link, or a password reset: the token's sha256 (the token itself
      -- is only in the e-mail), whose user, which kind, until when. One per user.
      CREATE TABLE iol.user_tokens (
        token_hash text PRIMARY KEY,
        user_id text NOT NULL UNIQUE REFERENCES iol.users (id) ON DELETE CASCADE,
        token_type text NOT NULL CHECK (token_type IN ('newUser', 'existingUser')),
        expiry timestamptz NOT NULL
      );
    `,
  },
  {
    version: 14,
    name: 'channel alerts (OpenHIM alerts.js): the last run, and a day of alerts sent',
    sql: `
      -- When the alert check last ran: the next one looks at what ended since.
      CREATE TABLE iol.alert_state (
        name text PRIMARY KEY,
        last_run timestamptz NOT NULL
      );
      -- Each alert sent (or failed) for a day, as OpenHIM's Alert collection: maxAlerts and the
      -- failure-rate alerts' once an hour are decided from it.
      CREATE TABLE iol.alerts_sent (
        id bigserial PRIMARY KEY,
        user_email text NOT NULL,
        method text NOT NULL,
        channel_id text NOT NULL,
        condition text NOT NULL,
        status text NOT NULL,
        alert_status text NOT NULL CHECK (alert_status IN ('Completed', 'Failed')),
        sent_at timestamptz NOT NULL
      );
      CREATE INDEX alerts_sent_lookup ON iol.alerts_sent (channel_id, condition, status, sent_at);
    `,
  },
  {
    version: 15,
    name: 'password reset mails sent, per user (the hourly cap kept across restarts and replicas)',
    sql: `
      -- Each reset link mailed to a user in the last hour: at most three an hour reach a mailbox,
      -- whatever the in-memory request throttle forgot (a restart, another replica, a flood of
      -- other addresses pushing this one out).
      CREATE TABLE iol.reset_mails (
        user_id text NOT NULL REFERENCES iol.users (id) ON DELETE CASCADE,
        sent_at timestamptz NOT NULL
      );
      CREATE INDEX reset_mails_user ON iol.reset_mails (user_id, sent_at);
    `,
  },
];
