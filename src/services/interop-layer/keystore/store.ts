/**
 * The keystore in the database (migration 6): one row with the server certificate, its private
 * key and the key's passphrase, and the trusted certificates. The key and passphrase leave this
 * module only as a TLS identity for the listeners (`identity()`), never in an API answer.
 * The row also keeps the pair being served: the last given pair found servable (pair-check.ts),
 * promoted by the API after that check, so a certificate waiting for its key never reaches a listener.
 */
import type { Queryable } from '../../../db/database.js';
import type { CertificateInfo } from './certificates.js';
import type { KeyPair } from './pair-check.js';

/** A trusted certificate as `/keystore/ca` lists it (OpenHIM's subdocument, with its `_id`). */
export type TrustedCertificate = CertificateInfo & { _id: string };

/** What a TLS server needs: the keystore's certificate (chain), key, passphrase and trusted list. */
export interface TlsIdentity {
  cert: string;
  key: string;
  passphrase?: string | undefined;
  /** PEMs of the trusted certificates (mutual TLS). */
  ca: string[];
  /** Their keystore ids, in the same order (a route's `cert` names one: the CA its upstream is checked against). */
  caIds?: string[];
}

interface KeystoreRow {
  cert: CertificateInfo;
  key: string;
  passphrase: string | null;
}

export class KeystoreStore {
  constructor(private readonly db: Queryable) {}

  /** Makes the keystore from the given pair unless one exists (first start; another replica may win). */
  async seed(cert: CertificateInfo, key: string): Promise<boolean> {
    const r = await this.db.query(
      'INSERT INTO iol.keystore (id, cert, key, served_cert, served_key) VALUES (1, $1::jsonb, $2, $3, $2) ON CONFLICT (id) DO NOTHING',
      [JSON.stringify(cert), key, cert.data],
    );
    return (r.rowCount ?? 0) > 0;
  }

  private async row(): Promise<KeystoreRow | undefined> {
    const r = await this.db.query<KeystoreRow>('SELECT cert, key, passphrase FROM iol.keystore WHERE id = 1');
    return r.rows[0];
  }

  async exists(): Promise<boolean> {
    return Boolean(await this.row());
  }

  async certificate(): Promise<CertificateInfo | undefined> {
    return (await this.row())?.cert;
  }

  /** The key material, for the validity check and the listeners only. */
  async secrets(): Promise<{ cert: string; key: string; passphrase: string | null } | undefined> {
    const row = await this.row();
    return row ? { cert: row.cert.data, key: row.key, passphrase: row.passphrase } : undefined;
  }

  /** The setters store what is given; `promote` then serves it once the API has found it servable. */
  /** As OpenHIM's setServerCert: the passphrase is the one given, none when none is (it is cleared). */
  async setCertificate(cert: CertificateInfo, passphrase?: string): Promise<void> {
    await this.db.query(
      `UPDATE iol.keystore SET cert = $1::jsonb, passphrase = $2, updated_at = now() WHERE id = 1`,
      [JSON.stringify(cert), passphrase ?? null],
    );
  }

  async setKey(key: string, passphrase?: string): Promise<void> {
    await this.db.query('UPDATE iol.keystore SET key = $1, passphrase = COALESCE($2, passphrase), updated_at = now() WHERE id = 1', [key, passphrase ?? null]);
  }

  /** A new certificate and its (unencrypted) key together, in one statement: no moment holds one without the other. */
  async setPair(cert: CertificateInfo, key: string): Promise<void> {
    await this.db.query('UPDATE iol.keystore SET cert = $1::jsonb, key = $2, passphrase = NULL, updated_at = now() WHERE id = 1', [JSON.stringify(cert), key]);
  }

  async setPassphrase(passphrase: string | null): Promise<void> {
    await this.db.query('UPDATE iol.keystore SET passphrase = $1, updated_at = now() WHERE id = 1', [passphrase]);
  }

  /**
   * Serves the given pair (found servable) if it is still the one given. Two admins racing: each
   * promotes the pair it checked, guarded by that content, so a pair replaced meanwhile is not
   * promoted by a stale check.
   */
  async promote(pair: KeyPair): Promise<void> {
    await this.db.query(
      `UPDATE iol.keystore SET served_cert = cert->>'data', served_key = key, served_passphrase = passphrase
        WHERE id = 1 AND cert->>'data' = $1 AND key = $2 AND passphrase IS NOT DISTINCT FROM $3`,
      [pair.cert, pair.key, pair.passphrase ?? null],
    );
  }

  /** Holds the keystore row until the transaction ends: changes to the trusted list take turns (its cap is counted, then kept). */
  async lock(): Promise<void> {
    await this.db.query('SELECT id FROM iol.keystore WHERE id = 1 FOR UPDATE');
  }

  async trusted(): Promise<TrustedCertificate[]> {
    const r = await this.db.query<{ id: string; doc: CertificateInfo }>('SELECT id, doc FROM iol.keystore_ca ORDER BY added_at, id');
    return r.rows.map((row) => ({ _id: row.id, ...row.doc }));
  }

  async trustedById(id: string): Promise<TrustedCertificate | undefined> {
    const r = await this.db.query<{ id: string; doc: CertificateInfo }>('SELECT id, doc FROM iol.keystore_ca WHERE id = $1', [id]);
    const row = r.rows[0];
    return row ? { _id: row.id, ...row.doc } : undefined;
  }

  async trustedCount(): Promise<number> {
    const r = await this.db.query<{ n: number }>('SELECT count(*)::int AS n FROM iol.keystore_ca');
    return r.rows[0]!.n;
  }

  /** Adds the certificates not yet trusted (same fingerprint: kept once); returns those added. */
  async addTrusted(certs: TrustedCertificate[]): Promise<TrustedCertificate[]> {
    const added: TrustedCertificate[] = [];
    for (const { _id, ...doc } of certs) {
      const r = await this.db.query('INSERT INTO iol.keystore_ca (id, fingerprint, doc) VALUES ($1, $2, $3::jsonb) ON CONFLICT (fingerprint) DO NOTHING', [_id, doc.fingerprint, JSON.stringify(doc)]);
      if ((r.rowCount ?? 0) > 0) added.push({ _id, ...doc });
    }
    return added;
  }

  async removeTrusted(id: string): Promise<boolean> {
    const r = await this.db.query('DELETE FROM iol.keystore_ca WHERE id = $1', [id]);
    return (r.rowCount ?? 0) > 0;
  }

  /** The listeners' identity (the served pair and the trusted list), or undefined before the keystore exists. */
  async identity(): Promise<TlsIdentity | undefined> {
    const r = await this.db.query<{ served_cert: string; served_key: string; served_passphrase: string | null }>(
      'SELECT served_cert, served_key, served_passphrase FROM iol.keystore WHERE id = 1',
    );
    const row = r.rows[0];
    if (!row) return undefined;
    const ca = await this.db.query<{ id: string; doc: CertificateInfo }>('SELECT id, doc FROM iol.keystore_ca ORDER BY added_at, id');
    return { cert: row.served_cert, key: row.served_key, passphrase: row.served_passphrase ?? undefined, ca: ca.rows.map((c) => c.doc.data), caIds: ca.rows.map((c) => c.id) };
  }
}
