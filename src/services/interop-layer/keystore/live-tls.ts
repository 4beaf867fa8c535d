/**
 * The TLS identity the listeners serve, kept in step with the keystore: loaded at start, and
 * again after every change (this replica's API, or another replica's through the change feed).
 * The keystore hands out only a pair whose key matched its certificate (store.ts); a pair that
 * does not match anyway (a restore, a hand edit) is not applied: the listeners keep theirs.
 * Listeners apply a new identity with tls.Server#setSecureContext, so it reaches new connections
 * without a restart; connections already open keep theirs.
 */
import { rootCertificates, type SecureContextOptions } from 'node:tls';
import type { Logger } from '../../../common/logger.js';
import { keyMatchesCertificate } from './certificates.js';
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
  /** The refused pair last logged (the periodic reload would log it every few seconds). */
  private refused: string | undefined;

  constructor(
    private readonly store: KeystoreStore,
    private readonly logger: Logger,
  ) {}

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
    if (!next || sameIdentity(next, this.identity)) return;
    if (!keyMatchesCertificate(next.key, next.passphrase, next.cert)) {
      if (this.refused !== next.cert + next.key) this.logger.error('the keystore\'s served certificate and key do not match: the listeners keep what they serve; replace them with POST /keystore/cert and /keystore/key');
      // The trusted list still applies with the pair in use.
      this.refused = next.cert + next.key;
      if (this.identity && !sameList(next.ca, this.identity.ca)) this.apply({ ...this.identity, ca: next.ca });
      return;
    }
    this.apply(next);
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

function sameIdentity(a: TlsIdentity, b: TlsIdentity | undefined): boolean {
  return Boolean(b) && a.cert === b!.cert && a.key === b!.key && a.passphrase === b!.passphrase && sameList(a.ca, b!.ca);
}
