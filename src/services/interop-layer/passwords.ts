/**
 * Password hashing: scrypt for what we store, constant-time comparison everywhere, and the
 * OpenHIM legacy sha512 scheme only where a client needs it (token headers, console users).
 */
import { createHash, createHmac, hash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const SCRYPT = { N: 16384, r: 8, p: 1, keylen: 64 };

function scrypt(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scryptCb(password, salt, keylen, options, (error, key) => (error ? reject(error) : resolve(key))),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p, maxmem: 64 * 1024 * 1024 });
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, saltB64, keyB64] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(keyB64, 'base64');
  const key = await scrypt(password, Buffer.from(saltB64, 'base64'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: 64 * 1024 * 1024,
  });
  // scrypt keys HMAC-SHA256 with the password, and HMAC pads a short key with zero bytes: "pw" and
  // "pw\0" give the same key. A NUL is never a password's (scrypt still ran: same time).
  return timingSafeEqual(key, expected) && !password.includes('\0');
}

let dummyHash: Promise<string> | undefined;

/**
 * Spends what a real password check costs, for a user or client that does not exist, so that
 * the answer time does not tell an attacker which names are known. Always false.
 */
export async function verifyAgainstDummy(password: string): Promise<false> {
  dummyHash ??= hashPassword(randomBytes(16).toString('hex'));
  await verifyPassword(password, await dummyHash);
  return false;
}

export function sha512hex(text: string): string {
  return createHash('sha512').update(text).digest('hex');
}

export function sha256hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Compares two strings in time independent of where they differ. */
export function safeEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  if (ba.length !== bb.length) {
    timingSafeEqual(ba, ba);
    return false;
  }
  return timingSafeEqual(ba, bb);
}

/**
 * The salt of a user's legacy (token) hash: derived from the name under a server key, so the
 * salt GET /authenticate/:username gives for a name is the same before the user exists, while it
 * exists and after each password change (a salt that changed would show the user exists).
 */
export function tokenSalt(key: Buffer, email: string): string {
  return createHmac('sha256', key).update(email.toLowerCase()).digest('hex').slice(0, 32);
}

/** OpenHIM's stored user hash for the token scheme: sha512hex(salt + password). */
export function legacyUserHash(salt: string, password: string): string {
  return sha512hex(salt + password);
}

/**
 * Remembers recent successful verifications (keyed by a sha256 under a random per-process
 * prefix, so no password sits in memory) so that a mediator heartbeat or a router request with
 * Basic auth does not pay a full scrypt each time.
 */
export class VerificationCache {
  private readonly key = randomBytes(32).toString('base64');
  private readonly entries = new Map<string, number>();

  constructor(private readonly ttlMs = 5 * 60_000, private readonly max = 10_000) {}

  private fingerprint(subject: string, secret: string): string {
    // One-shot hash: several times cheaper than an Hmac object on the request path.
    return hash('sha256', `${this.key}\0${subject}\0${secret}`, 'base64');
  }

  has(subject: string, secret: string): boolean {
    const k = this.fingerprint(subject, secret);
    const expires = this.entries.get(k);
    if (expires === undefined) return false;
    if (expires < Date.now()) {
      this.entries.delete(k);
      return false;
    }
    return true;
  }

  remember(subject: string, secret: string): void {
    if (this.entries.size >= this.max) this.entries.clear();
    this.entries.set(this.fingerprint(subject, secret), Date.now() + this.ttlMs);
  }

  /** Forgets everything (a password or client changed). */
  clear(): void {
    this.entries.clear();
  }
}
