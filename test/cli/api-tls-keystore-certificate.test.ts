/**
 * An embedded instance whose admin API speaks HTTPS keeps working after the admin puts a real
 * certificate in the keystore (CA-signed, issued for the server's DNS name, not for 127.0.0.1):
 * `instant status` still reaches the interop layer, and `instant down` / `up` starts again. The
 * platform's own loopback calls pin the certificate the instance serves instead of checking its
 * name (src/common/trust.ts). A certificate the instance does not serve is still refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, runInstant, tempProject } from '../support/cli.js';

/** A CA and a server certificate it signed for him.ministry.example (no 127.0.0.1 in its names). */
function ministryCertificate(dir: string): { chain: string; key: string } {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '30', '-subj', '/CN=Ministry CA');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=him.ministry.example');
  openssl('x509', '-req', '-in', 'srv.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'srv.crt', '-days', '20');
  const read = (file: string) => readFileSync(join(dir, file), 'utf8');
  return { chain: read('srv.crt') + read('ca.crt'), key: read('srv.key') };
}

test('a CA-signed keystore certificate for another name keeps `instant status` and `instant up` working over the HTTPS admin API', async () => {
  const cwd = tempProject('instant-api-tls-cert-');
  const apiPort = await freePort();
  const ports = [`OPENHIM_API_PORT=${apiPort}`, `OPENHIM_ROUTER_HTTP_PORT=${await freePort()}`, `OPENHIM_ROUTER_HTTPS_PORT=${await freePort()}`];
  const settings = ['-e', 'OPENHIM_API_TLS=true', ...ports.flatMap((p) => ['-e', p])];
  try {
    const init = await runInstant(['init', 'interoperability-layer', '-d', ...settings], { cwd, timeoutMs: 90_000 });
    assert.equal(init.code, 0, init.stdout + init.stderr);
    assert.match(init.stdout, new RegExp(`interop-layer api: https://127\\.0\\.0\\.1:${apiPort}`));
    assert.doesNotMatch(init.stdout, /admin API http:/, 'the summary names no scheme the API does not speak');
    const logs = (await runInstant(['logs', 'interop-layer'], { cwd })).stdout;
    assert.match(logs, new RegExp(`Server listening at https://127\\.0\\.0\\.1:${apiPort}`), 'the log names the scheme too');

    const password = (await runInstant(['config', '--get', 'OPENHIM_ROOT_PASSWORD'], { cwd })).stdout.trim();
    const { chain, key } = ministryCertificate(cwd);
    // The admin's own client, which knows nothing of the instance's certificate: curl -k.
    const admin = (path: string, body: unknown) =>
      execFileSync('curl', ['-sk', '-o', '/dev/null', '-w', '%{http_code}', '-u', `root@openhim.org:${password}`, '-H', 'content-type: application/json', '-X', 'POST', `https://127.0.0.1:${apiPort}${path}`, '--data-binary', '@-'], { input: JSON.stringify(body) }).toString();
    assert.equal(admin('/keystore/cert', { cert: chain }), '201');
    assert.equal(admin('/keystore/key', { key }), '201');

    const running = JSON.parse((await runInstant(['status', '--json'], { cwd })).stdout) as { health: Record<string, string> };
    assert.equal(running.health['interop-layer'], 'healthy', 'status right after the replacement, while the instance serves it');

    assert.equal((await runInstant(['down'], { cwd })).code, 0);
    const up = await runInstant(['up', '-d'], { cwd, timeoutMs: 90_000 });
    assert.equal(up.code, 0, up.stdout + up.stderr);
    const restarted = JSON.parse((await runInstant(['status', '--json'], { cwd })).stdout) as { health: Record<string, string> };
    assert.equal(restarted.health['interop-layer'], 'healthy');
  } finally {
    await runInstant(['destroy', '--yes'], { cwd });
  }
});
