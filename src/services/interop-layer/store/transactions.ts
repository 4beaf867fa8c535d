/**
 * The transaction log. One upsert per finished request, batched with others off the request
 * path (see WriteBehind); requests still running after `processingSnapshotMs` are written as
 * Processing so that a crash leaves a trace, which the reaper marks Failed once the replica that
 * wrote it is dead (replicas/reaper.ts).
 */
import { brotliCompress as brotliCompressCb, brotliDecompress as brotliDecompressCb, gunzip as gunzipCb, constants as zlibConstants } from 'node:zlib';
import { promisify } from 'node:util';
import type { Database } from '../../../db/database.js';
import { decodeBody, type BodyEncoding } from './content-encoding.js';
import type { Logger } from '../../../common/logger.js';
import { isUtf8 } from 'node:buffer';
import { TRANSACTION_STATUSES, type Transaction } from '../models.js';
import { storableJson } from './storable.js';
import { COPY_INTO_TRANSACTIONS, copyRows, responseMs } from './transaction-rows.js';
import { describeError, WriteBehind } from './write-behind.js';

const brotliCompress = promisify(brotliCompressCb);
const brotliDecompress = promisify(brotliDecompressCb);
const gunzip = promisify(gunzipCb);

/**
 * Stored bodies live in the `bodies` column, never inside the jsonb document: escaping body text
 * into JSON and parsing it back into jsonb cost the embedded database more than the rest of the
 * row. Request and response bodies of this many bytes or more (together) are compressed first
 * (brotli at quality 1, in libuv's thread pool, off the router's thread): the database then
 * writes a fraction of the bytes. Brotli 1 compresses FHIR JSON better than gzip 1 (5.8x against
 * 5.4x) in a third of the CPU (two 100 KB bodies: ~0.3 ms against ~1 ms). Shorter ones are
 * stored as they are: measured with 1 KB bodies, the thread-pool round trip cost more than it
 * saved. The column keeps any bytes a client sends (not UTF-8, NUL...) exactly.
 */
export const COMPRESS_BODIES_FROM = 8192;

/**
 * The bodies the router stores, as bytes: a part given here is stored with these exact bytes
 * (its `body` text in the transaction, if any, is not used).
 */
export interface BodyBytes {
  request?: Buffer | undefined;
  response?: Buffer | undefined;
  /** The response's Content-Encoding, when the log stores it decoded (content-encoding.ts), with the stored-body cap. */
  responseEncoding?: { encoding: BodyEncoding; cap: number } | undefined;
  /**
   * The request's Content-Encoding, when its decoded text may hold what the log must not keep:
   * `mask` returns the decoded bytes as they are when nothing is to hide (the request is then
   * stored as it came), else the bytes to store instead, decoded.
   */
  requestEncoding?: { encoding: BodyEncoding; cap: number; mask: (decoded: Buffer) => Buffer } | undefined;
}

/** A transaction as written: the document without its bodies, and the bodies framed (compressed when big). */
export interface TransactionRow {
  tx: Transaction;
  bodies: Buffer | null;
  /**
   * The row may be stored already (a Processing snapshot of it was written): it is upserted
   * rather than bulk-loaded. Rows that turn out to exist are upserted anyway; this saves the try.
   */
  mayExist?: boolean | undefined;
}

type StoredPart = { body?: string; bodyBase64?: string } | undefined;

/** The bytes of a stored body: as the router gave them, else from the document's text. */
function bytesOf(part: StoredPart, raw: Buffer | undefined): Buffer | undefined {
  if (raw) return raw;
  if (!part || part.body === undefined) return undefined;
  if (part.bodyBase64 !== undefined) return Buffer.from(part.bodyBase64, 'base64');
  return Buffer.from(part.body, 'utf8');
}

function hasBodies(tx: Transaction, raw: BodyBytes | undefined): boolean {
  return raw?.request !== undefined || raw?.response !== undefined || tx.request?.body !== undefined || tx.response?.body !== undefined;
}

/**
 * Stored bodies are framed, not JSON: 1 flag byte (bit 0 request, bit 1 response), the
 * request's byte length (4 bytes), then the request's and the response's bytes. The column holds
 * the frame as is (first byte 0 to 3), or BROTLI_MARK and the frame brotli-compressed, or (rows
 * of earlier versions) the frame gzipped (gzip's magic bytes 1f 8b).
 */
function frameBodies(request: Buffer | undefined, response: Buffer | undefined): Buffer {
  const requestLength = request?.length ?? 0;
  const framed = Buffer.allocUnsafe(5 + requestLength + (response?.length ?? 0));
  framed.writeUInt8((request !== undefined ? 1 : 0) | (response !== undefined ? 2 : 0), 0);
  framed.writeUInt32BE(requestLength, 1);
  if (request) request.copy(framed, 5);
  if (response) response.copy(framed, 5 + requestLength);
  return framed;
}

function unframeBodies(framed: Buffer): { request?: Buffer; response?: Buffer } {
  const flags = framed.readUInt8(0);
  const requestLength = framed.readUInt32BE(1);
  const out: { request?: Buffer; response?: Buffer } = {};
  if (flags & 1) out.request = framed.subarray(5, 5 + requestLength);
  if (flags & 2) out.response = framed.subarray(5 + requestLength);
  return out;
}

const BROTLI_MARK = 0x80;

async function compressFrame(framed: Buffer): Promise<Buffer> {
  const compressed = await brotliCompress(framed, {
    // Room for the whole output in one go: one round trip to the thread pool, not one per 16 KB.
    chunkSize: framed.length + 1024,
    params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 1, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: framed.length },
  });
  return Buffer.concat([Buffer.of(BROTLI_MARK), compressed]);
}

async function frameOfColumn(column: Buffer): Promise<Buffer> {
  if (column[0] === BROTLI_MARK) return brotliDecompress(column.subarray(1));
  if (column.length >= 2 && column[0] === 0x1f && column[1] === 0x8b) return gunzip(column);
  return column;
}

/** A body as the API shows it (as OpenHIM: UTF-8 text), with the exact bytes when that text is lossy. */
function shownBody(bytes: Buffer): { body: string; bodyBase64?: string } {
  const body = bytes.toString('utf8');
  return isUtf8(bytes) ? { body } : { body, bodyBase64: bytes.toString('base64') };
}

function withoutBody<T extends StoredPart>(part: T): T {
  if (!part) return part;
  const { body: _b, bodyBase64: _e, ...rest } = part;
  return rest as T;
}

/** The document without bodies, and the bodies' frame (not yet compressed). */
function splitBodies(tx: Transaction, raw?: BodyBytes): { doc: Transaction; framed: Buffer } {
  const requestBytes = bytesOf(tx.request, raw?.request);
  const responseBytes = bytesOf(tx.response, raw?.response);
  const doc: Transaction = { ...tx, request: withoutBody(tx.request) };
  if (tx.response) doc.response = withoutBody(tx.response);
  return { doc, framed: frameBodies(requestBytes, responseBytes) };
}

async function toRow(tx: Transaction, raw?: BodyBytes): Promise<TransactionRow> {
  if (!hasBodies(tx, raw)) return { tx, bodies: null };
  const { doc, framed } = splitBodies(tx, raw);
  if (framed.length - 5 < COMPRESS_BODIES_FROM) return { tx: doc, bodies: framed };
  return { tx: doc, bodies: await compressFrame(framed) };
}

/** Puts stored bodies back into the document. */
/** The size of a transaction's routes and orchestrations as JSON (0 without any). */
function partsBytes(doc: Transaction): number {
  const routes = Array.isArray(doc.routes) ? doc.routes : [];
  const orchestrations = Array.isArray(doc.orchestrations) ? doc.orchestrations : [];
  if (routes.length === 0 && orchestrations.length === 0) return 0;
  return Buffer.byteLength(JSON.stringify(routes)) + Buffer.byteLength(JSON.stringify(orchestrations));
}

type PartLike = { request?: { body?: unknown } | undefined; response?: { body?: unknown } | undefined; orchestrations?: PartLike[] | undefined };

/** A route's or orchestration's request and response without their bodies (past the page budget). */
function withoutBodies<T extends PartLike>(part: T): T {
  if (!part || typeof part !== 'object') return part;
  const strip = <S extends { body?: unknown } | undefined>(section: S): S => {
    if (!section || typeof section !== 'object' || !('body' in section)) return section;
    const { body: _b, ...rest } = section;
    return rest as S;
  };
  return {
    ...part,
    request: strip(part.request),
    response: strip(part.response),
    ...(Array.isArray(part.orchestrations) ? { orchestrations: part.orchestrations.map(withoutBodies) } : {}),
  };
}

function withoutPartBodies(doc: Transaction): Transaction {
  const routes = Array.isArray(doc.routes) ? (doc.routes as unknown as PartLike[]).map(withoutBodies) : doc.routes;
  const orchestrations = Array.isArray(doc.orchestrations) ? (doc.orchestrations as unknown as PartLike[]).map(withoutBodies) : doc.orchestrations;
  return { ...doc, routes, orchestrations } as Transaction;
}

async function withBodies(doc: Transaction, bodies: Buffer | Uint8Array | null | undefined): Promise<Transaction> {
  if (!bodies || bodies.length === 0) return doc;
  const column = Buffer.from(bodies.buffer, bodies.byteOffset, bodies.byteLength);
  const stored = unframeBodies(await frameOfColumn(column));
  const tx = { ...doc, request: { ...doc.request } };
  if (stored.request !== undefined) Object.assign(tx.request, shownBody(stored.request));
  if (stored.response !== undefined && tx.response) tx.response = { ...tx.response, ...shownBody(stored.response) };
  return tx;
}

/**
 * What is kept of a transaction the database refused even after its strings were made
 * storable (e.g. a status no integer column takes): where and when, and why the rest is missing.
 */
function refusedRow(tx: Transaction, error: unknown): TransactionRow {
  const { code } = describeError(error);
  const text = (value: unknown): string | undefined => (typeof value === 'string' ? value : undefined);
  const timestamp = text(tx.request?.timestamp);
  const responseStatus = Number(tx.response?.status);
  const minimal: Transaction = {
    _id: String(tx._id),
    ...(text(tx.channelID) ? { channelID: tx.channelID } : {}),
    ...(text(tx.clientID) ? { clientID: tx.clientID } : {}),
    ...(text(tx.clientIP) ? { clientIP: tx.clientIP } : {}),
    ...(text(tx.parentID) ? { parentID: tx.parentID } : {}),
    childIDs: [],
    request: {
      path: text(tx.request?.path) ?? '',
      method: text(tx.request?.method) ?? '',
      querystring: '',
      headers: {},
      timestamp: timestamp && !Number.isNaN(Date.parse(timestamp)) ? timestamp : new Date().toISOString(),
    },
    ...(Number.isInteger(responseStatus) && responseStatus >= 100 && responseStatus <= 999
      ? { response: { status: responseStatus, headers: {}, timestamp: new Date().toISOString() } }
      : {}),
    routes: [],
    orchestrations: [],
    canRerun: false,
    status: (TRANSACTION_STATUSES as readonly string[]).includes(tx.status) ? tx.status : 'Failed',
    error: { message: `this transaction could not be stored as received (database error ${code ?? 'unknown'}); its bodies, headers and details were dropped` },
  };
  return { tx: minimal, bodies: null };
}

/**
 * The row a finished transaction is written as: at once when its bodies are small, else a
 * promise (bodies compressed in libuv's thread pool). Never rejects: bodies that cannot be
 * compressed are dropped, and the transaction is still logged.
 */
export function prepareRow(tx: Transaction, raw: BodyBytes | undefined, logger: Logger): TransactionRow | Promise<TransactionRow> {
  if (raw?.requestEncoding) return maskedRequest(tx, raw).then((masked) => prepareRow(tx, masked, logger));
  if (raw?.responseEncoding && raw.response?.length) return decodedResponse(tx, raw).then((decoded) => prepareRow(tx, decoded, logger));
  // The exchange is done with it: nothing mutates it after this, so the document is not copied.
  if (!hasBodies(tx, raw)) return { tx, bodies: null };
  const { doc, framed } = splitBodies(tx, raw);
  if (framed.length - 5 < COMPRESS_BODIES_FROM) return { tx: doc, bodies: framed };
  return compressFrame(framed).then(
    (bodies): TransactionRow => ({ tx: doc, bodies }),
    (error: unknown): TransactionRow => {
      logger.error({ err: describeError(error), transaction: tx._id }, 'could not compress transaction bodies; stored without them');
      return { tx: { ...doc, canRerun: false }, bodies: null };
    },
  );
}

/** The bodies with the response decoded (cut at the cap, and marked so), or as they came when it does not decode. */
async function decodedResponse(tx: Transaction, raw: BodyBytes): Promise<BodyBytes> {
  const { encoding, cap } = raw.responseEncoding!;
  const decoded = await decodeBody(raw.response!, encoding, cap);
  if (!decoded) return { request: raw.request, response: raw.response };
  if (decoded.cut && tx.response) tx.response.bodyTruncated = true;
  return { request: raw.request, response: decoded.bytes };
}

/**
 * The bodies with a compressed request decoded and masked when its text holds what the log must
 * not keep (then stored decoded, its headers no longer saying it is compressed, so a rerun sends
 * what is stored), else as they came.
 */
async function maskedRequest(tx: Transaction, raw: BodyBytes): Promise<BodyBytes> {
  const { requestEncoding, ...bodies } = raw;
  if (!requestEncoding || !raw.request?.length) return bodies;
  const decoded = await decodeBody(raw.request, requestEncoding.encoding, requestEncoding.cap);
  if (!decoded) return bodies;
  const masked = requestEncoding.mask(decoded.bytes);
  if (masked === decoded.bytes) return bodies;
  if (tx.request) {
    const { 'content-encoding': _encoding, 'content-length': _length, ...headers } = tx.request.headers ?? {};
    tx.request.headers = headers;
    if (decoded.cut) tx.request.bodyTruncated = true;
  }
  return { ...bodies, request: masked };
}

/** SQLSTATE unique_violation: a bulk-loaded row was stored already. */
const UNIQUE_VIOLATION = '23505';

/** A request still running after this long is written as Processing (a crash then leaves a trace). */
export const PROCESSING_SNAPSHOT_MS = 1000;

export interface TransactionQuery {
  channelIDs?: string[] | undefined;
  /** A client's _id, or any of several ids (the _id and the clientID of older rows). */
  clientID?: string | string[] | undefined;
  status?: string[] | undefined;
  from?: string | undefined;
  to?: string | undefined;
  /** A regular expression, matched without regard to case (as OpenHIM). */
  path?: string | undefined;
  /** A regular expression on the query string, without regard to case (as OpenHIM). */
  querystring?: string | undefined;
  /** Exact values of the request's host, port (as text) and method. */
  host?: string | undefined;
  port?: string | undefined;
  method?: string | undefined;
  /** Rerun or not: whether the transaction has child transactions. */
  hasChildren?: boolean | undefined;
  /** '2xx', '4xx', or an exact code. */
  responseStatus?: string | undefined;
  /** Property tests: `value` undefined = the transaction has the property (any value). */
  properties?: Array<{ key: string; value: unknown }> | undefined;
  /** Conditions on any one of the routes or orchestrations (each its own: Mongo's dotted-path match on an array). */
  /** Patterns (path, querystring), a status pattern, or exact values (host, port). */
  partFilters?: Array<{ list: 'routes' | 'orchestrations'; field: 'request.path' | 'request.querystring' | 'request.host' | 'request.port' | 'response.status'; pattern: string }> | undefined;
  limit: number;
  offset: number;
}

export class TransactionLog {
  private readonly writer: WriteBehind<TransactionRow>;
  /** Finished transactions whose bodies are being compressed (flush waits for them). */
  private readonly preparing = new Set<Promise<void>>();
  private readonly inFlight = new Map<string, { tx: Transaction; since: number; snapshotted: boolean }>();
  private snapshotTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Database,
    private readonly logger: Logger,
    flushIntervalMs: number,
    private readonly processingSnapshotMs = PROCESSING_SNAPSHOT_MS,
    /** The replica whose rows these are (replicas/membership.ts): its dead replica's Processing rows are reaped. */
    private readonly replicaId: string | null = null,
  ) {
    this.writer = new WriteBehind('transactions', (items) => this.write(items), logger, {
      intervalMs: flushIntervalMs,
      onRefused: (row, error) => this.upsert([refusedRow(row.tx, error)]),
    });
    this.snapshotTimer = setInterval(() => this.snapshotLongRunning(), Math.max(100, processingSnapshotMs / 2));
    this.snapshotTimer.unref();
  }

  /** A request entered the router: nothing is written unless it runs long. */
  begin(tx: Transaction): void {
    this.inFlight.set(tx._id, { tx, since: Date.now(), snapshotted: false });
  }

  /**
   * The request ended: queue its one write (after compressing big or binary bodies off-thread).
   * `raw` are the exact bytes of the stored bodies, when the router has them.
   */
  finish(tx: Transaction, raw?: BodyBytes): void {
    const mayExist = this.inFlight.get(tx._id)?.snapshotted;
    this.inFlight.delete(tx._id);
    const row = prepareRow(tx, raw, this.logger);
    if (!(row instanceof Promise)) {
      this.writer.enqueue(tx._id, mayExist ? { ...row, mayExist } : row);
      return;
    }
    const preparing: Promise<void> = row.then((r) => this.writer.enqueue(tx._id, mayExist ? { ...r, mayExist } : r)).finally(() => this.preparing.delete(preparing));
    this.preparing.add(preparing);
  }

  /** A row prepared elsewhere (a router worker process): queued as the router's own are. */
  enqueueRow(row: TransactionRow): void {
    this.writer.enqueue(row.tx._id, row);
  }

  private snapshotLongRunning(): void {
    const limit = Date.now() - this.processingSnapshotMs;
    for (const entry of this.inFlight.values()) {
      if (!entry.snapshotted && entry.since <= limit) {
        entry.snapshotted = true;
        this.writer.enqueue(entry.tx._id, { tx: { ...entry.tx, status: 'Processing' as const }, bodies: null });
      }
    }
  }

  /** Written now (admin API changes), after anything queued for the same transaction. */
  async save(tx: Transaction): Promise<void> {
    await this.flush();
    // No replica: what the API records (a mediator's PUT, POST /transactions) no router is working
    // on, so a replica's death leaves it as it is (replicas/reaper.ts).
    await this.upsert([await toRow(tx)], null);
  }

  async flush(): Promise<void> {
    while (this.preparing.size > 0) await Promise.all([...this.preparing]);
    await this.writer.flush();
  }

  async stop(): Promise<void> {
    if (this.snapshotTimer) clearInterval(this.snapshotTimer);
    this.snapshotTimer = undefined;
    while (this.preparing.size > 0) await Promise.all([...this.preparing]);
    await this.writer.stop();
  }

  /**
   * Writes a batch: on the embedded database, rows that cannot exist yet are bulk-loaded with
   * COPY (transaction-rows.ts: a fraction of the embedded database's cost per row); the others,
   * and a whole batch whose COPY met a stored row (a retry of a batch that was written), upserted.
   */
  private async write(items: TransactionRow[]): Promise<void> {
    if (!this.db.copyFrom) return this.upsert(items);
    const fresh = items.filter((row) => !row.mayExist);
    const known = items.filter((row) => row.mayExist);
    if (fresh.length > 0) {
      try {
        await this.db.copyFrom(COPY_INTO_TRANSACTIONS, copyRows(fresh, this.replicaId));
      } catch (error) {
        if ((error as { code?: unknown }).code !== UNIQUE_VIOLATION) throw error;
        known.push(...fresh);
      }
    }
    if (known.length > 0) await this.upsert(known);
  }

  private async upsert(items: TransactionRow[], replicaId = this.replicaId): Promise<void> {
    const rows = items.map(({ tx, bodies }) => ({
      id: tx._id,
      channel_id: tx.channelID ?? null,
      client_id: tx.clientID ?? null,
      status: tx.status,
      request_ts: tx.request.timestamp,
      request_path: tx.request.path,
      response_status: tx.response?.status ?? null,
      response_ms: responseMs(tx),
      parent_id: tx.parentID ?? null,
      replica_id: replicaId,
      doc: tx,
      bodies: bodies ? bodies.toString('base64') : null,
    }));
    // Strings jsonb cannot hold (NUL, lone surrogates) are replaced; bodies kept their bytes above.
    await this.db.query(
      `INSERT INTO iol.transactions (id, channel_id, client_id, status, request_ts, request_path, response_status, response_ms, parent_id, replica_id, doc, bodies)
       SELECT x.id, x.channel_id, x.client_id, x.status, x.request_ts, x.request_path, x.response_status, x.response_ms, x.parent_id, x.replica_id, x.doc,
              decode(x.bodies, 'base64')
         FROM jsonb_to_recordset($1::jsonb) AS x(id text, channel_id text, client_id text, status text, request_ts timestamptz,
              request_path text, response_status integer, response_ms bigint, parent_id text, replica_id text, doc json, bodies text)
       ON CONFLICT (id) DO UPDATE SET channel_id = EXCLUDED.channel_id, client_id = EXCLUDED.client_id, status = EXCLUDED.status,
              response_status = EXCLUDED.response_status, response_ms = EXCLUDED.response_ms, parent_id = EXCLUDED.parent_id, replica_id = EXCLUDED.replica_id,
              doc = EXCLUDED.doc, bodies = EXCLUDED.bodies`,
      [storableJson(rows)],
    );
  }

  async byId(id: string): Promise<Transaction | undefined> {
    await this.flush();
    const r = await this.db.query<{ doc: Transaction; bodies: Uint8Array | null }>('SELECT doc, bodies FROM iol.transactions WHERE id = $1', [id]);
    const row = r.rows[0];
    return row ? withBodies(row.doc, row.bodies) : undefined;
  }

  async delete(id: string): Promise<boolean> {
    await this.flush();
    return (await this.db.query('DELETE FROM iol.transactions WHERE id = $1', [id])).rowCount > 0;
  }

  private where(q: Omit<TransactionQuery, 'limit' | 'offset'>): { sql: string; params: unknown[] } {
    const clauses: string[] = [];
    const params: unknown[] = [];
    const add = (clause: (n: string) => string, value: unknown) => {
      params.push(value);
      clauses.push(clause(`$${params.length}`));
    };
    if (q.channelIDs) add((p) => `channel_id = ANY(${p}::text[])`, q.channelIDs);
    if (q.clientID) add((p) => `client_id = ANY(${p}::text[])`, [q.clientID].flat());
    if (q.status) add((p) => `status = ANY(${p}::text[])`, q.status);
    if (q.from) add((p) => `request_ts >= ${p}::timestamptz`, q.from);
    if (q.to) add((p) => `request_ts <= ${p}::timestamptz`, q.to);
    if (q.path) add((p) => `request_path ~* ${p}`, q.path);
    if (q.querystring) add((p) => `(doc->'request'->>'querystring') ~* ${p}`, q.querystring);
    if (q.host !== undefined) add((p) => `(doc->'request'->>'host') = ${p}`, q.host);
    if (q.port !== undefined) add((p) => `(doc->'request'->>'port') = ${p}`, q.port);
    if (q.method !== undefined) add((p) => `(doc->'request'->>'method') = ${p}`, q.method);
    if (q.hasChildren !== undefined) {
      const hasChildren = `(CASE WHEN json_typeof(doc->'childIDs') = 'array' THEN json_array_length(doc->'childIDs') > 0 ELSE false END)`;
      clauses.push(q.hasChildren ? hasChildren : `NOT ${hasChildren}`);
    }
    if (q.responseStatus) {
      const m = /^([1-5])xx$/i.exec(q.responseStatus);
      if (m) {
        add((p) => `response_status >= ${p}::int`, Number(m[1]) * 100);
        add((p) => `response_status < ${p}::int`, Number(m[1]) * 100 + 100);
      } else add((p) => `response_status = ${p}::int`, Number(q.responseStatus));
    }
    for (const { key, value } of q.properties ?? []) {
      // jsonb_build_object keeps the key as data whatever it is; a missing key is jsonb_exists.
      if (value === undefined) add((p) => `jsonb_exists((doc->'properties')::jsonb, ${p})`, key);
      else {
        params.push(key);
        const keyParam = `$${params.length}`;
        add((p) => `(doc->'properties')::jsonb @> jsonb_build_object(${keyParam}::text, ${p}::jsonb)`, JSON.stringify(value));
      }
    }
    for (const part of q.partFilters ?? []) {
      // Not indexable (inside the document): the indexed filters (channel, time, status) and the
      // page's LIMIT bound the rows scanned; each pattern is checked (parseFilterRegex) and the
      // statement timeout bounds the rest.
      const [section, field] = part.field.split('.') as [string, string];
      const operator = part.field === 'response.status' ? '~' : part.field === 'request.host' || part.field === 'request.port' ? '=' : '~*';
      add((p) => `EXISTS (SELECT 1 FROM json_array_elements(CASE WHEN json_typeof(doc->'${part.list}') = 'array' THEN doc->'${part.list}' ELSE '[]'::json END) AS e
                   WHERE (e->'${section}'->>'${field}') ${operator} ${p})`, part.pattern);
    }
    return { sql: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params };
  }

  /**
   * Newest first; `withBodyText` false leaves compressed bodies out (representations without
   * bodies). `pageBytes` bounds the bodies one page carries: a transaction's bodies are read (from
   * the database, then decompressed) only while the bytes before it are under the budget; the
   * rest of the page comes without them, marked `bodiesOmitted` (GET /transactions/:id reads
   * each). The first transaction always has its bodies.
   */
  async find(q: TransactionQuery, withBodyText = true, pageBytes = Number.POSITIVE_INFINITY): Promise<Transaction[]> {
    await this.flush();
    const { sql, params } = this.where(q);
    params.push(q.limit, q.offset);
    const page = `SELECT doc, ${withBodyText ? 'bodies' : 'NULL::bytea AS bodies'}, request_ts, id FROM iol.transactions ${sql}
        ORDER BY request_ts DESC, id DESC LIMIT $${params.length - 1} OFFSET $${params.length}`;
    if (!withBodyText || !Number.isFinite(pageBytes)) {
      const r = await this.db.query<{ doc: Transaction; bodies: Uint8Array | null }>(page, params);
      return Promise.all(r.rows.map((x) => withBodies(x.doc, x.bodies)));
    }
    // Stored sizes (octet_length reads a TOASTed value's size without its bytes): bodies past the
    // budget are never read from disk.
    params.push(pageBytes);
    const r = await this.db.query<{ doc: Transaction; bodies: Uint8Array | null; omitted: boolean }>(
      `SELECT doc, CASE WHEN before < $${params.length}::bigint THEN bodies END AS bodies, (before >= $${params.length}::bigint AND bodies IS NOT NULL) AS omitted
         FROM (SELECT doc, bodies, request_ts, id,
                      COALESCE(sum(COALESCE(octet_length(bodies), 0)) OVER (ORDER BY request_ts DESC, id DESC ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
                 FROM (${page}) AS page) AS sized
        ORDER BY request_ts DESC, id DESC`,
      params,
    );
    // Decompressed sizes: a small stored frame may hold a big body.
    const out: Transaction[] = [];
    let shown = 0;
    for (const row of r.rows) {
      const parts = partsBytes(row.doc);
      if (row.omitted || ((row.bodies || parts > 0) && shown >= pageBytes)) {
        out.push({ ...withoutPartBodies(row.doc), bodiesOmitted: true } as Transaction);
        continue;
      }
      const tx = await withBodies(row.doc, row.bodies);
      // Routes and orchestrations (with their bodies) are in the document: they count too.
      shown += Buffer.byteLength(tx.request?.body ?? '') + Buffer.byteLength(tx.response?.body ?? '') + parts;
      out.push(tx);
    }
    return out;
  }

  /**
   * Transactions with something to show since `since` (started then, or ended then), begun after
   * `oldest`: the visualizer's event feed (api/events.ts; it shows a transaction once it ended).
   * Newest first, at most `limit`, without bodies; the time range is the request_ts index's.
   */
  async eventSources(since: string, oldest: string, limit: number): Promise<Transaction[]> {
    await this.flush();
    const r = await this.db.query<{ doc: Transaction }>(
      `SELECT doc FROM iol.transactions
        WHERE request_ts >= $2::timestamptz AND channel_id IS NOT NULL
          AND (request_ts >= $1::timestamptz OR request_ts + make_interval(secs => COALESCE(response_ms, 0) / 1000.0) >= $1::timestamptz)
        ORDER BY request_ts DESC, id DESC LIMIT $3`,
      [since, oldest, limit],
    );
    return r.rows.map((x) => x.doc);
  }

  async count(q: Omit<TransactionQuery, 'limit' | 'offset'>): Promise<number> {
    await this.flush();
    const { sql, params } = this.where(q);
    const r = await this.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM iol.transactions ${sql}`, params);
    return Number(r.rows[0]?.n ?? 0);
  }

  /**
   * Retention: strips bodies of transactions older than their channel's maxBodyAgeDays, and
   * deletes the oldest transactions beyond `maxTransactions` (0 = no cap).
   */
  async applyRetention(channels: Array<{ _id: string; maxBodyAgeDays?: number | undefined }>, maxTransactions: number): Promise<{ culled: number; deleted: number }> {
    let culled = 0;
    for (const channel of channels) {
      if (!channel.maxBodyAgeDays) continue;
      const r = await this.db.query(
        `UPDATE iol.transactions SET bodies_culled = true, bodies = NULL,
                doc = (doc::jsonb #- '{request,body}' #- '{response,body}')
                  || jsonb_build_object('canRerun', false,
                       'routes', COALESCE((SELECT jsonb_agg(r #- '{request,body}' #- '{response,body}') FROM jsonb_array_elements(doc::jsonb->'routes') r), '[]'::jsonb),
                       'orchestrations', COALESCE((SELECT jsonb_agg(o #- '{request,body}' #- '{response,body}') FROM jsonb_array_elements(doc::jsonb->'orchestrations') o), '[]'::jsonb))
          WHERE channel_id = $1 AND NOT bodies_culled AND request_ts < now() - make_interval(days => $2::int)`,
        [channel._id, channel.maxBodyAgeDays],
      );
      culled += r.rowCount;
    }
    let deleted = 0;
    if (maxTransactions > 0) {
      const r = await this.db.query(
        `DELETE FROM iol.transactions WHERE id IN (
           SELECT id FROM iol.transactions ORDER BY request_ts DESC, id DESC OFFSET $1)`,
        [maxTransactions],
      );
      deleted = r.rowCount;
    }
    return { culled, deleted };
  }
}
