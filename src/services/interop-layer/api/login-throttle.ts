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
 * Per process: with several API instances each counts its own failures.
 */
import { isIPv4, isIPv6 } from 'node:net';

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

/** The login throttling policy: which counters an attempt by (user, address) counts against. */
export class LoginGuard {
  private readonly throttle: LoginThrottle;
  /** `user\0address` pairs that logged in successfully, with when they are forgotten. */
  private readonly knownAddresses = new Map<string, number>();

  constructor(private readonly settings: LoginGuardSettings, private readonly now: () => number = Date.now) {
    this.throttle = new LoginThrottle(settings.windowMs, now);
  }

  /** Milliseconds this (user, address) must wait before trying; 0 when it may try now. */
  retryAfterMs(user: string, address: string): number {
    const k = keysOf(user, address);
    const keys: ThrottleKey[] = [
      { key: k.pair, maxFailures: this.settings.maxFailures },
      { key: k.address, maxFailures: this.settings.maxFailuresPerAddress },
    ];
    if (!this.isKnown(k.pair)) keys.push({ key: k.user, maxFailures: this.settings.maxFailuresPerUser });
    return this.throttle.retryAfterMs(keys);
  }

  failed(user: string, address: string): void {
    const k = keysOf(user, address);
    this.throttle.fail([k.pair, k.address, k.user]);
  }

  /**
   * Clears only the pair's counter: the address and user counters keep counting what others
   * (a sprayer behind the same NAT, a distributed guesser) did; this address is now known.
   */
  succeeded(user: string, address: string): void {
    const k = keysOf(user, address);
    this.throttle.clear([k.pair]);
    const now = this.now();
    this.knownAddresses.delete(k.pair);
    makeRoom(this.knownAddresses, now, (expires) => expires);
    this.knownAddresses.set(k.pair, now + KNOWN_ADDRESS_MS);
  }

  private isKnown(pairKey: string): boolean {
    const expires = this.knownAddresses.get(pairKey);
    return expires !== undefined && expires > this.now();
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
