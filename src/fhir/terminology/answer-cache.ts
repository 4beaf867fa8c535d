/**
 * A bounded cache of a remote terminology's answers, each kept for a time to live: the weight of
 * an entry is 1 plus the codes it holds, so a few large expansions cannot hold more memory than
 * many small verdicts. Past the budget the least recently used answers go first. A TTL of 0
 * turns caching off.
 */
interface Entry<V> {
  value: V;
  weight: number;
  expires: number;
}

export class AnswerCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private weight = 0;

  constructor(
    private readonly maxWeight: number,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get(key: string): { value: V } | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    this.entries.delete(key);
    if (entry.expires <= this.now()) {
      this.weight -= entry.weight;
      return undefined;
    }
    this.entries.set(key, entry); // most recently used last
    return { value: entry.value };
  }

  set(key: string, value: V, weight = 1): void {
    if (this.ttlMs <= 0 || weight > this.maxWeight) return;
    const old = this.entries.get(key);
    if (old) {
      this.entries.delete(key);
      this.weight -= old.weight;
    }
    this.entries.set(key, { value, weight, expires: this.now() + this.ttlMs });
    this.weight += weight;
    for (const [oldest, entry] of this.entries) {
      if (this.weight <= this.maxWeight) break;
      this.entries.delete(oldest);
      this.weight -= entry.weight;
    }
  }

  get size(): number {
    return this.entries.size;
  }
}
