/**
 * PMIR ITI-94 "Subscribe to Patient Updates" and R4 Subscriptions on Patients (subscription.html):
 * a Patient Identity Subscriber creates a Subscription whose `criteria` is `Patient` or a Patient
 * search (`Patient?identifier=...`); the registry accepts it (`requested` becomes `active`) and,
 * after each change of a Patient it matches, sends:
 * - `channel.type: message` (PMIR's): an ITI-93 Mobile Patient Identity Feed message, a Bundle of
 *   type message whose MessageHeader (event urn:ihe:iti:pmir:2019:patient-feed) focuses a history
 *   Bundle holding the change, POSTed to `channel.endpoint`;
 * - `channel.type: rest-hook`: a POST to the endpoint, with the Patient when `channel.payload` is
 *   set (application/fhir+json), else empty (R4's ping), with the channel's `header`s.
 * Changes are queued in the write's own transaction (`subscription_outbox`) and sent by a loop
 * every CLIENT_REGISTRY_SUBSCRIPTION_POLL_MS, one replica per row (SKIP LOCKED). A subscriber that
 * fails (not 2xx, unreachable, 10 s for the whole exchange, 30 s for a run's changes) is set to
 * `error` with the reason and sent nothing more until it is set back to `requested`. Subscribers
 * are served side by side, each its changes in order, so a slow one delays only itself. Delivery
 * is at most once: a row is taken when it is sent.
 *
 * A Subscription is its client's (record-owners.ts: only it or a steward changes it;
 * registry-engine.ts: only it sees it), its header values are masked in every answer, and a
 * client holds at most CLIENT_REGISTRY_MAX_SUBSCRIPTIONS_PER_CLIENT. Where the registry sends:
 * subscription-destinations.ts. A delivery carries DELIVERY_HEADER, and the registry refuses a
 * write that carries it (508): a subscription on the registry itself cannot feed it without end.
 */
import type { Bundle, Patient, Resource, Subscription } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import { Agent, request, type Dispatcher } from 'undici';
import type { Logger } from '../../common/logger.js';
import type { Database } from '../../db/database.js';
import { FhirError } from '../../fhir/outcome.js';
import type { FhirEngine } from '../../fhir/engine.js';
import type { FhirRepository } from '../../fhir/repository.js';
import type { WriteInterceptor } from '../../fhir/write-interceptors.js';
import { PMIR_FEED_EVENT } from './pmir.js';
import { RECORD_OWNER_SYSTEM, recordedOwner } from './record-owners.js';
import { asRegistry, currentSender } from './request-context.js';
import { publicOnlyLookup, refusedDestination, type AllowedEndpoint } from './subscription-destinations.js';

/** The whole of one delivery: connecting, sending, the answer's headers and body. */
const SEND_TIMEOUT_MS = 10_000;
/** One subscriber's share of a run: past it, the subscriber is too slow to keep up and is set to error. */
const RUN_BUDGET_MS = 30_000;
/** Subscribers sent to at once. */
const CONCURRENT_SUBSCRIBERS = 8;
/** Rows taken a run. */
const BATCH = 50;
/** Subscriptions the registry holds (all served each run). */
export const MAX_SUBSCRIPTIONS = 200;
const FHIR_JSON = 'application/fhir+json';
/** Marks a delivery; a write carrying it is refused (registry-engine.ts). */
export const DELIVERY_HEADER = 'x-instant-subscription-delivery';
/** What a header's value reads as in an answer; sent back unchanged, the stored value is kept. */
export const MASKED_VALUE = '***';

const invalid = (message: string) => new FhirError(422, 'FHIR_INVALID_RESOURCE', message);

/**
 * Checks a Subscription on Patients and accepts it: `requested` becomes `active` (R4: the server
 * sets it). `allowedEndpoints` (CLIENT_REGISTRY_SUBSCRIPTION_ENDPOINTS): subscription-destinations.ts.
 */
export function subscriptionInterceptor(allowedEndpoints: readonly AllowedEndpoint[] = [], maxPerClient = 10): WriteInterceptor {
  return {
    name: 'patient subscriptions (PMIR ITI-94)',
    types: ['Subscription'],
    async before({ resource, previous, repo }) {
      const subscription = resource as Subscription | undefined;
      if (!subscription) return undefined;
      if (!previous) await assertRoomFor(repo, maxPerClient);
      const criteria = String(subscription.criteria ?? '');
      if (!/^Patient(\?.*)?$/.test(criteria)) throw invalid(`Subscription.criteria must be Patient or a Patient search (Patient?...): this registry sends Patient changes, not "${criteria.slice(0, 60)}"`);
      // A search the registry cannot run is refused now, not found out at the first change.
      const query = [...new URLSearchParams(criteria.slice('Patient?'.length))];
      await repo.search('Patient', [...query, ['_count', '0']], { strict: true }).catch((error: unknown) => {
        throw invalid(`Subscription.criteria is not a Patient search this registry runs: ${(error as Error).message}`);
      });
      const channel = subscription.channel;
      if (channel?.type !== 'message' && channel?.type !== 'rest-hook') throw invalid(`Subscription.channel.type must be message (PMIR ITI-94) or rest-hook, not "${String(channel?.type ?? '').slice(0, 30)}"`);
      let endpoint: URL;
      try {
        endpoint = new URL(String(channel.endpoint ?? ''));
      } catch {
        throw invalid('Subscription.channel.endpoint must be an absolute http(s) URL: where the changes are sent');
      }
      if ((endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:') || String(channel.endpoint).length > 2048) throw invalid('Subscription.channel.endpoint must be an http(s) URL of at most 2048 characters');
      const refused = refusedDestination(endpoint, allowedEndpoints);
      if (refused) throw invalid(refused);
      if (channel.payload !== undefined && channel.payload !== FHIR_JSON && channel.payload !== 'application/json') throw invalid(`Subscription.channel.payload must be ${FHIR_JSON} (or left out)`);
      if ((channel.header ?? []).length > 20) throw invalid('at most 20 Subscription.channel.header');
      for (const header of channel.header ?? []) {
        if (!/^[A-Za-z0-9-]{1,64}:[\t\x20-\x7e]{0,1024}$/.test(header)) throw invalid('each Subscription.channel.header is "Name: value", printable ASCII');
      }
      const headers = keepMaskedHeaders(channel.header, (previous as Subscription | undefined)?.channel?.header);
      const kept: Subscription = headers ? { ...subscription, channel: { ...channel, header: headers } } : subscription;
      if (subscription.status === 'requested' || subscription.status === undefined) {
        const { error: _error, ...accepted } = kept;
        return { ...accepted, status: 'active' } as Resource;
      }
      return kept === subscription ? undefined : kept as Resource;
    },
  };
}

/** Serialises the creations of Subscriptions (a transaction-scoped advisory lock, the two-key form). */
const SUBSCRIPTION_LOCK_CLASS = 0x5342; // "SB"

/**
 * A client holds at most `maxPerClient` subscriptions, and the registry MAX_SUBSCRIPTIONS (all are
 * served each run). Creations take turns until their transaction ends: counted side by side, each
 * of a burst of creations saw the others' rows uncommitted and passed (19 of 100 at a cap of 3).
 */
async function assertRoomFor(repo: FhirRepository, maxPerClient: number): Promise<void> {
  await repo.sql.query(`SELECT pg_advisory_xact_lock(${SUBSCRIPTION_LOCK_CLASS}, 0)`);
  const count = async (query: Array<[string, string]>) => (await repo.search('Subscription', [...query, ['_summary', 'count']])).total ?? 0;
  if ((await count([])) >= MAX_SUBSCRIPTIONS) {
    throw invalid(`this registry holds ${MAX_SUBSCRIPTIONS} subscriptions, its most: delete ones no longer needed first`);
  }
  const sender = currentSender();
  if (sender && (await count([['_tag', `${RECORD_OWNER_SYSTEM}|${sender}`]])) >= maxPerClient) {
    throw invalid(`client ${sender} holds ${maxPerClient} subscriptions, the most a client may (CLIENT_REGISTRY_MAX_SUBSCRIPTIONS_PER_CLIENT): delete one, or widen one's criteria`);
  }
}

const headerName = (header: string) => header.slice(0, header.indexOf(':')).trim().toLowerCase();
const isMasked = (header: string) => header.slice(header.indexOf(':') + 1).trim() === MASKED_VALUE;

/** A header sent back as an answer showed it (`Name: ***`) keeps its stored value; undefined when nothing is masked. */
function keepMaskedHeaders(headers: readonly string[] | undefined, stored: readonly string[] | undefined): string[] | undefined {
  if (!headers?.some(isMasked)) return undefined;
  return headers.flatMap((header) => {
    if (!isMasked(header)) return [header];
    const before = stored?.find((s) => headerName(s) === headerName(header));
    if (!before) throw invalid(`Subscription.channel.header "${headerName(header)}: ${MASKED_VALUE}" has no stored value to keep: send the header's value`);
    return [before];
  });
}

/** Queues each change of a Patient, in the write's transaction, for the subscriptions to be told of. */
export function patientChangeInterceptor(schema: string): WriteInterceptor {
  return {
    name: 'patient changes for subscriptions',
    types: ['Patient'],
    async after({ action, id, stored, repo }) {
      // The base the change came by, when it is one of the registry's configured addresses (the
      // router's): never one a writer's Host named, which every subscriber would be sent.
      const base = repo.localBaseUrls().includes(repo.baseUrl) ? repo.baseUrl : null;
      await repo.sql.query(`INSERT INTO ${schema}.subscription_outbox (patient_id, version_id, action, base_url) VALUES ($1, $2, $3, $4)`, [id, stored?.meta?.versionId ?? null, action, base]);
    },
  };
}

interface Change {
  id: string;
  patient_id: string;
  version_id: string | null;
  action: string;
  base_url: string | null;
}

/** Sends the queued changes to the active subscriptions that match them. */
export class SubscriptionDispatcher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private closed = false;
  /** Aborts the deliveries under way when the registry stops. */
  private readonly stopping = new AbortController();
  /** With no endpoints listed, names are sent to only while they resolve to public addresses. */
  private readonly network: Dispatcher | undefined;

  constructor(
    private readonly engine: FhirEngine,
    private readonly db: Database,
    private readonly schema: string,
    private readonly logger: Logger,
    private readonly everyMs: number,
    private readonly allowedEndpoints: readonly AllowedEndpoint[] = [],
  ) {
    this.network = allowedEndpoints.length ? undefined : new Agent({ connect: { lookup: publicOnlyLookup } });
  }

  start(): void {
    if (this.everyMs <= 0) return;
    const tick = () => {
      if (this.closed) return;
      this.running = this.runOnce()
        .catch((error: unknown) => this.logger.warn({ err: { message: (error as Error).message } }, 'subscription notifications failed; retrying'))
        .finally(() => {
          this.running = undefined;
          if (!this.closed) this.timer = setTimeout(tick, this.everyMs).unref();
        });
    };
    this.timer = setTimeout(tick, this.everyMs).unref();
  }

  async stop(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.stopping.abort();
    await this.running;
    await this.network?.close().catch(() => undefined);
  }

  /**
   * One run: takes up to BATCH queued changes; each subscription is sent those it matches, in
   * order, side by side with the others (CONCURRENT_SUBSCRIBERS at a time).
   */
  async runOnce(): Promise<void> {
    const repo = this.engine.repository();
    const subscriptions = (await repo.search('Subscription', [['status', 'active'], ['_count', String(MAX_SUBSCRIPTIONS)]])).entry?.map((e) => e.resource as Subscription) ?? [];
    if (!subscriptions.length) {
      // Nobody to tell: what is queued is dropped, so the queue does not grow while nobody listens.
      await this.db.query(`DELETE FROM ${this.schema}.subscription_outbox`);
      return;
    }
    const taken = await this.db.query<Change>(
      `DELETE FROM ${this.schema}.subscription_outbox WHERE id IN (
         SELECT id FROM ${this.schema}.subscription_outbox ORDER BY id LIMIT ${BATCH} FOR UPDATE SKIP LOCKED)
       RETURNING id, patient_id, version_id, action, base_url`,
    );
    // RETURNING has no order of its own: the changes go out in the order they were made.
    const changes = taken.rows.sort((a, b) => Number(a.id) - Number(b.id));
    if (!changes.length) return;
    const patients = new Map<string, Promise<Patient | undefined>>();
    const patientOf = (change: Change) => {
      if (!patients.has(change.id)) patients.set(change.id, this.patientOf(repo, change));
      return patients.get(change.id)!;
    };
    const queue = [...subscriptions];
    const serve = async () => {
      for (let subscription = queue.shift(); subscription && !this.closed; subscription = queue.shift()) {
        await this.serve(repo, subscription, changes, patientOf).catch((error: unknown) =>
          this.logger.warn({ subscription: subscription!.id, err: { message: (error as Error).message } }, 'subscription not served this run'));
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENT_SUBSCRIBERS, queue.length) }, serve));
  }

  /** One subscriber's changes of the run, in order; the first failure sets it to error and ends its turn. */
  private async serve(repo: FhirRepository, subscription: Subscription, changes: readonly Change[], patientOf: (change: Change) => Promise<Patient | undefined>): Promise<void> {
    const deadline = Date.now() + RUN_BUDGET_MS;
    for (const change of changes) {
      if (this.closed) return;
      const patient = await patientOf(change);
      if (!(await this.matches(repo, subscription, change, patient))) continue;
      try {
        if (Date.now() > deadline) throw new Error(`the endpoint took more than ${RUN_BUDGET_MS / 1000} s for the changes of one run`);
        await this.send(subscription, change, patient, change.base_url ?? repo.baseUrl);
      } catch (error) {
        if (this.closed) return; // stopped mid-delivery: not the subscriber's fault
        await this.markFailed(repo, subscription, (error as Error).message);
        return;
      }
    }
  }

  private async patientOf(repo: FhirRepository, change: Change): Promise<Patient | undefined> {
    if (change.action === 'delete' || !change.version_id) return undefined;
    return (await repo.vread('Patient', change.patient_id, change.version_id).catch(() => undefined)) as Patient | undefined;
  }

  /** Whether the change is one the subscription asked for: its search finds the Patient as it is now (a deletion: plain `Patient` only). */
  private async matches(repo: FhirRepository, subscription: Subscription, change: Change, patient: Patient | undefined): Promise<boolean> {
    const criteria = subscription.criteria ?? '';
    if (criteria === 'Patient' || criteria === 'Patient?') return true;
    if (!patient) return false;
    const query = [...new URLSearchParams(criteria.slice('Patient?'.length))];
    const found = await repo.search('Patient', [...query, ['_id', change.patient_id], ['_count', '1']]).catch(() => undefined);
    return (found?.entry?.length ?? 0) > 0;
  }

  private async send(subscription: Subscription, change: Change, patient: Patient | undefined, base: string): Promise<void> {
    const channel = subscription.channel;
    // Checked again as sent: the operator's list may have changed since the subscription was made.
    const refused = refusedDestination(new URL(channel.endpoint!), this.allowedEndpoints);
    if (refused) throw new Error(refused);
    const headers: Record<string, string> = {};
    for (const header of channel.header ?? []) {
      const colon = header.indexOf(':');
      headers[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim();
    }
    let body: string | undefined;
    if (channel.type === 'message') body = JSON.stringify(feedMessage(subscription, change, patient, base));
    else if (channel.payload && patient) body = JSON.stringify(patient);
    if (body !== undefined) headers['content-type'] = FHIR_JSON;
    headers[DELIVERY_HEADER] = subscription.id!;
    let status: number;
    try {
      const signal = AbortSignal.any([AbortSignal.timeout(SEND_TIMEOUT_MS), this.stopping.signal]);
      const answer = await request(channel.endpoint!, { method: 'POST', headers, body, signal, ...(this.network ? { dispatcher: this.network } : {}) });
      status = answer.statusCode;
      await answer.body.dump({ limit: 64 * 1024, signal });
    } catch (error) {
      // Said without the network's details (which address refused, which timed out): the log has them.
      this.logger.warn({ subscription: subscription.id, err: { message: (error as Error).message.slice(0, 200) } }, 'subscription endpoint not reached');
      throw new Error('the endpoint could not be reached');
    }
    if (status < 200 || status > 299) throw new Error(`the endpoint answered HTTP ${status}`);
  }

  /** R4: a subscription that cannot be delivered is `error`, with why; set it back to requested to resume. */
  private async markFailed(repo: FhirRepository, subscription: Subscription, reason: string): Promise<void> {
    this.logger.warn({ subscription: subscription.id, endpoint: String(subscription.channel.endpoint).replace(/[?#].*$/, '').replace(/\/\/[^/@]*@/, '//') }, `subscription not delivered: ${reason}`);
    const current = (await repo.read('Subscription', subscription.id!).catch(() => undefined)) as Subscription | undefined;
    if (!current || current.status !== 'active') return;
    // The registry's own write: the owner rules are for clients.
    await asRegistry(() => repo.update('Subscription', current.id!, { ...current, status: 'error', error: `${new Date().toISOString()}: ${reason}` })).catch((error: unknown) =>
      this.logger.warn({ subscription: subscription.id, err: { message: (error as Error).message } }, 'could not set the subscription to error'),
    );
  }
}

/** The ITI-93 message a change is sent as: MessageHeader focusing a history Bundle with the change. */
function feedMessage(subscription: Subscription, change: Change, patient: Patient | undefined, base: string): Bundle {
  const historyId = randomUUID();
  const method = change.action === 'delete' ? 'DELETE' : change.action === 'create' ? 'POST' : 'PUT';
  const history: Bundle = {
    resourceType: 'Bundle',
    id: historyId,
    type: 'history',
    entry: [{
      fullUrl: `${base}/Patient/${change.patient_id}`,
      ...(patient ? { resource: patient } : {}),
      request: { method, url: method === 'POST' ? 'Patient' : `Patient/${change.patient_id}` },
      response: { status: method === 'POST' ? '201' : method === 'DELETE' ? '204' : '200' },
    }],
  };
  return {
    resourceType: 'Bundle',
    id: randomUUID(),
    type: 'message',
    timestamp: new Date().toISOString(),
    entry: [
      {
        fullUrl: `urn:uuid:${randomUUID()}`,
        resource: {
          resourceType: 'MessageHeader',
          eventUri: PMIR_FEED_EVENT,
          source: { endpoint: base },
          destination: [{ endpoint: subscription.channel.endpoint! }],
          focus: [{ reference: `urn:uuid:${historyId}` }],
        },
      },
      { fullUrl: `urn:uuid:${historyId}`, resource: history },
    ],
  };
}
