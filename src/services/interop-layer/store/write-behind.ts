import type { Logger } from '../../../common/logger.js';

/**
 * Batches writes off the request path: callers enqueue and return at once; one statement writes
 * a whole batch every `intervalMs` (or as soon as `maxBatch` items wait). Items with the same key
 * collapse to the newest. A failed batch is retried on the next tick, up to `maxPending` items.
 */
export class WriteBehind<T> {
  private pending = new Map<string, T>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly name: string,
    private readonly write: (items: T[]) => Promise<void>,
    private readonly logger: Logger,
    private readonly intervalMs: number,
    private readonly maxBatch = 500,
    private readonly maxPending = 50_000,
  ) {}

  enqueue(key: string, item: T): void {
    if (this.pending.size >= this.maxPending && !this.pending.has(key)) {
      this.logger.error({ queue: this.name }, 'write-behind queue full: dropping the oldest item');
      const oldest = this.pending.keys().next().value;
      if (oldest !== undefined) this.pending.delete(oldest);
    }
    this.pending.delete(key);
    this.pending.set(key, item);
    if (this.pending.size >= this.maxBatch) void this.flush();
    else this.schedule();
  }

  get size(): number {
    return this.pending.size;
  }

  private schedule(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Writes everything queued so far; resolves when it is committed. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.pending.size === 0) return;
    const batch = [...this.pending.entries()].slice(0, this.maxBatch);
    for (const [key] of batch) this.pending.delete(key);
    this.flushing = (async () => {
      try {
        await this.write(batch.map(([, item]) => item));
      } catch (error) {
        this.logger.error({ err: error, queue: this.name, items: batch.length }, 'write-behind batch failed; will retry');
        for (const [key, item] of batch) if (!this.pending.has(key)) this.pending.set(key, item);
        if (!this.stopped) this.schedule();
        throw error;
      } finally {
        this.flushing = undefined;
      }
    })();
    try {
      await this.flushing;
    } catch {
      return;
    }
    if (this.pending.size > 0) {
      if (this.stopped) await this.flush();
      else this.schedule();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
