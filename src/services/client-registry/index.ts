/**
 * The client registry (OpenHIE Client Registry / MPI): the FHIR engine on schema `cr` with golden
 * records (write interceptors that match and link every source Patient), identifier domains
 * (NamingSystem), PIXm `$ihe-pix`, PDQm search, `Patient/$match`, and a review queue.
 *
 * Settings: CLIENT_REGISTRY_HOST (127.0.0.1), CLIENT_REGISTRY_PORT (3448; 0 picks a free port),
 * CLIENT_REGISTRY_BODY_LIMIT_BYTES (16777216), CLIENT_REGISTRY_RULES_FILE (the matching rules;
 * the default rules when unset), CLIENT_REGISTRY_STRICT_DOMAINS (false: unknown identifier domains
 * are refused once any domain is registered; true: always), CLIENT_REGISTRY_MAX_CANDIDATES and the
 * FHIR limits of src/common/limits.ts. The FHIR base URL is http://host:port/clientregistry/fhir.
 * CLIENT_REGISTRY_MLLP_PORT (2576; 0 picks a free port) is the HL7v2 MLLP listener (hl7v2/), on
 * the same host, bounded by the CLIENT_REGISTRY_MLLP_* limits. CLIENT_REGISTRY_DIRECT_CALLERS
 * (anonymous | steward; stewards.ts) says what an HTTP caller without the router's sender assertion is.
 */
import { readFile } from 'node:fs/promises';
import { InstantError } from '../../common/errors.js';
import { readLimits, type Limits } from '../../common/limits.js';
import { listenFhir } from '../fhir-listener.js';
import type { RunningService, ServiceContext, ServiceDefinition } from '../service.js';
import { startHl7Listener } from './hl7v2/index.js';
import { SENDER_IDENTITY_SETTING } from '../../common/sender-identity.js';
import { domainOwnershipInterceptor, identifierDomainInterceptor, parseProtectedDomains, type DomainProtection, type DomainsReader } from './identifier-domains.js';
import { identifierIntegrityInterceptor } from './identifier-integrity.js';
import { namingSystemUniquenessInterceptor } from './naming-system-uniqueness.js';
import { patientBoundsInterceptor, patientBoundsOf } from './patient-bounds.js';
import { selfLinkInterceptor } from './self-link.js';
import { GoldenRecordLinker } from './linker.js';
import { PatientMerger } from './merge.js';
import { mergeOperations } from './merge-operations.js';
import { DuplicateResolution } from './resolve-duplicate.js';
import { PmirFeed } from './pmir.js';
import { PmirMessageLog } from './pmir-messages.js';
import { ClientRegistryEngine, addRegistrySenderVerification } from './registry-engine.js';
import { UsedSenderSignatures } from './used-sender-signatures.js';
import { registryOwnershipInterceptor } from './registry-ownership.js';
import { recordOwnerInterceptor } from './record-owners.js';
import { DIRECT_CALLERS_SETTING, parseDirectCallers } from './stewards.js';
import { matchOperation } from './match-operation.js';
import { createMatcher, parseMatchRules, type MatchRules } from './matching/index.js';
import { registryMigrations } from './migrations.js';
import { MOTHERS_MAIDEN_NAME } from './pdqm.js';
import { pixmOperation } from './pixm.js';
import { registryOperations } from './registry-operations.js';
import { RegistryStore } from './store.js';
import { patientChangeInterceptor, subscriptionInterceptor, SubscriptionDispatcher } from './subscriptions.js';
import { ENDPOINTS_SETTING, parseAllowedEndpoints, type AllowedEndpoint } from './subscription-destinations.js';

export const CR_SCHEMA = 'cr';
export const CR_FHIR_PREFIX = '/clientregistry/fhir';

export interface ClientRegistryOptions {
  rules?: MatchRules;
  /** Refuse identifiers of unregistered domains even while no domain is registered. */
  strictDomains?: boolean;
  limits?: Limits;
  baseUrl?: string;
  schema?: string;
  /** Protected identifier domains (CLIENT_REGISTRY_PROTECTED_DOMAINS, _MODE). */
  protection?: DomainProtection;
  /** Where subscriptions may send (CLIENT_REGISTRY_SUBSCRIPTION_ENDPOINTS); any public address when empty. */
  subscriptionEndpoints?: AllowedEndpoint[];
  /** CLIENT_REGISTRY_MAX_SUBSCRIPTIONS_PER_CLIENT (10). */
  maxSubscriptionsPerClient?: number;
}

/** The registry's engine on a database: migrated, with its interceptors, operations and parameters. */
/** The IHE actors the registry is (its CapabilityStatement's `instantiates`): PIXm Manager, PDQm Supplier with the Match option, PMIR Patient Identity Registry (ITI-93 feed, ITI-94 subscriptions). */
export const CLIENT_REGISTRY_CAPABILITY_STATEMENTS = [
  'https://profiles.ihe.net/ITI/PIXm/CapabilityStatement/IHE.PIXm.Manager',
  'https://profiles.ihe.net/ITI/PDQm/CapabilityStatement/IHE.PDQm.PatientDemographicsSupplier',
  'https://profiles.ihe.net/ITI/PDQm/CapabilityStatement/IHE.PDQm.PatientDemographicsSupplierMatch',
  'https://profiles.ihe.net/ITI/PMIR/CapabilityStatement/IHE.PMIR.PatientIdentityRegistry',
];

export async function createClientRegistryEngine(context: Pick<ServiceContext, 'db'> & Partial<Pick<ServiceContext, 'logger'>>, options: ClientRegistryOptions = {}): Promise<ClientRegistryEngine> {
  const schema = options.schema ?? CR_SCHEMA;
  const engine = new ClientRegistryEngine({
    db: context.db,
    schema,
    baseUrl: options.baseUrl,
    limits: options.limits,
    ...(context.logger ? { logger: context.logger } : {}),
    software: {
      name: 'Instant OpenHIE client registry', version: '0.1.0', instantiates: CLIENT_REGISTRY_CAPABILITY_STATEMENTS,
      // PMIR ITI-93: the Mobile Patient Identity Feed, taken at the base and by $process-message.
      receivesMessages: ['https://profiles.ihe.net/ITI/PMIR/MessageDefinition/IHE.PMIR.MessageDefinition'],
    },
  });
  engine.addSearchParameter(MOTHERS_MAIDEN_NAME);
  await engine.migrate();
  await context.db.migrate(schema, registryMigrations(schema));
  const strict = options.strictDomains ?? false;
  const store = new RegistryStore(schema);
  const matcher = createMatcher(options.rules, { maxComparedChars: engine.limits.crMatchMaxChars, maxComparedValues: engine.limits.crMatchMaxValues });
  const linker = new GoldenRecordLinker(store, matcher, engine.limits.crMaxCandidates);
  const domainCache = engine.identifierDomains;
  const readDomains: DomainsReader = (repo) => domainCache.load(repo, strict);
  // With the protected domains' owners (the setting's too): who owns a record with no recorded owner.
  const readOwnedDomains: DomainsReader = (repo) => domainCache.load(repo, strict, options.protection);
  const merger = new PatientMerger(store, linker, readOwnedDomains);
  // What only the registry writes is refused first; then domains: the linker matches on the
  // identifiers as they will be stored (domain URLs). A Patient past the bounds is refused before all.
  // The registry's rules read what earlier writes stored (matching candidates, identifiers in use,
  // registered domains, owners): a transaction's records are written one after the other, each
  // matched against those before it, as when sent one by one.
  const interceptors = [
    patientBoundsInterceptor(patientBoundsOf(engine.limits)),
    selfLinkInterceptor(),
    registryOwnershipInterceptor(),
    recordOwnerInterceptor(readOwnedDomains),
    domainOwnershipInterceptor(),
    domainCache.interceptor(),
    namingSystemUniquenessInterceptor(),
    identifierDomainInterceptor(domainCache, strict, options.protection),
    linker.interceptor(),
    identifierIntegrityInterceptor(store),
    subscriptionInterceptor(options.subscriptionEndpoints, options.maxSubscriptionsPerClient),
    patientChangeInterceptor(schema),
  ];
  for (const interceptor of interceptors) engine.addWriteInterceptor(Object.assign(interceptor, { readsEarlierWrites: true }));
  engine.usePmirFeed(new PmirFeed(merger, engine.operations, engine.softwareInfo, new PmirMessageLog(schema)));
  for (const operation of mergeOperations(merger, readDomains)) engine.registerOperation(operation);
  engine.useDuplicateResolution(new DuplicateResolution(merger, readDomains));
  engine.usePdqmSearch(readDomains);
  engine.registerOperation(pixmOperation(store, readDomains));
  engine.registerOperation(matchOperation(linker, readDomains, patientBoundsOf(engine.limits)));
  for (const operation of registryOperations(store, linker)) engine.registerOperation(operation);
  return engine;
}

async function readRules(file: string | undefined): Promise<MatchRules | undefined> {
  if (!file) return undefined;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new InstantError('CR_RULES_INVALID', `cannot read the matching rules file ${file}: ${(error as Error).message}`, 'set CLIENT_REGISTRY_RULES_FILE to a readable rules file, or unset it for the default rules');
  }
  return parseMatchRules(text, file);
}

export const clientRegistryService: ServiceDefinition = {
  name: 'client-registry',
  description: 'Client registry (MPI): golden records, identifier domains, PIXm $ihe-pix, PDQm, Patient/$match and a review queue',
  schemas: [CR_SCHEMA],
  async start(context: ServiceContext): Promise<RunningService> {
    const limits = readLimits(context.settings);
    const rules = await readRules(context.settings.get('CLIENT_REGISTRY_RULES_FILE') || undefined);
    const strictDomains = context.settings.bool('CLIENT_REGISTRY_STRICT_DOMAINS', false);
    const protection: DomainProtection = {
      owners: parseProtectedDomains(context.settings.get('CLIENT_REGISTRY_PROTECTED_DOMAINS')),
      mode: context.settings.get('CLIENT_REGISTRY_PROTECTED_DOMAIN_MODE') === 'downgrade' ? 'downgrade' : 'refuse',
    };
    let directCallers;
    try {
      directCallers = parseDirectCallers(context.settings.get(DIRECT_CALLERS_SETTING));
    } catch (error) {
      throw new InstantError('INSTANT_SETTING_INVALID', (error as Error).message, `set ${DIRECT_CALLERS_SETTING} to anonymous (the default) or steward`);
    }
    let subscriptionEndpoints: AllowedEndpoint[];
    try {
      subscriptionEndpoints = parseAllowedEndpoints(context.settings.get(ENDPOINTS_SETTING));
    } catch (error) {
      throw new InstantError('INSTANT_SETTING_INVALID', (error as Error).message, `list the subscribers' base URLs, comma-separated, e.g. ${ENDPOINTS_SETTING}=https://emr.moh.example/pmir`);
    }
    const maxSubscriptionsPerClient = context.settings.int('CLIENT_REGISTRY_MAX_SUBSCRIPTIONS_PER_CLIENT', 10);
    const engine = await createClientRegistryEngine(context, { rules, strictDomains, limits, protection, subscriptionEndpoints, maxSubscriptionsPerClient });
    const { app, host, url, fhirUrl } = await listenFhir(context, engine, {
      settingPrefix: 'CLIENT_REGISTRY', defaultPort: 3448, fhirPrefix: CR_FHIR_PREFIX, name: 'client-registry', limits,
      configure: (server) => addRegistrySenderVerification(server, context.settings.get(SENDER_IDENTITY_SETTING) || undefined, new UsedSenderSignatures(context.db, engine.identifierDomains.schema), directCallers),
    });
    const mllp = await startHl7Listener(engine, { host, port: context.settings.int('CLIENT_REGISTRY_MLLP_PORT', 2576), limits },
      { strictDomains, maxQueryResults: limits.mllpMaxQueryResults, maxRepeats: limits.crMaxRepeats, logger: context.logger }).catch(async (error: unknown) => {
      await app.close(); // the HTTP port is released when the MLLP port cannot be had
      throw error;
    });
    const subscriptions = new SubscriptionDispatcher(engine, context.db, CR_SCHEMA, context.logger, context.settings.int('CLIENT_REGISTRY_SUBSCRIPTION_POLL_MS', 1000), subscriptionEndpoints);
    subscriptions.start();
    context.logger.info({ url: fhirUrl, mllp: mllp.url }, 'client registry listening');
    return {
      endpoints: { fhir: fhirUrl, api: url, mllp: mllp.url },
      healthUrl: `${url}/health`,
      async stop() {
        await subscriptions.stop();
        await mllp.close();
        await app.close();
        await engine.settle();
      },
    };
  },
};
