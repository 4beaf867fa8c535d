import { randomBytes } from 'node:crypto';

/**
 * A 24-hex id shaped like a MongoDB ObjectId (4-byte seconds, then random), because OpenHIM
 * clients and consoles expect `_id` values of that form and sort them by time.
 */
export function newObjectId(now = Date.now()): string {
  const seconds = Math.floor(now / 1000).toString(16).padStart(8, '0');
  return seconds + randomBytes(8).toString('hex');
}

export function isObjectId(value: string): boolean {
  return /^[0-9a-f]{24}$/.test(value);
}
