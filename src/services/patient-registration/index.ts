/**
 * The patient-registration mediator (package `patient-registration`): built with the mediator SDK,
 * it registers `urn:mediator:patient-registration` with the interop layer, installs its channel
 * (`^/registration/(Patient|visit)$`, role `patient-registration`), heartbeats (taking config
 * changes from the console) and orchestrates, through the router:
 *
 *   POST /registration/Patient   register in the client registry, answer the enterprise identity
 *   POST /registration/visit     resolve the patient (PIXm), write the visit to the shared health record
 *
 * It acts for the clinic the router vouched for (OPENHIM_SENDER_IDENTITY_SECRET): the router's
 * signed assertion is checked on each request (once: a replay is 401; none: 401) and the mediator's
 * client registry calls carry one for that clinic, so the registry records the clinic as the owner
 * of what it registers and applies its rights; a clinic uses only the records it registered
 * (ownership.ts). Without the secret, callers and the mediator's registry calls are anonymous.
 *
 * Every answer is application/json+openhim: the clinic gets the inner response (FHIR JSON or XML,
 * as a FHIR server chooses: Accept, `_format`, else the body's format), the transaction log keeps
 * the orchestrations. Bodies may be FHIR JSON or FHIR XML. Settings: PATIENT_REGISTRATION_HOST (127.0.0.1),
 * PATIENT_REGISTRATION_PORT (3449; 0 picks a free one), PATIENT_REGISTRATION_HEARTBEAT_MS (10000),
 * PATIENT_REGISTRATION_BODY_LIMIT_BYTES (src/common/limits.ts), CLIENT_REGISTRY_HOST/PORT,
 * FHIR_DATASTORE_HOST/PORT, and the interop layer's OPENHIM_API_* and root credentials.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { MediatorClient, MediatorResponseBuilder, type MediatorRoute } from '@instant-openhie/mediator-sdk';
import { createHttpApp } from '../../common/http-app.js';
import { jsonNestingExceeds } from '../../common/json-depth.js';
import { SENDER_IDENTITY_SETTING } from '../../common/sender-identity.js';
import { addSenderVerification, type VerifiedSender } from '../../common/sender-verification.js';
import { UsedSignaturesInMemory } from '../../common/used-signatures-in-memory.js';
import { readLimits, type Limits } from '../../common/limits.js';
import { resourceToXml, xmlToResourceInTurns } from '../../fhir/format/xml.js';
import { EventLoopTurns } from '../../fhir/event-loop-turns.js';
import { XML_TYPES, negotiate, type WireFormat } from '../../fhir/http/negotiate.js';
import { FhirError } from '../../fhir/outcome.js';
import type { RunningService, ServiceContext, ServiceDefinition, Settings } from '../service.js';
import { CONFIG_DEFS, DEFAULT_ENTERPRISE_ID_SYSTEM, type RegistrationConfig } from './config.js';
import { operationOutcome, type ActingFor } from './fhir-calls.js';
import { registerPatient, type Answer } from './registration.js';
import { recordVisit } from './visit.js';

export const PATIENT_REGISTRATION_URN = 'urn:mediator:patient-registration';
export const PATIENT_REGISTRATION_CHANNEL = 'Patient registration';
const MAX_JSON_DEPTH = 64;

function defaultConfig(settings: Settings): RegistrationConfig {
  return {
    clientRegistryBaseUrl: `http://${settings.get('CLIENT_REGISTRY_HOST') || '127.0.0.1'}:${settings.int('CLIENT_REGISTRY_PORT', 3448)}/clientregistry/fhir`,
    sharedHealthRecordBaseUrl: `http://${settings.get('FHIR_DATASTORE_HOST') || '127.0.0.1'}:${settings.int('FHIR_DATASTORE_PORT', 3447)}/fhir`,
    enterpriseIdSystem: DEFAULT_ENTERPRISE_ID_SYSTEM,
  };
}

/** The answer's format: as a FHIR server chooses it (Accept, `_format`, else the body's own format). */
function answerFormat(request: FastifyRequest): WireFormat {
  const url = request.raw.url ?? '';
  const query = [...new URLSearchParams(url.includes('?') ? url.slice(url.indexOf('?') + 1) : '')] as Array<[string, string]>;
  return negotiate(request.headers.accept, query, request.headers['content-type']);
}

/** A FHIR resource as the client asked for it. */
function inFormat(format: WireFormat, resource: unknown): { contentType: string; body: string } {
  if (format === 'xml') {
    try {
      return { contentType: 'application/fhir+xml', body: resourceToXml(resource as Record<string, unknown>) };
    } catch {
      // Not FHIR XML can write (an upstream's answer that is not a FHIR resource): passed on as it came.
    }
  }
  return { contentType: 'application/fhir+json', body: JSON.stringify(resource) };
}

/** Sends a handler's answer wrapped for the interop layer; a failure the handler did not expect is a 502 with the error recorded. */
async function answerWithOrchestrations(reply: FastifyReply, format: WireFormat, handle: (builder: MediatorResponseBuilder) => Promise<Answer>, logger: ServiceContext['logger']): Promise<void> {
  const builder = new MediatorResponseBuilder(PATIENT_REGISTRATION_URN);
  let answer: Answer;
  try {
    answer = await handle(builder);
  } catch (error) {
    logger.warn({ err: error }, 'patient registration: an upstream call failed');
    builder.fail(error as Error);
    answer = { status: 502, body: operationOutcome('exception', `an upstream service did not answer: ${(error as Error).message}`) };
  }
  const { contentType, body } = inFormat(format, answer.body);
  const http = builder.toHttp({ status: answer.status, headers: { 'content-type': contentType }, body });
  await reply.status(http.status).headers(http.headers).send(http.body);
}

const SENDER = Symbol('the clinic the router vouched for');
type WithSender = FastifyRequest & { [SENDER]?: VerifiedSender };

/**
 * Checks the router's assertion on every request; a valid one is used once (the mediator's writes
 * are not idempotent: a replayed visit would be stored twice). With the secret set, the mediator
 * takes registrations and visits only through the router: a request without an assertion (on the
 * mediator's own port) is 401, as the registry would otherwise see the mediator itself, no clinic.
 */
function verifySenders(app: FastifyInstance, secret: string | undefined): (request: FastifyRequest) => ActingFor | undefined {
  const used = new UsedSignaturesInMemory();
  addSenderVerification(app, {
    secret,
    async refusal(_request, sender) {
      const use = used.use(sender.clientID, sender.signature, sender.expiresAtMs);
      if (use === 'used') return 'this sender identity was already used (a replayed request)';
      if (use === 'full') return 'the mediator holds as many unexpired sender identities of this client as it keeps: try again in a few minutes';
      return undefined;
    },
    refuse: async (_request, _reply, reason) => {
      throw Object.assign(new Error(`sender identity refused: ${reason}`), { statusCode: 401 });
    },
    accept(request, sender) {
      (request as WithSender)[SENDER] = sender;
    },
  });
  return (request) => {
    if (!secret) return undefined;
    const sender = (request as WithSender)[SENDER];
    if (!sender) {
      throw Object.assign(new Error('no sender identity: send registrations and visits through the interoperability layer\'s router, as a client with the patient-registration role'), { statusCode: 401 });
    }
    return { secret, clientID: sender.clientID, roles: sender.roles };
  };
}

function registerRoutes(app: FastifyInstance, current: () => RegistrationConfig, logger: ServiceContext['logger'], limits: Limits, secret: string | undefined): void {
  const actingFor = verifySenders(app, secret);
  // Clinics send FHIR JSON; parse it like JSON, with the same nesting guard.
  app.addContentTypeParser(['application/fhir+json'], { parseAs: 'string' }, (_request, body, done) => {
    const text = body as string;
    if (jsonNestingExceeds(text, MAX_JSON_DEPTH) !== undefined) return done(Object.assign(new Error('the JSON body is nested too deep'), { statusCode: 400 }), undefined);
    try {
      done(null, text ? JSON.parse(text) : undefined);
    } catch {
      done(Object.assign(new Error('the body is not JSON'), { statusCode: 400 }), undefined);
    }
  });
  // FHIR XML too: the IHE profiles behind the registries (PIXm, PDQm) speak both.
  // Read in slices, sharing the event loop (fhir/format/xml.ts): a body of up to the limit cannot hold the process.
  app.addContentTypeParser(XML_TYPES, { parseAs: 'string' }, async (_request: FastifyRequest, body: string | Buffer) => {
    try {
      return await xmlToResourceInTurns(body as string, new EventLoopTurns(), { maxDepth: MAX_JSON_DEPTH, maxElements: limits.fhirMaxResourceElements });
    } catch (error) {
      const status = error instanceof FhirError && error.status === 413 ? 413 : 400;
      throw Object.assign(new Error(error instanceof FhirError ? error.message : 'the body is not FHIR XML'), { statusCode: status });
    }
  });
  app.setErrorHandler(async (error: { statusCode?: number; status?: number; message: string }, request, reply) => {
    const code = error instanceof FhirError ? error.status : error.statusCode;
    const status = code && code >= 400 && code < 500 ? code : 500;
    if (status === 500) logger.error({ err: error }, 'patient registration: request failed');
    let format: WireFormat = 'json';
    try {
      format = answerFormat(request);
    } catch {
      // an Accept this mediator cannot answer in (the 406 itself): JSON
    }
    const issueCode = status === 413 ? 'too-costly' : status === 406 ? 'not-supported' : status === 500 ? 'exception' : status === 401 || status === 403 ? 'security' : 'invalid';
    const outcome = operationOutcome(issueCode, status === 500 ? 'internal error' : error.message);
    const { contentType, body } = inFormat(format, outcome);
    await reply.status(status).type(contentType).send(body);
  });
  const answer = (handle: (body: unknown, builder: MediatorResponseBuilder, clinic: ActingFor | undefined) => Promise<Answer>) => async (request: FastifyRequest, reply: FastifyReply) => {
    const format = answerFormat(request); // before any call: an answer the client cannot read is a 406, and nothing is done
    const clinic = actingFor(request);
    await answerWithOrchestrations(reply, format, (builder) => handle(request.body, builder, clinic), logger);
  };
  app.post('/registration/Patient', answer((body, builder, clinic) => registerPatient(body, current(), builder, clinic)));
  app.post('/registration/visit', answer((body, builder, clinic) => recordVisit(body, current(), builder, clinic)));
}

export const patientRegistrationService: ServiceDefinition = {
  name: 'patient-registration',
  description: 'Patient-registration mediator: registers patients in the client registry and writes their visits to the shared health record',
  schemas: [],
  // Calls the registries over HTTP; keeps nothing of its own.
  usesDatabase: false,
  async start(context: ServiceContext): Promise<RunningService> {
    const { settings, logger } = context;
    const limits = readLimits(settings);
    const host = settings.get('PATIENT_REGISTRATION_HOST') || '127.0.0.1';
    let config = defaultConfig(settings);
    const app = createHttpApp({ logger, bodyLimit: limits.registrationBodyBytes, limits, name: 'patient-registration', maxJsonDepth: MAX_JSON_DEPTH });
    registerRoutes(app, () => config, logger, limits, settings.get(SENDER_IDENTITY_SETTING) || undefined);
    await app.listen({ host, port: settings.int('PATIENT_REGISTRATION_PORT', 3449) });
    const port = (app.server.address() as AddressInfo).port;
    const url = `http://${host}:${port}`;

    const client = new MediatorClient<RegistrationConfig>({
      apiURL: `${settings.bool('OPENHIM_API_TLS', false) ? 'https' : 'http'}://${settings.require('OPENHIM_API_HOST')}:${settings.require('OPENHIM_API_PORT')}`,
      username: settings.require('OPENHIM_ROOT_EMAIL'),
      password: settings.require('OPENHIM_ROOT_PASSWORD'),
      urn: PATIENT_REGISTRATION_URN,
      trustSelfSigned: true,
    });
    const route: MediatorRoute = { name: 'Patient registration mediator', host, port, primary: true };
    try {
      await client.register({
        urn: PATIENT_REGISTRATION_URN,
        version: '0.1.0', // a re-registration changes the mediator only with a greater version
        name: 'Patient registration',
        description: 'Registers patients in the client registry (enterprise identity) and writes their visits to the shared health record',
        endpoints: [route],
        defaultChannelConfig: [{
          name: PATIENT_REGISTRATION_CHANNEL, urlPattern: '^/registration/(Patient|visit)$', methods: ['POST'], authType: 'private',
          allow: ['patient-registration'], routes: [route], requestBody: true, responseBody: true,
        }],
        configDefs: CONFIG_DEFS,
        config,
      });
      await client.installChannels(); // idempotent: an existing channel (the package's importer's) is left as it is
      config = { ...config, ...(await client.fetchConfig()) };
    } catch (error) {
      await client.close();
      await app.close();
      throw error;
    }
    client
      .on('config', (next) => (config = { ...config, ...next }))
      .on('error', (error) => logger.warn({ err: error }, 'patient registration: heartbeat failed'))
      .startHeartbeat(settings.int('PATIENT_REGISTRATION_HEARTBEAT_MS', 10_000));

    return {
      endpoints: { http: url },
      healthUrl: `${url}/health`,
      async stop() {
        await client.close();
        await app.close();
      },
    };
  },
};
