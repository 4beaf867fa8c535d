import { randomBytes } from 'node:crypto';

// As a MongoDB ObjectId: 4 bytes of seconds, 5 random bytes fixed per process, a 3-byte counter.
const processPart = randomBytes(5).toString('hex');
let counter = randomBytes(3).readUIntBE(0, 3);

/**
 * A 24-hex id shaped like a MongoDB ObjectId, because OpenHIM clients and consoles expect `_id`
 * values of that form and sort them by time. Unique per process by the counter, across
 * processes by the random part.
 */
export function newObjectId(now = Date.now()): string {
  counter = (counter + 1) % 0x1000000;
  return Math.floor(now / 1000).toString(16).padStart(8, '0') + processPart + counter.toString(16).padStart(6, '0');
}
