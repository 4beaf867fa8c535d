/**
 * Turns a stored key and passphrase into the plain key the listeners serve, once per key and
 * passphrase: an encrypted key is decrypted on a worker thread within a deadline
 * (OPENHIM_KEYSTORE_KEY_DECRYPT_TIMEOUT_MS), never on the event loop, and the outcome is kept in
 * memory, so the validity check, a trusted-list change or a reload does not decrypt again (a key
 * refused for its time stays refused until a restart: the cure is re-encrypting it anyway).
 * The plain key stays in this process's memory (and the router workers'); it is never stored.
 */
import { createHash, createPrivateKey } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { isEncryptedKey } from './certificates.js';

export type UnlockedKey =
  | { state: 'plain'; pem: string }
  /** Encrypted, and no passphrase or the wrong one: it waits for the right passphrase. */
  | { state: 'locked'; reason: string }
  /** Never servable as given: decrypting took longer than the deadline, or it is not a key. */
  | { state: 'refused'; reason: string };

/** Outcomes remembered: the stored key, the one just posted, and a few more. */
const REMEMBERED = 8;

export class KeyUnlocker {
  private readonly outcomes = new Map<string, Promise<UnlockedKey>>();
  /** One decryption at a time: a burst of slow keys costs one thread, not one each. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deadlineMs: number) {}

  unlock(key: string, passphrase: string | null | undefined): Promise<UnlockedKey> {
    const id = createHash('sha256').update(key).update('\0').update(passphrase ?? '').digest('hex');
    let outcome = this.outcomes.get(id);
    if (!outcome) {
      outcome = this.decide(key, passphrase ?? '');
      this.outcomes.set(id, outcome);
      if (this.outcomes.size > REMEMBERED) this.outcomes.delete(this.outcomes.keys().next().value!);
    }
    return outcome;
  }

  private async decide(key: string, passphrase: string): Promise<UnlockedKey> {
    if (!isEncryptedKey(key)) {
      // A plain key has no key derivation: reading it is cheap.
      try {
        return { state: 'plain', pem: createPrivateKey({ key, format: 'pem', passphrase: '' }).export({ type: 'pkcs8', format: 'pem' }) as string };
      } catch {
        return { state: 'refused', reason: 'key: the PEM private key could not be read' };
      }
    }
    if (!passphrase) return { state: 'locked', reason: 'the key is encrypted and the keystore has no passphrase for it (POST /keystore/passphrase)' };
    const run = this.queue.then(() => decryptOffThread(key, passphrase, this.deadlineMs));
    // The next decryption starts when this thread has ended, not at its deadline: a thread past
    // its deadline still runs until OpenSSL returns, and a burst must not pile them up.
    this.queue = run.then((r) => r.ended);
    return run.then((r) => r.outcome);
  }
}

function decryptOffThread(key: string, passphrase: string, deadlineMs: number): { outcome: Promise<UnlockedKey>; ended: Promise<void> } {
  const worker = new Worker(new URL('./unlock-worker.js', import.meta.url), { workerData: { key, passphrase } });
  // A thread left running past its deadline never holds the process open at exit.
  worker.unref();
  const ended = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const outcome = new Promise<UnlockedKey>((resolve) => {
    const finish = (result: UnlockedKey) => {
      clearTimeout(timer);
      // The thread may still be inside OpenSSL; it ends when that returns (the queue waits for it).
      void worker.terminate().catch(() => undefined);
      resolve(result);
    };
    const timer = setTimeout(
      () => finish({ state: 'refused', reason: `the encrypted key took longer than ${deadlineMs} ms to decrypt (OPENHIM_KEYSTORE_KEY_DECRYPT_TIMEOUT_MS): re-encrypt it with fewer PBKDF2 iterations (openssl's default is 2048)` }),
      deadlineMs,
    );
    worker.once('message', (answer: { plain?: string }) =>
      finish(answer.plain ? { state: 'plain', pem: answer.plain } : { state: 'locked', reason: 'the passphrase does not decrypt the key' }),
    );
    worker.once('error', () => finish({ state: 'refused', reason: 'the key could not be decrypted' }));
  });
  return { outcome, ended };
}
