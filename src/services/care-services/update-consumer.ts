/**
 * The mCSD Update Consumer: mirrors another mCSD source (a national facility registry, another
 * instance of this service) by pulling its changes with ITI-91 (`[type]/_history?_since=`).
 *
 * A run reads every version changed since the cursor, type by type (paged, following `next`),
 * keeps the newest version of each resource, and applies them oldest first through this engine,
 * so the mCSD rules (mcsd-rules.ts) hold for mirrored data too. A change refused because what it
 * refers to has not arrived yet (a facility before its Organization, a district before its
 * region) is retried after the others; what still fails is counted and reported in the status.
 *
 * Resumable: each chunk of changes commits in one transaction with the counts and the cursor (the
 * source's lastUpdated up to which everything is applied) in `consumer_state`; the cursor never
 * passes a change still waiting to be retried. Each mirrored resource carries its source version
 * in `meta.source`, so a change read again (in the look-back window that covers writes the source
 * committed late) is skipped, not written again.
 */
import type { Bundle, BundleEntry, Resource } from '@medplum/fhirtypes';
import type { Logger } from '../../common/logger.js';
import type { Queryable } from '../../db/database.js';
import type { FhirEngine } from '../../fhir/engine.js';
import { DEFAULT_LIMITS } from '../../common/limits.js';
import { FhirError } from '../../fhir/outcome.js';
import type { FhirRepository } from '../../fhir/repository.js';

/** The mCSD directory types, those others refer to first. */
export const MCSD_RESOURCE_TYPES = ['Organization', 'Endpoint', 'Location', 'Practitioner', 'HealthcareService', 'PractitionerRole', 'OrganizationAffiliation'];

export interface UpdateConsumerOptions {
  /** FHIR base of the source, e.g. http://registry.example.org/care-services/fhir. */
  source: string;
  types?: string[];
  /** Time between runs. */
  intervalMs?: number;
  /** `_count` of each history page. */
  pageSize?: number;
  /** Changes applied between cursor saves. */
  chunkSize?: number;
  /** How far before the cursor each run looks again, for writes the source committed late. */
  lookbackMs?: number;
  /** Headers for the source (e.g. authorization when it sits behind the interop layer). */
  headers?: Record<string, string>;
  /** CARE_SERVICES_CONSUMER_MAX_PAGE_BYTES and _ENTRIES: bounds of one source page. */
  maxPageBytes?: number;
  maxPageEntries?: number;
  /** How long one source page may take, answer and body (default 60 s). */
  fetchTimeoutMs?: number;
  logger?: Pick<Logger, 'info' | 'warn'>;
}

export interface ConsumerStatus {
  source: string;
  running: boolean;
  cursor: string | null;
  /** Per type, the source's lastUpdated up to which that type is applied (saved as each type ends). */
  typeCursors: Record<string, string>;
  applied: number;
  created: number;
  updated: number;
  deleted: number;
  failed: number;
  lastError: string | null;
  lastRunAt: string | null;
  /** The last run: what it read and what it did. */
  lastRun?: RunReport;
  /** The most recent failures (newest last). */
  recentErrors: string[];
}

export interface RunReport {
  read: number;
  applied: number;
  unchanged: number;
  failed: number;
  ms: number;
}

interface Change {
  type: string;
  id: string;
  /** The source's versionId (optional in R4: a DELETE's etag, a resource's meta.versionId). */
  version?: string;
  lastUpdated: string;
  deleted: boolean;
  resource?: Resource;
}

interface StateRow {
  cursor: string | null;
  applied: string;
  created: string;
  updated: string;
  deleted: string;
  failed: string;
  last_error: string | null;
  last_run_at: Date | string | null;
  type_cursors: Record<string, string> | null;
}

const MAX_RECENT_ERRORS = 20;

export class UpdateConsumer {
  private readonly types: string[];
  private timer?: NodeJS.Timeout;
  private current?: Promise<RunReport>;
  private stopped = false;
  private lastRun?: RunReport;
  private readonly recentErrors: string[] = [];
  /** Aborted by stop(): cuts a fetch or a Retry-After wait short. */
  private readonly aborted = new AbortController();

  constructor(private readonly engine: FhirEngine, private readonly options: UpdateConsumerOptions) {
    this.types = options.types ?? MCSD_RESOURCE_TYPES;
  }

  private get db(): Queryable {
    return this.engine.db;
  }

  private get table(): string {
    return `${this.engine.schema}.consumer_state`;
  }

  /** Runs now and then every intervalMs, one run at a time. */
  start(): void {
    const loop = async (): Promise<void> => {
      if (this.stopped) return;
      await this.runOnce().catch((error: unknown) => this.options.logger?.warn({ err: error, source: this.options.source }, 'mCSD update consumer run failed'));
      if (!this.stopped) this.timer = setTimeout(() => void loop(), this.options.intervalMs ?? 60_000);
    };
    void loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.aborted.abort();
    if (this.timer) clearTimeout(this.timer);
    await this.current?.catch(() => undefined);
  }

  /** One run (or the run in progress): pull everything changed since the cursor and apply it. */
  runOnce(): Promise<RunReport> {
    this.current ??= this.run().catch(async (error: unknown) => {
      // Written before the run is seen to fail, so a status read right after shows it.
      await this.noteFailure(`run failed: ${error instanceof Error ? error.message : String(error)}`);
      throw error;
    }).finally(() => {
      this.current = undefined;
    });
    return this.current;
  }

  async status(): Promise<ConsumerStatus> {
    const row = await this.state();
    return {
      source: this.options.source,
      running: this.current !== undefined,
      cursor: row?.cursor ?? null,
      typeCursors: row?.type_cursors ?? {},
      applied: Number(row?.applied ?? 0),
      created: Number(row?.created ?? 0),
      updated: Number(row?.updated ?? 0),
      deleted: Number(row?.deleted ?? 0),
      failed: Number(row?.failed ?? 0),
      lastError: row?.last_error ?? null,
      lastRunAt: row?.last_run_at ? new Date(row.last_run_at).toISOString() : null,
      ...(this.lastRun ? { lastRun: this.lastRun } : {}),
      recentErrors: [...this.recentErrors],
    };
  }

  private async state(): Promise<StateRow | undefined> {
    const found = await this.db.query<StateRow>(`SELECT cursor, type_cursors, applied, created, updated, deleted, failed, last_error, last_run_at FROM ${this.table} WHERE source = $1`, [this.options.source]);
    return found.rows[0];
  }

  private async run(): Promise<RunReport> {
    const started = Date.now();
    await this.db.query(`INSERT INTO ${this.table} (source) VALUES ($1) ON CONFLICT (source) DO NOTHING`, [this.options.source]);
    const state = await this.state();
    const typeCursors: Record<string, string> = { ...(state?.type_cursors ?? {}) };
    const report: RunReport = { read: 0, applied: 0, unchanged: 0, failed: 0, ms: 0 };
    for (const type of this.types) {
      if (this.stopped) break;
      const cursor = typeCursors[type] ?? state?.cursor ?? undefined;
      const since = cursor ? new Date(Date.parse(cursor) - (this.options.lookbackMs ?? 5_000)).toISOString() : undefined;
      const newest = await this.consumeType(type, since, report);
      if (this.stopped) break;
      if (newest && (!cursor || newest > cursor)) typeCursors[type] = newest;
      else if (cursor) typeCursors[type] = cursor;
      await this.db.query(`UPDATE ${this.table} SET type_cursors = $2::jsonb, updated_at = now() WHERE source = $1`, [this.options.source, JSON.stringify(typeCursors)]);
    }
    // The run's cursor: every type is applied up to it (the oldest of the types' cursors).
    const all = this.types.map((type) => typeCursors[type]);
    if (!this.stopped && all.every(Boolean)) await this.saveCursor(all.sort()[0]!);
    report.ms = Date.now() - started;
    this.lastRun = report;
    // A clean run clears the last error: the status describes the source as it is now.
    const clean = !report.failed && !this.stopped;
    await this.db.query(`UPDATE ${this.table} SET last_run_at = now()${clean ? ', last_error = NULL' : ''} WHERE source = $1`, [this.options.source]);
    if (report.applied || report.failed) this.options.logger?.info({ source: this.options.source, ...report }, 'mCSD update consumer run');
    return report;
  }

  /**
   * Reads the changes of one type page by page and applies each page before asking for the next,
   * so a run holds one page (plus the few changes waiting for what they refer to), however large
   * the source. Sources page newest first (ours does): `taken` remembers, per resource, the newest
   * change seen this run (ids only), so an older version on a later page is not applied over it.
   * Returns the newest lastUpdated read: the type is applied up to there.
   */
  private async consumeType(type: string, since: string | undefined, report: RunReport): Promise<string | undefined> {
    const repo = this.engine.repository();
    const chunkSize = this.options.chunkSize ?? 100;
    const taken = new Map<string, string>();
    let waiting: Array<{ change: Change; error: FhirError }> = [];
    let newest: string | undefined;
    for await (const { changes: page, refused } of this.readPages(type, since)) {
      report.read += page.length + refused.length;
      if (refused.length) {
        for (const message of refused) await this.noteFailure(message);
        report.failed += refused.length;
        await this.db.query(`UPDATE ${this.table} SET failed = failed + $2 WHERE source = $1`, [this.options.source, refused.length]);
      }
      const fresh: Change[] = [];
      for (const change of page) {
        const seen = taken.get(change.id);
        if (seen !== undefined && seen >= change.lastUpdated) continue;
        taken.set(change.id, change.lastUpdated);
        fresh.push(change);
        if (!newest || change.lastUpdated > newest) newest = change.lastUpdated;
      }
      // Parents before their children (partOf within the page), then oldest first: one pass
      // applies a page whatever order the source lists it in.
      const ordered = parentsFirst(fresh);
      for (let start = 0; start < fresh.length && !this.stopped; start += chunkSize) {
        waiting = await this.applyChunk(repo, parentsFirst([...waiting.map((w) => w.change), ...ordered.slice(start, start + chunkSize)]), report);
        if (waiting.length > MAX_WAITING) {
          // A source whose changes keep referring to what never arrives: fail the oldest, hold no more.
          await this.countFailures(waiting.splice(0, waiting.length - MAX_WAITING), report);
        }
      }
      if (this.stopped) return undefined;
    }
    // What still waits is tried again, a chunk per transaction, while each round applies something
    // (what one waits for may have come after it); what is left then is the source's inconsistency.
    for (let progress = true; waiting.length && progress && !this.stopped;) {
      const before = waiting.length;
      const retried = parentsFirst(waiting.map((w) => w.change));
      waiting = [];
      for (let start = 0; start < retried.length && !this.stopped; start += chunkSize) {
        waiting.push(...await this.applyChunk(repo, retried.slice(start, start + chunkSize), report));
      }
      progress = waiting.length < before;
    }
    if (waiting.length) await this.countFailures(waiting, report);
    return newest;
  }

  private async countFailures(failures: Array<{ change: Change; error: FhirError }>, report: RunReport): Promise<void> {
    for (const { change, error } of failures) await this.noteFailure(`${changeName(change)}: ${error.message}`);
    report.failed += failures.length;
    await this.db.query(`UPDATE ${this.table} SET failed = failed + $2 WHERE source = $1`, [this.options.source, failures.length]);
  }

  /**
   * Applies a chunk of changes in one transaction, each in a savepoint (a refused change leaves
   * nothing), in one pass (the chunk comes parents first), and saves the counts in the same
   * transaction: after a kill -9 the database holds whole chunks, with the counts that describe
   * them (a change read again is skipped by its meta.source). Returns the changes refused with a
   * 422 (a reference not there yet), for the caller to try again in a later, short transaction:
   * retrying inside this one held the hierarchy lock for n²/2 attempts. Other errors are failures at once.
   */
  private async applyChunk(repo: FhirRepository, changes: Change[], report: RunReport): Promise<Array<{ change: Change; error: FhirError }>> {
    return repo.transaction(async (tx) => {
      const counts = { applied: 0, created: 0, updated: 0, deleted: 0, failed: 0, unchanged: 0 };
      const refused: Array<{ change: Change; error: FhirError }> = [];
      for (const change of changes) {
        if (this.stopped) break;
        await tx.sql.query('SAVEPOINT consumer_change');
        try {
          const outcome = await this.apply(tx, change);
          await tx.sql.query('RELEASE SAVEPOINT consumer_change');
          counts[outcome]++;
          if (outcome !== 'unchanged') counts.applied++;
        } catch (error) {
          await tx.sql.query('ROLLBACK TO SAVEPOINT consumer_change');
          if (error instanceof FhirError && error.status === 422) refused.push({ change, error });
          else {
            // Not awaited: on the embedded database the write waits for this chunk's transaction.
            void this.noteFailure(`${changeName(change)}: ${error instanceof Error ? error.message : String(error)}`);
            counts.failed++;
          }
        }
      }
      await tx.sql.query(`UPDATE ${this.table} SET applied = applied + $2, created = created + $3, updated = updated + $4, deleted = deleted + $5,
          failed = failed + $6, updated_at = now() WHERE source = $1`,
        [this.options.source, counts.applied, counts.created, counts.updated, counts.deleted, counts.failed]);
      report.applied += counts.applied;
      report.unchanged += counts.unchanged;
      report.failed += counts.failed;
      return refused;
    });
  }

  private async apply(repo: FhirRepository, change: Change): Promise<'created' | 'updated' | 'deleted' | 'unchanged'> {
    const local = await repo.read(change.type, change.id).catch((error: unknown) => {
      if (error instanceof FhirError && (error.status === 404 || error.status === 410)) return undefined;
      throw error;
    });
    // Only what this source put here is the source's to change: a resource written here by
    // someone else (or mirrored from another source) is a conflict, counted as a failure.
    if (local && !local.meta?.source?.startsWith(`${this.options.source}/`)) {
      throw new Error(`conflict: ${change.type}/${change.id} here did not come from this source; left as it is`);
    }
    if (change.deleted) {
      if (!local) return 'unchanged';
      await repo.delete(change.type, change.id);
      return 'deleted';
    }
    // The source's version, or (none given) its lastUpdated: what tells a change read again.
    const source = `${this.options.source}/${change.type}/${change.id}/_history/${change.version ?? `lastUpdated-${change.lastUpdated}`}`;
    if (local?.meta?.source === source) return 'unchanged';
    const { versionId: _v, lastUpdated: _l, ...meta } = change.resource!.meta ?? {};
    const result = await repo.update(change.type, change.id, { ...change.resource, meta: { ...meta, source } });
    return result.created ? 'created' : 'updated';
  }

  private async saveCursor(cursor: string): Promise<void> {
    await this.db.query(`UPDATE ${this.table} SET cursor = $2, updated_at = now() WHERE source = $1`, [this.options.source, cursor]);
  }

  private async noteFailure(message: string): Promise<void> {
    this.recentErrors.push(message);
    if (this.recentErrors.length > MAX_RECENT_ERRORS) this.recentErrors.shift();
    await this.db.query(`UPDATE ${this.table} SET last_error = $2 WHERE source = $1`, [this.options.source, message.slice(0, 2000)]).catch(() => undefined);
  }

  /**
   * One page of the source, read whole within fetchTimeoutMs; a busy source (429, 503) is asked
   * again after its Retry-After.
   */
  private async fetchPage(url: string, type: string): Promise<{ status: number; text: string }> {
    for (let attempt = 0; ; attempt++) {
      const page = await this.fetchOnce(url, type);
      if ((page.status !== 429 && page.status !== 503) || attempt >= MAX_BUSY_RETRIES || this.stopped) return page;
      await this.pause(Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(1, Number(page.retryAfter) || 1)) * 1000);
    }
  }

  /**
   * GET with the source's headers. The deadline covers the answer and its body (a source that
   * accepts and never answers, or stalls mid-page, fails the run instead of holding it). It is a
   * controller with a timer held here: an AbortSignal.timeout inside AbortSignal.any can be
   * garbage-collected before it fires (nodejs/node#57736), and then nothing ended the wait.
   * Redirects are not followed: followed, they would carry the source's Authorization header
   * wherever they point.
   */
  private async fetchOnce(url: string, type: string): Promise<{ status: number; retryAfter: string | null; text: string }> {
    const timeoutMs = this.options.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new Error(`the source did not answer ${type}/_history within ${timeoutMs} ms`)), timeoutMs);
    const onStop = (): void => deadline.abort(new Error('the consumer was stopped'));
    this.aborted.signal.addEventListener('abort', onStop, { once: true });
    try {
      const response = await fetch(url, { headers: { accept: 'application/fhir+json', ...this.options.headers }, signal: deadline.signal, redirect: 'manual' });
      if (response.status >= 300 && response.status < 400) {
        await response.body?.cancel().catch(() => undefined);
        throw new Error(`the source answered ${type}/_history with a redirect (${response.status}): not followed (it would carry the source's credentials); configure the source's final URL`);
      }
      const text = await readCapped(response, this.options.maxPageBytes ?? DEFAULT_LIMITS.careConsumerMaxPageBytes);
      return { status: response.status, retryAfter: response.headers.get('retry-after'), text };
    } catch (error) {
      throw deadline.signal.aborted && deadline.signal.reason instanceof Error ? deadline.signal.reason : error;
    } finally {
      clearTimeout(timer);
      this.aborted.signal.removeEventListener('abort', onStop);
    }
  }

  /** Waits ms, or less when stop() is called. */
  private async pause(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.aborted.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.aborted.signal.addEventListener('abort', done, { once: true });
    });
  }

  /** The changes of `type` since `since`, one page at a time, following the source's paging links. */
  private async *readPages(type: string, since: string | undefined): AsyncGenerator<{ changes: Change[]; refused: string[] }> {
    const query = new URLSearchParams({ _count: String(this.options.pageSize ?? 500) });
    if (since) query.set('_since', since);
    let url: string | undefined = `${this.options.source}/${type}/_history?${query}`;
    // A source whose paging never ends (the same page again, or pages each with a next link that
    // are empty or repeat versions already read this run) would keep the run asking as fast as it
    // answers: each ends the run with an error. A history lists each version once.
    const read = new Set<string>();
    const versionsRead = new Set<string>();
    let emptyInARow = 0;
    for (let pages = 0; url && !this.stopped; pages++) {
      if (pages > 100_000) throw new Error(`the source's history of ${type} did not end after 100,000 pages`);
      if (read.has(url)) throw new Error(`the source's next link for ${type}/_history points at a page already read this run: not followed`);
      read.add(url);
      const response = await this.fetchPage(url, type);
      if (this.stopped) return;
      const text = response.text;
      // The status is for operators and is served over HTTP: the source's own words stay out of it.
      if (response.status < 200 || response.status > 299) throw new Error(`the source answered ${response.status} for ${type}/_history`);
      let bundle: Bundle;
      try {
        bundle = JSON.parse(text) as Bundle;
      } catch {
        // JSON.parse's message quotes the start of the text, and the status keeps the source's words out.
        throw new Error(`the source's answer to ${type}/_history is not JSON`);
      }
      // Anything else answered with a 200 ({}, an OperationOutcome) would read as "no changes".
      if (!isHistoryBundle(bundle)) throw new Error(`the source's answer to ${type}/_history is not a history Bundle (a resourceType Bundle with entry and link lists)`);
      const entries = bundle.entry ?? [];
      const maxEntries = this.options.maxPageEntries ?? DEFAULT_LIMITS.careConsumerMaxPageEntries;
      if (entries.length > maxEntries) throw new Error(`a source page of ${type} has ${entries.length} entries, more than ${maxEntries} (CARE_SERVICES_CONSUMER_MAX_PAGE_ENTRIES)`);
      const changes: Change[] = [];
      const refused: string[] = [];
      const latest = Date.now() + MAX_CLOCK_SKEW_MS;
      for (const [index, entry] of entries.entries()) {
        // An entry that is no object (null) failed the whole run, and every run after it.
        const change = entry !== null && typeof entry === 'object' ? toChange(type, entry) : `entry ${index + 1} of a ${type} history page is not an object: not applied`;
        if (typeof change === 'string') {
          refused.push(change);
          continue;
        }
        // A time that is no time, or in the future, would move the cursor past changes still to come.
        const time = Date.parse(change.lastUpdated);
        if (Number.isNaN(time) || time > latest) refused.push(`${changeName(change)}: lastUpdated "${change.lastUpdated.slice(0, 40)}" is not a past instant; not applied`);
        else changes.push({ ...change, lastUpdated: new Date(time).toISOString() });
      }
      let newVersions = 0;
      for (const change of changes) {
        // A version names itself; without one (optional in R4) its time does.
        const key = `${change.id}|${change.version !== undefined ? `v${change.version}` : change.lastUpdated}|${change.deleted}`;
        if (versionsRead.has(key)) continue;
        newVersions++;
        if (versionsRead.size < MAX_VERSIONS_REMEMBERED) versionsRead.add(key);
      }
      yield { changes, refused };
      url = bundle.link?.find((link) => link?.relation === 'next')?.url;
      emptyInARow = newVersions || refused.length ? 0 : emptyInARow + 1;
      if (url !== undefined && emptyInARow >= MAX_EMPTY_PAGES_IN_A_ROW) {
        throw new Error(`the source sent ${emptyInARow} pages of ${type}/_history in a row with nothing new (empty, or versions already read this run), each with a next link: stopped`);
      }
      if (url !== undefined && !this.isOnSource(url)) {
        throw new Error(`the source's next link for ${type}/_history leaves the source (another origin or path): not followed`);
      }
    }
  }

  /**
   * Whether a link is on the configured source (same scheme, host and port, under its base path):
   * only those are followed, so a source cannot send the consumer, with the source's
   * Authorization header, to another server or to other paths of the same one.
   */
  private isOnSource(link: string): boolean {
    let target: URL;
    try {
      target = new URL(link);
    } catch {
      return false;
    }
    const source = new URL(this.options.source);
    const basePath = source.pathname.replace(/\/+$/, '');
    return target.origin === source.origin && target.pathname.startsWith(`${basePath}/`) && !target.pathname.split('/').includes('..');
  }
}

/** The body as text, refused (without reading further) past maxBytes. */
async function readCapped(response: Response, maxBytes: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (response.body) {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      size += chunk.byteLength;
      if (size > maxBytes) {
        await response.body.cancel().catch(() => undefined);
        throw new Error(`a source page is larger than ${maxBytes} bytes (CARE_SERVICES_CONSUMER_MAX_PAGE_BYTES)`);
      }
      chunks.push(chunk);
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A 429 or 503 from the source is asked again at most three times, after its Retry-After (at most a minute). */
const MAX_BUSY_RETRIES = 3;
const MAX_RETRY_AFTER_SECONDS = 60;
/** How far ahead of this clock a source's lastUpdated may be (clocks differ a little). */
const MAX_CLOCK_SKEW_MS = 5 * 60_000;
/** Pages with nothing new and a next link in a row that end a run (a source paging forever). */
const MAX_EMPTY_PAGES_IN_A_ROW = 10;
/** Versions a run remembers to tell a repeated page (past it, repeats are no longer noticed). */
const MAX_VERSIONS_REMEMBERED = 1_000_000;
/** How long one source page may take, answer and body (UpdateConsumerOptions.fetchTimeoutMs). */
const DEFAULT_FETCH_TIMEOUT_MS = 60_000;
/** Changes held for a retry while what they refer to has not arrived; past it the oldest fail. */
const MAX_WAITING = 10_000;

function isHistoryBundle(bundle: unknown): bundle is Bundle {
  if (bundle === null || typeof bundle !== 'object') return false;
  const { resourceType, entry, link } = bundle as Bundle;
  return resourceType === 'Bundle' && (entry === undefined || Array.isArray(entry)) && (link === undefined || Array.isArray(link));
}

/** A change as operators read it in errors. */
function changeName(change: Change): string {
  return `${change.type}/${change.id} (source version ${change.version ?? 'not given'})`;
}

/**
 * A history entry as a change: its resource (or a delete), version and time; or, when it cannot
 * be applied, why (counted as a failure: never skipped silently). The version is optional, as R4
 * makes it (a DELETE's response.etag, a resource's meta.versionId).
 */
function toChange(type: string, entry: BundleEntry): Change | string {
  const deleted = entry.request?.method === 'DELETE';
  const resource = entry.resource;
  // Without a resource (a DELETE) the id is in request.url or fullUrl: [base/]Type/id[/_history/v].
  const id = resource?.id ?? idInUrl(type, entry.request?.url) ?? idInUrl(type, entry.fullUrl);
  const version = resource?.meta?.versionId ?? /^(?:W\/)?"(.+)"$/.exec(entry.response?.etag ?? '')?.[1];
  const lastUpdated = resource?.meta?.lastUpdated ?? entry.response?.lastModified;
  if (!id) return `a ${type} history entry names no resource (no resource.id, request.url or fullUrl): not applied`;
  if (!deleted && !resource) return `${type}/${id}: a history entry with neither a resource nor a DELETE request: not applied`;
  if (resource && resource.resourceType !== type) return `${type}/${id}: the entry holds a ${String(resource.resourceType).slice(0, 40)}, not a ${type}: not applied`;
  if (!lastUpdated) return `${type}/${id}: neither meta.lastUpdated nor response.lastModified tells when it changed: not applied`;
  return { type, id, ...(version ? { version } : {}), lastUpdated: String(lastUpdated), deleted, ...(resource ? { resource } : {}) };
}

function idInUrl(type: string, url: string | undefined): string | undefined {
  const path = url?.split(/[?#]/)[0]?.replace(/\/+$/, '').split('/') ?? [];
  const at = path.lastIndexOf(type);
  const id = at >= 0 ? path[at + 1] : undefined;
  return id && /^[A-Za-z0-9\-.]{1,64}$/.test(id) ? id : undefined;
}

/** The parent a change's partOf names, when that parent is among `byKey` (references relative or absolute). */
function parentIn(change: Change, byKey: Map<string, Change>): Change | undefined {
  const reference = (change.resource as { partOf?: { reference?: string } } | undefined)?.partOf?.reference;
  const target = reference && /(?:^|\/)([A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(reference)?.[1];
  return target && target.startsWith(`${change.type}/`) ? byKey.get(target) : undefined;
}

/**
 * The changes with each partOf parent before its children, then oldest first: the order in
 * which the mCSD rules accept them in one pass, whatever order the source lists them in. Depths
 * are found by walking up each chain once (a cycle ends the walk), so the sort is O(n log n).
 */
function parentsFirst(changes: Change[]): Change[] {
  const byKey = new Map(changes.map((change) => [`${change.type}/${change.id}`, change]));
  const depth = new Map<Change, number>();
  for (const change of changes) {
    const chain: Change[] = [];
    const onChain = new Set<Change>();
    let node: Change | undefined = change;
    while (node && !depth.has(node) && !onChain.has(node)) {
      chain.push(node);
      onChain.add(node);
      node = parentIn(node, byKey);
    }
    let level = node && depth.has(node) ? depth.get(node)! + 1 : 0;
    for (let i = chain.length - 1; i >= 0; i--) depth.set(chain[i]!, level++);
  }
  return [...changes].sort((a, b) => depth.get(a)! - depth.get(b)! || a.lastUpdated.localeCompare(b.lastUpdated));
}
