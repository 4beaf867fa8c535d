/**
 * The TLS identity the listeners serve, kept in step with the keystore: loaded at start, and
 * again after every change (this replica's API, or another replica's through the change feed).
 * The keystore hands out only a pair the API found servable; a pair that is not anyway (a restore,
 * a hand edit, a pair stored before the checks existed) is not applied: the listeners keep theirs,
 * and at start there is none (the service says why, IOL_KEYSTORE_INVALID). The listeners get the
 * key decrypted (key-unlocker.ts: once, off the event loop), so applying it never runs a key
 * derivation; the decrypted key lives in memory only. Listeners apply a new identity with
 * tls.Server#setSecureContext, so it reaches new connections without a restart; connections
 * already open keep theirs.
 */
import { rootCertificates, type SecureContextOptions } from 'node:tls';
import type { Logger } from '../../../common/logger.js';
import { KeyUnlocker } from './key-unlocker.js';
import { judgePair, type KeyPair, type PairVerdict } from './pair-check.js';
import type { KeystoreStore, TlsIdentity } from './store.js';

/** The secure-context options of a TLS listener for an identity (no key in any log). */
export function secureContextOptions(identity: TlsIdentity, withTrustedList: boolean): SecureContextOptions {
  const options: SecureContextOptions = { key: identity.key, cert: identity.cert };
  if (identity.passphrase) options.passphrase = identity.passphrase;
  // As OpenHIM (tlsAuthentication.getTrustedClientCerts): the public roots and the trusted list.
  if (withTrustedList) options.ca = [...rootCertificates, ...identity.ca];
  return options;
}

export class LiveTls {
  private identity: TlsIdentity | undefined;
  private readonly listeners = new Set<(identity: TlsIdentity) => void>();
  private loading: Promise<void> | undefined;
  private queued: Promise<void> | undefined;
  /** The stored pair the identity was made from (its key as stored, maybe encrypted). */
  private source: KeyPair | undefined;
  /** Why the stored served pair is not served (logged once, not at every periodic reload). */
  private problem: string | undefined;
  private readonly unlocker: KeyUnlocker;

  constructor(
    private readonly store: KeystoreStore,
    private readonly logger: Logger,
    keyDecryptTimeoutMs: number,
  ) {
    this.unlocker = new KeyUnlocker(keyDecryptTimeoutMs);
  }

  /** Whether a pair can be served (the API asks before storing; decrypting is remembered). */
  judge(pair: KeyPair): Promise<PairVerdict> {
    return judgePair(this.unlocker, pair);
  }

  /** Why the keystore's served pair is not being served, when it is not. */
  refusedBecause(): string | undefined {
    return this.problem;
  }

  /** The identity being served (undefined before the keystore exists). */
  current(): TlsIdentity | undefined {
    return this.identity;
  }

  /** Called with each new identity applied. */
  onChange(listener: (identity: TlsIdentity) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Reads the keystore and applies it when it changed and its pair matches. A call while a read
   * runs gets one more read after it (that read may have begun before the caller's change was
   * committed), shared by every caller meanwhile: bursts coalesce, and no caller returns before
   * a read that began after its call.
   */
  reload(): Promise<void> {
    if (!this.loading) {
      this.loading = this.loadOnce().finally(() => {
        this.loading = undefined;
      });
      return this.loading;
    }
    this.queued ??= this.loading
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.reload();
      });
    return this.queued;
  }

  private async loadOnce(): Promise<void> {
    const next = await this.store.identity();
    if (!next) return;
    const pair: KeyPair = { cert: next.cert, key: next.key, passphrase: next.passphrase ?? null };
    if (this.source && samePair(pair, this.source)) {
      // The same pair: at most the trusted list changed, and the key is not read again.
      if (!sameList(next.ca, this.identity!.ca)) this.apply({ ...this.identity!, ca: next.ca, caIds: next.caIds });
      return;
    }
    const verdict = await this.judge(pair);
    if (verdict.state !== 'servable') {
      if (this.problem !== verdict.reason) {
        this.logger.error({ reason: verdict.reason }, 'the keystore\'s served certificate and key cannot be served: the listeners keep what they serve; replace them with POST /keystore/cert and /keystore/key');
      }
      this.problem = verdict.reason;
      // The trusted list still applies with the pair in use.
      if (this.identity && !sameList(next.ca, this.identity.ca)) this.apply({ ...this.identity, ca: next.ca, caIds: next.caIds });
      return;
    }
    this.problem = undefined;
    this.source = pair;
    this.apply({ cert: verdict.cert, key: verdict.key, ca: next.ca, caIds: next.caIds });
  }

  private apply(identity: TlsIdentity): void {
    const first = !this.identity;
    this.identity = identity;
    if (!first) this.logger.info({ trusted: identity.ca.length }, 'keystore changed: new TLS connections use the new certificate and trusted list');
    for (const listener of this.listeners) {
      try {
        listener(identity);
      } catch (error) {
        this.logger.warn({ err: { message: (error as Error).message } }, 'a listener could not take the new TLS identity');
      }
    }
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((pem, i) => pem === b[i]);
}

function samePair(a: KeyPair, b: KeyPair): boolean {
  return a.cert === b.cert && a.key === b.key && (a.passphrase ?? null) === (b.passphrase ?? null);
}
