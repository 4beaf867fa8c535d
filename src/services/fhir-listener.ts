/**
 * What every FHIR service does to serve its engine: read `<PREFIX>_HOST`, `<PREFIX>_PORT` and
 * `<PREFIX>_BODY_LIMIT_BYTES`, mount the engine's routes under its FHIR prefix on a guarded
 * Fastify app, listen, and tell the engine its base URL and the other bases it is by
 * configuration (`<PREFIX>_LOCAL_BASE_URLS`, the router's: fhir-local-bases.ts).
 */
import type { FastifyInstance } from 'fastify';
import { createHttpApp, listenOn } from '../common/http-app.js';
import type { Limits } from '../common/limits.js';
import type { FhirEngine } from '../fhir/engine.js';
import { answerBadFhirUrl, registerFhirRoutes } from '../fhir/http/fastify.js';
import { configuredLocalBases, withLoopbackAliases } from './fhir-local-bases.js';
import type { ServiceContext } from './service.js';

export interface FhirListenerOptions {
  /** Settings prefix, e.g. FHIR_DATASTORE for FHIR_DATASTORE_HOST/_PORT/_BODY_LIMIT_BYTES. */
  settingPrefix: string;
  defaultPort: number;
  /** Path of the FHIR base on the server, e.g. /fhir. */
  fhirPrefix: string;
  /** The service's name, for the connection guard's log lines. */
  name: string;
  limits: Limits;
  /** Hooks to add before the routes (e.g. the client registry's sender check). */
  configure?(app: FastifyInstance): void;
}

export interface FhirListener {
  app: FastifyInstance;
  host: string;
  /** http://host:port */
  url: string;
  /** The FHIR base URL. */
  fhirUrl: string;
}

export async function listenFhir(context: ServiceContext, engine: FhirEngine, options: FhirListenerOptions): Promise<FhirListener> {
  const host = context.settings.get(`${options.settingPrefix}_HOST`) || '127.0.0.1';
  const port = context.settings.int(`${options.settingPrefix}_PORT`, options.defaultPort);
  const bodyLimit = context.settings.int(`${options.settingPrefix}_BODY_LIMIT_BYTES`, 16 * 1024 * 1024);
  // Read before listening: a bad setting stops the start with nothing left open.
  const aliases = configuredLocalBases(context.settings, options);
  const app = createHttpApp({ logger: context.logger, bodyLimit, limits: options.limits, name: options.name, badUrl: answerBadFhirUrl });
  options.configure?.(app);
  await registerFhirRoutes(app, engine, { prefix: options.fhirPrefix });
  const url = await listenOn(app, host, port);
  const fhirUrl = `${url}${options.fhirPrefix}`;
  engine.setBaseUrl(fhirUrl);
  engine.setLocalBaseUrls([...withLoopbackAliases([fhirUrl]), ...aliases]);
  return { app, host, url, fhirUrl };
}
