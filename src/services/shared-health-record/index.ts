/**
 * The shared health record (OpenHIE SHR / FHIR datastore): the FHIR engine on schema `shr`, plus
 * Patient/$everything and the IPS Patient/$summary.
 *
 * Settings: FHIR_DATASTORE_HOST (127.0.0.1), FHIR_DATASTORE_PORT (3447; 0 picks a free port),
 * FHIR_DATASTORE_BODY_LIMIT_BYTES (16777216), FHIR_DATASTORE_TERMINOLOGY_URL (the FHIR base of a
 * terminology service in another process: searches and bound codings of writes ask it over HTTP;
 * unset: the terminology service of this process if one runs, else the core R4 terminology), and
 * the FHIR limits of src/common/limits.ts (FHIR_MAX_INFLIGHT_BODY_BYTES, FHIR_TERMINOLOGY_TIMEOUT_MS...).
 * The FHIR base URL is http://host:port/fhir; absolute references are local under it, the router's
 * bases and FHIR_DATASTORE_LOCAL_BASE_URLS (src/services/fhir-local-bases.ts).
 */
import { InstantError } from '../../common/errors.js';
import { readLimits, type Limits } from '../../common/limits.js';
import { FhirEngine } from '../../fhir/engine.js';
import { HttpTerminologyProvider } from '../../fhir/terminology/http-provider.js';
import { fallingBackToCore, PROCESS_TERMINOLOGY } from '../../fhir/terminology/process-provider.js';
import type { TerminologyProvider } from '../../fhir/terminology/provider.js';
import { listenFhir } from '../fhir-listener.js';
import type { RunningService, ServiceContext, ServiceDefinition } from '../service.js';
import { patientEverything, patientSummary } from './patient-operations.js';

export const SHR_SCHEMA = 'shr';

/** The SHR's engine on a database, migrated and with its operations registered. */
export async function createSharedHealthRecordEngine(context: Pick<ServiceContext, 'db'> & Partial<Pick<ServiceContext, 'logger'>>, baseUrl?: string, limits?: Limits, terminology?: TerminologyProvider): Promise<FhirEngine> {
  const engine = new FhirEngine({
    db: context.db,
    schema: SHR_SCHEMA,
    baseUrl,
    limits,
    // :in/:not-in/:above/:below and bound codings ask the terminology service when it runs in this process, else the core R4 terminology.
    terminology: terminology ?? PROCESS_TERMINOLOGY,
    ...(context.logger ? { logger: context.logger } : {}),
    software: { name: 'Instant OpenHIE shared health record', version: '0.1.0' },
  });
  await engine.migrate();
  engine.registerOperation(patientEverything);
  engine.registerOperation(patientSummary);
  return engine;
}

export const sharedHealthRecordService: ServiceDefinition = {
  name: 'shared-health-record',
  description: 'Shared health record: FHIR R4 datastore with Patient/$everything and IPS Patient/$summary',
  schemas: [SHR_SCHEMA],
  async start(context: ServiceContext): Promise<RunningService> {
    const limits = readLimits(context.settings);
    const remote = remoteTerminology(context.settings.get('FHIR_DATASTORE_TERMINOLOGY_URL'), limits);
    const engine = await createSharedHealthRecordEngine(context, undefined, limits, remote ? fallingBackToCore(() => remote) : undefined);
    const { app, url, fhirUrl } = await listenFhir(context, engine, { settingPrefix: 'FHIR_DATASTORE', defaultPort: 3447, fhirPrefix: '/fhir', name: 'shared-health-record', limits });
    context.logger.info({ url: fhirUrl, terminology: remote ? 'http' : 'process' }, 'shared health record listening');
    return {
      endpoints: { fhir: fhirUrl, api: url },
      healthUrl: `${url}/health`,
      async stop() {
        await app.close();
        await engine.settle();
        await remote?.close();
      },
    };
  },
};

/** The terminology service over HTTP when FHIR_DATASTORE_TERMINOLOGY_URL names one. */
function remoteTerminology(url: string | undefined, limits: Limits): HttpTerminologyProvider | undefined {
  if (!url) return undefined;
  try {
    return new HttpTerminologyProvider({ baseUrl: url, limits });
  } catch {
    throw new InstantError('INSTANT_SETTING_INVALID', `FHIR_DATASTORE_TERMINOLOGY_URL=${url.slice(0, 200)} is not an http(s) URL`,
      'set it to the terminology service\'s FHIR base, e.g. http://terminology:3451/terminology/fhir, or unset it');
  }
}
