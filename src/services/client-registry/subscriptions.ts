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
 * fails (not 2xx, unreachable, 10 s) is set to `error` with the reason and sent nothing more until
 * it is set back to `requested`. Delivery is at most once: a row is taken when it is sent.
 */
import type { Bundle, Patient, Resource, Subscription } from '@medplum/fhirtypes';
import { randomUUID } from 'node:crypto';
import { request } from 'undici';
import type { Logger } from '../../common/logger.js';
import type { Database } from '../../db/database.js';
import { FhirError } from '../../fhir/outcome.js';
import type { FhirEngine } from '../../fhir/engine.js';
import type { FhirRepository } from '../../fhir/repository.js';
import type { WriteInterceptor } from '../../fhir/write-interceptors.js';
import { PMIR_FEED_EVENT } from './pmir.js';

const SEND_TIMEOUT_MS = 10_000;
/** Rows taken a run, and active subscriptions read a run. */
const BATCH = 50;
const MAX_SUBSCRIPTIONS = 200;
const FHIR_JSON = 'application/fhir+json';

const invalid = (message: string) => new FhirError(422, 'FHIR_INVALID_RESOURCE', message);

/**
 * Checks a Subscription on Patients and accepts it: `requested` becomes `active` (R4: the server
 * sets it). `allowedEndpoints` (CLIENT_REGISTRY_SUBSCRIPTION_ENDPOINTS, URL prefixes): when given,
 * the only places the registry sends to, so a caller cannot make it POST into the network it sits in.
 */
export function subscriptionInterceptor(allowedEndpoints: readonly string[] = []): WriteInterceptor {
  return {
    name: 'patient subscriptions (PMIR ITI-94)',
    types: ['Subscription'],
    async before({ resource, repo }) {
      const subscription = resource as Subscription | undefined;
      if (!subscription) return undefined;
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
      if (allowedEndpoints.length && !allowedEndpoints.some((prefix) => endpoint.href.startsWith(prefix))) {
        throw invalid('Subscription.channel.endpoint is not one this registry sends to (CLIENT_REGISTRY_SUBSCRIPTION_ENDPOINTS)');
      }
      if (channel.payload !== undefined && channel.payload !== FHIR_JSON && channel.payload !== 'application/json') throw invalid(`Subscription.channel.payload must be ${FHIR_JSON} (or left out)`);
      for (const header of channel.header ?? []) {
        if (!/^[A-Za-z0-9-]{1,64}:[\t\x20-\x7e]{0,1024}$/.test(header)) throw invalid('each Subscription.channel.header is "Name: value", printable ASCII');
      }
      if (subscription.status === 'requested' || subscription.status === undefined) {
        const { error: _error, ...accepted } = subscription;
        return { ...accepted, status: 'active' } as Resource;
      }
      return undefined;
    },
  };
}

/** Queues each change of a Patient, in the write's transaction, for the subscriptions to be told of. */
export function patientChangeInterceptor(schema: string): WriteInterceptor {
  return {
    name: 'patient changes for subscriptions',
    types: ['Patient'],
    async after({ action, id, stored, repo }) {
      await repo.sql.query(`INSERT INTO ${schema}.subscription_outbox (patient_id, version_id, action, base_url) VALUES ($1, $2, $3, $4)`, [id, stored?.meta?.versionId ?? null, action, repo.baseUrl]);
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

  constructor(
    private readonly engine: FhirEngine,
    private readonly db: Database,
    private readonly schema: string,
    private readonly logger: Logger,
    private readonly everyMs: number,
  ) {}

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
    await this.running;
  }

  /** One run: takes up to BATCH queued changes and sends each to the subscriptions it matches. */
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
    taken.rows.sort((a, b) => Number(a.id) - Number(b.id));
    const failed = new Set<string>();
    for (const change of taken.rows) {
      const patient = await this.patientOf(repo, change);
      for (const subscription of subscriptions) {
        if (failed.has(subscription.id!) || !(await this.matches(repo, subscription, change, patient))) continue;
        try {
          await this.send(subscription, change, patient, change.base_url ?? repo.baseUrl);
        } catch (error) {
          failed.add(subscription.id!);
          await this.markFailed(repo, subscription, (error as Error).message);
        }
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
    const headers: Record<string, string> = {};
    for (const header of channel.header ?? []) {
      const colon = header.indexOf(':');
      headers[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim();
    }
    let body: string | undefined;
    if (channel.type === 'message') body = JSON.stringify(feedMessage(subscription, change, patient, base));
    else if (channel.payload && patient) body = JSON.stringify(patient);
    if (body !== undefined) headers['content-type'] = FHIR_JSON;
    let status: number;
    try {
      const answer = await request(channel.endpoint!, { method: 'POST', headers, body, headersTimeout: SEND_TIMEOUT_MS, bodyTimeout: SEND_TIMEOUT_MS });
      status = answer.statusCode;
      await answer.body.dump({ limit: 64 * 1024 });
    } catch (error) {
      // Said without the network's details (which address refused, which timed out): the log has them.
      this.logger.warn({ subscription: subscription.id, err: { message: (error as Error).message.slice(0, 200) } }, 'subscription endpoint not reached');
      throw new Error('the endpoint could not be reached');
    }
    if (status < 200 || status > 299) throw new Error(`the endpoint answered HTTP ${status}`);
  }

  /** R4: a subscription that cannot be delivered is `error`, with why; set it back to requested to resume. */
  private async markFailed(repo: FhirRepository, subscription: Subscription, reason: string): Promise<void> {
    this.logger.warn({ subscription: subscription.id, endpoint: String(subscription.channel.endpoint).replace(/\?.*$/, '') }, `subscription not delivered: ${reason}`);
    const current = (await repo.read('Subscription', subscription.id!).catch(() => undefined)) as Subscription | undefined;
    if (!current || current.status !== 'active') return;
    await repo.update('Subscription', current.id!, { ...current, status: 'error', error: `${new Date().toISOString()}: ${reason}` }).catch((error: unknown) =>
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
