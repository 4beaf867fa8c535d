/**
 * The web console (package `console`): a single-page app served on its own port (CONSOLE_PORT,
 * 9000 as OpenHIM's console) that talks only to the OpenHIM admin API, through this server's
 * /api proxy on the same origin. Settings: CONSOLE_HOST (127.0.0.1), CONSOLE_PORT (9000),
 * CONSOLE_API_URL (default: the interop layer's admin API from OPENHIM_API_HOST/PORT/TLS; set it
 * to use a real OpenHIM core), CONSOLE_STATIC_DIR (default: the built app in dist/console-app),
 * CONSOLE_API_CA_FILE (PEM certificate to trust for the admin API), CONSOLE_SHR_URL and CONSOLE_CLIENT_REGISTRY_URL (the registry browsers; default: derived from
 * the deployment's composition, else FHIR_DATASTORE_* and CLIENT_REGISTRY_* or those packages' default ports, probed while running; "off" disables), CONSOLE_TLS_CERT_FILE and CONSOLE_TLS_KEY_FILE (PEM files: serve HTTPS; the session cookie is then
 * Secure), and the limits CONSOLE_* of src/common/limits.ts. See docs/console.md.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InstantError } from '../../common/errors.js';
import { readLimits } from '../../common/limits.js';
import { trustCertificates } from '../../common/trust.js';
import type { RunningService, ServiceContext, ServiceDefinition, Settings } from '../service.js';
import { buildConsoleApp } from './app.js';
import { registryBases } from './registry-bases.js';
import { loadStaticFiles } from './static-files.js';

/** dist/src/services/console/ → dist/console-app/ (where `vite build` writes the app). */
const BUILT_APP_DIR = fileURLToPath(new URL('../../../console-app/', import.meta.url));

function adminApiUrl(settings: Settings): string {
  const configured = settings.get('CONSOLE_API_URL');
  if (configured) return configured;
  const scheme = settings.bool('OPENHIM_API_TLS', false) ? 'https' : 'http';
  return `${scheme}://${settings.get('OPENHIM_API_HOST') || '127.0.0.1'}:${settings.int('OPENHIM_API_PORT', 8080)}`;
}

/** HTTPS when both PEM files are given; one without the other is a start error, not a silent HTTP. */
function tlsOptions(settings: Settings): { cert: Buffer; key: Buffer } | undefined {
  const cert = settings.get('CONSOLE_TLS_CERT_FILE');
  const key = settings.get('CONSOLE_TLS_KEY_FILE');
  if (!cert && !key) return undefined;
  if (!cert || !key) throw new InstantError('INSTANT_SETTING_INVALID', 'set both CONSOLE_TLS_CERT_FILE and CONSOLE_TLS_KEY_FILE to serve the console over HTTPS', 'or neither, for HTTP');
  return { cert: readFileSync(cert), key: readFileSync(key) };
}

export const consoleService: ServiceDefinition = {
  name: 'console',
  description: 'The web console: OpenHIM console parity over the admin API, plus a live view of the exchange',
  schemas: [],
  // Talks to the admin API only: it can run beside a real OpenHIM core without PostgreSQL.
  usesDatabase: false,
  async start(context: ServiceContext): Promise<RunningService> {
    const { settings, logger, stateDir } = context;
    // The interop layer's generated certificate, when its admin API speaks HTTPS from another process.
    const certificate = join(stateDir, 'certs', 'iol-router.crt');
    if (existsSync(certificate)) trustCertificates([readFileSync(certificate, 'utf8')]);
    // A real OpenHIM core's self-signed certificate (OpenHIM serves its API over HTTPS by default).
    const apiCa = settings.get('CONSOLE_API_CA_FILE');
    if (apiCa) trustCertificates([readFileSync(apiCa, 'utf8')]);
    const staticDir = settings.get('CONSOLE_STATIC_DIR') || BUILT_APP_DIR;
    const files = loadStaticFiles(staticDir);
    if (files.size === 0) logger.warn({ staticDir }, 'console: the app is not built (npm run build); the console answers 503');
    const tls = tlsOptions(settings);
    const app = buildConsoleApp({ logger, limits: readLimits(settings), adminApiUrl: adminApiUrl(settings), files, https: tls,
      // The deployment's composition (the platform's, when it gave one) names the packages and places the registries.
      registries: registryBases(settings, context.composition), ...(context.composition ? { composition: context.composition } : {}),
      ...(settings.get('OPENHIM_SENDER_IDENTITY_SECRET') ? { senderIdentitySecret: settings.get('OPENHIM_SENDER_IDENTITY_SECRET') } : {}) });
    const host = settings.get('CONSOLE_HOST') || '127.0.0.1';
    await app.listen({ host, port: settings.int('CONSOLE_PORT', 9000) });
    const port = (app.server.address() as AddressInfo).port;
    const url = `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
    return {
      endpoints: { web: url },
      healthUrl: `${url}/health`,
      async stop() {
        await app.close();
      },
    };
  },
};
