/**
 * Attacks on what the keystore serves (reviewer's repro, /work/review-attack): a pair that
 * matches but that OpenSSL refuses (RSA 512) or no client can use (secp256k1, Ed25519) was
 * stored as the served pair and stopped the next start; an encrypted key with millions of PBKDF2
 * iterations was decrypted on the event loop at every keystore call, stalling the router.
 * Fixtures: test/security/fixtures/README.md.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createLogger } from '../../src/common/logger.js';
import { SettingsMap } from '../../src/platform/settings.js';
import { interopLayerService } from '../../src/services/interop-layer/index.js';
import { testDrivers } from '../support/databases.js';
import { startIol, type Iol } from '../interop-layer/support.js';
import { freePort } from '../support/cli.js';

const fixture = (name: string) => readFileSync(new URL(`../../../test/security/fixtures/${name}`, import.meta.url), 'utf8');
const DECRYPT_DEADLINE_MS = 300;

for (const driver of testDrivers) {
  describe(`keystore: pairs that cannot be served (${driver})`, () => {
    let iol: Iol;
    before(async () => {
      iol = await startIol(driver, { OPENHIM_ROUTER_HTTPS_PORT: String(await freePort()), OPENHIM_KEYSTORE_KEY_DECRYPT_TIMEOUT_MS: String(DECRYPT_DEADLINE_MS) });
    });
    after(async () => {
      await iol?.stop();
    });

    test('RSA 512, secp256k1 and Ed25519 certificates and keys are refused with 400 saying why; nothing is stored; the next start works', async () => {
      const before = (await iol.call('GET', '/keystore/cert')).body.fingerprint;
      for (const [name, why] of [['weak512', /RSA of 512 bits/], ['k1', /curve secp256k1/], ['ed25519', /ed25519 key/]] as const) {
        const cert = await iol.call('POST', '/keystore/cert', { cert: fixture(`${name}.crt`) });
        assert.equal(cert.status, 400, name);
        assert.match(cert.body.message, why);
        const key = await iol.call('POST', '/keystore/key', { key: fixture(`${name}.key`) });
        assert.equal(key.status, 400, name);
        assert.match(key.body.message, why);
      }
      assert.equal((await iol.call('GET', '/keystore/cert')).body.fingerprint, before);
      assert.deepEqual((await iol.call('GET', '/keystore/validity')).body, { valid: true });
      await iol.restart();
      assert.equal((await iol.call('GET', '/keystore/cert')).body.fingerprint, before);
    });

    test('a stored pair that cannot be served (from before these checks): validity says why, and the start fails with IOL_KEYSTORE_INVALID and how to recover', async () => {
      const weak = { cert: fixture('weak512.crt'), key: fixture('weak512.key') };
      await iol.t.db.query(
        `UPDATE iol.keystore SET cert = jsonb_set(cert, '{data}', to_jsonb($1::text)), key = $2, served_cert = $1, served_key = $2`,
        [weak.cert, weak.key],
      );
      const validity = await iol.call('GET', '/keystore/validity');
      assert.equal(validity.body.valid, false);
      assert.match(validity.body.reason, /RSA of 512 bits/);
      await iol.running.stop();
      const start = () => interopLayerService.start({ name: 'interop-layer', db: iol.t.db, settings: new SettingsMap(iol.settings), logger: createLogger(), stateDir: iol.stateDir });
      await assert.rejects(start(), (error: Error & { code?: string; hint?: string }) => {
        assert.equal(error.code, 'IOL_KEYSTORE_INVALID');
        assert.match(error.message, /RSA of 512 bits/);
        assert.match(String(error.hint), /OPENHIM_ROUTER_HTTPS_PORT=0/);
        return true;
      });
      // The documented recovery: start without HTTPS, post a good pair.
      const good = { cert: fixture('ecparams-p256.crt'), key: fixture('ecparams-p256.key') };
      iol.running = await interopLayerService.start({
        name: 'interop-layer', db: iol.t.db, settings: new SettingsMap({ ...iol.settings, OPENHIM_ROUTER_HTTPS_PORT: '0' }), logger: createLogger(), stateDir: iol.stateDir,
      });
      iol.api = iol.running.endpoints.api!;
      assert.equal((await iol.call('POST', '/keystore/cert', { cert: good.cert })).status, 201);
      assert.equal((await iol.call('POST', '/keystore/key', { key: good.key })).status, 201);
      assert.deepEqual((await iol.call('GET', '/keystore/validity')).body, { valid: true });
      await iol.restart();
      assert.ok(iol.running.endpoints.routerHttps);
    });

    test('an encrypted key with 5,000,000 PBKDF2 iterations is decrypted off the event loop and refused past the deadline; the API answers meanwhile', async () => {
      const delay = monitorEventLoopDelay({ resolution: 20 });
      delay.enable();
      const order: string[] = [];
      const upload = iol.call('POST', '/keystore/key', { key: fixture('slow-key.pem'), passphrase: 'slow' }).then((r) => {
        order.push('upload');
        return r;
      });
      const heartbeat = iol.call('GET', '/heartbeat').then((r) => {
        order.push('heartbeat');
        return r;
      });
      const [uploaded, beat] = await Promise.all([upload, heartbeat]);
      delay.disable();
      assert.equal(beat.status, 200);
      assert.deepEqual(order, ['heartbeat', 'upload']);
      assert.equal(uploaded.status, 400);
      assert.match(uploaded.body.message, new RegExp(`longer than ${DECRYPT_DEADLINE_MS} ms`));
      // Decrypting on the event loop stalled it for seconds; a generous bound for a busy machine.
      assert.ok(delay.max < 1e9, `event loop stalled ${Math.round(delay.max / 1e6)} ms`);
      assert.deepEqual((await iol.call('GET', '/keystore/validity')).body, { valid: true });

      // Without its passphrase it is stored and waits; the passphrase then is refused, and not stored.
      assert.equal((await iol.call('POST', '/keystore/key', { key: fixture('slow-key.pem') })).status, 201);
      assert.equal((await iol.call('GET', '/keystore/validity')).body.valid, false);
      const passphrase = await iol.call('POST', '/keystore/passphrase', { passphrase: 'slow' });
      assert.equal(passphrase.status, 400);
      const [row] = (await iol.t.db.query<{ passphrase: string | null }>('SELECT passphrase FROM iol.keystore')).rows;
      assert.equal(row!.passphrase, null);
    });
  });
}
