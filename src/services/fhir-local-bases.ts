/**
 * The FHIR bases a service is, by configuration: which absolute references its engine stores as
 * local ones (FhirEngine.localBaseUrls). Before, the base a request came by (its Host, or the
 * X-Forwarded-Host the router built from it) counted too, so a writer chose what was local:
 * `http://evil.example/fhir/Patient/1` joined Patient/1's compartment when written with
 * `Host: evil.example`, and the router's real address did not when written through an alias.
 *
 * A service is (each base with the service's FHIR path, e.g. /fhir):
 * - its own listener (FHIR_DATASTORE_HOST:FHIR_DATASTORE_PORT...);
 * - the interoperability layer's router, as its settings name it: OPENHIM_ROUTER_PUBLIC_HOST (http
 *   and https), and OPENHIM_ROUTER_HOST with OPENHIM_ROUTER_HTTP_PORT (http) and
 *   OPENHIM_ROUTER_HTTPS_PORT (https); its channels keep the service's path (core: /fhir);
 * - `<PREFIX>_LOCAL_BASE_URLS`: any other bases, comma-separated (a reverse proxy's, a DNS name);
 * and a loopback address (127.0.0.1, localhost, [::1]) stands for all three of them on that port.
 * A wildcard host (0.0.0.0, ::) names no address: behind one, set the public host or the list.
 */
import { InstantError } from '../common/errors.js';
import { plainHttpUrl } from '../common/plain-http-url.js';
import type { Settings } from './service.js';

const LOOPBACK = ['127.0.0.1', 'localhost', '[::1]'];
const WILDCARD = new Set(['0.0.0.0', '::', '[::]', '']);

/** The setting naming a FHIR service's other bases, e.g. FHIR_DATASTORE_LOCAL_BASE_URLS. */
export function localBasesSetting(settingPrefix: string): string {
  return `${settingPrefix}_LOCAL_BASE_URLS`;
}

/**
 * The bases the settings say the service is besides its listener (the router's, the listed ones);
 * never from a request. Throws INSTANT_SETTING_INVALID for a listed value that is not a base URL.
 */
export function configuredLocalBases(settings: Settings, options: { settingPrefix: string; fhirPrefix: string }): string[] {
  const path = options.fhirPrefix.replace(/\/+$/, '');
  return withLoopbackAliases([...routerBases(settings, path), ...listedBases(settings, options.settingPrefix)]);
}

function routerBases(settings: Settings, path: string): string[] {
  const bases: string[] = [];
  const publicHost = settings.get('OPENHIM_ROUTER_PUBLIC_HOST')?.trim();
  if (publicHost) bases.push(`http://${publicHost}${path}`, `https://${publicHost}${path}`);
  const host = settings.get('OPENHIM_ROUTER_HOST')?.trim() ?? '';
  if (!WILDCARD.has(host)) {
    const authority = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
    bases.push(`http://${authority}:${settings.int('OPENHIM_ROUTER_HTTP_PORT', 5001)}${path}`);
    bases.push(`https://${authority}:${settings.int('OPENHIM_ROUTER_HTTPS_PORT', 5000)}${path}`);
  }
  return bases;
}

function listedBases(settings: Settings, settingPrefix: string): string[] {
  const name = localBasesSetting(settingPrefix);
  const listed = (settings.get(name) ?? '').split(',').map((url) => url.trim()).filter(Boolean);
  for (const url of listed) {
    if (!plainHttpUrl(url)) {
      throw new InstantError('INSTANT_SETTING_INVALID', `${name}: "${url.slice(0, 200)}" is not an http(s) FHIR base URL`,
        `list the bases clients use for this service, comma-separated, e.g. ${name}=https://him.example.org/fhir`);
    }
  }
  return listed;
}

/** The bases, each on a loopback address also under the other loopback names; without trailing slashes, each once. */
export function withLoopbackAliases(bases: string[]): string[] {
  const out = bases.flatMap((base) => {
    let url: URL;
    try {
      url = new URL(base);
    } catch {
      return [base];
    }
    if (!LOOPBACK.includes(url.hostname)) return [base];
    const rest = `${url.port ? `:${url.port}` : ''}${url.pathname}`;
    return [base, ...LOOPBACK.map((host) => `${url.protocol}//${host}${rest}`)];
  });
  return [...new Set(out.map((base) => base.replace(/\/+$/, '')))];
}
