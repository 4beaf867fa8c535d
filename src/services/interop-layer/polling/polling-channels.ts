/**
 * Polling channels (OpenHIM's channel `type: 'polling'` with `pollingSchedule`; src/polling.js and
 * its polling app): on each scheduled run the router sends its routes a `GET /trigger` with the
 * headers `channel-id` and `X-OpenHIM-LastRunAt`, as OpenHIM's polling server does, with no client
 * (OpenHIM's is a stand-in, DUMMY-POLLING-USER), and logs the exchange as a transaction. A
 * channel is polled by one replica per run (a lease); `POST /channels/:id/trigger` polls at once.
 * Schedules follow the routing table: a channel changed, disabled or deleted is rescheduled or
 * dropped at the next reload. One channel's failure is logged and the others go on.
 */
import type { Logger } from '../../../common/logger.js';
import type { CompiledChannel } from '../routing-table.js';
import type { Exchange, RouterDeps } from '../router/exchange.js';
import { runAfterSteps, runRequestSteps, type Pipeline } from '../router/pipeline.js';
import { beginTransaction } from '../router/steps/authorise-client.js';
import { awaitSecondaryRoutes, routeToUpstreams } from '../router/steps/route-to-upstreams.js';
import { setFinalStatus } from '../router/steps/set-final-status.js';
import { recordTransaction } from '../router/steps/record-transaction.js';
import { parsePollingSchedule, type PollingSchedule } from './schedule.js';

/** OpenHIM's polling app: no authentication or authorisation, the channel named by id. */
const pollingPipeline: Pipeline = {
  headers: [],
  request: [beginTransaction, routeToUpstreams],
  after: [awaitSecondaryRoutes, setFinalStatus, recordTransaction],
};

export interface PollOutcome {
  transactionId?: string;
  failed: boolean;
}

/** One poll of a channel: the exchange OpenHIM's polling job makes, through the router's steps. */
export async function pollChannel(deps: RouterDeps, channel: CompiledChannel, lastRunAt: Date): Promise<PollOutcome> {
  const exchange: Exchange = {
    request: {
      method: 'GET',
      path: '/trigger',
      querystring: '',
      headers: { 'channel-id': channel.channel._id, 'x-openhim-lastrunat': lastRunAt.toISOString() },
      body: Buffer.alloc(0),
      clientIP: '127.0.0.1',
      host: deps.config.routerHost,
      port: deps.config.routerHttpPort,
    },
    startedAt: process.hrtime.bigint(),
    channel,
  };
  await runRequestSteps(pollingPipeline, exchange, deps);
  await runAfterSteps(pollingPipeline, exchange, deps);
  // As OpenHIM's trigger (axios to its polling app): anything but a 2xx answer is a failed poll.
  const status = exchange.response?.status ?? 0;
  return { ...(exchange.transaction ? { transactionId: exchange.transaction._id } : {}), failed: status < 200 || status > 299 };
}

interface Scheduled {
  channel: CompiledChannel;
  /** The schedule's text it was armed with: a change rearms it. */
  written: string;
  schedule: PollingSchedule;
  timer: NodeJS.Timeout;
}

/** setTimeout's limit (about 24.8 days): a later run is reached in steps. */
const MAX_DELAY_MS = 2 ** 31 - 1;

export class PollingChannels {
  private readonly scheduled = new Map<string, Scheduled>();
  private readonly warned = new Set<string>();
  private closed = false;

  /** `claim`: whether this replica makes the run of `channelId` due at `due` (a lease across replicas). */
  constructor(
    private readonly deps: RouterDeps,
    private readonly logger: Logger,
    private readonly claim: (channelId: string, intervalMs: number) => Promise<boolean>,
  ) {}

  /** Schedules exactly the enabled polling channels given. */
  sync(channels: readonly CompiledChannel[]): void {
    if (this.closed) return;
    const wanted = new Map(channels.map((c) => [c.channel._id, c]));
    for (const [id, entry] of this.scheduled) {
      const next = wanted.get(id);
      if (!next || String(next.channel.pollingSchedule) !== entry.written) {
        clearTimeout(entry.timer);
        this.scheduled.delete(id);
      } else entry.channel = next; // routes and the rest as they are now
    }
    for (const [id, channel] of wanted) {
      if (this.scheduled.has(id)) continue;
      const schedule = parsePollingSchedule(channel.channel.pollingSchedule);
      if (schedule instanceof Error) {
        const key = `${id}:${String(channel.channel.pollingSchedule)}`;
        if (!this.warned.has(key)) this.logger.warn({ channel: channel.channel.name }, `polling channel not scheduled: ${schedule.message}`);
        this.warned.add(key);
        continue;
      }
      this.arm(id, { channel, written: String(channel.channel.pollingSchedule), schedule, timer: undefined as unknown as NodeJS.Timeout }, new Date());
    }
  }

  close(): void {
    this.closed = true;
    for (const entry of this.scheduled.values()) clearTimeout(entry.timer);
    this.scheduled.clear();
  }

  private arm(id: string, entry: Scheduled, after: Date): void {
    let due: Date;
    try {
      due = entry.schedule.next(after);
    } catch {
      due = new Date(Number.NaN);
    }
    // A schedule with no next run a Date can hold (saved before the checks of today): never a tight loop.
    if (!Number.isFinite(due.getTime())) {
      this.scheduled.delete(id);
      this.logger.warn({ channel: entry.channel.channel.name, pollingSchedule: entry.written.slice(0, 60) }, 'polling channel: its schedule has no next run; it is not polled');
      return;
    }
    this.waitFor(id, entry, due);
  }

  /** Waits for `due` (in steps of setTimeout's limit when it is far), then runs. */
  private waitFor(id: string, entry: Scheduled, due: Date): void {
    const delay = Math.max(0, due.getTime() - Date.now());
    entry.timer = setTimeout(() => {
      if (delay > MAX_DELAY_MS) return this.waitFor(id, entry, due);
      void this.run(id, entry, due);
    }, Math.min(delay, MAX_DELAY_MS));
    entry.timer.unref();
    this.scheduled.set(id, entry);
  }

  private async run(id: string, entry: Scheduled, due: Date): Promise<void> {
    if (this.scheduled.get(id) !== entry || this.closed) return;
    const interval = Math.max(1000, entry.schedule.next(due).getTime() - due.getTime());
    try {
      if (await this.claim(id, interval)) {
        const outcome = await pollChannel(this.deps, entry.channel, new Date());
        if (outcome.failed) this.logger.warn({ channel: entry.channel.channel.name, transaction: outcome.transactionId }, 'polling channel: the poll failed');
      }
    } catch (error) {
      this.logger.warn({ channel: entry.channel.channel.name, err: { message: (error as Error).message } }, 'polling channel: the poll could not be made');
    }
    // From the later of the run due and now: runs missed while one was slow are skipped, as agenda skips them.
    if (this.scheduled.get(id) === entry && !this.closed) this.arm(id, entry, new Date(Math.max(due.getTime(), Date.now())));
  }
}
