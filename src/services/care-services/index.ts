/**
 * Care services (OpenHIE Facility Registry and Health Worker Registry, IHE mCSD): the FHIR engine
 * on schema `cs` as an mCSD Care Services Selective Supplier (ITI-90 search with the Location
 * Distance Option, ITI-91 `_history` updates, ITI-130 feeds as transaction/batch bundles), the
 * mCSD profile rules on every write, hierarchy walks (`partof:below`), and optionally an mCSD
 * Update Consumer that mirrors another source.
 *
 * Settings: CARE_SERVICES_HOST (127.0.0.1), CARE_SERVICES_PORT (3455; 0 picks a free port),
 * CARE_SERVICES_BODY_LIMIT_BYTES (16777216), the CARE_SERVICES_* and FHIR limits of
 * src/common/limits.ts; for the consumer CARE_SERVICES_CONSUMER_SOURCE_URL (off when empty),
 * CARE_SERVICES_CONSUMER_SOURCE_AUTHORIZATION (an Authorization header for the source),
 * CARE_SERVICES_CONSUMER_INTERVAL_MS (60000), CARE_SERVICES_CONSUMER_TYPES (the mCSD types).
 * The FHIR base is http://host:port/care-services/fhir; the consumer's status is
 * GET /care-services/consumer and POST /care-services/consumer/run starts a run (202). Through the
 * router those are on their own channel for the `care-services-admin` role, not the FHIR one.
 */
import type { FastifyInstance } from 'fastify';
import { readLimits, type Limits } from '../../common/limits.js';
import { FhirEngine } from '../../fhir/engine.js';
import { listenFhir } from '../fhir-listener.js';
import type { RunningService, ServiceContext, ServiceDefinition } from '../service.js';
import { hierarchySearches } from './hierarchy.js';
import { mcsdRulesInterceptor } from './mcsd-rules.js';
import { careServicesMigrations } from './migrations.js';
import { nearSearch } from './near.js';
import { MCSD_RESOURCE_TYPES, UpdateConsumer } from './update-consumer.js';

export const CS_SCHEMA = 'cs';
export const CS_PREFIX = '/care-services';
export const CS_FHIR_PREFIX = `${CS_PREFIX}/fhir`;

/** The mCSD (3.9) actors this service is, as the canonicals of their capability statements. */
export const MCSD_CAPABILITY_STATEMENTS = [
  'https://profiles.ihe.net/ITI/mCSD/CapabilityStatement/IHE.mCSD.CareServicesSelectiveSupplier',
  'https://profiles.ihe.net/ITI/mCSD/CapabilityStatement/IHE.mCSD.CareServicesSelectiveSupplier.LocationDistance',
  'https://profiles.ihe.net/ITI/mCSD/CapabilityStatement/IHE.mCSD.CareServicesUpdateSupplier',
];

export interface CareServicesOptions {
  limits?: Limits;
  baseUrl?: string;
  schema?: string;
}

/** The registry's engine on a database: migrated, with its special searches and mCSD rules. */
export async function createCareServicesEngine(context: Pick<ServiceContext, 'db'> & Partial<Pick<ServiceContext, 'logger'>>, options: CareServicesOptions = {}): Promise<FhirEngine> {
  const schema = options.schema ?? CS_SCHEMA;
  const engine = new FhirEngine({
    db: context.db,
    schema,
    baseUrl: options.baseUrl,
    limits: options.limits,
    ...(context.logger ? { logger: context.logger } : {}),
    software: { name: 'Instant OpenHIE care services (mCSD)', version: '0.1.0', instantiates: MCSD_CAPABILITY_STATEMENTS },
    // ITI-90 2:3.90.4.4.2: a Directory unable to produce a read in the requested format answers 400.
    unsupportedReadFormatStatus: 400,
  });
  await engine.migrate();
  await context.db.migrate(schema, careServicesMigrations(schema));
  engine.addSpecialSearch(nearSearch(engine.limits.careNearMaxKm));
  for (const search of hierarchySearches(engine.limits.careHierarchyMaxDepth)) engine.addSpecialSearch(search);
  engine.addWriteInterceptor(mcsdRulesInterceptor(engine.limits.careHierarchyMaxDepth));
  return engine;
}

/** The consumer's routes: its status, and a run on demand (both answer JSON). */
function consumerRoutes(app: FastifyInstance, consumer: () => UpdateConsumer | undefined): void {
  const off = { error: 'CS_CONSUMER_OFF', message: 'no source is configured: set CARE_SERVICES_CONSUMER_SOURCE_URL' };
  app.get(`${CS_PREFIX}/consumer`, async (_request, reply) => {
    const running = consumer();
    return running ? running.status() : reply.code(404).send(off);
  });
  app.post(`${CS_PREFIX}/consumer/run`, async (_request, reply) => {
    const running = consumer();
    if (!running) return reply.code(404).send(off);
    // A run may take minutes: it goes on in the background (joining one in progress); the
    // status tells how it went (a failed run is in lastError and recentErrors).
    void running.runOnce().catch(() => undefined);
    return reply.code(202).send({ accepted: true, status: await running.status() });
  });
}

export const careServicesService: ServiceDefinition = {
  name: 'care-services',
  description: 'Facility and health worker registries (IHE mCSD): ITI-90 search with Location near, ITI-91 updates, ITI-130 feeds, hierarchy walks and an update consumer',
  schemas: [CS_SCHEMA],
  async start(context: ServiceContext): Promise<RunningService> {
    const limits = readLimits(context.settings);
    const engine = await createCareServicesEngine(context, { limits });
    let consumer: UpdateConsumer | undefined;
    const { app, url, fhirUrl } = await listenFhir(context, engine, {
      settingPrefix: 'CARE_SERVICES', defaultPort: 3455, fhirPrefix: CS_FHIR_PREFIX, name: 'care-services', limits,
      configure: (server) => consumerRoutes(server, () => consumer),
    });
    const source = context.settings.get('CARE_SERVICES_CONSUMER_SOURCE_URL');
    if (source) {
      const authorization = context.settings.get('CARE_SERVICES_CONSUMER_SOURCE_AUTHORIZATION');
      const types = context.settings.get('CARE_SERVICES_CONSUMER_TYPES');
      consumer = new UpdateConsumer(engine, {
        source: source.replace(/\/+$/, ''),
        types: types ? types.split(',').map((t) => t.trim()).filter(Boolean) : MCSD_RESOURCE_TYPES,
        intervalMs: context.settings.int('CARE_SERVICES_CONSUMER_INTERVAL_MS', 60_000),
        ...(authorization ? { headers: { authorization } } : {}),
        maxPageBytes: limits.careConsumerMaxPageBytes,
        maxPageEntries: limits.careConsumerMaxPageEntries,
        logger: context.logger,
      });
      consumer.start();
    }
    context.logger.info({ url: fhirUrl, consumerSource: source || undefined }, 'care services listening');
    return {
      endpoints: { fhir: fhirUrl, api: url },
      healthUrl: `${url}/health`,
      async stop() {
        await consumer?.stop();
        await app.close();
        await engine.settle();
      },
    };
  },
};
