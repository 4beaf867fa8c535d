/**
 * Certificates and keys as the keystore API takes and shows them: PEM in, OpenHIM's certificate
 * info out (the fields of openhim-core-js model/keystore.js), parsed with node:crypto only.
 * Pure functions; every refusal is a 400 with what to send instead.
 */
import { X509Certificate } from 'node:crypto';
import { badRequest } from '../errors.js';
import { SERVABLE_KEYS } from './key-policy.js';

/** A certificate as OpenHIM stores and returns it (`cert`, and each item of `ca`). */
export interface CertificateInfo {
  country?: string;
  state?: string;
  locality?: string;
  organization?: string;
  organizationUnit?: string;
  commonName?: string;
  emailAddress?: string;
  validity: { start: string; end: string };
  /** The PEM (for the server certificate: the whole chain given, leaf first). */
  data: string;
  /** SHA-1, upper-case hex pairs joined by colons, as OpenHIM (and clients' certFingerprint). */
  fingerprint: string;
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+?-----END CERTIFICATE-----/g;
/** What `openssl ecparam -genkey` writes before the key: the curve, which the key names itself. */
const PEM_EC_PARAMETERS = /-----BEGIN EC PARAMETERS-----\r?\n[A-Za-z0-9+/=\r\n]+?-----END EC PARAMETERS-----\s*/g;
const PEM_PRIVATE_KEY = /^-----BEGIN ((?:RSA |EC |ENCRYPTED )?PRIVATE KEY)-----\r?\n[\s\S]+?\r?\n-----END \1-----\s*$/;

/** OpenSSL's short subject names to OpenHIM's field names (pem.readCertificateInfo). */
const SUBJECT_FIELDS: Record<string, keyof CertificateInfo> = {
  C: 'country',
  ST: 'state',
  L: 'locality',
  O: 'organization',
  OU: 'organizationUnit',
  CN: 'commonName',
  emailAddress: 'emailAddress',
};

function subjectFields(subject: string): Partial<CertificateInfo> {
  const fields: Record<string, string> = {};
  for (const line of subject.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const name = SUBJECT_FIELDS[line.slice(0, eq)];
    // A repeated attribute (two OUs): the first, as OpenHIM's parser keeps one value.
    if (name && fields[name] === undefined) fields[name] = line.slice(eq + 1);
  }
  return fields;
}

/** Editors on Windows save UTF-8 with a byte-order mark, which is not part of the PEM. */
export function withoutBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

/** The PEM certificate blocks of `text`, in order; 400 when there is none or one does not parse. */
export function parseCertificates(text: unknown, what: string): X509Certificate[] {
  if (typeof text !== 'string' || !text.trim()) throw badRequest(`${what}: send the PEM text ("-----BEGIN CERTIFICATE-----...")`);
  const pem = withoutBom(text);
  const blocks = pem.match(PEM_CERTIFICATE) ?? [];
  if (blocks.length === 0) throw badRequest(`${what} holds no PEM certificate`, 'send one or more "-----BEGIN CERTIFICATE-----" blocks');
  // Another PEM block beside them (a key pasted along, a truncated certificate) is a mistake worth
  // saying; OpenSSL's own lines around blocks (`subject=`, `issuer=`, "Bag Attributes", as in
  // OpenHIM's test chain.pem, which OpenHIM takes) are not.
  const rest = pem.replace(PEM_CERTIFICATE, '');
  if (/-----(BEGIN|END) /.test(rest)) throw badRequest(`${what} holds a PEM block that is not a whole certificate`, 'send only "-----BEGIN CERTIFICATE-----" blocks (a private key goes to POST /keystore/key)');
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch {
      throw badRequest(`${what}: certificate ${i + 1} is not a valid X.509 certificate`);
    }
  });
}

/** OpenHIM's info of one certificate; `data` is the PEM given (a chain for the server certificate). */
export function certificateInfo(certificate: X509Certificate, data: string = certificate.toString()): CertificateInfo {
  return {
    ...subjectFields(certificate.subject),
    validity: { start: new Date(certificate.validFrom).toISOString(), end: new Date(certificate.validTo).toISOString() },
    data,
    fingerprint: certificate.fingerprint,
  };
}

/** True when the PEM key is encrypted (it needs the passphrase to be read). */
export function isEncryptedKey(pem: string): boolean {
  return /-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(pem) || /Proc-Type:\s*4,ENCRYPTED/.test(pem);
}

/**
 * Checks the shape of a PEM private key (one block, nothing else but an EC PARAMETERS block
 * before it, which is dropped); 400 otherwise. Which key types are served: key-policy.ts.
 */
export function checkPrivateKeyPem(text: unknown): string {
  const key = typeof text === 'string' ? withoutBom(text).replace(PEM_EC_PARAMETERS, '').trim() : undefined;
  if (!key || !PEM_PRIVATE_KEY.test(key)) {
    throw badRequest(`key: send one PEM private key ("-----BEGIN PRIVATE KEY-----", "RSA PRIVATE KEY", "EC PRIVATE KEY", or "ENCRYPTED PRIVATE KEY" with its passphrase): ${SERVABLE_KEYS}`);
  }
  return `${key}\n`;
}
