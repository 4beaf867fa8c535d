/**
 * Whether a certificate and key can be served: the one decision the API (before storing), the
 * validity check and the listeners (before applying, and at start) all take. A pair is servable
 * when the key can be read (decrypted off the event loop, key-unlocker.ts), both are a key type
 * TLS clients use (key-policy.ts), the key belongs to the certificate, and OpenSSL builds a
 * secure context from them: what a listener does next, so a pair that passes never fails there.
 */
import { createPrivateKey, type X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { parseCertificates } from './certificates.js';
import { unservableKeyReason } from './key-policy.js';
import type { KeyUnlocker } from './key-unlocker.js';

/** Which half is at fault: the certificate, the key (with its passphrase), or only the two together. */
export type PairPart = 'cert' | 'key' | 'pair';

export type PairVerdict =
  /** `key` is the plain PEM to serve (never stored). */
  | { state: 'servable'; cert: string; key: string }
  /** Fine so far, not servable yet: the key belongs to another certificate, or waits for its passphrase. */
  | { state: 'waiting'; reason: string }
  | { state: 'refused'; part: PairPart; reason: string };

export interface KeyPair {
  cert: string;
  key: string;
  passphrase?: string | null | undefined;
}

export async function judgePair(unlocker: KeyUnlocker, pair: KeyPair): Promise<PairVerdict> {
  let leaf: X509Certificate;
  try {
    [leaf] = parseCertificates(pair.cert, 'cert') as [X509Certificate];
  } catch {
    return { state: 'refused', part: 'cert', reason: 'the certificate is not a valid PEM certificate' };
  }
  const certProblem = unservableKeyReason(leaf.publicKey, 'the certificate\'s key');
  if (certProblem) return { state: 'refused', part: 'cert', reason: certProblem };

  const unlocked = await unlocker.unlock(pair.key, pair.passphrase);
  if (unlocked.state === 'refused') return { state: 'refused', part: 'key', reason: unlocked.reason };
  if (unlocked.state === 'locked') return { state: 'waiting', reason: unlocked.reason };
  const key = createPrivateKey(unlocked.pem);
  const keyProblem = unservableKeyReason(key, 'the private key');
  if (keyProblem) return { state: 'refused', part: 'key', reason: keyProblem };

  if (!leaf.checkPrivateKey(key)) return { state: 'waiting', reason: 'the key does not belong to the certificate (send the other half with POST /keystore/cert or /keystore/key)' };
  try {
    createSecureContext({ cert: pair.cert, key: unlocked.pem });
  } catch (error) {
    return { state: 'refused', part: 'pair', reason: `OpenSSL cannot serve this certificate and key: ${(error as Error).message}` };
  }
  return { state: 'servable', cert: pair.cert, key: unlocked.pem };
}
