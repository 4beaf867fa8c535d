/**
 * SQL on the registry's own tables (migrations.ts). Every function takes the Queryable of the
 * FHIR write it belongs to (repo.sql), so links, keys and decisions commit with the Patient.
 */
import type { Queryable } from '../../db/database.js';
import type { Patient } from '@medplum/fhirtypes';
import type { FieldContribution, MatchGrade } from './matching/index.js';

/**
 * Blocking keys are locked by hash bucket, at two grains (advisory locks, the two-key form: apart
 * from other users' one-key locks):
 * - fine: KEY_BUCKETS buckets, so two unrelated registrations in flight nearly never share one
 *   (with 1,024 buckets, one registration in three waited for an unrelated one under 8 clients);
 *   a fine lock is taken with a shared lock on its coarse bucket;
 * - coarse: COARSE_BUCKETS buckets, taken exclusively by a transaction that already holds
 *   MAX_FINE_LOCKS fine locks (a bundle registering many patients), so a transaction holds at most
 *   MAX_FINE_LOCKS + COARSE_BUCKETS locks however many patients it registers (PostgreSQL's shared lock table
 *   is max_locks_per_transaction x max_connections entries, 6,400 by default: a 1,000-patient
 *   bundle's 7,000 key locks would not fit).
 * Two transactions sharing a key always conflict: both fine (same fine bucket), fine and coarse
 * (shared and exclusive on the same coarse bucket), or both coarse.
 */
const COARSE_LOCK_CLASS = 0x4352; // "CR"
const FINE_LOCK_CLASS = 0x4353;
const COARSE_BUCKETS = 1024;
const KEY_BUCKETS = 1 << 20;
const MAX_FINE_LOCKS = 256;

export interface CandidateRow {
  id: string;
  goldenId: string | undefined;
  patient: Patient;
}

export type LinkHow = 'auto' | 'new' | 'review-accepted' | 'review-rejected' | 'manual' | 'rematched' | 'merged' | 'unmerged';

export interface DecisionRow {
  id: string;
  source_id: string;
  candidate_id: string | null;
  golden_id: string | null;
  score: number | null;
  grade: MatchGrade | null;
  outcome: string;
  fields: FieldContribution[];
  decided_at: string;
}

export interface ReviewRow {
  id: string;
  source_id: string;
  candidate_id: string;
  golden_id: string;
  decision_id: string;
  score: number;
  status: 'open' | 'accepted' | 'rejected';
  created_at: string;
  resolved_at: string | null;
}

/** The statements a registration runs are prepared (QueryOptions.prepare): planned once per connection. */
export class RegistryStore {
  /** Fine key locks each transaction (its connection) holds so far. */
  private readonly fineLocks = new WeakMap<Queryable, number>();

  constructor(private readonly schema: string) {}

  /**
   * Stores the patient's blocking keys (stale ones deleted), in one statement. With `lock`, it
   * first takes a transaction lock on each key's bucket (in bucket order, so two registrations never wait
   * on each other crosswise): a concurrent registration sharing a key waits until this write
   * commits, and its candidate read (a later statement, so a fresh snapshot) then sees this
   * patient and its golden record. Without it, two registrations of the same new person could
   * each find no candidate and each create a golden record.
   */
  async replaceBlockingKeys(q: Queryable, patientId: string, keys: readonly string[], lock: boolean): Promise<void> {
    const unique = [...new Set(keys)];
    let locked = '';
    if (lock && unique.length) {
      // Counted per transaction; outside one (the database itself) the locks end with the statement.
      const inTransaction = !('transaction' in q);
      const fineSoFar = inTransaction ? (this.fineLocks.get(q) ?? 0) : 0;
      const fine = fineSoFar + unique.length <= MAX_FINE_LOCKS;
      if (fine && inTransaction) this.fineLocks.set(q, fineSoFar + unique.length);
      // One ordered list (coarse buckets, then fine ones), so two registrations never wait on each other crosswise.
      locked = fine
        ? `, locked AS (SELECT count(CASE WHEN l.cls = ${COARSE_LOCK_CLASS} THEN pg_advisory_xact_lock_shared(l.cls, l.b) ELSE pg_advisory_xact_lock(l.cls, l.b) END) AS n
             FROM (SELECT DISTINCT ${COARSE_LOCK_CLASS} AS cls, hashtext(k) & ${COARSE_BUCKETS - 1} AS b FROM unnest($2::text[]) AS k
                   UNION SELECT ${FINE_LOCK_CLASS}, hashtext(k) & ${KEY_BUCKETS - 1} FROM unnest($2::text[]) AS k ORDER BY 1, 2) AS l)`
        : `, locked AS (SELECT count(pg_advisory_xact_lock(${COARSE_LOCK_CLASS}, b)) AS n
             FROM (SELECT DISTINCT hashtext(k) & ${COARSE_BUCKETS - 1} AS b FROM unnest($2::text[]) AS k ORDER BY 1) AS l)`;
    }
    await q.query(
      `WITH gone AS (DELETE FROM ${this.schema}.blocking WHERE patient_id = $1 AND key <> ALL($2::text[]))${locked}
       INSERT INTO ${this.schema}.blocking (key, patient_id) SELECT k, $1 FROM unnest($2::text[]) AS k${locked ? ', locked' : ''}
       ON CONFLICT DO NOTHING`,
      [patientId, unique], { prepare: true },
    );
  }

  /**
   * The source patients sharing at least one key (never `excludeId`), at most `limit`, with their
   * stored resource and golden record, in one round trip. When more share a key than `limit`, a
   * cheap pre-score keeps the likeliest: those sharing the most keys (a duplicate with a typo or
   * two still shares several; a stranger in a common surname's block shares one), then those
   * whose shared keys are rarest (a phone or birth date and postcode says more than a surname and
   * birth year). Reads the engine's current-resource table (storage/reader.ts) in the registry's own schema.
   */
  async candidates(q: Queryable, keys: readonly string[], excludeId: string | undefined, limit: number): Promise<CandidateRow[]> {
    if (!keys.length) return [];
    const result = await q.query<{ id: string; golden_id: string | null; content: Patient }>(
      `WITH hits AS (
         SELECT patient_id, count(*) OVER (PARTITION BY key) AS block FROM ${this.schema}.blocking
         WHERE key = ANY($1::text[]) AND patient_id <> $2),
       shared AS (
         SELECT patient_id, count(*) AS keys_shared, sum(1.0 / block) AS rarity FROM hits
         GROUP BY patient_id ORDER BY keys_shared DESC, rarity DESC, patient_id LIMIT $3)
       SELECT s.patient_id AS id, l.golden_id, r.content FROM shared s
       JOIN ${this.schema}.resources r ON r.type = 'Patient' AND r.id = s.patient_id AND NOT r.deleted
       LEFT JOIN ${this.schema}.source_link l ON l.source_id = s.patient_id
       ORDER BY s.keys_shared DESC, s.rarity DESC, s.patient_id`,
      [[...new Set(keys)], excludeId ?? '', limit], { prepare: true },
    );
    return result.rows.map((r) => ({ id: r.id, goldenId: r.golden_id ?? undefined, patient: typeof r.content === 'string' ? JSON.parse(r.content) : r.content }));
  }

  async goldenOf(q: Queryable, sourceId: string): Promise<string | undefined> {
    const result = await q.query<{ golden_id: string }>(`SELECT golden_id FROM ${this.schema}.source_link WHERE source_id = $1`, [sourceId]);
    return result.rows[0]?.golden_id;
  }

  async linkOf(q: Queryable, sourceId: string): Promise<{ golden_id: string; how: LinkHow } | undefined> {
    const result = await q.query<{ golden_id: string; how: LinkHow }>(`SELECT golden_id, how FROM ${this.schema}.source_link WHERE source_id = $1`, [sourceId]);
    return result.rows[0];
  }

  async sourcesOf(q: Queryable, goldenId: string): Promise<string[]> {
    const result = await q.query<{ source_id: string }>(`SELECT source_id FROM ${this.schema}.source_link WHERE golden_id = $1 ORDER BY source_id`, [goldenId]);
    return result.rows.map((r) => r.source_id);
  }

  async setLink(q: Queryable, sourceId: string, goldenId: string, how: LinkHow): Promise<void> {
    await q.query(
      `INSERT INTO ${this.schema}.source_link (source_id, golden_id, how) VALUES ($1, $2, $3)
       ON CONFLICT (source_id) DO UPDATE SET golden_id = EXCLUDED.golden_id, how = EXCLUDED.how, linked_at = now()`,
      [sourceId, goldenId, how], { prepare: true },
    );
  }

  async forgetSource(q: Queryable, sourceId: string): Promise<void> {
    await q.query(`DELETE FROM ${this.schema}.blocking WHERE patient_id = $1`, [sourceId]);
    await q.query(`DELETE FROM ${this.schema}.source_link WHERE source_id = $1`, [sourceId]);
  }

  async recordDecision(q: Queryable, decision: Omit<DecisionRow, 'id' | 'decided_at'>): Promise<string> {
    const result = await q.query<{ id: string }>(
      `INSERT INTO ${this.schema}.decision (source_id, candidate_id, golden_id, score, grade, outcome, fields)
       VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb) RETURNING id::text AS id`,
      [decision.source_id, decision.candidate_id, decision.golden_id, decision.score, decision.grade, decision.outcome, JSON.stringify(decision.fields)], { prepare: true },
    );
    return result.rows[0]!.id;
  }

  async decisionsOf(q: Queryable, sourceId: string): Promise<DecisionRow[]> {
    const result = await q.query<DecisionRow>(
      `SELECT id::text AS id, source_id, candidate_id, golden_id, score, grade, outcome, fields, decided_at::text AS decided_at
       FROM ${this.schema}.decision WHERE source_id = $1 ORDER BY id`, [sourceId]);
    return result.rows.map((r) => ({ ...r, fields: typeof r.fields === 'string' ? JSON.parse(r.fields) : r.fields }));
  }

  async openReview(q: Queryable, item: Pick<ReviewRow, 'source_id' | 'candidate_id' | 'golden_id' | 'decision_id' | 'score'>): Promise<string> {
    const result = await q.query<{ id: string }>(
      `INSERT INTO ${this.schema}.review (source_id, candidate_id, golden_id, decision_id, score) VALUES ($1, $2, $3, $4, $5) RETURNING id::text AS id`,
      [item.source_id, item.candidate_id, item.golden_id, item.decision_id, item.score],
    );
    return result.rows[0]!.id;
  }

  async reviews(q: Queryable, status: ReviewRow['status'] | undefined, limit: number): Promise<ReviewRow[]> {
    const result = await q.query<ReviewRow>(
      `SELECT id::text AS id, source_id, candidate_id, golden_id, decision_id::text AS decision_id, score, status, created_at::text AS created_at, resolved_at::text AS resolved_at
       FROM ${this.schema}.review WHERE ($1::text IS NULL OR status = $1) ORDER BY id LIMIT $2`, [status ?? null, limit]);
    return result.rows;
  }

  /** The review item, locked for its resolution. */
  async lockReview(q: Queryable, id: string): Promise<ReviewRow | undefined> {
    const result = await q.query<ReviewRow>(
      `SELECT id::text AS id, source_id, candidate_id, golden_id, decision_id::text AS decision_id, score, status, created_at::text AS created_at, resolved_at::text AS resolved_at
       FROM ${this.schema}.review WHERE id = $1 FOR UPDATE`, [id]);
    return result.rows[0];
  }

  async resolveReview(q: Queryable, id: string, status: 'accepted' | 'rejected'): Promise<void> {
    await q.query(`UPDATE ${this.schema}.review SET status = $2, resolved_at = now() WHERE id = $1`, [id, status]);
  }

  /** Open review items of a source (closed when it is linked by hand). */
  async closeOpenReviewsOf(q: Queryable, sourceId: string, status: 'accepted' | 'rejected'): Promise<void> {
    await q.query(`UPDATE ${this.schema}.review SET status = $2, resolved_at = now() WHERE source_id = $1 AND status = 'open'`, [sourceId, status]);
  }

  async recordMerge(q: Queryable, merge: Omit<MergeRow, 'id' | 'merged_at' | 'unmerged_at'>): Promise<string> {
    const result = await q.query<{ id: string }>(
      `INSERT INTO ${this.schema}.merge (source_id, target_id, previous_golden_id, previous_active) VALUES ($1, $2, $3, $4) RETURNING id::text AS id`,
      [merge.source_id, merge.target_id, merge.previous_golden_id, merge.previous_active],
    );
    return result.rows[0]!.id;
  }

  /** The source's merge still in force, locked for its unmerge. */
  async lockCurrentMerge(q: Queryable, sourceId: string): Promise<MergeRow | undefined> {
    const result = await q.query<MergeRow>(
      `SELECT id::text AS id, source_id, target_id, previous_golden_id, previous_active, merged_at::text AS merged_at, unmerged_at::text AS unmerged_at
       FROM ${this.schema}.merge WHERE source_id = $1 AND unmerged_at IS NULL ORDER BY id DESC LIMIT 1 FOR UPDATE`, [sourceId]);
    return result.rows[0];
  }

  async closeMerge(q: Queryable, id: string): Promise<void> {
    await q.query(`UPDATE ${this.schema}.merge SET unmerged_at = now() WHERE id = $1`, [id]);
  }
}

export interface MergeRow {
  id: string;
  source_id: string;
  target_id: string;
  previous_golden_id: string | null;
  previous_active: boolean | null;
  merged_at: string;
  unmerged_at: string | null;
}
