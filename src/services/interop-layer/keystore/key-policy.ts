/**
 * Which keys the listeners serve: those every TLS client can use. OpenSSL refuses small RSA keys
 * only when the listener builds its context ("ee key too small"), and happily serves curves no
 * client offers (secp256k1): both must be refused when posted, not found at the next start.
 */
import type { KeyObject } from 'node:crypto';

export const MIN_RSA_BITS = 2048;
/** The curves TLS clients offer (RFC 8446 groups): OpenSSL's names of P-256, P-384, P-521. */
const SERVABLE_CURVES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

export const SERVABLE_KEYS = `RSA of at least ${MIN_RSA_BITS} bits, or EC on P-256, P-384 or P-521`;

/** Why TLS clients could not use this key (the key, or a certificate's public key), or undefined when they can. */
export function unservableKeyReason(key: KeyObject, what: string): string | undefined {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return (details.modulusLength ?? 0) >= MIN_RSA_BITS ? undefined : `${what} is RSA of ${details.modulusLength} bits: too small to serve (OpenSSL refuses it); use ${SERVABLE_KEYS}`;
    case 'ec': {
      const curve = details.namedCurve ?? 'unknown';
      return SERVABLE_CURVES[curve] ? undefined : `${what} is EC on curve ${curve}, which TLS clients do not offer; use ${SERVABLE_KEYS}`;
    }
    default:
      return `${what} is ${key.asymmetricKeyType ?? 'an unknown'} key, which the listeners do not serve; use ${SERVABLE_KEYS}`;
  }
}
