/**
 * Client passwords as OpenHIM stores them (middleware/basicAuthentication.js): scrypt (ours, from
 * a plain `password`), a hex digest of password + salt with any algorithm node:crypto names
 * (OpenHIM's console sends sha512), or bcrypt (OpenHIM's fallback for any other algorithm).
 * Hashes are kept exactly as given: bcrypt's are case-sensitive.
 */
import { createHash, getHashes } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { badRequest } from './errors.js';
import { safeEqual, verifyAgainstDummy, verifyPassword } from './passwords.js';
import type { ConcurrencyGate } from './concurrency-gate.js';
import type { ClientSecrets } from './models.js';

/** The digests node:crypto names that this build can actually compute (OpenSSL 3 lists some legacy ones it refuses). */
const CRYPTO_HASHES = new Set(getHashes().filter((name) => {
  try {
    createHash(name).update('').digest('hex');
    return true;
  } catch {
    return false;
  }
}));
/**
 * `$2a$10$` + 22 characters of salt + 31 of hash, in bcrypt's base64 alphabet. Only the
 * revisions bcryptjs verifies: it throws on `$2x$` and others ("Invalid salt revision").
 */
const BCRYPT_HASH = /^\$2[aby]\$(\d{2})\$[./A-Za-z0-9]{53}$/;

export type ClientHashScheme = 'scrypt' | 'crypto' | 'bcrypt';

/** How a stored algorithm is verified; undefined for one that can never verify. */
export function schemeOf(algorithm: string | undefined): ClientHashScheme | undefined {
  if (algorithm === 'scrypt') return 'scrypt';
  if (algorithm === 'bcrypt') return 'bcrypt';
  if (algorithm !== undefined && CRYPTO_HASHES.has(algorithm)) return 'crypto';
  return undefined;
}

/**
 * The algorithm, hash and salt to store for a client hash given through the API, or a 400 saying
 * what is accepted. Without an algorithm a bcrypt-shaped hash is bcrypt, anything else sha512
 * (the console's). A bcrypt cost above `maxCost` is refused: the router pays it on every
 * uncached verification.
 */
export function clientHashToStore(algorithm: string | undefined, hash: string, salt: string | undefined, maxCost: number): Required<Pick<ClientSecrets, 'passwordAlgorithm' | 'passwordHash' | 'passwordSalt'>> {
  if (!hash) throw badRequest('passwordHash is empty', 'send the hash, or a plain `password`');
  const chosen = algorithm ?? (BCRYPT_HASH.test(hash) ? 'bcrypt' : 'sha512');
  const scheme = schemeOf(chosen);
  if (!scheme || scheme === 'scrypt') {
    throw badRequest(`passwordAlgorithm "${chosen.slice(0, 50)}" is not accepted`, 'use bcrypt or a hash node:crypto names (sha512, sha256, md5, ...); or send a plain `password`, which is stored with scrypt');
  }
  if (scheme === 'bcrypt') {
    const cost = bcryptCost(hash);
    if (cost === undefined) throw badRequest('passwordHash is not a bcrypt hash ($2a$, $2b$ or $2y$, a two-digit cost, 53 characters of salt and hash)');
    if (cost < 4 || cost > maxCost) {
      throw badRequest(`the bcrypt hash's cost factor ${cost} is outside 4..${maxCost} (OPENHIM_CLIENT_BCRYPT_MAX_COST): the router would spend too long verifying it`, 'hash the password again with a lower cost, or send a plain `password`');
    }
    return { passwordAlgorithm: 'bcrypt', passwordHash: hash, passwordSalt: '' };
  }
  // A digest is compared with the hex of what node:crypto computes: anything else never verifies.
  const hexLength = createHash(chosen).digest('hex').length;
  if (hash.length !== hexLength || !/^[0-9a-fA-F]+$/.test(hash)) {
    throw badRequest(`passwordHash is not a ${chosen.slice(0, 50)} hash: ${hexLength} hexadecimal characters expected`);
  }
  return { passwordAlgorithm: chosen, passwordHash: hash, passwordSalt: salt ?? '' };
}

function bcryptCost(hash: string): number | undefined {
  const m = BCRYPT_HASH.exec(hash);
  return m ? Number(m[1]) : undefined;
}

/** Checks a Basic password against a client's stored hash. A hash that can never verify costs a dummy check. */
export async function verifyClientPassword(secrets: ClientSecrets, password: string, maxBcryptCost: number, gate?: ConcurrencyGate): Promise<boolean> {
  const { passwordHash, passwordSalt } = secrets;
  if (!passwordHash) return verifyAgainstDummy(password);
  switch (schemeOf(secrets.passwordAlgorithm ?? 'sha512')) {
    case 'scrypt':
      return verifyPassword(password, passwordHash);
    case 'crypto': {
      const digest = createHash(secrets.passwordAlgorithm ?? 'sha512').update(password).update(passwordSalt ?? '').digest('hex');
      // Hex is case-insensitive (hashes stored before were lower-cased); the stored text is left as it is.
      return safeEqual(digest, passwordHash.toLowerCase());
    }
    case 'bcrypt': {
      // A row stored before the cost check (or written to the table directly) is bounded here too.
      const cost = bcryptCost(passwordHash);
      if (cost === undefined || cost < 4 || cost > maxBcryptCost) return verifyAgainstDummy(password);
      const compare = () => bcrypt.compare(password, passwordHash).catch(() => false); // a hash bcryptjs rejects is a failed login, never a 500
      return (await (gate ? gate.run(compare) : compare())) ?? false;
    }
    default:
      return verifyAgainstDummy(password);
  }
}
