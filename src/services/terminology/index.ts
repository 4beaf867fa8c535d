/**
 * The terminology service (OpenHIE Terminology Service, IHE SVCM): the FHIR engine on schema
 * `tx` holding CodeSystem, ValueSet, ConceptMap and NamingSystem resources, their concepts indexed
 * in its own tables (concepts, designations, properties, the is-a closure, display words), and
 * the operations $expand, $lookup, $validate-code, $subsumes, $translate and $import.
 *
 * Settings: TERMINOLOGY_HOST (127.0.0.1), TERMINOLOGY_PORT (3451; 0 picks a free port),
 * TERMINOLOGY_BODY_LIMIT_BYTES (16777216), TERMINOLOGY_LOAD_CORE (true: load the core R4 content
 * at start), TERMINOLOGY_IMPORT_FILES (files to import at start: FHIR JSON, NPM package .tgz, CSV
 * code lists), TERMINOLOGY_MAX_EXPANSION and the FHIR limits of src/common/limits.ts. The FHIR base
 * URL is http://host:port/terminology/fhir.
 */
import { readLimits, type Limits } from '../../common/limits.js';
import type { Logger } from '../../common/logger.js';
import { FhirEngine } from '../../fhir/engine.js';
import { registerProcessTerminology } from '../../fhir/terminology/process-provider.js';
import { listenFhir } from '../fhir-listener.js';
import type { RunningService, ServiceContext, ServiceDefinition } from '../service.js';
import { ConceptStore } from './concept-store.js';
import { RetiredSweeper } from './retired-sweeper.js';
import { loadCoreContent } from './content/core.js';
import { importFiles } from './content/files.js';
import { ContentLoader } from './content/loader.js';
import { canonicalUniqueInterceptor, codeSystemInterceptor, conceptMapInterceptor } from './interceptors.js';
import { terminologyMigrations } from './migrations.js';
import { codeSystemValidateOperation, lookupOperation, subsumesOperation } from './operations/code-system.js';
import { expandOperation } from './operations/expand.js';
import { importOperation } from './operations/import.js';
import { translateOperation } from './operations/translate.js';
import { valueSetValidateOperation } from './operations/value-set-validate.js';
import { TerminologyServiceProvider } from './provider.js';

export const TX_SCHEMA = 'tx';
export const TX_FHIR_PREFIX = '/terminology/fhir';

export interface TerminologyOptions {
  limits?: Limits;
  baseUrl?: string;
  schema?: string;
  logger?: Logger;
}

export interface TerminologyEngine {
  engine: FhirEngine;
  store: ConceptStore;
  loader: ContentLoader;
  provider: TerminologyServiceProvider;
  /** Deletes the rows of replaced or deleted code system versions in the background. */
  sweeper: RetiredSweeper;
}

/** The service's engine on a database: migrated, with its interceptors and operations. */
export async function createTerminologyEngine(context: Pick<ServiceContext, 'db'> & Partial<Pick<ServiceContext, 'logger'>>, options: TerminologyOptions = {}): Promise<TerminologyEngine> {
  const schema = options.schema ?? TX_SCHEMA;
  const logger = options.logger ?? context.logger;
  const engine = new FhirEngine({
    db: context.db, schema, baseUrl: options.baseUrl, limits: options.limits,
    ...(logger ? { logger } : {}),
    // IHE SVCM: the Terminology Repository actor.
    software: { name: 'Instant OpenHIE terminology service', version: '0.1.0', instantiates: ['https://profiles.ihe.net/ITI/SVCM/CapabilityStatement/IHE.SVCM.TerminologyRepository'] },
  });
  await engine.migrate();
  await context.db.migrate(schema, terminologyMigrations(schema));
  const store = new ConceptStore(schema, engine.limits, { db: context.db });
  const sweeper = new RetiredSweeper(context.db, schema, logger);
  // PostgreSQL: the rows a write retired are deleted once its commit is announced (a sweep kicked
  // inside the write's transaction runs before the commit there; on PGlite it waits for it).
  store.onCommittedWrite(() => sweeper.kick());
  const interceptors = [codeSystemInterceptor(store, sweeper), conceptMapInterceptor(schema, engine.limits), canonicalUniqueInterceptor()];
  // They read what earlier writes stored (a canonical url|version in use, the concepts of a code
  // system): a transaction's writes go one after the other, each seeing those before it.
  for (const interceptor of interceptors) engine.addWriteInterceptor(Object.assign(interceptor, { readsEarlierWrites: true }));
  const loader = new ContentLoader(engine, interceptors, store, logger);
  engine.registerOperation(expandOperation({ store, maxExpansion: engine.limits.terminologyMaxExpansion }));
  engine.registerOperation(lookupOperation(store));
  engine.registerOperation(codeSystemValidateOperation(store));
  engine.registerOperation(valueSetValidateOperation(store));
  engine.registerOperation(subsumesOperation(store));
  engine.registerOperation(translateOperation());
  engine.registerOperation(importOperation(loader));
  engine.describeCodeSystemsWith(() => store.catalogue(context.db));
  return { engine, store, loader, sweeper, provider: new TerminologyServiceProvider(engine, store) };
}

export const terminologyService: ServiceDefinition = {
  name: 'terminology',
  description: 'Terminology service (IHE SVCM): code systems, value sets, concept maps; $expand, $lookup, $validate-code, $subsumes, $translate',
  schemas: [TX_SCHEMA],
  async start(context: ServiceContext): Promise<RunningService> {
    const limits = readLimits(context.settings);
    const tx = await createTerminologyEngine(context, { limits });
    if (context.settings.bool('TERMINOLOGY_LOAD_CORE', true)) {
      const core = await loadCoreContent(context.db, TX_SCHEMA, tx.loader, context.logger);
      if (!core.skipped) context.logger.info({ resources: core.resources, concepts: core.concepts }, 'terminology: core R4 content loaded');
    }
    // Rows of versions retired and of imports a stop cut short, left by an earlier run: deleted in the background.
    tx.sweeper.kickWithStaging();
    const files = (context.settings.get('TERMINOLOGY_IMPORT_FILES') ?? '').split(',').map((f) => f.trim()).filter(Boolean);
    if (files.length) await importFiles(tx.loader, files);
    const { app, url, fhirUrl } = await listenFhir(context, tx.engine, { settingPrefix: 'TERMINOLOGY', defaultPort: 3451, fhirPrefix: TX_FHIR_PREFIX, name: 'terminology', limits });
    // Other processes on the same PostgreSQL database write code systems too: drop cached ones when they do.
    const changes = await tx.store.followChanges(context.db);
    // Other engines of this process (the shared health record) now ask this service for :in/:below.
    const withdraw = registerProcessTerminology(tx.provider);
    context.logger.info({ url: fhirUrl }, 'terminology service listening');
    return {
      endpoints: { fhir: fhirUrl, api: url },
      healthUrl: `${url}/health`,
      async stop() {
        withdraw();
        await app.close();
        await tx.engine.settle();
        await tx.sweeper.stop();
        await changes?.close();
      },
    };
  },
};
