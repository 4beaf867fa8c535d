/**
 * The console's own login throttle, by the browser's address. Every console login reaches the
 * admin API from the console's one address, so the admin API's throttle counts all console users
 * together: without this, a stranger's failed logins would lock users out who log in from
 * elsewhere. The console stops a browser address (and a user from that address) well before the
 * admin API's per-user count is reached. Counters live in memory, one window each, bounded.
 */

export interface ConsoleLoginLimits {
  maxFailures: number;
  maxFailuresPerAddress: number;
  windowMs: number;
}

interface Counter {
  failures: number;
  windowEndsAt: number;
}

/** Counters kept at most; past it the expired go, then the oldest (an attacker cannot grow memory). */
const MAX_COUNTERS = 100_000;

export class ConsoleLoginThrottle {
  private readonly counters = new Map<string, Counter>();

  constructor(private readonly limits: ConsoleLoginLimits, private readonly now: () => number = Date.now) {}

  /** Milliseconds until this user may try again from this address, or 0. */
  retryAfterMs(username: string, address: string): number {
    const waits = [
      this.waitOf(addressKey(address), this.limits.maxFailuresPerAddress),
      this.waitOf(userKey(username, address), this.limits.maxFailures),
    ];
    return Math.max(...waits);
  }

  failed(username: string, address: string): void {
    this.count(addressKey(address));
    this.count(userKey(username, address));
  }

  succeeded(username: string, address: string): void {
    this.counters.delete(userKey(username, address));
  }

  private waitOf(key: string, max: number): number {
    const counter = this.live(key);
    return counter && counter.failures >= max ? counter.windowEndsAt - this.now() : 0;
  }

  private live(key: string): Counter | undefined {
    const counter = this.counters.get(key);
    if (counter && counter.windowEndsAt <= this.now()) {
      this.counters.delete(key);
      return undefined;
    }
    return counter;
  }

  private count(key: string): void {
    const counter = this.live(key);
    if (counter) {
      counter.failures++;
      return;
    }
    if (this.counters.size >= MAX_COUNTERS) this.prune();
    this.counters.set(key, { failures: 1, windowEndsAt: this.now() + this.limits.windowMs });
  }

  private prune(): void {
    const now = this.now();
    for (const [key, counter] of this.counters) if (counter.windowEndsAt <= now) this.counters.delete(key);
    for (const key of this.counters.keys()) {
      if (this.counters.size < MAX_COUNTERS) break;
      this.counters.delete(key);
    }
  }
}

const addressKey = (address: string) => `address ${address}`;
const userKey = (username: string, address: string) => `user ${username.toLowerCase()} ${address}`;
