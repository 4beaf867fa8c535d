import { X509Certificate } from 'node:crypto';
import type { IolConfig } from '../config.js';
import { ensureRouterCertificate, generateRouterCertificate } from '../certs.js';
import { certificateInfo } from './certificates.js';
import type { KeystoreStore } from './store.js';

/**
 * Makes the keystore on first start from the generated certificate: the one already in
 * <stateDir>/certs when HTTPS is on (so an existing instance keeps serving the same one), or a
 * new one kept in the database only. Replicas starting together: the first insert wins.
 */
export async function seedKeystore(store: KeystoreStore, stateDir: string, config: IolConfig): Promise<boolean> {
  if (await store.exists()) return false;
  const usesFiles = config.routerHttpsPort > 0 || config.apiTls;
  const pair = usesFiles
    ? await ensureRouterCertificate(stateDir, config.routerHost, config.certHostNames)
    : await generateRouterCertificate(config.routerHost, config.certHostNames);
  return store.seed(certificateInfo(new X509Certificate(pair.cert), pair.cert), pair.key);
}
