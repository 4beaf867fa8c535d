/**
 * Keeps this replica's caches in step with changes made through any replica: triggers announce
 * every committed change to channels, clients, users (migration 4) and the keystore (migration 6)
 * on channel `iol_changes`; this reloads the routing table, forgets cached password checks, and
 * gives the TLS listeners the keystore's new certificate. When the listening
 * connection comes back after a drop, everything is reloaded (announcements in between are lost).
 * The periodic refresh (OPENHIM_CACHE_REFRESH_MS) stays as the safety net.
 */
import type { Database, Subscription } from '../../../db/database.js';
import type { Logger } from '../../../common/logger.js';

export interface CachedState {
  /** Reloads the routing table (channels and clients). */
  reloadRouting(): Promise<void>;
  /** Forgets remembered successful password checks (a password may have changed). */
  forgetVerifications(): void;
  /** Reloads the keystore the TLS listeners serve (certificate, key, trusted list). */
  reloadTls?(): Promise<void>;
}

export const CHANGES_CHANNEL = 'iol_changes';

/** Runs `reload` now, or once more after the running one when asked meanwhile (bursts coalesce). */
export function coalesced(reload: () => Promise<void>, onError: (error: unknown) => void): () => void {
  let running = false;
  let again = false;
  const run = (): void => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    reload()
      .catch(onError)
      .finally(() => {
        running = false;
        if (again) {
          again = false;
          run();
        }
      });
  };
  return run;
}

export async function followChanges(db: Database, state: CachedState, logger: Logger): Promise<Subscription | undefined> {
  if (!db.listen) return undefined;
  const reloadRouting = coalesced(state.reloadRouting, (error) =>
    logger.warn({ err: { message: (error as Error)?.message } }, 'routing table reload after a change notification failed; the periodic refresh will retry'),
  );
  const reloadTls = (): void => {
    state.reloadTls?.().catch((error: unknown) =>
      logger.warn({ err: { message: (error as Error)?.message } }, 'keystore reload after a change notification failed; the periodic refresh will retry'),
    );
  };
  return db.listen(CHANGES_CHANNEL, {
    onNotify(table) {
      if (table === 'users' || table === 'clients') state.forgetVerifications();
      if (table === 'channels' || table === 'clients') reloadRouting();
      if (table === 'keystore' || table === 'keystore_ca') reloadTls();
    },
    onReconnect() {
      logger.info('change notifications are back: reloading the routing table');
      state.forgetVerifications();
      reloadRouting();
      reloadTls();
    },
  });
}
