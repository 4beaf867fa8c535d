import type { Logger } from '../../../common/logger.js';

export interface WriteBehindOptions<T> {
  /** First delay before a failed batch is retried; it doubles per failure up to 5 s (OPENHIM_TX_FLUSH_MS). */
  intervalMs: number;
  maxBatch?: number;
  maxPending?: number;
  /**
   * An item the database refused on its own (isolated from its batch): record it some other way.
   * Throwing here means the database itself is failing: the item is kept and retried.
   */
  onRefused?: (item: T, error: unknown) => Promise<void>;
}

/** Failed batches are retried after `intervalMs`, doubling per consecutive failure up to this. */
const RETRY_MAX_MS = 5_000;
/** After this many consecutive failures, a batch is split even when the error looks transient. */
const ISOLATE_AFTER_FAILURES = 3;

/**
 * Whether the database refused the data itself (not that it is unavailable): SQLSTATE classes
 * 22 (data exception: bad Unicode escape, integer syntax, out of range...), 23 (constraint) and
 * 54 (program limit, e.g. a row too large); or our own serialisation failing before the query.
 */
export function isDataRefusal(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string') return /^(22|23|54)/.test(code);
  return error instanceof TypeError || error instanceof RangeError;
}

/**
 * Batches writes off the request path: callers enqueue and return at once. A write starts on
 * the next turn of the event loop when none is running, else as soon as the running one ends
 * (group commit: batches grow with load, and nothing waits for a timer). So what a kill -9 can
 * lose is the batch being written and the one queued behind it: measured 0-30 ms of records
 * under load (test/security/transaction-log-durability.test.ts), where a fixed 50 ms interval
 * plus the writes themselves lost up to ~180 ms. Items with the same key collapse to the newest.
 *
 * One bad item never blocks the others: a batch the database refuses is split in halves until
 * the refused items are alone; those go to `onRefused` and the rest are written. A batch that
 * fails because the database is unavailable is kept (up to `maxPending` items) and retried with
 * a growing delay. Nothing here rejects unhandled: flush() resolves once the items queued
 * before it were written, or kept for a retry.
 */
export class WriteBehind<T> {
  private pending = new Map<string, T>();
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined;
  private flushing: Promise<void> | undefined;
  private stopped = false;
  private consecutiveFailures = 0;
  private readonly maxBatch: number;
  private readonly maxPending: number;

  constructor(
    private readonly name: string,
    private readonly write: (items: T[]) => Promise<void>,
    private readonly logger: Logger,
    private readonly options: WriteBehindOptions<T>,
  ) {
    this.maxBatch = options.maxBatch ?? 500;
    this.maxPending = options.maxPending ?? 50_000;
  }

  enqueue(key: string, item: T): void {
    if (this.pending.size >= this.maxPending && !this.pending.has(key)) {
      this.logger.error({ queue: this.name }, 'write-behind queue full: dropping the oldest item');
      const oldest = this.pending.keys().next().value;
      if (oldest !== undefined) this.pending.delete(oldest);
    }
    this.pending.delete(key);
    this.pending.set(key, item);
    this.schedule(this.consecutiveFailures > 0 ? this.retryDelay() : 0);
  }

  get size(): number {
    return this.pending.size;
  }

  private retryDelay(): number {
    return Math.min(RETRY_MAX_MS, Math.max(10, this.options.intervalMs) * 2 ** Math.max(0, this.consecutiveFailures - 1));
  }

  /** Starts a write after `delayMs` (0: on the next turn, so one tick's items share a batch). */
  private schedule(delayMs: number): void {
    if (this.timer || this.stopped || this.flushing) return;
    const run = () => {
      this.timer = undefined;
      void this.flush();
    };
    this.timer = delayMs > 0 ? setTimeout(run, delayMs).unref() : setImmediate(run);
  }

  private clearTimer(): void {
    if (!this.timer) return;
    if ('hasRef' in this.timer && 'refresh' in this.timer) clearTimeout(this.timer);
    else clearImmediate(this.timer as NodeJS.Immediate);
    this.timer = undefined;
  }

  /** Writes everything queued so far (or keeps it for a retry when the database fails). Never rejects. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    this.clearTimer();
    let batches = Math.ceil(this.pending.size / this.maxBatch);
    while (batches-- > 0 && this.pending.size > 0) {
      const batch = [...this.pending.entries()].slice(0, this.maxBatch);
      for (const [key] of batch) this.pending.delete(key);
      this.flushing = this.writeBatch(batch);
      try {
        await this.flushing;
      } finally {
        this.flushing = undefined;
      }
      if (this.consecutiveFailures > 0) break;
    }
    if (this.pending.size > 0 && !this.stopped) this.schedule(this.consecutiveFailures > 0 ? this.retryDelay() : 0);
  }

  /** Writes one batch; on failure keeps it for the next attempt. Never rejects. */
  private async writeBatch(batch: Array<[string, T]>): Promise<void> {
    try {
      await this.writeIsolating(batch, this.consecutiveFailures >= ISOLATE_AFTER_FAILURES);
      if (this.consecutiveFailures > 0) this.logger.info({ queue: this.name }, 'write-behind writes again');
      this.consecutiveFailures = 0;
    } catch (error) {
      this.consecutiveFailures++;
      // Log the first failure and then every tenth, not every retry of a database that is down.
      if (this.consecutiveFailures === 1 || this.consecutiveFailures % 10 === 0) {
        this.logger.error({ err: describeError(error), queue: this.name, items: batch.length, attempts: this.consecutiveFailures }, 'write-behind batch failed; kept for a retry');
      }
      for (const [key, item] of batch) if (!this.pending.has(key)) this.pending.set(key, item);
    }
  }

  /**
   * Writes the batch; when the database refuses it, splits it until the refused items are
   * alone and hands those to onRefused. Throws only when the database fails as a whole.
   */
  private async writeIsolating(batch: Array<[string, T]>, isolateAnyError: boolean): Promise<void> {
    try {
      await this.write(batch.map(([, item]) => item));
      return;
    } catch (error) {
      if (!this.options.onRefused || !(isolateAnyError || isDataRefusal(error))) throw error;
      if (batch.length > 1) {
        const middle = Math.ceil(batch.length / 2);
        await this.writeIsolating(batch.slice(0, middle), isolateAnyError);
        await this.writeIsolating(batch.slice(middle), isolateAnyError);
        return;
      }
      const [key, item] = batch[0]!;
      try {
        await this.options.onRefused(item, error);
      } catch {
        throw error; // the fallback failed too: the database is failing, not this item
      }
      this.logger.error({ err: describeError(error), queue: this.name, key }, 'write-behind item refused by the database; recorded without its content');
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.clearTimer();
    await this.flush();
    if (this.pending.size > 0) this.logger.error({ queue: this.name, items: this.pending.size }, 'write-behind stopped with items the database did not take; they are lost');
  }
}

/** An error for the log: its code and message only (PostgreSQL details can quote the data). */
export function describeError(error: unknown): { code?: string; message: string } {
  const e = error as { code?: unknown; message?: unknown } | null;
  const message = typeof e?.message === 'string' ? e.message.slice(0, 300) : String(error).slice(0, 300);
  return typeof e?.code === 'string' ? { code: e.code, message } : { message };
}
