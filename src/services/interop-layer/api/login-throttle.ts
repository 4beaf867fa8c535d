/**
 * Login throttling. Failed logins are counted per key in a window that starts at the key's first
 * failure; once a key has its threshold of failures, attempts it covers are refused, right
 * password or not, until its window has passed.
 *
 * LoginGuard (below) decides which keys a login attempt counts against, so that an attacker
 * cannot lock a real user out (docs/security.md, "Login throttling"):
 * - the (user, address) pair, at the configured threshold: guessing one user's password from
 *   one place;
 * - the address, at a much higher threshold: password spraying (one guess each for many users);
 * - the user across addresses, at that higher threshold, but checked only for addresses the user
 *   has not logged in from before: distributed guessing cannot lock the user out where they
 *   normally log in (OWASP's "device" idea, with the address as the device).
 * The counters live in a ThrottleStore: in memory (MemoryThrottleStore, one process) or in the
 * database (DatabaseThrottleStore), so that replicas of the API count failures together.
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { Queryable } from '../../../db/database.js';
import { sha256hex } from '../passwords.js';

interface Counter {
  failures: number;
  windowEnds: number;
}

export interface ThrottleKey {
  key: string;
  maxFailures: number;
}

/** Keys held at most: an attacker cycling through names or addresses cannot grow memory past it. */
const MAX_KEYS = 100_000;

/** Fixed-window failure counters, bounded in memory. */
export class LoginThrottle {
  private readonly counters = new Map<string, Counter>();

  constructor(private readonly windowMs: number, private readonly now: () => number = Date.now) {}

  /** Milliseconds until the first of `keys` that is throttled may try again; 0 when none is. */
  retryAfterMs(keys: readonly ThrottleKey[]): number {
    const now = this.now();
    let wait = 0;
    for (const { key, maxFailures } of keys) {
      const counter = this.counters.get(key);
      if (!counter) continue;
      if (counter.windowEnds <= now) {
        this.counters.delete(key);
        continue;
      }
      if (counter.failures >= maxFailures) wait = Math.max(wait, counter.windowEnds - now);
    }
    return wait;
  }

  fail(keys: readonly string[]): void {
    const now = this.now();
    for (const key of keys) {
      const counter = this.counters.get(key);
      if (counter && counter.windowEnds > now) counter.failures++;
      else {
        this.counters.delete(key);
        makeRoom(this.counters, now, (c) => c.windowEnds);
        this.counters.set(key, { failures: 1, windowEnds: now + this.windowMs });
      }
    }
  }

  clear(keys: readonly string[]): void {
    for (const key of keys) this.counters.delete(key);
  }
}

/** Drops expired entries, then the oldest (Maps keep insertion order), until one more fits. */
function makeRoom<V>(map: Map<string, V>, now: number, expires: (value: V) => number): void {
  if (map.size < MAX_KEYS) return;
  for (const [key, value] of map) if (expires(value) <= now) map.delete(key);
  while (map.size >= MAX_KEYS) {
    const oldest = map.keys().next().value;
    if (oldest === undefined) break;
    map.delete(oldest);
  }
}

export interface LoginGuardSettings {
  /** Failures for one user from one address (OPENHIM_LOGIN_MAX_FAILURES). */
  maxFailures: number;
  /** Failures for any users from one address (OPENHIM_LOGIN_MAX_FAILURES_PER_ADDRESS). */
  maxFailuresPerAddress: number;
  /** Failures for one user from addresses it has not logged in from (OPENHIM_LOGIN_MAX_FAILURES_PER_USER). */
  maxFailuresPerUser: number;
  windowMs: number;
}

/** How long an address where a user logged in stays exempt from that user's cross-address counter. */
const KNOWN_ADDRESS_MS = 30 * 24 * 3600_000;

/** Where the guard keeps its counters and the addresses users logged in from. */
export interface ThrottleStore {
  /** Milliseconds until the first of `keys` that is throttled may try again; 0 when none is. */
  retryAfterMs(keys: readonly ThrottleKey[]): Promise<number>;
  fail(keys: readonly string[]): Promise<void>;
  clear(keys: readonly string[]): Promise<void>;
  isKnown(pair: string): Promise<boolean>;
  remember(pair: string, forMs: number): Promise<void>;
}

/** The counters of one process. */
export class MemoryThrottleStore implements ThrottleStore {
  private readonly throttle: LoginThrottle;
  /** `user\0address` pairs that logged in successfully, with when they are forgotten. */
  private readonly knownAddresses = new Map<string, number>();

  constructor(windowMs: number, private readonly now: () => number = Date.now) {
    this.throttle = new LoginThrottle(windowMs, now);
  }

  async retryAfterMs(keys: readonly ThrottleKey[]): Promise<number> {
    return this.throttle.retryAfterMs(keys);
  }

  async fail(keys: readonly string[]): Promise<void> {
    this.throttle.fail(keys);
  }

  async clear(keys: readonly string[]): Promise<void> {
    this.throttle.clear(keys);
  }

  async isKnown(pair: string): Promise<boolean> {
    const expires = this.knownAddresses.get(pair);
    return expires !== undefined && expires > this.now();
  }

  async remember(pair: string, forMs: number): Promise<void> {
    const now = this.now();
    this.knownAddresses.delete(pair);
    makeRoom(this.knownAddresses, now, (expires) => expires);
    this.knownAddresses.set(pair, now + forMs);
  }
}

/**
 * The counters in the database (iol.login_failures, iol.known_addresses), shared by every
 * replica of the API; expired rows are pruned by the replicas' housekeeping (replicas/reaper.ts).
 * The database's clock decides windows, so the replicas' clocks need not agree. Keys are stored
 * as their sha256: bounded in size, free of NUL, and no user names or addresses in the table.
 */
export class DatabaseThrottleStore implements ThrottleStore {
  constructor(private readonly db: Queryable, private readonly windowMs: number) {}

  async retryAfterMs(keys: readonly ThrottleKey[]): Promise<number> {
    const r = await this.db.query<{ wait_ms: number | null }>(
      `SELECT max(GREATEST(0, extract(epoch FROM (f.window_ends - now())) * 1000))::bigint AS wait_ms
         FROM iol.login_failures f JOIN jsonb_to_recordset($1::jsonb) AS k(key text, max_failures int) ON k.key = f.key
        WHERE f.window_ends > now() AND f.failures >= k.max_failures`,
      [JSON.stringify(keys.map((k) => ({ key: sha256hex(k.key), max_failures: k.maxFailures })))],
    );
    return Number(r.rows[0]?.wait_ms ?? 0);
  }

  async fail(keys: readonly string[]): Promise<void> {
    await this.db.query(
      `INSERT INTO iol.login_failures (key, failures, window_ends)
       SELECT k, 1, now() + make_interval(secs => $2::double precision / 1000) FROM unnest($1::text[]) AS k
       ON CONFLICT (key) DO UPDATE SET
         failures = CASE WHEN iol.login_failures.window_ends > now() THEN iol.login_failures.failures + 1 ELSE 1 END,
         window_ends = CASE WHEN iol.login_failures.window_ends > now() THEN iol.login_failures.window_ends ELSE EXCLUDED.window_ends END`,
      [keys.map(sha256hex), this.windowMs],
    );
  }

  async clear(keys: readonly string[]): Promise<void> {
    await this.db.query('DELETE FROM iol.login_failures WHERE key = ANY($1::text[])', [keys.map(sha256hex)]);
  }

  async isKnown(pair: string): Promise<boolean> {
    const r = await this.db.query('SELECT 1 FROM iol.known_addresses WHERE pair = $1 AND expires_at > now()', [sha256hex(pair)]);
    return r.rows.length > 0;
  }

  /** Writes only when the remembered time would move by more than a day: a login is not a write each time. */
  async remember(pair: string, forMs: number): Promise<void> {
    await this.db.query(
      `INSERT INTO iol.known_addresses (pair, expires_at) VALUES ($1, now() + make_interval(secs => $2::double precision / 1000))
       ON CONFLICT (pair) DO UPDATE SET expires_at = EXCLUDED.expires_at
         WHERE iol.known_addresses.expires_at < EXCLUDED.expires_at - interval '1 day'`,
      [sha256hex(pair), forMs],
    );
  }
}

/** The login throttling policy: which counters an attempt by (user, address) counts against. */
export class LoginGuard {
  private readonly store: ThrottleStore;

  constructor(private readonly settings: LoginGuardSettings, storeOrClock: ThrottleStore | (() => number) = Date.now) {
    this.store = typeof storeOrClock === 'function' ? new MemoryThrottleStore(settings.windowMs, storeOrClock) : storeOrClock;
  }

  /** Milliseconds this (user, address) must wait before trying; 0 when it may try now. */
  async retryAfterMs(user: string, address: string): Promise<number> {
    const k = keysOf(user, address);
    const keys: ThrottleKey[] = [
      { key: k.pair, maxFailures: this.settings.maxFailures },
      { key: k.address, maxFailures: this.settings.maxFailuresPerAddress },
    ];
    if (!(await this.store.isKnown(k.pair))) keys.push({ key: k.user, maxFailures: this.settings.maxFailuresPerUser });
    return this.store.retryAfterMs(keys);
  }

  async failed(user: string, address: string): Promise<void> {
    const k = keysOf(user, address);
    await this.store.fail([k.pair, k.address, k.user]);
  }

  /**
   * Clears only the pair's counter: the address and user counters keep counting what others
   * (a sprayer behind the same NAT, a distributed guesser) did; this address is now known.
   */
  async succeeded(user: string, address: string): Promise<void> {
    const k = keysOf(user, address);
    await this.store.clear([k.pair]);
    await this.store.remember(k.pair, KNOWN_ADDRESS_MS);
  }
}

function keysOf(user: string, address: string): { pair: string; address: string; user: string } {
  const name = user.toLowerCase();
  const place = addressBucket(address);
  return { pair: `pair:${name}\0${place}`, address: `address:${place}`, user: `user:${name}` };
}

/**
 * The unit an address is counted in: an IPv4 address, or an IPv6 /64 (one subscriber's
 * network: a client given a /64 could otherwise use a fresh address for every guess).
 */
export function addressBucket(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (isIPv4(address) || !isIPv6(address)) return address;
  return `${expandIPv6(address).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of an IPv6 address, in lower-case hex without leading zeros. */
function expandIPv6(address: string): string[] {
  const withoutZone = address.split('%')[0]!;
  const [head, tail] = withoutZone.includes('::') ? withoutZone.split('::') : [withoutZone, undefined];
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.map((g) => (g.includes('.') ? g : parseInt(g, 16).toString(16)));
}
