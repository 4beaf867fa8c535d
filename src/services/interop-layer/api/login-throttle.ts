/**
 * Login throttling: failed logins are counted per key (a user, a client address) in a window
 * that starts at the first failure. Once a key has `maxFailures` in its window, every attempt
 * with it is refused, right password or not, until the window has passed; a success clears it.
 * Per process: with several API instances each counts its own failures.
 */

interface Counter {
  failures: number;
  windowEnds: number;
}

/** Keys held at most: an attacker cycling through names or addresses cannot grow memory past it. */
const MAX_KEYS = 100_000;

export class LoginThrottle {
  private readonly counters = new Map<string, Counter>();

  constructor(
    private readonly maxFailures: number,
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds until the first of `keys` that is throttled may try again; 0 when none is. */
  retryAfterMs(keys: readonly string[]): number {
    const now = this.now();
    let wait = 0;
    for (const key of keys) {
      const counter = this.counters.get(key);
      if (!counter) continue;
      if (counter.windowEnds <= now) {
        this.counters.delete(key);
        continue;
      }
      if (counter.failures >= this.maxFailures) wait = Math.max(wait, counter.windowEnds - now);
    }
    return wait;
  }

  fail(keys: readonly string[]): void {
    const now = this.now();
    for (const key of keys) {
      const counter = this.counters.get(key);
      if (counter && counter.windowEnds > now) counter.failures++;
      else {
        this.makeRoom(now);
        this.counters.set(key, { failures: 1, windowEnds: now + this.windowMs });
      }
    }
  }

  succeed(keys: readonly string[]): void {
    for (const key of keys) this.counters.delete(key);
  }

  private makeRoom(now: number): void {
    if (this.counters.size < MAX_KEYS) return;
    for (const [key, counter] of this.counters) if (counter.windowEnds <= now) this.counters.delete(key);
    // Still full of live counters: drop the oldest (Map keeps insertion order).
    while (this.counters.size >= MAX_KEYS) {
      const oldest = this.counters.keys().next().value;
      if (oldest === undefined) break;
      this.counters.delete(oldest);
    }
  }
}
