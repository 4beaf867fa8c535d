/**
 * OpenHIM's keystore API (openhim-core-js src/api/keystore.js), admins only: the server
 * certificate and key the router's HTTPS serves, and the trusted certificates mutual TLS
 * accepts. Same routes and shapes; where OpenHIM answers 500 (an unknown id) or keeps half of a
 * bad chain, this answers 404 or 400 and keeps nothing. The key and passphrase are write-only.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { IolDeps } from '../deps.js';
import { badRequest, notFound } from '../errors.js';
import { newObjectId } from '../ids.js';
import { parseBody } from '../validation.js';
import { auditChange } from './common.js';
import { RetryLaterError } from './auth.js';
import { ConcurrencyGate } from '../concurrency-gate.js';
import { checkStorable } from './query-filters.js';
import type { ScopedRoutes } from './scopes.js';
import { X509Certificate } from 'node:crypto';
import { certificateInfo, checkPrivateKeyPem, parseCertificates, withoutBom } from '../keystore/certificates.js';
import { certificateRequestSchema, generateCertificate } from '../keystore/certificate-authority.js';
import type { KeyPair, PairPart } from '../keystore/pair-check.js';
import { SERVABLE_KEYS } from '../keystore/key-policy.js';
import { KeystoreStore, type TrustedCertificate } from '../keystore/store.js';

export function keystoreRoutes(deps: IolDeps): ScopedRoutes {
  return { admin: (scope) => registerKeystoreRoutes(scope, deps) };
}

const pemField = z.string().min(1);
const passphraseField = z.string().max(1024).optional();

function registerKeystoreRoutes(app: FastifyInstance, deps: IolDeps): void {
  const { keystore } = deps;
  // An RSA key takes one of libuv's four pool threads for up to half a second: one at a time.
  const generation = new ConcurrencyGate(1);
  const maxPem = deps.config.limits.keystorePemBytes;

  /** Refuses a PEM over the keystore's size limit before any parsing. */
  const checkSize = (text: string, what: string) => {
    if (Buffer.byteLength(text) > maxPem) throw badRequest(`${what} is larger than ${maxPem} bytes (OPENHIM_KEYSTORE_MAX_PEM_BYTES)`);
  };
  /** After a change: this replica applies it now; others follow through the change feed. */
  const applied = async (request: FastifyRequest, entity: string, action: 'C' | 'U' | 'D') => {
    auditChange(deps, request, action, entity);
    await deps.tls.reload();
  };

  /**
   * Checks the pair a change would give (off the event loop, decrypting at most once), then stores
   * the change, and serves the pair when it is servable. A fault in what is posted (`posted`: a key
   * type clients cannot use, a key too slow to decrypt, a pair OpenSSL refuses) is a 400 and
   * nothing is stored; a fault in the half already stored (from before these checks) is not the
   * poster's: the change is stored and waits, as a pair that does not match yet.
   */
  const storeChecked = async (change: (stored: KeyPair) => KeyPair, posted: readonly PairPart[], store: () => Promise<void>) => {
    const stored = await keystore.secrets();
    if (!stored) throw notFound('the keystore');
    const pair = change(stored);
    const verdict = await deps.tls.judge(pair);
    if (verdict.state === 'refused' && (verdict.part === 'pair' || posted.includes(verdict.part))) {
      throw badRequest(`${verdict.reason}; nothing was stored`, `the listeners serve ${SERVABLE_KEYS}`);
    }
    await store();
    if (verdict.state === 'servable') await keystore.promote(pair);
  };

  app.get('/keystore/cert', async () => {
    const cert = await keystore.certificate();
    if (!cert) throw notFound('the keystore');
    // OpenHIM adds its certificateManagement.watchFSForCert; here the keystore is the only source.
    return { ...cert, watchFSForCert: false };
  });

  // A body well past the PEM limit is refused (413) before it is read or parsed.
  const small = { bodyLimit: 2 * maxPem + 4096 };

  app.post('/keystore/cert', small, async (request, reply) => {
    const body = parseBody(z.object({ cert: pemField, passphrase: passphraseField }), request.body, 'certificate');
    checkSize(body.cert, 'cert');
    const [leaf] = parseCertificates(body.cert, 'cert');
    // The info is the leaf's; the data is the whole chain given, which the listeners serve.
    const info = certificateInfo(leaf!, `${withoutBom(body.cert).trim()}\n`);
    const posted: PairPart[] = body.passphrase ? ['cert', 'key'] : ['cert'];
    await storeChecked((stored) => ({ ...stored, cert: info.data, passphrase: body.passphrase ?? stored.passphrase }), posted, () => keystore.setCertificate(info, body.passphrase));
    await applied(request, `Keystore/cert/${leaf!.fingerprint}`, 'U');
    reply.code(201);
    return { ...info, watchFSForCert: false };
  });

  app.post('/keystore/key', small, async (request, reply) => {
    const body = parseBody(z.object({ key: pemField, passphrase: passphraseField }), request.body, 'key');
    checkSize(body.key, 'key');
    const key = checkPrivateKeyPem(body.key);
    // An encrypted key may wait for its passphrase (POST /keystore/passphrase); a plain one must read.
    await storeChecked((stored) => ({ ...stored, key, passphrase: body.passphrase ?? stored.passphrase }), ['key'], () => keystore.setKey(key, body.passphrase));
    await applied(request, 'Keystore/key', 'U');
    reply.code(201);
    return { result: 'server key set' };
  });

  app.post('/keystore/passphrase', small, async (request, reply) => {
    const body = parseBody(z.object({ passphrase: z.string().max(1024).nullable() }), request.body, 'passphrase');
    const passphrase = body.passphrase || null;
    await storeChecked((stored) => ({ ...stored, passphrase }), ['key'], () => keystore.setPassphrase(passphrase));
    await applied(request, 'Keystore/passphrase', 'U');
    reply.code(201);
    return { result: 'passphrase set' };
  });

  app.get('/keystore/validity', async () => {
    const secrets = await keystore.secrets();
    if (!secrets) throw notFound('the keystore');
    // The decrypted key is remembered: asking again does not decrypt again.
    const verdict = await deps.tls.judge(secrets);
    return verdict.state === 'servable' ? { valid: true } : { valid: false, reason: verdict.reason };
  });

  /**
   * OpenHIM's `POST /restart` (src/api/restart.js): its console asks for one after a keystore
   * change, and OpenHIM restarts only when the certificate and key match. Here changes apply
   * without a restart, so nothing stops: the listeners reload the keystore and the router its
   * channels and clients, and the answers are OpenHIM's texts.
   */
  app.post('/restart', async (request, reply) => {
    const secrets = await keystore.secrets();
    const verdict = secrets ? await deps.tls.judge(secrets) : undefined;
    reply.type('text/plain; charset=utf-8');
    if (verdict?.state !== 'servable') return reply.code(400).send('Certificates and Key did not match. Cancelling restart...');
    await deps.tls.reload();
    await deps.routing.reload();
    auditChange(deps, request, 'U', 'Server/restart');
    return reply.send('Server being restarted');
  });

  app.get('/keystore/ca', async () => keystore.trusted());

  app.get<{ Params: { certId: string } }>('/keystore/ca/:certId', async (request) => {
    checkStorable(request.params.certId, 'certId');
    const cert = await keystore.trustedById(request.params.certId);
    if (!cert) throw notFound(`trusted certificate ${request.params.certId}`);
    return cert;
  });

  const maxTrusted = deps.config.limits.keystoreMaxTrusted;
  /** 400 when `adding` more certificates would take the trusted list past its cap. */
  const checkRoom = async (store: KeystoreStore, adding: number) => {
    if ((await store.trustedCount()) + adding > maxTrusted) throw badRequest(`the keystore trusts at most ${maxTrusted} certificates (OPENHIM_KEYSTORE_MAX_TRUSTED_CERTS)`, 'remove some first');
  };
  /** Trusts the certificates within the cap (counted and added under the keystore's lock: concurrent calls take turns), audits each, and has the listeners trust them. */
  const trust = async (request: FastifyRequest, certs: TrustedCertificate[]) => {
    const added = await deps.db.transaction(async (tx) => {
      const store = new KeystoreStore(tx);
      await store.lock();
      await checkRoom(store, certs.length);
      return store.addTrusted(certs);
    });
    for (const cert of added) auditChange(deps, request, 'C', `Keystore/ca/${cert._id}`);
    await deps.tls.reload();
    return added;
  };

  app.post('/keystore/ca/cert', small, async (request, reply) => {
    const body = parseBody(z.object({ cert: pemField }), request.body, 'trusted certificate');
    checkSize(body.cert, 'cert');
    // A chain is several certificates, each trusted (OpenHIM splits it the same way).
    const added = await trust(request, parseCertificates(body.cert, 'cert').map((c) => ({ _id: newObjectId(), ...certificateInfo(c) })));
    reply.code(201);
    return added;
  });

  /**
   * OpenHIM's certificate generation: a client certificate is added to the trusted list (mutual
   * TLS accepts it once a client has its fingerprint); a server certificate and its key replace
   * the keystore's pair and are served on new connections. The answer is the only place the new
   * private key is ever shown, as in OpenHIM: the caller keeps it (a client) or need not (the server).
   */
  app.post('/certificates', small, async (request, reply) => {
    const body = parseBody(certificateRequestSchema, request.body, 'certificate request');
    if (body.type === 'client') await checkRoom(keystore, 1); // before the key is made (trust() counts again under the lock)
    const generated = await generation.run(() => generateCertificate(body));
    if (!generated) throw new RetryLaterError(1, 'IOL_BUSY', 'another certificate is being made: try again in a moment', 'certificates are made one at a time');
    const info = certificateInfo(new X509Certificate(generated.certificate));
    if (body.type === 'server') {
      await storeChecked(() => ({ cert: info.data, key: generated.key, passphrase: null }), ['cert', 'key'], () => keystore.setPair(info, generated.key));
      await applied(request, `Keystore/cert/${info.fingerprint}`, 'U');
    } else {
      await trust(request, [{ _id: newObjectId(), ...info }]);
    }
    // The only answer that ever holds a private key: no cache may keep it.
    reply.code(201).header('cache-control', 'no-store');
    return generated;
  });

  app.delete<{ Params: { certId: string } }>('/keystore/ca/:certId', async (request) => {
    checkStorable(request.params.certId, 'certId');
    if (!(await keystore.removeTrusted(request.params.certId))) throw notFound(`trusted certificate ${request.params.certId}`);
    await applied(request, `Keystore/ca/${request.params.certId}`, 'D');
    return { result: 'trusted certificate removed' };
  });
}
